//! schemathesis (PyPI) and the OpenAPI validator, in a private virtualenv
//! under the tool cache (`<cache>/tools/schemathesis-<version>`), once per
//! machine: exactly the versions `xtask/schemathesis/requirements.txt`
//! pins, so a run here is the run CI does. The end-to-end suite runs it
//! against the live stack's `/api-docs` (`tests/e2e/api_docs.rs`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};

use crate::process;
use crate::repo::Repo;

/// The pinned requirements, relative to the repository.
pub const REQUIREMENTS: &str = "xtask/schemathesis/requirements.txt";

/// The schemathesis version the requirements pin.
pub fn version(requirements: &str) -> Result<&str> {
    requirements
        .lines()
        .find_map(|l| l.trim().strip_prefix("schemathesis=="))
        .context("the requirements pin no schemathesis version")
}

/// The checkout's root.
fn root() -> Result<PathBuf> {
    Ok(Repo::locate()?.root().to_path_buf())
}

/// Where the virtualenv is.
pub fn venv_dir() -> Result<PathBuf> {
    let requirements = fs::read_to_string(root()?.join(REQUIREMENTS))?;
    Ok(spinshop_testkit::paths::cache_dir()?
        .join("tools")
        .join(format!("schemathesis-{}", version(&requirements)?)))
}

/// The `schemathesis` program of the virtualenv.
pub fn program() -> Result<PathBuf> {
    Ok(venv_dir()?.join("bin/schemathesis"))
}

/// Installs the virtualenv unless it is there with these very
/// requirements. Returns whether it installed it.
pub fn ensure() -> Result<bool> {
    let root = root()?;
    let requirements = fs::read_to_string(root.join(REQUIREMENTS))?;
    let dir = venv_dir()?;
    let stamp = dir.join("requirements.txt");
    if dir.join("bin/schemathesis").is_file()
        && fs::read_to_string(&stamp).is_ok_and(|installed| installed == requirements)
    {
        return Ok(false);
    }
    // A virtualenv cannot move (its scripts name its interpreter by
    // path): it is built in place, and the stamp, written last, says it is
    // complete.
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    make_venv(&dir)?;
    process::run(
        Command::new(dir.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
            ])
            .arg(root.join(REQUIREMENTS)),
    )
    .context("pip could not install schemathesis (PyPI must be reachable)")?;
    fs::write(&stamp, &requirements)?;
    Ok(true)
}

/// `python3 -m venv <dir>`; Debian keeps venv's pip bootstrap in its own
/// package, added when missing.
fn make_venv(dir: &Path) -> Result<()> {
    if crate::setup::find_on_path("python3").is_none() {
        bail!("python3 is missing: install Python 3 (Debian: python3, python3-venv)");
    }
    let venv = || {
        Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(dir)
            .status()
    };
    if venv().is_ok_and(|s| s.success()) {
        return Ok(());
    }
    let _ = fs::remove_dir_all(dir);
    crate::setup::debian_package("python3-venv")?;
    if !venv().is_ok_and(|s| s.success()) {
        bail!(
            "`python3 -m venv {}` failed even with python3-venv installed",
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_version_is_read_from_the_requirements() {
        assert_eq!(
            version("a==1\nschemathesis==4.32.5\n").expect("pinned"),
            "4.32.5"
        );
        assert!(version("a==1\n").is_err());
        let ours = fs::read_to_string(root().expect("root").join(REQUIREMENTS)).expect("file");
        assert!(version(&ours).is_ok());
    }
}
