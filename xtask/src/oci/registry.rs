//! Pushing an image to a registry, and reading it back, through the OCI
//! distribution API (oci-client). The manifest goes up as the exact bytes
//! of the layout, so the registry's digest is the one `package` printed.

use anyhow::{bail, Context as _, Result};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::image::{Image, MANIFEST_MEDIA_TYPE};

/// `push`'s credentials, when the registry wants them.
const USERNAME_VARIABLE: &str = "SPINSHOP_REGISTRY_USERNAME";
const PASSWORD_VARIABLE: &str = "SPINSHOP_REGISTRY_PASSWORD";

/// Where an image goes: `HOST[:PORT]/REPO[:TAG]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    registry: String,
    repository: String,
    tag: Option<String>,
}

impl Target {
    /// Parses `HOST[:PORT]/REPO[:TAG]`. The host is explicit (no Docker Hub
    /// default) and a digest cannot be pushed to: the image makes its own.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |why: &str| anyhow::anyhow!("--registry {text:?}: {why}");
        if text.contains('@') {
            return Err(invalid("give a tag, not a digest (the image has its own)"));
        }
        let (registry, path) = text
            .split_once('/')
            .ok_or_else(|| invalid("expected HOST/REPO[:TAG]"))?;
        if registry.is_empty()
            || !(registry.contains('.') || registry.contains(':') || registry == "localhost")
        {
            return Err(invalid(
                "the part before the first `/` must be a registry host",
            ));
        }
        // A `:` after the last `/` starts the tag.
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag.to_owned())),
            _ => (path, None),
        };
        let reference: Reference = format!(
            "{registry}/{repository}:{}",
            tag.as_deref().unwrap_or("latest")
        )
        .parse()
        .map_err(|e| invalid(&format!("{e}")))?;
        Ok(Self {
            registry: reference.registry().to_owned(),
            repository: reference.repository().to_owned(),
            tag,
        })
    }

    /// The reference for `tag`, or for the target's own tag if it has one.
    fn reference(&self, default_tag: &str) -> Reference {
        Reference::with_tag(
            self.registry.clone(),
            self.repository.clone(),
            self.tag.clone().unwrap_or_else(|| default_tag.to_owned()),
        )
    }

    /// Loopback registries (a local test or `kind` registry) speak plain
    /// HTTP; every other one HTTPS.
    fn protocol(&self) -> ClientProtocol {
        let host = self
            .registry
            .rsplit_once(':')
            .map_or(self.registry.as_str(), |(host, _)| host);
        let loopback = host == "localhost"
            || host == "[::1]"
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback());
        if loopback {
            ClientProtocol::HttpsExcept(vec![self.registry.clone()])
        } else {
            ClientProtocol::Https
        }
    }
}

/// What a push left in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// `HOST/REPO:TAG`.
    pub tagged: String,
    /// `HOST/REPO@sha256:...`: what a `SpinApp`'s `image` should name.
    pub pinned: String,
}

/// Pushes every blob of `image`, then its manifest under the target's tag
/// (or the image's own).
pub fn push(image: &Image, target: &Target) -> Result<Pushed> {
    let reference = target.reference(&image.tag);
    let auth = auth_from_env()?;
    runtime()?.block_on(async {
        let client = client(target);
        client
            .auth(&reference, &auth, oci_client::RegistryOperation::Push)
            .await
            .with_context(|| format!("cannot authenticate to {}", target.registry))?;
        for blob in std::iter::once(&image.config).chain(&image.layers) {
            if client
                .blob_exists(&reference, &blob.digest)
                .await
                .unwrap_or(false)
            {
                continue;
            }
            client
                .push_blob(&reference, blob.bytes.clone(), &blob.digest)
                .await
                .with_context(|| format!("cannot push blob {} to {reference}", blob.digest))?;
        }
        client
            .push_manifest_raw(
                &reference,
                image.manifest.bytes.clone(),
                http::HeaderValue::from_static(MANIFEST_MEDIA_TYPE),
            )
            .await
            .with_context(|| format!("cannot push the manifest to {reference}"))?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Pushed {
        tagged: reference.whole(),
        pinned: format!(
            "{}/{}@{}",
            reference.registry(),
            reference.repository(),
            image.manifest.digest
        ),
    })
}

/// Reads `tag` of the target back: the manifest, then the config and every
/// layer it names, each checked against its digest and size.
#[cfg(test)]
pub fn pull(target: &Target, tag: &str) -> Result<Image> {
    use super::image::{self, Blob};
    let reference = target.reference(tag);
    let auth = auth_from_env()?;
    runtime()?.block_on(async {
        let client = client(target);
        let (bytes, digest) = client
            .pull_manifest_raw(&reference, &auth, &[MANIFEST_MEDIA_TYPE])
            .await
            .with_context(|| format!("cannot pull the manifest of {reference}"))?;
        let manifest = Blob::new(bytes.to_vec());
        if manifest.digest != digest {
            bail!(
                "the registry says the manifest is {digest}, its bytes are {}",
                manifest.digest
            );
        }
        let parsed = image::parse_manifest(&manifest.bytes)?;
        let mut blobs = Vec::new();
        for descriptor in std::iter::once(&parsed.config).chain(&parsed.layers) {
            let mut bytes = Vec::new();
            client
                .pull_blob(&reference, descriptor.digest.as_str(), &mut bytes)
                .await
                .with_context(|| format!("cannot pull blob {}", descriptor.digest))?;
            let blob = Blob::new(bytes);
            if blob.digest != descriptor.digest || blob.bytes.len() as u64 != descriptor.size {
                bail!(
                    "blob {} came back as {} ({} bytes, {} expected)",
                    descriptor.digest,
                    blob.digest,
                    blob.bytes.len(),
                    descriptor.size
                );
            }
            blobs.push(blob);
        }
        let mut blobs = blobs.into_iter();
        let config = blobs.next().context("no config blob")?;
        Ok(Image {
            manifest,
            config,
            layers: blobs.collect(),
            tag: tag.to_owned(),
        })
    })
}

fn client(target: &Target) -> Client {
    Client::new(ClientConfig {
        protocol: target.protocol(),
        ..ClientConfig::default()
    })
}

/// Basic credentials from the environment, or anonymous.
fn auth_from_env() -> Result<RegistryAuth> {
    match (
        std::env::var(USERNAME_VARIABLE),
        std::env::var(PASSWORD_VARIABLE),
    ) {
        (Ok(user), Ok(password)) => Ok(RegistryAuth::Basic(user, password)),
        (Err(_), Err(_)) => Ok(RegistryAuth::Anonymous),
        _ => bail!("set both {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}, or neither"),
    }
}

/// One thread is plenty for a push; reqwest's rustls needs a crypto
/// provider chosen once per process.
fn runtime() -> Result<tokio::runtime::Runtime> {
    // Err means one is installed already, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start an async runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_a_registry_a_repository_and_maybe_a_tag() -> Result<()> {
        let local = Target::parse("127.0.0.1:5000/shop/spinshop:1.0")?;
        assert_eq!(local.registry, "127.0.0.1:5000");
        assert_eq!(local.repository, "shop/spinshop");
        assert_eq!(local.tag.as_deref(), Some("1.0"));
        assert_eq!(
            local.protocol(),
            ClientProtocol::HttpsExcept(vec!["127.0.0.1:5000".into()])
        );

        let remote = Target::parse("ghcr.io/acme/spinshop")?;
        assert_eq!(remote.tag, None);
        assert_eq!(
            remote.reference("0.1.0").whole(),
            "ghcr.io/acme/spinshop:0.1.0"
        );
        assert_eq!(remote.protocol(), ClientProtocol::Https);
        assert_eq!(
            Target::parse("localhost:5001/app")?.protocol(),
            ClientProtocol::HttpsExcept(vec!["localhost:5001".into()])
        );

        for bad in [
            "spinshop",
            "acme/spinshop",
            "ghcr.io/acme/app@sha256:00",
            "ghcr.io/",
            "ghcr.io/Upper",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?} should be refused");
        }
        Ok(())
    }
}
