//! The Spin application manifest (`spin.toml`, manifest version 2).
//!
//! Parsing is strict about what it understands and rejects what spinshop-host
//! cannot run (remote sources, non-`spin` executors, inline components), so a
//! manifest that starts here behaves as it would under Spin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use serde::Deserialize;

/// A parsed and validated application manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Directory the manifest lives in; relative paths resolve against it.
    pub dir: PathBuf,
    pub application: Application,
    pub variables: BTreeMap<String, VariableDecl>,
    pub http_triggers: Vec<HttpTrigger>,
    pub components: BTreeMap<String, ComponentDecl>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub targets: Vec<String>,
    /// Application-level trigger settings (`[application.trigger.http]`).
    #[serde(default)]
    pub trigger: Option<toml::Table>,
}

/// An application variable (`[variables]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub description: Option<String>,
}

/// One `[[trigger.http]]` entry.
#[derive(Debug, Clone)]
pub struct HttpTrigger {
    pub id: Option<String>,
    pub route: Route,
    pub component: String,
}

/// Where a trigger listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A route pattern such as `/api/items/:id` or `/static/...`.
    Path(String),
    /// `route = { private = true }`: reachable only through service chaining.
    Private,
}

/// One `[component.<id>]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentDecl {
    pub source: Source,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub files: Vec<FileMount>,
    #[serde(default)]
    pub exclude_files: Vec<String>,
    #[serde(default)]
    pub ai_models: Vec<String>,
    #[serde(default)]
    pub build: Option<toml::Table>,
    #[serde(default)]
    pub tool: Option<toml::Table>,
    #[serde(default)]
    pub dependencies_inherit_configuration: bool,
    #[serde(default)]
    pub dependencies: Option<toml::Table>,
    /// Spin 1 name for `allowed_outbound_hosts`; rejected with a hint.
    #[serde(default)]
    pub allowed_http_hosts: Option<toml::Value>,
}

/// A component's Wasm source.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Source {
    Local(String),
    Remote(toml::Table),
}

/// A `files` entry: a path (file or directory, mounted at the same relative
/// path under `/`) or an explicit `{ source, destination }` mapping.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FileMount {
    Pattern(String),
    Placement { source: String, destination: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: Application,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    trigger: BTreeMap<String, Vec<toml::Table>>,
    #[serde(default)]
    component: BTreeMap<String, ComponentDecl>,
}

impl Manifest {
    /// Reads and validates the manifest at `path`; errors name the file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read manifest {}", path.display()))?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        Self::parse(&text, dir).with_context(|| format!("invalid manifest {}", path.display()))
    }

    /// Parses manifest text; `dir` is where relative paths resolve.
    pub fn parse(text: &str, dir: PathBuf) -> Result<Self> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
        match raw.spin_manifest_version {
            toml::Value::Integer(2) => {}
            toml::Value::String(ref s) if s == "2" => {}
            other => bail!(
                "spin_manifest_version must be 2 (found {other}); Spin 1 manifests are not supported"
            ),
        }
        for name in raw.variables.keys() {
            validate_snake_id(name).with_context(|| format!("variable name {name:?}"))?;
        }
        for (name, decl) in &raw.variables {
            if decl.required && decl.default.is_some() {
                bail!("variable {name:?} cannot be both required and have a default");
            }
        }
        for (id, component) in &raw.component {
            validate_kebab_id(id).with_context(|| format!("component id {id:?}"))?;
            validate_component(id, component)?;
        }

        let mut http_triggers = Vec::new();
        for (kind, triggers) in raw.trigger {
            if kind != "http" {
                bail!("trigger type {kind:?} is not supported (only [[trigger.http]])");
            }
            for (index, table) in triggers.into_iter().enumerate() {
                let trigger = parse_http_trigger(table)
                    .with_context(|| format!("[[trigger.http]] entry #{}", index + 1))?;
                if !raw.component.contains_key(&trigger.component) {
                    bail!(
                        "[[trigger.http]] entry #{} refers to component {:?}, which is not defined",
                        index + 1,
                        trigger.component
                    );
                }
                http_triggers.push(trigger);
            }
        }

        Ok(Manifest {
            dir,
            application: raw.application,
            variables: raw.variables,
            http_triggers,
            components: raw.component,
        })
    }

    /// The local Wasm file of a component, resolved against the manifest dir.
    pub fn source_path(&self, id: &str) -> Result<PathBuf> {
        let component = self
            .components
            .get(id)
            .ok_or_else(|| anyhow!("no component {id:?}"))?;
        match &component.source {
            Source::Local(path) => Ok(self.dir.join(path)),
            Source::Remote(_) => bail!("component {id:?}: remote sources are not supported"),
        }
    }
}

fn validate_component(id: &str, component: &ComponentDecl) -> Result<()> {
    if let Source::Remote(table) = &component.source {
        let what = if table.contains_key("url") {
            "a URL source"
        } else if table.contains_key("package") {
            "a registry source"
        } else {
            "this kind of source"
        };
        bail!(
            "component {id:?} has {what}; spinshop-host runs local Wasm files only (build it and point `source` at the file)"
        );
    }
    if component.allowed_http_hosts.is_some() {
        bail!("component {id:?} uses `allowed_http_hosts`, which manifest version 2 replaces with `allowed_outbound_hosts`");
    }
    if component
        .dependencies
        .as_ref()
        .is_some_and(|deps| !deps.is_empty())
    {
        bail!("component {id:?} declares component dependencies, which spinshop-host does not compose");
    }
    if !component.ai_models.is_empty() {
        bail!("component {id:?} declares ai_models; spinshop-host provides no LLM capability");
    }
    for name in component.variables.keys() {
        validate_snake_id(name)
            .with_context(|| format!("component {id:?} variable name {name:?}"))?;
    }
    for label in component
        .key_value_stores
        .iter()
        .chain(&component.sqlite_databases)
    {
        if label.is_empty() {
            bail!("component {id:?} declares an empty store or database label");
        }
    }
    Ok(())
}

fn parse_http_trigger(mut table: toml::Table) -> Result<HttpTrigger> {
    let id = match table.remove("id") {
        Some(toml::Value::String(s)) => Some(s),
        Some(other) => bail!("`id` must be a string, found {other}"),
        None => None,
    };
    let route = match table.remove("route") {
        Some(toml::Value::String(s)) => Route::Path(s),
        Some(toml::Value::Table(t)) => {
            let private = t.get("private").and_then(toml::Value::as_bool);
            if t.len() != 1 || private.is_none() {
                bail!("route must be a string pattern or `{{ private = true }}`");
            }
            if private != Some(true) {
                bail!("route must be a string pattern or `{{ private = true }}`, found `{{ private = false }}`");
            }
            Route::Private
        }
        Some(other) => bail!("`route` must be a string, found {other}"),
        None => bail!("missing `route`"),
    };
    let component = match table.remove("component") {
        Some(toml::Value::String(s)) => s,
        Some(toml::Value::Table(_)) => bail!(
            "inline components are not supported by spinshop-host; declare [component.<id>] and refer to it by id"
        ),
        Some(other) => bail!("`component` must be a component id, found {other}"),
        None => bail!("missing `component`"),
    };
    if let Some(executor) = table.remove("executor") {
        let kind = executor
            .as_table()
            .and_then(|t| t.get("type"))
            .and_then(toml::Value::as_str);
        if kind != Some("spin") {
            bail!("executor {executor} is not supported (only the `spin` executor, WASI 0.2 HTTP)");
        }
    }
    if let Some((key, _)) = table.into_iter().next() {
        bail!("unknown key `{key}`");
    }
    Ok(HttpTrigger {
        id,
        route,
        component,
    })
}

/// Spin's component ids: lower-case kebab case (`cart`, `sandbox-psp`).
fn validate_kebab_id(id: &str) -> Result<()> {
    validate_id(id, '-')
}

/// Spin's variable names: lower-case snake case (`redis_host`).
fn validate_snake_id(id: &str) -> Result<()> {
    validate_id(id, '_')
}

fn validate_id(id: &str, separator: char) -> Result<()> {
    if id.is_empty() {
        bail!("must not be empty");
    }
    for word in id.split(separator) {
        let mut chars = word.chars();
        match chars.next() {
            None => bail!("must not have empty words (leading, trailing or doubled '{separator}')"),
            Some(c) if c.is_ascii_digit() && word.len() == id.len() => {
                bail!("must start with a letter")
            }
            Some(c) if !(c.is_ascii_lowercase() || c.is_ascii_digit()) => {
                bail!("may contain only lower-case letters, digits and '{separator}'")
            }
            Some(_) => {}
        }
        if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            bail!("may contain only lower-case letters, digits and '{separator}'");
        }
    }
    if id.starts_with(|c: char| c.is_ascii_digit()) {
        bail!("must start with a letter");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest> {
        Manifest::parse(text, PathBuf::from("/app"))
    }

    const MINIMAL: &str = r#"
spin_manifest_version = 2
[application]
name = "shop"
[variables]
redis_host = { default = "127.0.0.1:6379" }
token = { required = true, secret = true }
[[trigger.http]]
route = "/api/..."
component = "api"
[[trigger.http]]
route = { private = true }
component = "worker"
[component.api]
source = "api.wasm"
sqlite_databases = ["default"]
[component.api.variables]
redis_url = "redis://{{ redis_host }}"
[component.worker]
source = "w.wasm"
"#;

    #[test]
    fn parses_a_minimal_application() {
        let m = parse(MINIMAL).expect("valid manifest");
        assert_eq!(m.application.name, "shop");
        assert_eq!(m.http_triggers.len(), 2);
        assert_eq!(m.http_triggers[0].route, Route::Path("/api/...".into()));
        assert_eq!(m.http_triggers[1].route, Route::Private);
        assert!(m.variables["token"].required);
        assert_eq!(
            m.source_path("api").expect("local"),
            PathBuf::from("/app/api.wasm")
        );
    }

    #[test]
    fn rejects_a_trigger_for_a_missing_component() {
        let text = MINIMAL.replace("component = \"worker\"", "component = \"nope\"");
        let err = format!("{:#}", parse(&text).expect_err("must fail"));
        assert!(err.contains("\"nope\""), "{err}");
    }

    #[test]
    fn rejects_unknown_keys_and_versions() {
        let err = format!(
            "{:#}",
            parse(&MINIMAL.replace("source = \"w.wasm\"", "source = \"w.wasm\"\nsorce = 1"))
                .expect_err("unknown key")
        );
        assert!(err.contains("sorce"), "{err}");
        let err = format!(
            "{:#}",
            parse(&MINIMAL.replace("spin_manifest_version = 2", "spin_manifest_version = 1"))
                .expect_err("v1")
        );
        assert!(err.contains("must be 2"), "{err}");
    }

    #[test]
    fn rejects_bad_ids_and_remote_sources() {
        assert!(parse(&MINIMAL.replace("[component.worker]", "[component.Worker]")).is_err());
        assert!(parse(&MINIMAL.replace(
            "source = \"w.wasm\"",
            "source = { url = \"https://x/w.wasm\", digest = \"sha256:00\" }"
        ))
        .is_err());
        assert!(validate_snake_id("redis_host").is_ok());
        assert!(validate_snake_id("redis__host").is_err());
        assert!(validate_snake_id("1abc").is_err());
        assert!(validate_kebab_id("sandbox-psp").is_ok());
        assert!(validate_kebab_id("sandbox_psp").is_err());
    }

    #[test]
    fn rejects_required_with_default_and_private_false() {
        let text = MINIMAL.replace(
            "token = { required = true, secret = true }",
            "token = { required = true, default = \"x\" }",
        );
        assert!(parse(&text).is_err());
        let text = MINIMAL.replace("route = { private = true }", "route = { private = false }");
        assert!(parse(&text).is_err());
    }
}
