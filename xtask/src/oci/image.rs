//! The image itself: one gzipped tar layer per file group, an image config
//! for the `wasi/wasm` platform, and the manifest. Nothing depends on the
//! clock, the user or the order a directory lists in, so the same files
//! always give the same digest.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::app::{App, FileGroup};

/// An image manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The image config.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// A layer: a gzipped tar.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The platform that `docker buildx --platform wasi/wasm` records and
/// SpinKube's examples use.
pub const OS: &str = "wasi";
/// See [`OS`].
pub const ARCHITECTURE: &str = "wasm";

const TITLE: &str = "org.opencontainers.image.title";
const VERSION: &str = "org.opencontainers.image.version";

/// Content and its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
    /// The content.
    pub bytes: Vec<u8>,
}

impl Blob {
    /// Addresses `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            digest: sha256(&bytes),
            bytes,
        }
    }
}

/// `sha256:<hex>`.
pub fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256:");
    for byte in hash {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// An image ready to write or push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The manifest, as pushed: its digest is the image's.
    pub manifest: Blob,
    /// The config blob.
    pub config: Blob,
    /// The layers, in manifest order.
    pub layers: Vec<Blob>,
    /// The tag the layout records (the application's version).
    pub tag: String,
}

/// A descriptor as the OCI image spec writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// What the blob is.
    pub media_type: String,
    /// Its digest.
    pub digest: String,
    /// Its length in bytes.
    pub size: u64,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Only in an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// Where an image runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// `wasm`.
    pub architecture: String,
    /// `wasi`.
    pub os: String,
}

/// An image manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`MANIFEST_MEDIA_TYPE`].
    pub media_type: String,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, applied in order.
    pub layers: Vec<Descriptor>,
    /// Title and version of the application.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct Config<'a> {
    architecture: &'a str,
    os: &'a str,
    config: BTreeMap<String, String>,
    rootfs: RootFs,
}

#[derive(Debug, Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<String>,
}

/// Builds the image of `app`: its files read now.
pub fn build(app: &App) -> Result<Image> {
    let mut layers = Vec::new();
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    for group in app.groups.iter().filter(|g| !g.files.is_empty()) {
        let tar = tar_of(group)?;
        diff_ids.push(sha256(&tar));
        let layer = Blob::new(gzip(&tar)?);
        descriptors.push(Descriptor {
            media_type: LAYER_MEDIA_TYPE.to_owned(),
            digest: layer.digest.clone(),
            size: layer.bytes.len() as u64,
            annotations: BTreeMap::from([(TITLE.to_owned(), group.title.clone())]),
            platform: None,
        });
        layers.push(layer);
    }
    let config = Blob::new(serde_json::to_vec(&Config {
        architecture: ARCHITECTURE,
        os: OS,
        config: BTreeMap::new(),
        rootfs: RootFs {
            kind: "layers",
            diff_ids,
        },
    })?);
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST_MEDIA_TYPE.to_owned(),
        config: Descriptor {
            media_type: CONFIG_MEDIA_TYPE.to_owned(),
            digest: config.digest.clone(),
            size: config.bytes.len() as u64,
            annotations: BTreeMap::new(),
            platform: None,
        },
        layers: descriptors,
        annotations: BTreeMap::from([
            (TITLE.to_owned(), app.name.clone()),
            (VERSION.to_owned(), app.version.clone()),
        ]),
    };
    Ok(Image {
        manifest: Blob::new(serde_json::to_vec(&manifest)?),
        config,
        layers,
        tag: app.version.clone(),
    })
}

/// A tar of the group's files with their parent directories, sorted, with
/// fixed owner, mode and time.
fn tar_of(group: &FileGroup) -> Result<Vec<u8>> {
    // Parents sort before their children: a prefix sorts first.
    let mut entries: BTreeMap<String, Option<&Path>> = BTreeMap::new();
    for file in &group.files {
        let mut parent = String::new();
        let parts: Vec<&str> = file.path_in_image.split('/').collect();
        for dir in &parts[..parts.len() - 1] {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(dir);
            entries.entry(format!("{parent}/")).or_insert(None);
        }
        entries.insert(file.path_in_image.clone(), Some(file.local.as_path()));
    }
    let mut builder = tar::Builder::new(Vec::new());
    for (path, local) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        match local {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder
                    .append_data(&mut header, &path, std::io::empty())
                    .with_context(|| format!("cannot add {path} to a layer"))?;
            }
            Some(local) => {
                let bytes =
                    fs::read(local).with_context(|| format!("cannot read {}", local.display()))?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(bytes.len() as u64);
                builder
                    .append_data(&mut header, &path, bytes.as_slice())
                    .with_context(|| format!("cannot add {path} to a layer"))?;
            }
        }
    }
    builder.into_inner().context("cannot finish a layer")
}

/// gzip with no name and no time in its header.
fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

/// The manifest's parsed form.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest> {
    let manifest: Manifest =
        serde_json::from_slice(bytes).context("the manifest is not an OCI image manifest")?;
    if manifest.media_type != MANIFEST_MEDIA_TYPE {
        bail!("the manifest's media type is {}", manifest.media_type);
    }
    Ok(manifest)
}

/// The paths and contents of the files in a gzipped tar layer.
#[cfg(test)]
pub fn unpack(layer: &[u8]) -> Result<Vec<(String, tar::EntryType, Vec<u8>)>> {
    use std::io::Read as _;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(layer));
    let mut found = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let kind = entry.header().entry_type();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        found.push((path, kind, bytes));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::app;
    use crate::oci::testdata::{sample_app, ScratchDir};

    #[test]
    fn the_same_files_give_the_same_digest_and_a_changed_file_another() -> Result<()> {
        let dir = ScratchDir::new("image-digest")?;
        sample_app(&dir)?;
        let manifest = dir.path().join("spin.toml");
        let first = build(&app::read(&manifest)?)?;
        let second = build(&app::read(&manifest)?)?;
        assert_eq!(first.manifest.digest, second.manifest.digest);
        assert_eq!(first, second);

        dir.write("target/api.wasm", "\0asm changed")?;
        let changed = build(&app::read(&manifest)?)?;
        assert_ne!(changed.manifest.digest, first.manifest.digest);
        // Only the changed component's layer differs.
        assert_eq!(changed.layers[0], first.layers[0]);
        assert_ne!(changed.layers[1], first.layers[1]);
        assert_eq!(changed.layers[2], first.layers[2]);
        Ok(())
    }

    #[test]
    fn layers_hold_the_files_at_their_manifest_paths() -> Result<()> {
        let dir = ScratchDir::new("image-layers")?;
        sample_app(&dir)?;
        let image = build(&app::read(&dir.path().join("spin.toml"))?)?;
        let manifest = parse_manifest(&image.manifest.bytes)?;
        assert_eq!(manifest.layers.len(), 3);
        assert_eq!(manifest.config.digest, image.config.digest);
        let config: serde_json::Value = serde_json::from_slice(&image.config.bytes)?;
        assert_eq!(config["os"], "wasi");
        assert_eq!(config["architecture"], "wasm");

        let first = unpack(&image.layers[0].bytes)?;
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].0, "spin.toml");
        assert_eq!(
            first[0].2,
            fs::read(dir.path().join("spin.toml"))?,
            "the manifest is packaged unchanged"
        );
        let api: Vec<(String, tar::EntryType)> = unpack(&image.layers[1].bytes)?
            .into_iter()
            .map(|(path, kind, _)| (path, kind))
            .collect();
        assert_eq!(
            api,
            vec![
                ("target/".to_owned(), tar::EntryType::Directory),
                ("target/api.wasm".to_owned(), tar::EntryType::Regular),
            ]
        );
        // Each config diff id is the digest of the uncompressed layer.
        for (layer, diff_id) in image.layers.iter().zip(
            config["rootfs"]["diff_ids"]
                .as_array()
                .context("diff_ids")?,
        ) {
            let mut tar = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(layer.bytes.as_slice()),
                &mut tar,
            )?;
            assert_eq!(Some(sha256(&tar).as_str()), diff_id.as_str());
        }
        Ok(())
    }

    #[test]
    fn digests_are_sha256_in_hex() {
        assert_eq!(
            sha256(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
