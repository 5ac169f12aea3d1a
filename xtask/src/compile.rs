//! Builds: the components for `wasm32-wasip2`, and `spinshop-host` and
//! `kafka-bridge`, all in the release profile (one build of wasmtime serves
//! test, run and bench), with the same cargo invocations the test harness
//! uses, so neither rebuilds what the other built.

use anyhow::{bail, Result};
use spinshop_testkit::build;

use crate::process;
use crate::repo::Repo;

/// Every component (and the test guest), then the host and the bridge.
pub fn everything(repo: &Repo) -> Result<()> {
    components(repo)?;
    let cargo = spinshop_testkit::build::cargo();
    process::run(&mut build::native_build(&cargo, repo.root()))?;
    for binary in [repo.host_binary(), repo.bridge_binary()] {
        if !binary.is_file() {
            bail!("built the workspace, but {} is missing", binary.display());
        }
    }
    Ok(())
}

/// Every component (and the test guest, in the same selection as every
/// other wasm build, so dependency features stay the same) for
/// wasm32-wasip2.
pub fn components(repo: &Repo) -> Result<()> {
    let cargo = spinshop_testkit::build::cargo();
    process::run(&mut build::wasm_build(&cargo, repo.root())?)?;
    for package in build::component_packages(repo.root())? {
        let wasm = build::wasm_file(&repo.target_dir(), &package);
        if !wasm.is_file() {
            bail!(
                "built {package}, but {} is missing (is it a cdylib?)",
                wasm.display()
            );
        }
    }
    Ok(())
}
