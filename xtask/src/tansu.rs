//! tansu, the Kafka-protocol broker that `up`, `test` and `bench bridge`
//! run: a single native binary storing its log in SQLite. It is not packaged
//! by Debian, so it is built with `cargo install` into a cache outside the
//! checkout (`$SPINSHOP_CACHE_DIR`, default `~/.cache/spinshop`, the cache
//! `.ci/run` keeps `target` in), once per machine.

use std::env;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};

use crate::process;
use crate::setup;

/// The pinned release.
pub const VERSION: &str = "0.6.0";

/// Its SQLite storage engine is behind this cargo feature.
const FEATURES: &str = "libsql";

/// The database file, inside the directory the broker runs in.
pub const DATABASE: &str = "tansu.db";

/// `--storage-engine` for [`DATABASE`] in the working directory. tansu
/// 0.6.0 makes a `sqlite://` URL's file by appending the URL's host and
/// then its path to its working directory, whatever the URL: an absolute
/// `sqlite:///tmp/k.db` is `<cwd>/tmp/k.db`, and `sqlite://tansu.db` is
/// `<cwd>/tansu.db/` (a trailing slash that only SQLite's own path
/// clean-up rescues). So the broker runs in its data directory, and the
/// host is `.`, giving `<cwd>/./tansu.db`.
const STORAGE_URL: &str = "sqlite://./tansu.db";

/// `$SPINSHOP_CACHE_DIR`, or else `$HOME/.cache/spinshop`, made absolute.
pub fn cache_dir() -> Result<PathBuf> {
    let dir = match env::var_os("SPINSHOP_CACHE_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .context("neither SPINSHOP_CACHE_DIR nor HOME is set: no place to cache tansu")?;
            Path::new(&home).join(".cache/spinshop")
        }
    };
    std::path::absolute(&dir).with_context(|| format!("cannot make {} absolute", dir.display()))
}

/// `cargo install --root` of the tools xtask builds: `<cache>/tools`.
fn tools_root() -> Result<PathBuf> {
    Ok(cache_dir()?.join("tools"))
}

/// Where `cargo install` puts the binary.
fn cached_binary() -> Result<PathBuf> {
    Ok(tools_root()?.join("bin/tansu"))
}

/// The broker to run: the cached build, or else a `tansu` on PATH that is
/// the pinned version. `None` if there is neither.
pub fn binary() -> Result<Option<PathBuf>> {
    let cached = cached_binary()?;
    if cached.is_file() {
        return Ok(Some(cached));
    }
    Ok(setup::find_on_path("tansu").filter(|path| {
        process::query(Command::new(path).arg("--version"))
            .is_some_and(|answer| is_pinned_version(&answer))
    }))
}

/// The broker's path, which [`ensure`] has made sure of.
pub fn required_binary() -> Result<PathBuf> {
    binary()?.with_context(|| {
        format!("tansu {VERSION} is not installed; `cargo xtask setup` installs it")
    })
}

/// Whether `tansu --version` printed the pinned version: clap's
/// `tansu 0.6.0` line.
fn is_pinned_version(answer: &str) -> bool {
    answer
        .lines()
        .any(|line| line.split_whitespace().eq(["tansu", VERSION]))
}

/// Installs the broker unless [`binary`] finds it. Returns whether it did.
pub fn ensure() -> Result<bool> {
    if binary()?.is_some() {
        return Ok(false);
    }
    let root = tools_root()?;
    let mut command = install_command(&root);
    eprintln!(
        "installing tansu {VERSION} (the Kafka-protocol broker) into {}: \
         the first time this builds it from source and takes ~15-20 minutes",
        root.display()
    );
    crate::repo::create_dir(&root)?;
    process::run(&mut command)?;
    let binary = cached_binary()?;
    if !binary.is_file() {
        bail!(
            "`{}` succeeded, but {} is missing",
            process::display(&command),
            binary.display()
        );
    }
    Ok(true)
}

/// `cargo install tansu --version 0.6.0 --locked --features libsql --root <root>`.
fn install_command(root: &Path) -> Command {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["install", "tansu", "--version", VERSION, "--locked"])
        .args(["--features", FEATURES, "--root"])
        .arg(root);
    // Out of the checkout, so that neither its `.cargo/config.toml` nor a
    // `CARGO_TARGET_DIR` pointing at its `target/` applies to the build.
    command.current_dir(root).env_remove("CARGO_TARGET_DIR");
    command
}

/// `tansu broker` on `127.0.0.1:<port>` (listening and advertised), with
/// its SQLite database [`DATABASE`] in `data_dir`, where it runs.
pub fn broker_command(binary: &Path, addr: SocketAddr, data_dir: &Path) -> Command {
    let url = format!("tcp://{addr}");
    let mut command = Command::new(binary);
    command
        .arg("broker")
        .args(["--listener-url", &url])
        .args(["--advertised-listener-url", &url])
        .args(["--storage-engine", STORAGE_URL])
        .current_dir(data_dir);
    // Every flag falls back to an environment variable: keep the user's
    // out of the flags this command does not set. (tansu also loads a
    // `.env` file from its directory or above; .spinshop/ has none.)
    for name in [
        "CLUSTER_ID",
        "SCHEMA_REGISTRY",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ] {
        command.env_remove(name);
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_pinned_version() {
        assert!(is_pinned_version("tansu 0.6.0"));
        assert!(is_pinned_version("tansu 0.6.0\n"));
        assert!(is_pinned_version("some log line\ntansu 0.6.0\n"));
        assert!(!is_pinned_version("tansu-proxy 0.6.0"));
        assert!(!is_pinned_version("tansu 0.5.9"));
        assert!(!is_pinned_version("tansu 0.6.01"));
        assert!(!is_pinned_version(""));
    }

    #[test]
    fn installs_exactly_the_pinned_build() {
        let command = install_command(Path::new("/cache/tools"));
        let line = process::display(&command);
        assert!(
            line.ends_with(
                " install tansu --version 0.6.0 --locked --features libsql --root /cache/tools"
            ),
            "{line}"
        );
        assert_eq!(command.get_current_dir(), Some(Path::new("/cache/tools")));
    }

    #[test]
    fn the_storage_url_names_the_database() {
        assert_eq!(STORAGE_URL.strip_prefix("sqlite://./"), Some(DATABASE));
    }

    #[test]
    fn the_broker_listens_and_advertises_one_loopback_address() {
        let command = broker_command(
            Path::new("/cache/tools/bin/tansu"),
            crate::net::loopback(9092),
            Path::new(".spinshop/kafka"),
        );
        assert_eq!(
            process::display(&command),
            "/cache/tools/bin/tansu broker --listener-url tcp://127.0.0.1:9092 \
             --advertised-listener-url tcp://127.0.0.1:9092 --storage-engine sqlite://./tansu.db"
        );
        assert_eq!(
            command.get_current_dir(),
            Some(Path::new(".spinshop/kafka"))
        );
    }
}
