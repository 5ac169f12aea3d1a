//! The OCI image layout `package` writes and `push` reads: `oci-layout`,
//! `index.json` naming the one image and its tag, and `blobs/sha256/`.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use super::image::{
    parse_manifest, Blob, Descriptor, Image, Platform, ARCHITECTURE, MANIFEST_MEDIA_TYPE, OS,
};

const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    media_type: String,
    manifests: Vec<Descriptor>,
}

/// Writes `image` as an OCI image layout in `dir`, replacing what was there.
pub fn write(image: &Image, dir: &Path) -> Result<()> {
    crate::repo::recreate_dir(dir)?;
    let blobs = dir.join("blobs/sha256");
    crate::repo::create_dir(&blobs)?;
    for blob in std::iter::once(&image.manifest)
        .chain(std::iter::once(&image.config))
        .chain(&image.layers)
    {
        let path = blobs.join(hex_of(&blob.digest)?);
        fs::write(&path, &blob.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let index = Index {
        schema_version: 2,
        media_type: INDEX_MEDIA_TYPE.to_owned(),
        manifests: vec![Descriptor {
            media_type: MANIFEST_MEDIA_TYPE.to_owned(),
            digest: image.manifest.digest.clone(),
            size: image.manifest.bytes.len() as u64,
            annotations: BTreeMap::from([(REF_NAME.to_owned(), image.tag.clone())]),
            platform: Some(Platform {
                architecture: ARCHITECTURE.to_owned(),
                os: OS.to_owned(),
            }),
        }],
    };
    fs::write(dir.join("index.json"), serde_json::to_vec(&index)?)?;
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    Ok(())
}

/// Reads the one image of the layout in `dir`, checking every blob against
/// its digest.
pub fn read(dir: &Path) -> Result<Image> {
    let index_path = dir.join("index.json");
    let index: Index = serde_json::from_slice(
        &fs::read(&index_path).with_context(|| format!("cannot read {}", index_path.display()))?,
    )
    .with_context(|| format!("{} is not an OCI index", index_path.display()))?;
    let [entry] = index.manifests.as_slice() else {
        bail!(
            "{} lists {} images, not one",
            index_path.display(),
            index.manifests.len()
        );
    };
    let read_blob = |descriptor: &Descriptor| -> Result<Blob> {
        let path = dir.join("blobs/sha256").join(hex_of(&descriptor.digest)?);
        let blob =
            Blob::new(fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?);
        if blob.digest != descriptor.digest || blob.bytes.len() as u64 != descriptor.size {
            bail!("{} does not match its digest or size", path.display());
        }
        Ok(blob)
    };
    let manifest = read_blob(entry)?;
    let parsed = parse_manifest(&manifest.bytes)?;
    let config = read_blob(&parsed.config)?;
    let layers = parsed
        .layers
        .iter()
        .map(read_blob)
        .collect::<Result<Vec<_>>>()?;
    let tag = entry
        .annotations
        .get(REF_NAME)
        .cloned()
        .with_context(|| format!("{} names no tag", index_path.display()))?;
    Ok(Image {
        manifest,
        config,
        layers,
        tag,
    })
}

/// The hex part of a `sha256:` digest, checked so it can name a file.
fn hex_of(digest: &str) -> Result<&str> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(hex),
        _ => bail!("{digest:?} is not a sha256 digest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::testdata::{sample_app, ScratchDir};
    use crate::oci::{app, image};

    #[test]
    fn a_layout_reads_back_as_written_and_a_damaged_blob_is_caught() -> Result<()> {
        let dir = ScratchDir::new("image-layout")?;
        sample_app(&dir)?;
        let image = image::build(&app::read(&dir.path().join("spin.toml"))?)?;
        let layout = dir.path().join("layout");
        write(&image, &layout)?;
        assert_eq!(read(&layout)?, image);
        assert_eq!(
            fs::read_to_string(layout.join("oci-layout"))?,
            r#"{"imageLayoutVersion":"1.0.0"}"#
        );

        let damaged = layout
            .join("blobs/sha256")
            .join(hex_of(&image.layers[1].digest)?);
        fs::write(&damaged, b"not the layer")?;
        let error = format!("{:#}", read(&layout).err().context("should fail")?);
        assert!(error.contains("does not match its digest"), "{error}");
        Ok(())
    }

    #[test]
    fn only_sha256_digests_name_blob_files() {
        assert!(hex_of("sha256:../../etc/passwd").is_err());
        assert!(hex_of("md5:00").is_err());
    }
}
