//! The image against a real registry: Debian's `docker-registry` (the
//! CNCF distribution registry), on a loopback port of the test's choosing
//! with storage of its own.

use anyhow::Result;
use spinshop_testkit::Registry;

use super::testdata::{sample_app, ScratchDir};
use super::{app, image, layout, registry};
use crate::setup::{self, Prerequisite};

#[test]
fn pushed_images_come_back_whole_under_the_packaged_digest() -> Result<()> {
    // The same prerequisite `cargo xtask setup` installs; only a machine
    // where it cannot be installed skips.
    if let Err(e) = setup::ensure(&[Prerequisite::DockerRegistry]) {
        eprintln!("SKIPPED: docker-registry is not installed and could not be: {e:#}");
        return Ok(());
    }
    let dir = ScratchDir::new("registry")?;
    sample_app(&dir)?;
    let manifest = dir.path().join("spin.toml");
    let layout_dir = dir.path().join("layout");
    layout::write(&image::build(&app::read(&manifest)?)?, &layout_dir)?;
    let packaged = layout::read(&layout_dir)?;
    // Packaging again gives the same digest.
    let again = image::build(&app::read(&manifest)?)?;
    assert_eq!(again.manifest.digest, packaged.manifest.digest);

    let mut registry_process = Registry::start()?;
    let target = registry::Target::parse(&format!(
        "127.0.0.1:{}/spinshop/sample",
        registry_process.port
    ))?;
    let pushed = registry::push(&packaged, &target)?;
    assert_eq!(
        pushed.pinned,
        format!(
            "127.0.0.1:{}/spinshop/sample@{}",
            registry_process.port, packaged.manifest.digest
        )
    );
    assert_eq!(
        pushed.tagged,
        format!("127.0.0.1:{}/spinshop/sample:0.3.0", registry_process.port)
    );

    // Pull checks every blob's digest and size against the manifest.
    let pulled = registry::pull(&target, "0.3.0")?;
    assert_eq!(pulled.manifest.digest, packaged.manifest.digest);
    assert_eq!(pulled, packaged);
    let files: Vec<String> = pulled
        .layers
        .iter()
        .map(|layer| image::unpack(&layer.bytes))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .filter(|(_, kind, _)| kind.is_file())
        .map(|(path, _, _)| path)
        .collect();
    assert_eq!(
        files,
        [
            "spin.toml",
            "target/api.wasm",
            "target/web.wasm",
            "web/dist/assets/app.js",
            "web/dist/index.html"
        ]
    );

    // A second push of the same image changes nothing; a tag given in the
    // target wins over the version.
    let retagged = registry::Target::parse(&format!(
        "127.0.0.1:{}/spinshop/sample:candidate",
        registry_process.port
    ))?;
    registry::push(&packaged, &retagged)?;
    assert_eq!(
        registry::pull(&retagged, "ignored")?.manifest.digest,
        packaged.manifest.digest
    );
    registry_process.check_running()
}
