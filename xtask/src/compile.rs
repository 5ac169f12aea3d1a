//! Builds: the components for `wasm32-wasip2`, and `spinshop-host` and
//! `kafka-bridge`, all in the release profile (one build of wasmtime serves
//! test, run and bench).

use std::fs;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use crate::process;
use crate::repo::Repo;

/// The components' target.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// The host tests' guest, built with the components: one wasm build with
/// one package selection, so dependency features never flip between runs.
pub const TEST_GUEST: &str = "host-test-guest";

/// Every component (and the test guest), then the host and the bridge.
pub fn everything(repo: &Repo) -> Result<()> {
    let mut packages = component_packages(repo)?;
    packages.push(TEST_GUEST.to_string());
    self::components(repo, &packages)?;
    host(repo)
}

/// The packages under `components/` (each directory with a `Cargo.toml`).
pub fn component_packages(repo: &Repo) -> Result<Vec<String>> {
    let dir = repo.root().join("components");
    let mut packages = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let manifest = entry?.path().join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = fs::read_to_string(&manifest)
            .with_context(|| format!("cannot read {}", manifest.display()))?;
        let name = package_name(&text)
            .with_context(|| format!("no [package] name in {}", manifest.display()))?;
        packages.push(name);
    }
    packages.sort();
    Ok(packages)
}

/// `name` of the `[package]` table of a Cargo manifest.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some(value) = line
                .strip_prefix("name")
                .map(str::trim_start)
                .and_then(|v| v.strip_prefix('='))
            {
                let value = value.split('#').next().unwrap_or_default().trim();
                return Some(value.trim_matches(|c| c == '"' || c == '\'').to_owned());
            }
        }
    }
    None
}

/// `cargo build --target wasm32-wasip2 --release -p <each>`, in one
/// invocation; checks each `.wasm` is there.
pub fn components(repo: &Repo, packages: &[String]) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    let mut cargo = repo.cargo();
    cargo.args(["build", "--target", WASM_TARGET, "--release"]);
    for package in packages {
        cargo.args(["-p", package]);
    }
    process::run(&mut cargo)?;
    for package in packages {
        let wasm = wasm_file(repo, package);
        if !wasm.is_file() {
            bail!(
                "built {package}, but {} is missing (is it a cdylib?)",
                wasm.display()
            );
        }
    }
    Ok(())
}

/// Where cargo puts a component: the crate name with `_` for `-`.
pub fn wasm_file(repo: &Repo, package: &str) -> PathBuf {
    repo.target_dir()
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{}.wasm", package.replace('-', "_")))
}

/// Builds `spinshop-host`, and with it every other binary of the workspace
/// (`kafka-bridge`), in the release profile with exactly the features
/// that `cargo test --workspace --release` resolves, so that the test run
/// reuses every compiled crate. Features depend on which packages are
/// selected and on whether dev-dependencies are in play: `-p spinshop-host`
/// alone resolves getrandom, hyper-util and others differently, and a dozen
/// crates (with everything above them) would be compiled twice.
/// `--examples` (there are none) is what brings dev-dependencies in without
/// building the tests. The crates/testkit harness builds the same way.
pub fn host(repo: &Repo) -> Result<()> {
    process::run(repo.cargo().args(HOST_BUILD))?;
    let binary = repo.host_binary();
    if !binary.is_file() {
        bail!("built spinshop-host, but {} is missing", binary.display());
    }
    Ok(())
}

/// The arguments of [`host`]'s `cargo build`.
const HOST_BUILD: &[&str] = &["build", "--release", "--workspace", "--bins", "--examples"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_package_name() {
        let manifest = "[lib]\nname = \"not_this\"\n\n[package]\n# the component\nname = \"ops\" # routes\nversion.workspace = true\n";
        assert_eq!(package_name(manifest).as_deref(), Some("ops"));
        assert_eq!(
            package_name("[package]\nname='cart'\n").as_deref(),
            Some("cart")
        );
        assert_eq!(package_name("[package]\nnamespace = \"x\"\n"), None);
        assert_eq!(package_name("[workspace]\nmembers = []\n"), None);
    }
}
