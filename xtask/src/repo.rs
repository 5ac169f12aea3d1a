//! Where things are in the checkout: the root, the shared `target/`, the
//! host and bridge binaries and `.spinshop/`, the local data that git ignores.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};

/// The spinshop checkout xtask acts on.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
}

impl Repo {
    /// Finds the checkout that `cargo xtask` was run in: the workspace
    /// root at or above the current directory, as cargo itself finds it.
    /// Never where xtask was compiled: two clones may share one target
    /// directory (CI's cache does), and each must act on its own tree.
    pub fn locate() -> Result<Self> {
        let here = std::env::current_dir().context("cannot read the current directory")?;
        Self::at(&here)
    }

    /// The checkout at or above `dir`.
    pub fn at(dir: &Path) -> Result<Self> {
        let root = spinshop_testkit::paths::find_workspace_root(dir)?;
        let repo = Self { root };
        repo.check_target_dir()?;
        Ok(repo)
    }

    /// `CARGO_TARGET_DIR` elsewhere would put the components where
    /// `spin.toml` does not look; `.ci/run` uses a `target` symlink instead.
    fn check_target_dir(&self) -> Result<()> {
        let Some(configured) = std::env::var_os("CARGO_TARGET_DIR") else {
            return Ok(());
        };
        let configured = self.root.join(configured);
        let same = match (
            fs::canonicalize(&configured),
            fs::canonicalize(self.target_dir()),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !same {
            bail!(
                "CARGO_TARGET_DIR is {}, but spin.toml loads components from {}; unset it, \
                 or make {} a symlink to it",
                configured.display(),
                self.target_dir().display(),
                self.target_dir().display()
            );
        }
        Ok(())
    }

    /// The checkout's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `target/` (possibly a symlink to a cache, as on CI).
    pub fn target_dir(&self) -> PathBuf {
        self.root.join("target")
    }

    /// The release build of `spinshop-host`.
    pub fn host_binary(&self) -> PathBuf {
        self.target_dir().join("release").join("spinshop-host")
    }

    /// The release build of `kafka-bridge`.
    pub fn bridge_binary(&self) -> PathBuf {
        self.target_dir().join("release").join("kafka-bridge")
    }

    /// `.spinshop/<parts>`: local state, logs and scratch files.
    pub fn local(&self, part: &str) -> PathBuf {
        self.root.join(".spinshop").join(part)
    }

    /// `path` relative to the root when it is inside it, for messages and
    /// recorded commands.
    pub fn relative<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }

    /// The cargo that runs xtask (same toolchain), in the root directory,
    /// without the variables `cargo run` set for xtask (see
    /// `spinshop_testkit::build::cargo_in`).
    pub fn cargo(&self) -> Command {
        spinshop_testkit::build::cargo_in(&spinshop_testkit::build::cargo(), &self.root)
    }
}

pub use spinshop_testkit::paths::{create_dir, recreate_dir};

#[cfg(test)]
mod tests {
    use super::*;

    /// Two clones (the real files of this checkout copied twice) side by
    /// side: xtask, run in either, acts on that one, whatever target
    /// directory it was compiled into.
    #[test]
    fn each_clone_is_its_own_checkout() -> Result<()> {
        let here = Repo::locate()?;
        let scratch = std::env::temp_dir().join(format!("xtask-clones-{}", std::process::id()));
        for clone in ["a", "b"] {
            let dir = scratch.join(clone);
            fs::create_dir_all(dir.join("xtask/src"))?;
            for file in ["Cargo.toml", "spin.toml"] {
                fs::copy(here.root().join(file), dir.join(file))?;
            }
        }
        let a = Repo::at(&scratch.join("a/xtask/src"))?;
        let b = Repo::at(&scratch.join("b"))?;
        let result = (a.root().to_path_buf(), b.root().to_path_buf());
        fs::remove_dir_all(&scratch)?;
        assert_eq!(result.0, scratch.join("a"));
        assert_eq!(result.1, scratch.join("b"));
        assert_ne!(here.root(), result.0);
        Ok(())
    }
}
