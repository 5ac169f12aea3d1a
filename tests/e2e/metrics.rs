//! `GET /metrics`: the application's metrics gathered from every
//! component into one Prometheus document, with the seeds' names, after
//! real traffic through the saga.

use std::collections::HashSet;

use platform::auth::Role;
use spinshop_tests::{client, wait_for, Stack};

use crate::saga::{customer, place, settled, start};

/// The document at `/metrics`, with `token` if given.
async fn scrape(stack: &Stack, token: Option<&str>) -> (u16, String) {
    let mut req = client().get(stack.url("/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("metrics");
    (r.status().as_u16(), r.text().await.expect("text"))
}

/// The value of the first sample of `series` (a name with its labels, or
/// a prefix of them).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn one_document_holds_every_components_figures() {
    let es = start(&[]);
    let stack = &es.stack;
    let admin = stack.token("admin-1", Role::Admin);
    let pen = stack.create_product(&admin, "Metric pen", 2.0, 10).await;
    stack.wait_for_stock(&pen).await;
    // A reading of the product twice: the catalog's cache misses, then hits.
    for _ in 0..2 {
        stack.get_json(&format!("/api/catalog/{pen}"), None).await;
    }
    stack.get_json("/api/search?q=metric", None).await;
    let (ann, _) = customer(stack, "metrics@example.com").await;
    let (order, _) = place(stack, &ann, &[(&pen, 1)], None).await;
    let id = order["id"].as_str().expect("id");
    assert_eq!(settled(stack, &ann, id).await["status"], "CONFIRMED");

    // The saga's last steps (inventory's commit, the notification) land
    // after the order reads CONFIRMED.
    let text = wait_for!(
        "the commit and the notification in the metrics",
        std::time::Duration::from_secs(30),
        async {
            let (status, text) = scrape(stack, None).await;
            assert_eq!(status, 200);
            let commit = "inventory_operations_total{operation=\"commit\",status=\"success\"}";
            (value(&text, commit) == Some(1.0)
                && text.contains("notifications_sent_total{type=\"order_confirmed\""))
            .then_some(text)
        }
        .await
    );
    // Every family appears once (one TYPE line), whichever components keep it.
    let mut seen = HashSet::new();
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        assert!(seen.insert(line.to_string()), "twice: {line}");
    }
    for component in [
        "catalog",
        "inventory",
        "orders",
        "payments",
        "users",
        "search",
        "cart",
        "audit",
    ] {
        assert_eq!(
            value(
                &text,
                &format!("spinshop_metrics_source_up{{component=\"{component}\"}}")
            ),
            Some(1.0),
            "{component}"
        );
    }
    let post_orders = "http_requests_total{component=\"orders\",route=\"/api/orders\",method=\"POST\",status=\"202\"}";
    assert_eq!(value(&text, post_orders), Some(1.0), "{text}");
    assert!(text.contains("http_request_duration_seconds_bucket{component=\"catalog\",route=\"/api/catalog/:id\",le=\"+Inf\"}"));
    assert_eq!(value(&text, "orders_created_total "), Some(1.0));
    assert_eq!(
        value(&text, "orders_settled_total{status=\"CONFIRMED\"}"),
        Some(1.0)
    );
    assert_eq!(value(&text, "active_orders "), Some(0.0));
    assert_eq!(
        value(&text, "order_processing_duration_seconds_count "),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "saga_execution_duration_seconds_count{outcome=\"confirmed\"}"
        ),
        Some(1.0)
    );
    assert_eq!(value(&text, "products_created_total "), Some(1.0));
    assert_eq!(
        value(
            &text,
            "cache_hits_total{component=\"catalog\",cache=\"catalog\"}"
        ),
        Some(1.0)
    );
    assert!(value(
        &text,
        "cache_misses_total{component=\"catalog\",cache=\"catalog\"}"
    )
    .is_some_and(|n| n >= 1.0));
    assert_eq!(
        value(
            &text,
            "inventory_operations_total{operation=\"commit\",status=\"success\"}"
        ),
        Some(1.0)
    );
    assert_eq!(value(&text, "payments_processed_total "), Some(1.0));
    assert_eq!(
        value(&text, "circuit_breaker_state{breaker=\"psp\"}"),
        Some(0.0)
    );
    assert!(
        text.contains("notifications_sent_total{type=\"order_confirmed\""),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "user_authentications_total{component=\"users\",result=\"success\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "search_queries_total{component=\"search\",kind=\"search\"}"
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_metrics_token_guards_the_document() {
    let token = "m".repeat(32);
    let stack = Stack::start_with(&[("metrics_token", &token)]);
    assert_eq!(scrape(&stack, None).await.0, 401);
    assert_eq!(scrape(&stack, Some("wrong")).await.0, 401);
    let (status, text) = scrape(&stack, Some(&token)).await;
    assert_eq!(status, 200);
    assert!(text.contains("spinshop_metrics_source_up"), "{text}");
    // The bridge's credential is not the metrics one.
    assert_eq!(scrape(&stack, Some(&stack.internal_token)).await.0, 401);
}
