//! Compiling components, with an on-disk cache of compiled artefacts so a
//! restart (and every test that starts a host) skips Cranelift.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Compiles `path`, or loads its compiled form from `cache_dir`.
pub fn load_component(engine: &Engine, path: &Path, cache_dir: Option<&Path>) -> Result<Component> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read component {}", path.display()))?;
    let Some(cache_dir) = cache_dir else {
        return Component::new(engine, &bytes)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot compile component {}", path.display()));
    };
    let cached = cache_path(engine, &bytes, cache_dir);
    if cached.exists() {
        // SAFETY: the file was written by `Component::serialize` of an engine
        // with the same compatibility hash (part of the file name), renamed
        // into place atomically, and is only ever written by this host.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, &cached) };
        match loaded {
            Ok(component) => return Ok(component),
            Err(e) => {
                tracing::warn!(file = %cached.display(), error = %e, "ignoring unusable compiled component")
            }
        }
    }
    let component = Component::new(engine, &bytes)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("cannot compile component {}", path.display()))?;
    if let Err(e) = store(&component, &cached) {
        tracing::warn!(file = %cached.display(), error = %format!("{e:#}"), "cannot cache compiled component");
    }
    Ok(component)
}

fn cache_path(engine: &Engine, bytes: &[u8], dir: &Path) -> PathBuf {
    let mut a = DefaultHasher::new();
    let mut b = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut a);
    engine.precompile_compatibility_hash().hash(&mut b);
    env!("CARGO_PKG_VERSION").hash(&mut a);
    0xa5u8.hash(&mut b);
    bytes.hash(&mut a);
    bytes.hash(&mut b);
    dir.join(format!(
        "{:016x}{:016x}-{}.cwasm",
        a.finish(),
        b.finish(),
        bytes.len()
    ))
}

fn store(component: &Component, path: &Path) -> Result<()> {
    let dir = path.parent().context("cache path has no directory")?;
    std::fs::create_dir_all(dir)?;
    let data = component.serialize()?;
    let tmp = dir.join(format!(".{}.{}", std::process::id(), uuid::Uuid::new_v4()));
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
