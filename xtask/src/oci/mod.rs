//! `cargo xtask package` and `cargo xtask push`: the app as an OCI image
//! that SpinKube's containerd-shim-spin runs. It is the plain kind of
//! image the shim accepts (its rootfs holds `/spin.toml` and the files it
//! names), built without Docker: one gzipped layer for the manifest and
//! one per component, so a push uploads only the components that changed.
//! The layout is written to `target/oci/spinshop`; `push` sends that
//! layout, byte for byte.

mod app;
mod image;
mod layout;
mod registry;
#[cfg(test)]
mod testdata;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use anyhow::Result;

use crate::compile;
use crate::repo::Repo;
use crate::setup::{self, Prerequisite};

pub use registry::Target;

/// Where `package` writes the image layout.
pub fn layout_dir(repo: &Repo) -> PathBuf {
    repo.target_dir().join("oci/spinshop")
}

/// Builds the components and writes the image layout; prints its digest.
pub fn package(repo: &Repo) -> Result<()> {
    setup::ensure(&[Prerequisite::WasmTarget])?;
    compile::components(repo)?;
    let app = app::read(&repo.root().join("spin.toml"))?;
    let image = image::build(&app)?;
    let dir = layout_dir(repo);
    layout::write(&image, &dir)?;
    let size: usize = image.layers.iter().map(|l| l.bytes.len()).sum();
    println!(
        "packaged {} {} into {} ({} layers, {:.1} MB compressed)",
        app.name,
        app.version,
        repo.relative(&dir).display(),
        image.layers.len(),
        size as f64 / 1e6
    );
    println!("image digest {}", image.manifest.digest);
    Ok(())
}

/// Packages, then pushes the layout to `target`; prints the pinned
/// reference for the `app` stage's `image` variable.
pub fn push(repo: &Repo, target: &Target) -> Result<()> {
    package(repo)?;
    let image = layout::read(&layout_dir(repo))?;
    let pushed = registry::push(&image, target)?;
    println!("pushed {}", pushed.tagged);
    println!("image = \"{}\"", pushed.pinned);
    Ok(())
}
