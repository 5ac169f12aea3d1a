//! The builds everything runs: every component (and the host tests' guest)
//! for wasm32-wasip2, then the native binaries, each in one cargo
//! invocation with a fixed package selection so that features never flip
//! between runs and nothing is compiled twice.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context as _, Result};

/// The components' target.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// The host tests' guest, built with the components.
pub const TEST_GUEST: &str = "host-test-guest";

/// The packages under `components/` (each directory with a `Cargo.toml`),
/// sorted.
pub fn component_packages(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("components");
    let mut names = Vec::new();
    for entry in
        std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
    {
        let manifest = entry?.path().join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("cannot read {}", manifest.display()))?;
        names.push(package_name(&text).with_context(|| format!("in {}", manifest.display()))?);
    }
    names.sort();
    Ok(names)
}

/// `package.name` of a Cargo manifest.
pub fn package_name(manifest: &str) -> Result<String> {
    let parsed: toml::Table = toml::from_str(manifest).context("not valid TOML")?;
    parsed
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .map(str::to_owned)
        .context("no [package] name")
}

/// Where cargo puts a component: the crate name with `_` for `-`.
pub fn wasm_file(target: &Path, package: &str) -> PathBuf {
    target
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{}.wasm", package.replace('-', "_")))
}

/// A cargo command in `root`, without the variables `cargo run` and
/// `cargo test` set for the program they run: a build script that reads
/// one (ring's reads `CARGO_MANIFEST_DIR`) would otherwise see it change
/// between a build from xtask, one from a test and one by hand, and
/// rebuild itself and everything above it each time.
pub fn cargo_in(cargo: &Path, root: &Path) -> Command {
    let mut command = Command::new(cargo);
    command.current_dir(root);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key == "CARGO_MANIFEST_DIR"
            || key == "CARGO_MANIFEST_PATH"
            || key == "CARGO_PRIMARY_PACKAGE"
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_")
            || key == "CARGO_CRATE_NAME"
        {
            command.env_remove(key.as_ref());
        }
    }
    command
}

/// `cargo build` of every component and the test guest for wasm32-wasip2.
pub fn wasm_build(cargo: &Path, root: &Path) -> Result<Command> {
    let mut command = cargo_in(cargo, root);
    command.args(["build", "--target", WASM_TARGET, "--release"]);
    for package in component_packages(root)? {
        command.args(["-p", &package]);
    }
    command.args(["-p", TEST_GUEST]);
    Ok(command)
}

/// `cargo build` of spinshop-host and every other binary of the workspace
/// (kafka-bridge), in the release profile with exactly the features that
/// `cargo test --workspace --release` resolves, so the test run reuses
/// every compiled crate: `--examples` (there are none) is what brings
/// dev-dependencies into the resolution without building the tests.
pub fn native_build(cargo: &Path, root: &Path) -> Command {
    let mut command = cargo_in(cargo, root);
    command.args(["build", "--release", "--workspace", "--bins", "--examples"]);
    command
}

/// The cargo running us, or `cargo`.
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

/// Builds what the tests run, once per test process (quietly, into the
/// target directory this test was built in).
pub fn build_all() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = crate::repo_root();
        let target = crate::target_dir();
        let wasm = wasm_build(&cargo(), &root).and_then(|mut command| {
            let status = command
                .arg("--quiet")
                .env("CARGO_TARGET_DIR", &target)
                .status()?;
            anyhow::ensure!(status.success(), "building the components failed");
            Ok(())
        });
        if let Err(e) = wasm {
            panic!("{e:#}");
        }
        let native = native_build(&cargo(), &root)
            .arg("--quiet")
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("run cargo");
        assert!(native.success(), "building spinshop-host failed");
    });
}

/// The `spinshop-host` executable [`build_all`] makes.
pub fn host_binary() -> PathBuf {
    crate::target_dir().join("release/spinshop-host")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_package_name() {
        let manifest = "[lib]\nname = \"not_this\"\n\n[package]\n# the component\nname = \"ops\" # routes\nversion.workspace = true\n";
        assert_eq!(package_name(manifest).expect("name"), "ops");
        assert_eq!(
            package_name("[package]\nname='cart'\n").expect("name"),
            "cart"
        );
        assert!(package_name("[package]\nnamespace = \"x\"\n").is_err());
        assert!(package_name("[workspace]\nmembers = []\n").is_err());
    }

    #[test]
    fn every_component_is_found() {
        let names = component_packages(&crate::repo_root()).expect("components");
        for expected in ["catalog", "inventory", "orders", "users"] {
            assert!(names.iter().any(|n| n == expected), "{names:?}");
        }
    }
}
