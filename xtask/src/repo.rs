//! Where things are in the checkout: the root, the shared `target/`, the
//! host and bridge binaries and `.spinshop/`, the local data that git ignores.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};

/// The spinshop checkout xtask was built from.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
}

impl Repo {
    /// Finds the checkout (xtask's parent directory) and makes sure cargo
    /// builds into its `target/`, where `spin.toml` looks for components.
    pub fn locate() -> Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask is not inside the spinshop workspace")?
            .to_path_buf();
        if !root.join("Cargo.toml").is_file() || !root.join("spin.toml").is_file() {
            bail!(
                "{} does not look like the spinshop checkout (no Cargo.toml or spin.toml)",
                root.display()
            );
        }
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

    /// The cargo that runs xtask (same toolchain), in the root directory.
    pub fn cargo(&self) -> Command {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        self.command(cargo)
    }

    /// Any program, run in the root directory.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command.current_dir(&self.root);
        command
    }
}

/// Creates `dir` and its parents, saying which directory failed.
pub fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Empties `dir` (creating it if needed).
pub fn recreate_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    create_dir(dir)
}
