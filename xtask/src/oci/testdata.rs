//! Scratch directories and a small Spin application for the image tests.

use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result};

/// A scratch directory of the test harness, removed when dropped, with a
/// helper to write files into it.
#[derive(Debug)]
pub struct ScratchDir(spinshop_testkit::TempDir);

impl ScratchDir {
    /// A new empty directory whose name starts with `name`.
    pub fn new(name: &str) -> Result<Self> {
        Ok(Self(spinshop_testkit::TempDir::new(&format!(
            "xtask-{name}"
        ))))
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes `contents` to `relative`, creating parent directories.
    pub fn write(&self, relative: &str, contents: &str) -> Result<()> {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            crate::repo::create_dir(parent)?;
        }
        fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))
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
