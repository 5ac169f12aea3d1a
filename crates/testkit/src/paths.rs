//! Where things are: the checkout (found at run time), the target
//! directory, the per-machine tool cache, scratch directories and ports.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

/// The workspace root that `start` is in or below: the nearest ancestor
/// whose `Cargo.toml` has a `[workspace]` table and which holds `spin.toml`.
pub fn find_workspace_root(start: &Path) -> Result<PathBuf> {
    let start = std::path::absolute(start)
        .with_context(|| format!("cannot make {} absolute", start.display()))?;
    for dir in start.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() || !dir.join("spin.toml").is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("cannot read {}", manifest.display()))?;
        let parsed: toml::Table = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML", manifest.display()))?;
        if parsed.contains_key("workspace") {
            return Ok(dir.to_path_buf());
        }
    }
    bail!(
        "{} is not inside a spinshop checkout (no ancestor has a workspace Cargo.toml and spin.toml)",
        start.display()
    )
}

/// The checkout the running tests belong to. Found at run time, never
/// baked in at compile time: two clones may share one target directory,
/// and each must test its own tree. `cargo test` runs a test binary in its
/// package's directory and sets `CARGO_MANIFEST_DIR`; either leads to the
/// root.
pub fn repo_root() -> PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."));
    match find_workspace_root(&start) {
        Ok(root) => root,
        Err(e) => panic!("{e:#}"),
    }
}

/// The target directory this test binary was built into.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // <target>/<profile>/deps/<name>-<hash>
    exe.ancestors()
        .nth(3)
        .expect("test executable inside a target directory")
        .to_path_buf()
}

/// `$SPINSHOP_CACHE_DIR`, or else `$HOME/.cache/spinshop`, made absolute:
/// built tools live under its `tools/`, kept between runs (and by CI).
pub fn cache_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("SPINSHOP_CACHE_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).context(
                "neither SPINSHOP_CACHE_DIR nor HOME is set: no place for the tool cache",
            )?;
            Path::new(&home).join(".cache/spinshop")
        }
    };
    std::path::absolute(&dir).with_context(|| format!("cannot make {} absolute", dir.display()))
}

/// A fresh directory under the target dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = target_dir().join("host-tests").join(format!(
            "{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// `127.0.0.1:<port>`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A free loopback port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Whether something accepts TCP connections on `addr`.
pub fn accepts_connections(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// Waits up to `limit` for `addr` to accept connections.
pub fn wait_for_port(addr: SocketAddr, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Fails, naming `who` and the variable that moves it, if something
/// already accepts connections on `addr`.
pub fn check_free(addr: SocketAddr, who: &str, variable: &str) -> Result<()> {
    if accepts_connections(addr) {
        bail!(
            "something already listens on {addr}, where {who} should listen; \
             stop it, or set {variable} to a free address"
        );
    }
    Ok(())
}

/// Creates `dir` and its parents, saying which directory failed.
pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Empties `dir` (creating it if needed).
pub fn recreate_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    create_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_found_from_below_it_and_not_elsewhere() {
        let root = repo_root();
        assert!(root.join("spin.toml").is_file());
        let below = root.join("crates/testkit/src");
        assert_eq!(find_workspace_root(&below).expect("found"), root);
        let outside = std::env::temp_dir();
        assert!(find_workspace_root(&outside).is_err());
    }

    #[test]
    fn two_checkouts_are_told_apart() {
        let scratch = TempDir::new("two-checkouts");
        for clone in ["one", "two"] {
            let dir = scratch.path().join(clone);
            std::fs::create_dir_all(dir.join("crates/x")).expect("mkdir");
            std::fs::write(dir.join("Cargo.toml"), "[workspace]\nmembers = []\n").expect("write");
            std::fs::write(dir.join("spin.toml"), "").expect("write");
        }
        for clone in ["one", "two"] {
            let found =
                find_workspace_root(&scratch.path().join(clone).join("crates/x")).expect("found");
            assert_eq!(found, scratch.path().join(clone));
        }
    }
}
