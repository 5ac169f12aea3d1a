//! The runtime configuration file (`runtime-config.toml`, Spin's format):
//! which backend serves each SQLite database and key-value store label.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use serde::Deserialize;

/// Where a SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteBackend {
    File(PathBuf),
    /// `type = "spin"` without a path: in memory, shared within the process.
    Memory,
}

/// What backs a key-value store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyValueBackend {
    /// SQLite file (Spin's `type = "spin"`).
    Sqlite(PathBuf),
    Memory,
    Redis(String),
}

/// The resolved runtime configuration.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    pub sqlite: BTreeMap<String, SqliteBackend>,
    pub key_value: BTreeMap<String, KeyValueBackend>,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    sqlite_database: BTreeMap<String, RawStore>,
    #[serde(default)]
    key_value_store: BTreeMap<String, RawStore>,
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    url: Option<String>,
}

impl RuntimeConfig {
    /// Loads the file if given, then fills in Spin's defaults for the
    /// `default` labels under `state_dir`.
    pub fn load(path: Option<&Path>, state_dir: &Path) -> Result<Self> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read runtime config {}", path.display()))?;
                let base = path.parent().unwrap_or(Path::new("."));
                Self::parse(&text, base)
                    .with_context(|| format!("invalid runtime config {}", path.display()))?
            }
            None => Self::default(),
        };
        config
            .sqlite
            .entry("default".into())
            .or_insert_with(|| SqliteBackend::File(state_dir.join("sqlite_db.db")));
        config
            .key_value
            .entry("default".into())
            .or_insert_with(|| KeyValueBackend::Sqlite(state_dir.join("sqlite_key_value.db")));
        Ok(config)
    }

    /// Parses runtime config text; relative paths resolve against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
        if let Some(key) = raw.other.keys().next() {
            bail!("section [{key}] is not supported by spinshop-host (supported: [sqlite_database.<label>], [key_value_store.<label>])");
        }
        let mut config = Self::default();
        for (label, store) in raw.sqlite_database {
            let backend = match (store.kind.as_str(), store.path, store.url) {
                ("spin", Some(path), None) => SqliteBackend::File(base.join(path)),
                ("spin", None, None) => SqliteBackend::Memory,
                ("spin", _, Some(_)) => {
                    bail!("[sqlite_database.{label}]: `url` is not valid for type \"spin\"")
                }
                (kind, _, _) => bail!(
                    "[sqlite_database.{label}]: type {kind:?} is not supported (only \"spin\")"
                ),
            };
            config.sqlite.insert(label, backend);
        }
        for (label, store) in raw.key_value_store {
            let backend = match (store.kind.as_str(), store.path, store.url) {
                ("spin", Some(path), None) => KeyValueBackend::Sqlite(base.join(path)),
                ("spin", None, None) => KeyValueBackend::Memory,
                ("redis", None, Some(url)) => KeyValueBackend::Redis(url),
                ("redis", _, _) => bail!("[key_value_store.{label}]: type \"redis\" needs `url` (and no `path`)"),
                ("spin", _, Some(_)) => bail!("[key_value_store.{label}]: `url` is not valid for type \"spin\""),
                (kind, _, _) => bail!("[key_value_store.{label}]: type {kind:?} is not supported (\"spin\" or \"redis\")"),
            };
            config.key_value.insert(label, backend);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_paths_against_the_file_and_adds_defaults() {
        let text = r#"
[sqlite_database.catalog]
type = "spin"
path = "data/catalog.db"
[key_value_store.cache]
type = "redis"
url = "redis://127.0.0.1:6379"
"#;
        let mut c = RuntimeConfig::parse(text, Path::new("/app")).expect("valid");
        assert_eq!(
            c.sqlite["catalog"],
            SqliteBackend::File(PathBuf::from("/app/data/catalog.db"))
        );
        assert_eq!(
            c.key_value["cache"],
            KeyValueBackend::Redis("redis://127.0.0.1:6379".into())
        );
        c.sqlite.clear();
        assert!(!c.sqlite.contains_key("default"));
    }

    #[test]
    fn rejects_unknown_backends_and_sections() {
        assert!(RuntimeConfig::parse(
            "[sqlite_database.x]\ntype = \"libsql\"\nurl = \"x\"",
            Path::new("/")
        )
        .is_err());
        assert!(
            RuntimeConfig::parse("[key_value_store.x]\ntype = \"redis\"", Path::new("/")).is_err()
        );
        assert!(RuntimeConfig::parse("[llm_compute]\ntype = \"x\"", Path::new("/")).is_err());
        assert!(RuntimeConfig::parse(
            "[sqlite_database.x]\ntype = \"spin\"\npth = \"a\"",
            Path::new("/")
        )
        .is_err());
    }
}
