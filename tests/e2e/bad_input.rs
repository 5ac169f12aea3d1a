//! Bad input is always a 4xx problem, never a 5xx: malformed JSON, wrong
//! types, negative and huge numbers, long strings, oversized bodies.

use platform::auth::Role;
use spinshop_tests::{assert_all_4xx, client, hostile_bodies, Stack};

/// Inventory-shaped bodies with wrong types and out-of-range values, on
/// top of the generic hostile ones.
fn inventory_bodies() -> Vec<(String, &'static str)> {
    let mut bodies = hostile_bodies();
    for body in [
        r#"{"lines": "many"}"#.to_string(),
        r#"{"lines": [{"product_id": 5, "quantity": "x"}]}"#.to_string(),
        r#"{"lines": [{"product_id": "p", "quantity": -1}]}"#.to_string(),
        r#"{"lines": [{"product_id": "p", "quantity": 1e300}]}"#.to_string(),
        r#"{"lines": [{"product_id": "p", "quantity": 99999999999}]}"#.to_string(),
        format!(
            r#"{{"lines": [{{"product_id": "{}", "quantity": 1}}]}}"#,
            "p".repeat(10_000)
        ),
        r#"{"available": -5}"#.to_string(),
        r#"{"available": 1e30}"#.to_string(),
        r#"{"delta": "lots"}"#.to_string(),
    ] {
        bodies.push((body, "application/json"));
    }
    bodies
}

async fn assert_inventory_4xx(
    stack: &Stack,
    method: reqwest::Method,
    path: &str,
    token: &str,
    extra: &[(&str, &str)],
) {
    assert_all_4xx(stack, method, path, Some(token), extra, &inventory_bodies()).await;
}

#[tokio::test]
async fn inventory_routes_answer_bad_input_with_4xx_problems() {
    let stack = Stack::start();
    let admin = stack.token("root", Role::Admin);
    assert_inventory_4xx(
        &stack,
        reqwest::Method::POST,
        "/api/inventory/reservations",
        &admin,
        &[],
    )
    .await;
    assert_inventory_4xx(
        &stack,
        reqwest::Method::PUT,
        "/api/inventory/some-product",
        &admin,
        &[("if-match", "\"1\"")],
    )
    .await;
    let internal = stack.internal_token.clone();
    assert_inventory_4xx(
        &stack,
        reqwest::Method::POST,
        "/internal/inventory/events",
        &internal,
        &[],
    )
    .await;
    assert_inventory_4xx(
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
