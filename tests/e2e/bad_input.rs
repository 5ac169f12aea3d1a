//! Bad input is always a 4xx problem, never a 5xx: malformed JSON, wrong
//! types, negative and huge numbers, long strings, oversized bodies.

use platform::auth::Role;
use serde_json::Value;
use spinshop_tests::{client, Stack};

/// Bodies every JSON route must refuse with a 4xx.
fn hostile_bodies() -> Vec<(String, &'static str)> {
    vec![
        ("{not json".into(), "application/json"),
        ("".into(), "application/json"),
        ("[]".into(), "application/json"),
        ("null".into(), "application/json"),
        (r#"{"lines": "many"}"#.into(), "application/json"),
        (
            r#"{"lines": [{"product_id": 5, "quantity": "x"}]}"#.into(),
            "application/json",
        ),
        (
            r#"{"lines": [{"product_id": "p", "quantity": -1}]}"#.into(),
            "application/json",
        ),
        (
            r#"{"lines": [{"product_id": "p", "quantity": 1e300}]}"#.into(),
            "application/json",
        ),
        (
            r#"{"lines": [{"product_id": "p", "quantity": 99999999999}]}"#.into(),
            "application/json",
        ),
        (
            format!(
                r#"{{"lines": [{{"product_id": "{}", "quantity": 1}}]}}"#,
                "p".repeat(10_000)
            ),
            "application/json",
        ),
        (r#"{"available": -5}"#.into(), "application/json"),
        (r#"{"available": 1e30}"#.into(), "application/json"),
        (r#"{"delta": "lots"}"#.into(), "application/json"),
        (r#"{"unexpected": true}"#.into(), "application/json"),
        (
            format!(
                r#"{{"lines": [], "pad": "{}"}}"#,
                "x".repeat(2 * 1024 * 1024)
            ),
            "application/json",
        ),
        (
            r#"{"lines": [{"product_id": "p", "quantity": 1}]}"#.into(),
            "text/plain",
        ),
    ]
}

async fn assert_all_4xx(
    stack: &Stack,
    method: reqwest::Method,
    path: &str,
    token: &str,
    extra: &[(&str, &str)],
) {
    for (body, content_type) in hostile_bodies() {
        let mut req = client()
            .request(method.clone(), stack.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body.clone());
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let r = req.send().await.expect("send");
        let status = r.status().as_u16();
        let preview: String = body.chars().take(60).collect();
        assert!(
            (400..500).contains(&status),
            "{method} {path} with {preview:?} gave {status}"
        );
        if status != 404 {
            let ct = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            assert_eq!(
                ct, "application/problem+json",
                "{method} {path} with {preview:?}"
            );
            let problem: Value = r.json().await.expect("problem json");
            assert_eq!(problem["status"], status);
        }
    }
}

#[tokio::test]
async fn inventory_routes_answer_bad_input_with_4xx_problems() {
    let stack = Stack::start();
    let admin = stack.token("root", Role::Admin);
    assert_all_4xx(
        &stack,
        reqwest::Method::POST,
        "/api/inventory/reservations",
        &admin,
        &[],
    )
    .await;
    assert_all_4xx(
        &stack,
        reqwest::Method::PUT,
        "/api/inventory/some-product",
        &admin,
        &[("if-match", "\"1\"")],
    )
    .await;
    let internal = stack.internal_token.clone();
    assert_all_4xx(
        &stack,
        reqwest::Method::POST,
        "/internal/inventory/events",
        &internal,
        &[],
    )
    .await;
    assert_all_4xx(
        &stack,
        reqwest::Method::POST,
        "/internal/inventory/outbox/ack",
        &internal,
        &[],
    )
    .await;
    // Bad ids and query values too.
    for path in [
        "/api/inventory/bad%20id",
        "/api/inventory?limit=0",
        "/api/inventory?cursor=%25%25",
        "/api/inventory?low_stock=maybe",
    ] {
        let r = client()
            .get(stack.url(path))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("get");
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
    }
}
