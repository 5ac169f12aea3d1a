//! The OpenAPI document covers exactly the public routes: every route of
//! every component's table that `spin.toml` routes to, method by method,
//! and nothing else; each component's part builds (every route is
//! documented, every example still parses) and the parts merge without
//! renaming anyone's schemas.

use std::collections::BTreeSet;

use ops::api_docs;
use ops::routes::{ApiIndex, RouteEntry};
use platform::router::Route;
use serde_json::Value;

/// A component as the test sees it: its name, route table and default
/// rate-limit group.
type Declared = (&'static str, &'static [Route], Option<&'static str>);

/// Every component with public routes. A new one must be added here (and
/// to ops' dev-dependencies): the test fails until it is.
fn components() -> Vec<Declared> {
    macro_rules! declared {
        ($($krate:ident),*) => {
            vec![$(($krate::COMPONENT.name, $krate::COMPONENT.routes, $krate::COMPONENT.rate_limit)),*]
        };
    }
    declared!(
        ops,
        users,
        catalog,
        inventory,
        orders,
        payments,
        notifications,
        audit,
        search,
        cart,
        sandbox_psp,
        sandbox_marketplace,
        marketplace
    )
}

fn index() -> &'static ApiIndex {
    ops::routes::index().expect("spin.toml parses")
}

fn document() -> api_docs::Merged {
    let parts = components()
        .into_iter()
        .map(|(name, routes, limit)| {
            let part = platform::openapi::fragment(name, routes, limit)
                .unwrap_or_else(|e| panic!("{name}'s part of the document: {e}"));
            (name.to_string(), part)
        })
        .collect();
    api_docs::merge(index(), parts).expect("the parts merge")
}

/// `/api/orders/:id` -> `/api/orders/{id}`.
fn openapi_path(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|s| {
            s.strip_prefix(':')
                .map_or(s.to_string(), |n| format!("{{{n}}}"))
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The component Spin sends `path` to: an exact route, else the longest
/// `/prefix/...` route that holds it.
fn routed_to(path: &str) -> Option<&'static str> {
    let entries: &[RouteEntry] = &index().routes;
    if let Some(exact) = entries.iter().find(|e| e.route == path) {
        return Some(&exact.component);
    }
    entries
        .iter()
        .filter_map(|e| {
            let prefix = e.route.strip_suffix("/...")?;
            (path == prefix || path.starts_with(&format!("{prefix}/"))).then_some((prefix.len(), e))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, e)| e.component.as_str())
}

#[test]
fn every_component_spin_routes_to_is_declared_here() {
    let declared: BTreeSet<&str> = components().iter().map(|(name, ..)| *name).collect();
    let routed: BTreeSet<&str> = index().components().into_iter().collect();
    assert_eq!(
        routed, declared,
        "spin.toml's public components and this test's list differ"
    );
}

#[test]
fn the_document_has_every_public_route_method_by_method_and_no_other() {
    let merged = document();
    let mut in_tables = BTreeSet::new();
    for (name, routes, _) in components() {
        for route in routes {
            let sample = route
                .path
                .split('/')
                .map(|s| if s.starts_with(':') { "x" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            assert_eq!(
                routed_to(&sample),
                Some(name),
                "{} {} is in {name}'s table, but spin.toml does not send {sample} there",
                route.method.as_str(),
                route.path
            );
            in_tables.insert((
                route.method.as_str().to_ascii_lowercase(),
                openapi_path(route.path),
            ));
        }
    }
    let mut in_document = BTreeSet::new();
    for (path, item) in merged.document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            in_document.insert((method.clone(), path.clone()));
        }
    }
    let missing: Vec<_> = in_tables.difference(&in_document).collect();
    let extra: Vec<_> = in_document.difference(&in_tables).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the document: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "the document has routes no table serves: {extra:?}"
    );
    for entry in &index().routes {
        let prefix = entry.route.trim_end_matches("/...");
        assert!(
            in_tables
                .iter()
                .any(|(_, path)| path == prefix || path.starts_with(&format!("{prefix}/"))),
            "spin.toml routes {} to {}, whose table serves nothing there",
            entry.route,
            entry.component
        );
    }
}

#[test]
fn the_parts_share_schemas_without_renaming_any() {
    let merged = document();
    assert!(
        merged.renamed.is_empty(),
        "two components give one schema name to different schemas; rename one with \
         #[schemars(rename = \"...\")]: {:?}",
        merged.renamed
    );
    let schemas = merged.document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    let mut dangling = BTreeSet::new();
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(fields) => fields.iter().for_each(|(k, v)| match (k.as_str(), v) {
                ("$ref", Value::String(r)) => out.push(r.clone()),
                _ => refs(v, out),
            }),
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&merged.document, &mut all);
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(&r);
        if !schemas.contains_key(name) {
            dangling.insert(r);
        }
    }
    assert!(dangling.is_empty(), "references to no schema: {dangling:?}");
    if let Ok(path) = std::env::var("SPINSHOP_OPENAPI_OUT") {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&merged.document).expect("json"),
        )
        .expect("write");
    }
}

#[test]
fn the_page_renders_the_whole_document() {
    let html = ops::docs_page::render(&document().document).expect("renders");
    assert!(html.contains("id=\"getApiOrdersByIdStatus\""));
    assert!(html.contains("id=\"schema-Problem\""));
}
