//! `GET /api`: the application's public HTTP routes, read from `spin.toml`.
//!
//! The manifest is embedded at compile time, so the index always describes
//! the application this component was built with.

use std::sync::OnceLock;

use platform::{ApiError, Response};
use schemars::JsonSchema;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// The application manifest this build belongs to.
const MANIFEST: &str = include_str!("../../../spin.toml");

/// The body of `GET /api`.
#[derive(Debug, PartialEq, Serialize, JsonSchema)]
pub struct ApiIndex {
    pub name: String,
    /// `[application].version`; `null` when the manifest has none.
    pub version: Option<String>,
    pub routes: Vec<RouteEntry>,
}

/// One public route and the component serving it.
#[derive(Debug, PartialEq, Serialize, JsonSchema)]
pub struct RouteEntry {
    /// As `spin.toml` routes it (`/api/orders/...`: that path and below).
    pub route: String,
    pub component: String,
}

/// Answers the index.
pub fn respond() -> Result<Response, ApiError> {
    Ok(Response::json(200, index()?))
}

/// The index of the embedded manifest, parsed once per instance.
pub fn index() -> Result<&'static ApiIndex, ApiError> {
    static INDEX: OnceLock<Result<ApiIndex, String>> = OnceLock::new();
    let index = INDEX.get_or_init(|| ApiIndex::from_manifest(MANIFEST).map_err(|e| e.to_string()));
    index
        .as_ref()
        .map_err(|e| ApiError::internal(format!("the embedded spin.toml is invalid: {e}")))
}

impl ApiIndex {
    /// The components that serve public routes, in manifest order, once each.
    pub fn components(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for entry in &self.routes {
            if !names.contains(&entry.component.as_str()) {
                names.push(&entry.component);
            }
        }
        names
    }
}

impl ApiIndex {
    /// Reads the `[[trigger.http]]` routes of a Spin manifest (version 2),
    /// in manifest order, leaving out private routes.
    pub fn from_manifest(manifest: &str) -> Result<ApiIndex, toml::de::Error> {
        let manifest: Manifest = toml::from_str(manifest)?;
        let routes = manifest
            .trigger
            .http
            .into_iter()
            .filter_map(|trigger| match trigger.route {
                // The bridge's routes are not part of the public API.
                RouteSpec::Path(route) if route.starts_with("/internal/") => None,
                RouteSpec::Path(route) => Some(RouteEntry {
                    route,
                    component: trigger.component.name(trigger.id.as_deref()),
                }),
                RouteSpec::Private { .. } => None,
            })
            .collect();
        Ok(ApiIndex {
            name: manifest.application.name,
            version: manifest.application.version,
            routes,
        })
    }
}

/// The components that serve the bridge's routes (`/internal/<name>/...`
/// triggers), in manifest order: the ones with metrics to gather.
pub fn internal_components() -> Vec<String> {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            let Ok(manifest) = toml::from_str::<Manifest>(MANIFEST) else {
                return Vec::new();
            };
            let mut names: Vec<String> = Vec::new();
            for trigger in manifest.trigger.http {
                if let RouteSpec::Path(route) = trigger.route {
                    let name = trigger.component.name(trigger.id.as_deref());
                    if route == format!("/internal/{name}/...") && !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
            names
        })
        .clone()
}

/// The parts of `spin.toml` the index needs.
#[derive(Debug, Deserialize)]
struct Manifest {
    application: Application,
    #[serde(default)]
    trigger: Triggers,
}

#[derive(Debug, Deserialize)]
struct Application {
    name: String,
    version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Triggers {
    #[serde(default)]
    http: Vec<HttpTrigger>,
}

#[derive(Debug, Deserialize)]
struct HttpTrigger {
    id: Option<String>,
    route: RouteSpec,
    component: ComponentRef,
}

/// `route = "/path"` or `route = { private = true }` (reachable only by
/// local service chaining, so not part of the public API).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RouteSpec {
    Path(String),
    #[allow(dead_code)] // the value is irrelevant: private routes are skipped
    Private {
        private: bool,
    },
}

/// `component = "name"` or an inline `component = { source = ... }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ComponentRef {
    Named(String),
    Inline(IgnoredAny),
}

impl ComponentRef {
    /// The component's name; an inline component is named by its trigger's
    /// `id`, or `inline` when it has none.
    fn name(&self, trigger_id: Option<&str>) -> String {
        match self {
            ComponentRef::Named(name) => name.clone(),
            ComponentRef::Inline(_) => trigger_id.unwrap_or("inline").to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(route: &str, component: &str) -> RouteEntry {
        RouteEntry {
            route: route.into(),
            component: component.into(),
        }
    }

    /// The application's outbound grants a deployment has not chosen:
    /// each `*_allowed_hosts` variable's default must name no wildcard
    /// host, so a fresh deployment reaches only what its operators list.
    #[test]
    fn outbound_hosts_default_to_nothing_reachable() {
        let manifest: toml::Table = toml::from_str(MANIFEST).expect("spin.toml parses");
        let variables = manifest["variables"].as_table().expect("variables");
        let grants: Vec<(&String, &str)> = variables
            .iter()
            .filter(|(name, _)| name.ends_with("_allowed_hosts"))
            .map(|(name, v)| (name, v["default"].as_str().expect("a default")))
            .collect();
        assert!(!grants.is_empty());
        for (name, default) in grants {
            let host = default.split("://").nth(1).unwrap_or(default);
            assert!(!host.starts_with('*'), "{name} defaults to {default}");
            assert!(host.contains(".invalid"), "{name} defaults to {default}");
        }
    }

    #[test]
    fn embedded_manifest_lists_ops_routes() {
        let index = ApiIndex::from_manifest(MANIFEST).expect("spin.toml parses");
        assert_eq!(index.name, "spinshop");
        assert!(index.version.is_some());
        assert!(index.routes.contains(&entry("/health", "ops")));
        assert!(index.routes.contains(&entry("/api", "ops")));
    }

    #[test]
    fn private_routes_are_skipped_and_order_kept() {
        let manifest = r#"
            spin_manifest_version = 2
            [application]
            name = "shop"
            version = "1.2.3"

            [[trigger.http]]
            route = "/api/catalog/..."
            component = "catalog"

            [[trigger.http]]
            route = { private = true }
            component = "internal-only"

            [[trigger.http]]
            id = "hello"
            route = "/hello"
            component = { source = "hello.wasm" }

            [[trigger.http]]
            route = "/health"
            component = "ops"

            [[trigger.redis]]
            channel = "events"
            component = "listener"
        "#;
        let index = ApiIndex::from_manifest(manifest).expect("parses");
        assert_eq!(
            index,
            ApiIndex {
                name: "shop".into(),
                version: Some("1.2.3".into()),
                routes: vec![
                    entry("/api/catalog/...", "catalog"),
                    entry("/hello", "hello"),
                    entry("/health", "ops"),
                ],
            }
        );
    }

    #[test]
    fn manifest_without_triggers_or_version() {
        let index = ApiIndex::from_manifest("[application]\nname = \"empty\"\n").expect("parses");
        assert_eq!(index.version, None);
        assert!(index.routes.is_empty());
        let body = serde_json::to_value(&index).expect("serialises");
        assert_eq!(
            body,
            serde_json::json!({"name": "empty", "version": null, "routes": []})
        );
    }

    #[test]
    fn invalid_manifest_is_an_error() {
        assert!(ApiIndex::from_manifest("[application]").is_err());
        assert!(ApiIndex::from_manifest("not toml = = =").is_err());
    }
}
