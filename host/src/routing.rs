//! HTTP trigger routing with Spin's rules: exact routes, `:name` segments,
//! trailing `/...` wildcards, the most specific match wins, and a later
//! duplicate of a route replaces the earlier one (with a warning).
//! Precedence comes from `routefinder`, the matcher Spin itself uses.

use std::collections::HashMap;

use anyhow::{anyhow, Result};

use crate::manifest::{HttpTrigger, Route};

/// The routing table of the HTTP trigger.
#[derive(Debug)]
pub struct Router {
    inner: routefinder::Router<RouteEntry>,
}

#[derive(Debug, Clone)]
struct RouteEntry {
    component: String,
    /// The route as matched, normalised (`/api/...`).
    based_route: String,
    /// The route exactly as written in the manifest.
    raw_route: String,
}

/// The outcome of matching a request path.
#[derive(Debug, Clone)]
pub struct RouteMatch {
    pub component: String,
    pub based_route: String,
    pub raw_route: String,
    /// What the trailing wildcard matched (`spin-path-info`), with Spin's
    /// handling of trailing slashes.
    pub path_info: String,
    /// `:name` segment captures.
    pub params: Vec<(String, String)>,
}

/// A route that a later trigger replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateRoute {
    pub route: String,
    pub replaced: String,
    pub effective: String,
}

impl Router {
    /// Builds the table; returns the duplicates so the caller can warn.
    pub fn build(triggers: &[HttpTrigger]) -> Result<(Self, Vec<DuplicateRoute>)> {
        let mut by_route: Vec<RouteEntry> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut duplicates = Vec::new();
        for trigger in triggers {
            let Route::Path(raw) = &trigger.route else {
                continue;
            };
            let entry = RouteEntry {
                component: trigger.component.clone(),
                based_route: normalise(raw),
                raw_route: raw.clone(),
            };
            match index.get(raw) {
                Some(&i) => {
                    duplicates.push(DuplicateRoute {
                        route: if entry.based_route.is_empty() {
                            "/".into()
                        } else {
                            entry.based_route.clone()
                        },
                        replaced: by_route[i].component.clone(),
                        effective: entry.component.clone(),
                    });
                    by_route[i] = entry;
                }
                None => {
                    index.insert(raw.clone(), by_route.len());
                    by_route.push(entry);
                }
            }
        }
        let mut inner = routefinder::Router::new();
        for entry in by_route {
            let spec = match entry.based_route.strip_suffix("/...") {
                Some(prefix) => format!("{prefix}/*"),
                None => entry.based_route.clone(),
            };
            let (component, route) = (entry.component.clone(), entry.raw_route.clone());
            inner
                .add(spec, entry)
                .map_err(|e| anyhow!("invalid route {route:?} of component {component:?}: {e}"))?;
        }
        Ok((Self { inner }, duplicates))
    }

    /// Matches a request path (without the query).
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let found = self.inner.best_match(path)?;
        let entry = found.handler();
        let captures = found.captures();
        let path_info = match captures.wildcard() {
            None => String::new(),
            Some(rest) => match (rest.is_empty(), path.ends_with('/')) {
                (true, false) => String::new(),
                (true, true) => "/".to_string(),
                (false, false) => format!("/{rest}"),
                (false, true) => format!("/{rest}/"),
            },
        };
        let params = captures
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(RouteMatch {
            component: entry.component.clone(),
            based_route: entry.based_route.clone(),
            raw_route: entry.raw_route.clone(),
            path_info,
            params,
        })
    }

    /// Every public route, for listings: (route, component).
    pub fn routes(&self) -> Vec<(String, String)> {
        self.inner
            .iter()
            .map(|(_, e)| (e.raw_route.clone(), e.component.clone()))
            .collect()
    }
}

impl RouteMatch {
    /// A match for a service-chaining request: Spin treats it as `/...`.
    pub fn chained(component: &str, path: &str) -> Self {
        Self {
            component: component.to_string(),
            based_route: "/...".into(),
            raw_route: "/...".into(),
            path_info: path.to_string(),
            params: Vec::new(),
        }
    }

    /// `spin-component-route`: the raw route without a trailing `/...`.
    pub fn component_route(&self) -> &str {
        self.raw_route
            .strip_suffix("/...")
            .unwrap_or(&self.raw_route)
    }
}

/// Absolute, without one trailing slash (Spin's `sanitize_with_base("/", r)`).
fn normalise(route: &str) -> String {
    let absolute = if route.starts_with('/') {
        route.to_string()
    } else {
        format!("/{route}")
    };
    match absolute.strip_suffix('/') {
        Some(s) => s.to_string(),
        None => absolute,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        let triggers: Vec<HttpTrigger> = routes
            .iter()
            .map(|(r, c)| HttpTrigger {
                id: None,
                route: Route::Path((*r).to_string()),
                component: (*c).to_string(),
            })
            .collect();
        Router::build(&triggers).expect("routes").0
    }

    fn component(r: &Router, path: &str) -> Option<String> {
        r.route(path).map(|m| m.component)
    }

    #[test]
    fn most_specific_route_wins() {
        let r = router(&[
            ("/...", "fallback"),
            ("/api/...", "api"),
            ("/api/items/:id", "item"),
            ("/api/items/special", "special"),
            ("/exact", "exact"),
        ]);
        assert_eq!(component(&r, "/"), Some("fallback".into()));
        assert_eq!(component(&r, "/other/x"), Some("fallback".into()));
        assert_eq!(component(&r, "/api"), Some("api".into()));
        assert_eq!(component(&r, "/api/orders/1"), Some("api".into()));
        assert_eq!(component(&r, "/api/items/42"), Some("item".into()));
        assert_eq!(component(&r, "/api/items/special"), Some("special".into()));
        assert_eq!(component(&r, "/exact"), Some("exact".into()));
        let m = r.route("/api/items/42").expect("match");
        assert_eq!(m.params, vec![("id".to_string(), "42".to_string())]);
    }

    #[test]
    fn path_info_follows_spin_for_trailing_slashes() {
        let r = router(&[("/foo/...", "foo")]);
        let info = |p: &str| r.route(p).expect("match").path_info;
        assert_eq!(info("/foo"), "");
        assert_eq!(info("/foo/"), "/");
        assert_eq!(info("/foo/bar"), "/bar");
        assert_eq!(info("/foo/bar/"), "/bar/");
        assert!(r.route("/foobar").is_none());
    }

    #[test]
    fn exact_routes_do_not_match_longer_paths_and_duplicates_are_reported() {
        let triggers = vec![
            HttpTrigger {
                id: None,
                route: Route::Path("/a".into()),
                component: "one".into(),
            },
            HttpTrigger {
                id: None,
                route: Route::Path("/a".into()),
                component: "two".into(),
            },
            HttpTrigger {
                id: None,
                route: Route::Private,
                component: "hidden".into(),
            },
        ];
        let (r, dups) = Router::build(&triggers).expect("routes");
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].effective, "two");
        assert_eq!(component(&r, "/a"), Some("two".into()));
        assert!(r.route("/a/b").is_none());
        assert_eq!(r.routes().len(), 1);
    }
}
