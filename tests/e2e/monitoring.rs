//! The monitoring as an operator would run it: a real Prometheus scrapes
//! the app (`ops`' `/metrics`), the host and the bridge, with the
//! project's alert rules loaded, after real traffic; then every panel of
//! every dashboard in infra/monitoring/dashboards and every rule's
//! measure is evaluated through Prometheus' HTTP API: each must parse and
//! return data.

use std::path::Path;
use std::time::Duration;

use platform::auth::Role;
use serde_json::{json, Value};
use spinshop_testkit::prometheus::rule_files;
use spinshop_testkit::{repo_root, Prometheus, PrometheusOptions, ScrapeTarget};
use spinshop_tests::kafka::produce;
use spinshop_tests::{envelope, wait_for, EventStack};

use crate::saga::{customer, place, settled, start};

/// Grafana's interval variable, as the panels are evaluated here.
const RATE_INTERVAL: &str = "1m";

fn target(job: &str, addr: std::net::SocketAddr) -> ScrapeTarget {
    ScrapeTarget {
        job: job.into(),
        addr,
        metrics_path: "/metrics".into(),
        bearer: None,
    }
}

/// Traffic that touches every figure the dashboards show: catalog reads
/// (a cache miss, then hits), a search and a suggestion, a login, an
/// order through the saga, a linked MercadoLibre account with an item
/// read twice and a notification, and an event no subscriber can use (a
/// dead letter).
async fn traffic(es: &EventStack) {
    let stack = &es.stack;
    let admin = stack.token("admin-1", Role::Admin);
    spinshop_tests::marketplace::link(stack, &admin, "1001").await;
    for _ in 0..2 {
        stack.get_json("/api/ml/items/MLA123", Some(&admin)).await;
    }
    let notification = json!({"_id": "monitored-1", "resource": "/items/MLA123",
        "user_id": 1001, "topic": "items", "application_id": 4242424242u64, "attempts": 1,
        "sent": "2026-12-07T10:00:00.000Z", "received": "2026-12-07T10:00:00.000Z"});
    let r = spinshop_tests::client()
        .post(stack.url("/api/ml/webhooks"))
        .json(&notification)
        .send()
        .await
        .expect("webhook");
    assert_eq!(r.status(), 200);
    let lamp = stack
        .create_product(&admin, "Monitored lamp", 12.0, 10)
        .await;
    stack.wait_for_stock(&lamp).await;
    for _ in 0..3 {
        stack.get_json(&format!("/api/catalog/{lamp}"), None).await;
    }
    stack.get_json("/api/search?q=lamp", None).await;
    stack.get_json("/api/search/suggest?q=lam", None).await;
    let (ann, _) = customer(stack, "watched@example.com").await;
    let (order, _) = place(stack, &ann, &[(&lamp, 1)], None).await;
    let id = order["id"].as_str().expect("id");
    assert_eq!(settled(stack, &ann, id).await["status"], "CONFIRMED");
    let poison = envelope(
        "catalog.product_created",
        "catalog.events",
        "poison",
        json!({"product_id": 42}),
    );
    produce(
        &es.brokers(),
        &es.topic("catalog.events"),
        "poison",
        &poison,
    )
    .await;
}

/// Every expression of the dashboards, with where it is from.
fn dashboard_exprs(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("dashboards")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for file in files {
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("JSON");
        for panel in dashboard["panels"].as_array().expect("panels") {
            for t in panel["targets"].as_array().expect("targets") {
                let expr = t["expr"].as_str().expect("expr");
                out.push((
                    format!(
                        "{}: {}",
                        file.file_name().unwrap_or_default().to_string_lossy(),
                        panel["title"]
                    ),
                    expr.replace("$__rate_interval", RATE_INTERVAL),
                ));
            }
        }
    }
    out
}

/// The measure of an alert: its expression without the last top-level
/// comparison (`x > 0.05` -> `x`).
fn measure(expr: &str) -> String {
    let expr = expr.trim();
    let mut depth = 0i32;
    let mut cut = None;
    for (i, c) in expr.char_indices() {
        match c {
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => depth -= 1,
            _ if depth == 0 => {
                let rest = &expr[i..];
                let is_comparison = ["==", "!=", ">=", "<="]
                    .iter()
                    .any(|op| rest.starts_with(op))
                    || ((c == '>' || c == '<') && !expr[..i].ends_with(['<', '>', '=', '!']));
                if is_comparison && !expr[..i].ends_with(['<', '>', '=', '!']) {
                    cut = Some(i);
                }
            }
            _ => {}
        }
    }
    match cut {
        Some(i) => expr[..i].trim().to_string(),
        None => expr.to_string(),
    }
}

#[test]
fn measure_strips_the_threshold_only() {
    assert_eq!(measure("max by (breaker) (x) == 1"), "max by (breaker) (x)");
    assert_eq!(
        measure("sum(rate(a{status=~\"5..\"}[5m])) / sum(rate(a[5m])) > 0.05"),
        "sum(rate(a{status=~\"5..\"}[5m])) / sum(rate(a[5m]))"
    );
    assert_eq!(measure("up"), "up");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dashboard_panel_and_rule_returns_data() {
    let es = start(&[]);
    let root = repo_root();
    let rules = rule_files(&root.join("infra/monitoring/rules")).expect("rules");
    let prometheus = tokio::task::block_in_place(|| {
        Prometheus::launch(PrometheusOptions {
            targets: vec![
                target("spinshop", es.stack.host.addr),
                target("spinshop-host", es.stack.host.metrics_addr),
                target("kafka-bridge", es.bridge.addr),
            ],
            rule_files: rules,
            interval: Duration::from_secs(1),
            ..PrometheusOptions::default()
        })
    })
    .expect("prometheus");
    // Prometheus' client is a blocking one.
    let query = |expr: &str| tokio::task::block_in_place(|| prometheus.query(expr));
    traffic(&es).await;
    // The dead letter, counted by the bridge; then a few more scrapes so
    // every rate has two samples after the traffic.
    wait_for!("the dead letter in Prometheus", Duration::from_secs(60), {
        query("sum(bridge_dead_lettered_total)")
            .ok()
            .filter(|r| !r.is_empty())
    });
    tokio::time::sleep(Duration::from_secs(4)).await;

    let up = query("up == 1").expect("up");
    assert_eq!(up.len(), 3, "every target scraped: {up:?}");
    let mut empty = Vec::new();
    let exprs = dashboard_exprs(&root.join("infra/monitoring/dashboards"));
    assert!(exprs.len() >= 30, "{} panels", exprs.len());
    for (from, expr) in &exprs {
        match query(expr) {
            Ok(result) if !result.is_empty() => {}
            Ok(_) => empty.push(format!("{from}: no data for {expr}")),
            Err(e) => empty.push(format!("{from}: {e}")),
        }
    }
    let groups = tokio::task::block_in_place(|| prometheus.api("rules", &[])).expect("rules")
        ["groups"]
        .clone();
    let mut rules = 0;
    for group in groups.as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            rules += 1;
            assert_eq!(rule["health"], "ok", "{rule}");
            let expr = measure(rule["query"].as_str().expect("query"));
            match query(&expr) {
                Ok(result) if !result.is_empty() => {}
                Ok(_) => empty.push(format!("rule {}: no data for {expr}", rule["name"])),
                Err(e) => empty.push(format!("rule {}: {e}", rule["name"])),
            }
        }
    }
    assert!(rules >= 9, "{rules} rules loaded");
    assert!(empty.is_empty(), "{}", empty.join("\n"));
}
