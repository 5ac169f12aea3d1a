//! Scratch directories and a small Spin application for the image tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context as _, Result};

/// A directory of its own under the system's temporary directory, removed
/// when dropped.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new empty directory whose name starts with `name`.
    pub fn new(name: &str) -> Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "spinshop-xtask-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let dir = std::env::temp_dir().join(unique);
        crate::repo::recreate_dir(&dir)?;
        Ok(Self(dir))
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `relative`, creating parent directories.
    pub fn write(&self, relative: &str, contents: &str) -> Result<()> {
        let path = self.0.join(relative);
        if let Some(parent) = path.parent() {
            crate::repo::create_dir(parent)?;
        }
        fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Two components, one with static files: three layers.
pub fn sample_app(dir: &ScratchDir) -> Result<()> {
    dir.write(
        "spin.toml",
        r#"spin_manifest_version = 2

[application]
name = "sample"
version = "0.3.0"

[[trigger.http]]
route = "/api/..."
component = "api"

[[trigger.http]]
route = "/..."
component = "web"

[component.api]
source = "target/api.wasm"

[component.web]
source = "target/web.wasm"
files = [{ source = "web/dist", destination = "/" }]
"#,
    )?;
    dir.write("target/api.wasm", "\0asm api component")?;
    dir.write("target/web.wasm", "\0asm web component")?;
    dir.write("web/dist/index.html", "<!doctype html><title>shop</title>")?;
    dir.write("web/dist/assets/app.js", "console.log('shop')")?;
    Ok(())
}
