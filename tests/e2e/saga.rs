//! The order saga end to end: orders, inventory, payments, the sandbox
//! payment provider, notifications and audit, with every event travelling
//! through the real broker and the bridge.

use crate::clock::{advance, MOVABLE};
use std::collections::HashMap;
use std::time::Duration;

use platform::auth::Role;
use serde_json::{json, Value};
use spinshop_tests::{client, wait_for, EventStack, Stack};

/// Rate limits out of the way; the tests drive many requests quickly.
const UNLIMITED: (&str, &str) = ("rate_limit_default", "1000000/1000000");

pub(crate) fn start(extra: &[(&str, &str)]) -> EventStack {
    let mut variables = vec![UNLIMITED, MOVABLE];
    variables.extend_from_slice(extra);
    EventStack::start(&variables, |c| c)
}

pub(crate) async fn stock(stack: &Stack, id: &str) -> (i64, i64, i64) {
    let s = stack.get_json(&format!("/api/inventory/{id}"), None).await;
    (
        s["available"].as_i64().expect("available"),
        s["reserved"].as_i64().expect("reserved"),
        s["sold"].as_i64().expect("sold"),
    )
}

/// Places an order; returns the 202 body and the request id it ran under.
pub(crate) async fn place(
    stack: &Stack,
    token: &str,
    lines: &[(&str, u32)],
    key: Option<&str>,
) -> (Value, String) {
    let items: Vec<Value> = lines
        .iter()
        .map(|(p, q)| json!({"product_id": p, "quantity": q}))
        .collect();
    let mut tries = 0;
    loop {
        let mut req = client()
            .post(stack.url("/api/orders"))
            .bearer_auth(token)
            .json(&json!({"items": items, "shipping_address": "1 Main St"}));
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let r = req.send().await.expect("place order");
        let status = r.status().as_u16();
        let request_id = r
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if status == 202 || (status == 200 && key.is_some()) {
            return (body, request_id);
        }
        tries += 1;
        assert!(
            status == 503 && tries < 20,
            "POST /api/orders: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Places `n` orders for one unit of `product` at once, the users taking
/// turns; returns each order's user token and id.
pub(crate) async fn place_at_once(
    stack: &Stack,
    users: &[String],
    product: &str,
    n: usize,
) -> Vec<(String, String)> {
    futures::future::join_all((0..n).map(|i| {
        let token = users[i % users.len()].clone();
        async move {
            let (o, _) = place(stack, &token, &[(product, 1)], None).await;
            (token, o["id"].as_str().expect("id").to_string())
        }
    }))
    .await
}

/// Waits for the order to leave PENDING; returns the final order.
pub(crate) async fn settled(stack: &Stack, token: &str, id: &str) -> Value {
    wait_for!(
        format!("order {id} to settle"),
        Duration::from_secs(90),
        async {
            let o = stack
                .get_json(&format!("/api/orders/{id}"), Some(token))
                .await;
            (o["status"] != "PENDING").then_some(o)
        }
        .await
    )
}

async fn breaker_state(stack: &Stack) -> String {
    let h = stack.get_json("/api/payments/health", None).await;
    h["breaker"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub(crate) async fn payments_of(stack: &Stack, token: &str, order: &str) -> Vec<Value> {
    let p = stack
        .get_json(&format!("/api/payments?order_id={order}"), Some(token))
        .await;
    p["items"].as_array().cloned().unwrap_or_default()
}

/// Registers and logs in a customer through the users API; returns the
/// access token and the user id.
pub(crate) async fn customer(stack: &Stack, email: &str) -> (String, String) {
    let r = client()
        .post(stack.url("/api/auth/register"))
        .json(&json!({"email": email, "password": "a long enough secret", "name": "Ann"}))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), 201);
    let login: Value = client()
        .post(stack.url("/api/auth/login"))
        .json(&json!({"email": email, "password": "a long enough secret"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["access_token"].as_str().expect("token").to_string();
    let me = stack.get_json("/api/auth/me", Some(&token)).await;
    (token, me["id"].as_str().expect("user id").to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_confirms_and_the_whole_chain_is_recorded() {
    let es = start(&[]);
    let stack = &es.stack;
    let admin = stack.token("admin-1", Role::Admin);
    let (ann, ann_id) = customer(stack, "ann@example.com").await;
    let product = stack.create_product(&admin, "Kettle", 12.5, 5).await;
    stack.wait_for_stock(&product).await;

    let (placed, request_id) = place(stack, &ann, &[(&product, 2)], None).await;
    assert_eq!(placed["status"], "PENDING");
    assert_eq!(placed["total_cents"], 2500);
    let id = placed["id"].as_str().expect("order id").to_string();
    assert_eq!(placed["status_url"], format!("/api/orders/{id}/status"));

    let order = settled(stack, &ann, &id).await;
    assert_eq!(order["status"], "CONFIRMED", "{order}");
    assert_eq!(order["user_id"], ann_id.as_str());
    // The reservation is committed by the inventory.commit that followed.
    wait_for!(
        "the sale committed",
        Duration::from_secs(30),
        async { (stock(stack, &product).await == (3, 0, 2)).then_some(()) }.await
    );

    let payments = payments_of(stack, &ann, &id).await;
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["status"], "succeeded");
    assert_eq!(payments[0]["amount_cents"], 2500);
    assert_eq!(order["payment_id"], payments[0]["id"]);

    let status = stack
        .get_json(&format!("/api/orders/{id}/status"), Some(&ann))
        .await;
    let steps: Vec<&str> = status["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["step"].as_str())
        .collect();
    assert!(
        steps.contains(&"charging") && steps.last() == Some(&"confirmed"),
        "{status}"
    );

    wait_for!(
        "the confirmation notification",
        Duration::from_secs(30),
        async {
            let h = stack
                .get_json("/api/notifications/history", Some(&ann))
                .await;
            h["items"]
                .as_array()
                .expect("items")
                .iter()
                .any(|n| n["template"] == "order_confirmed")
                .then_some(())
        }
        .await
    );

    // The audit log holds the chain under one correlation id (the request
    // that placed the order); in the order the events occurred, each comes
    // after the one that caused it.
    let wanted = [
        "order.created",
        "inventory.reserve",
        "inventory.reserved",
        "payment.requested",
        "payment.succeeded",
        "inventory.commit",
        "order.confirmed",
        "inventory.committed",
    ];
    let chain = wait_for!(
        "the chain in the audit log",
        Duration::from_secs(30),
        async {
            let events = stack
                .get_json(
                    &format!(
                        "/api/audit/events?correlation_id={request_id}&order=occurred&limit=500"
                    ),
                    Some(&admin),
                )
                .await;
            let items = events["items"].as_array().cloned().unwrap_or_default();
            let types: Vec<&str> = items.iter().filter_map(|e| e["type"].as_str()).collect();
            wanted.iter().all(|w| types.contains(w)).then_some(items)
        }
        .await
    );
    let position: HashMap<&str, usize> = chain
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e["id"].as_str().map(|id| (id, i)))
        .collect();
    for (i, e) in chain.iter().enumerate() {
        assert_eq!(e["correlation_id"], request_id.as_str());
        if let Some(cause) = e["causation_id"].as_str().and_then(|c| position.get(c)) {
            assert!(*cause < i, "{} recorded before its cause", e["type"]);
        }
    }
    let at = |t: &str| {
        chain
            .iter()
            .position(|e| e["type"] == t)
            .expect("event in chain")
    };
    assert!(at("order.created") < at("inventory.reserved"));
    assert!(at("inventory.reserved") < at("payment.succeeded"));
    assert!(at("payment.succeeded") < at("order.confirmed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_payments_compensate_open_the_breaker_and_a_probe_closes_it() {
    let es = start(&[
        ("breaker_failure_threshold", "3"),
        ("breaker_open_secs", "15"),
        ("breaker_window_secs", "60"),
    ]);
    let stack = &es.stack;
    let admin = stack.token("admin-1", Role::Admin);
    let user = stack.token("user-1", Role::Customer);
    let product = stack.create_product(&admin, "Chair", 40.0, 20).await;
    stack.wait_for_stock(&product).await;
    stack.set_psp(&admin, &json!({"outage": true})).await;

    // Each order is cancelled and its stock comes back. The first one's
    // failed attempts (one call and its retries) open the breaker.
    for _ in 0..3 {
        let (placed, _) = place(stack, &user, &[(&product, 1)], None).await;
        let order = settled(stack, &user, placed["id"].as_str().expect("id")).await;
        assert_eq!(order["status"], "CANCELLED");
        assert!(
            order["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("payment_failed"),
            "{order}"
        );
    }
    wait_for!(
        "released stock",
        Duration::from_secs(20),
        async { (stock(stack, &product).await == (20, 0, 0)).then_some(()) }.await
    );
    assert_eq!(breaker_state(stack).await, "open");

    // While open, payments fail fast without reaching the provider.
    let (placed, _) = place(stack, &user, &[(&product, 1)], None).await;
    let order = settled(stack, &user, placed["id"].as_str().expect("id")).await;
    assert_eq!(order["status"], "CANCELLED");
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("provider_unavailable"),
        "{order}"
    );

    // The outage ends; after the open interval one probe goes through and
    // closes the breaker.
    stack.set_psp(&admin, &json!({"outage": false})).await;
    let probe_at = stack.get_json("/api/payments/health", None).await["breaker"]["probe_at"]
        .as_str()
        .map(str::to_string);
    assert!(
        probe_at.is_some(),
        "an open breaker says when it will probe"
    );
    advance(stack, Duration::from_secs(16)).await;
    let (placed, _) = place(stack, &user, &[(&product, 1)], None).await;
    let order = settled(stack, &user, placed["id"].as_str().expect("id")).await;
    assert_eq!(order["status"], "CONFIRMED", "{order}");
    assert_eq!(breaker_state(stack).await, "closed");
    wait_for!(
        "stock after the sale",
        Duration::from_secs(20),
        async { (stock(stack, &product).await == (19, 0, 1)).then_some(()) }.await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_stock_cancels_with_the_reason_and_charges_nothing() {
    let es = start(&[]);
    let stack = &es.stack;
    let admin = stack.token("admin-1", Role::Admin);
    let user = stack.token("user-1", Role::Customer);
    let product = stack.create_product(&admin, "Rare", 99.0, 1).await;
    stack.wait_for_stock(&product).await;
    let (placed, _) = place(stack, &user, &[(&product, 2)], None).await;
    let id = placed["id"].as_str().expect("id").to_string();
    let order = settled(stack, &user, &id).await;
    assert_eq!(order["status"], "CANCELLED");
    let reason = order["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("out_of_stock") && reason.contains(&product),
        "{order}"
    );
    assert!(payments_of(stack, &admin, &id).await.is_empty());
    assert_eq!(stock(stack, &product).await, (1, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_concurrent_orders_for_ten_units_confirm_exactly_ten() {
    let es = start(&[]);
    let stack = &es.stack;
    let admin = stack.token("admin-1", Role::Admin);
    let product = stack.create_product(&admin, "Limited", 5.0, 10).await;
    stack.wait_for_stock(&product).await;
    let users: Vec<String> = (0..4)
        .map(|i| stack.token(&format!("buyer-{i}"), Role::Customer))
        .collect();
    let placed = place_at_once(stack, &users, &product, 40).await;
    let mut confirmed = 0;
    let mut cancelled = 0;
    for (token, id) in &placed {
        match settled(stack, token, id).await["status"].as_str() {
            Some("CONFIRMED") => confirmed += 1,
            Some("CANCELLED") => cancelled += 1,
            other => panic!("order {id} ended {other:?}"),
        }
    }
    assert_eq!((confirmed, cancelled), (10, 30));
    wait_for!(
        "committed stock",
        Duration::from_secs(30),
        async { (stock(stack, &product).await == (0, 0, 10)).then_some(()) }.await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_per_idempotency_key_and_nobody_sees_anothers_order() {
    let es = start(&[]);
    let stack = &es.stack;
    let admin = stack.token("admin-1", Role::Admin);
    let ann = stack.token("ann", Role::Customer);
    let bob = stack.token("bob", Role::Customer);
    let product = stack.create_product(&admin, "Lamp", 7.0, 10).await;
    stack.wait_for_stock(&product).await;
    let (first, _) = place(stack, &ann, &[(&product, 1)], Some("key-1")).await;
    let (second, _) = place(stack, &ann, &[(&product, 1)], Some("key-1")).await;
    assert_eq!(first["id"], second["id"]);
    let mine = stack.get_json("/api/orders", Some(&ann)).await;
    assert_eq!(mine["items"].as_array().expect("items").len(), 1);

    let id = first["id"].as_str().expect("id");
    for path in [
        format!("/api/orders/{id}"),
        format!("/api/orders/{id}/status"),
    ] {
        let r = client()
            .get(stack.url(&path))
            .bearer_auth(&bob)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 404, "{path}");
    }
    let theirs = stack.get_json("/api/orders", Some(&bob)).await;
    assert!(theirs["items"].as_array().expect("items").is_empty());
    assert_eq!(settled(stack, &ann, id).await["status"], "CONFIRMED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_bridge_mid_rush_settles_every_order_once() {
    let mut es = start(&[]);
    let admin = es.stack.token("admin-1", Role::Admin);
    let product = es.stack.create_product(&admin, "Bulk", 1.0, 1000).await;
    es.stack.wait_for_stock(&product).await;
    let users: Vec<String> = (0..5)
        .map(|i| es.stack.token(&format!("rush-{i}"), Role::Customer))
        .collect();

    let mut placed = Vec::new();
    for wave in 0..4 {
        let stack = &es.stack;
        placed.extend(place_at_once(stack, &users, &product, 25).await);
        if wave == 1 {
            es.bridge.kill9();
            tokio::time::sleep(Duration::from_millis(500)).await;
            es.bridge.restart();
        }
    }
    let stack = &es.stack;
    let mut confirmed = 0;
    for (token, id) in &placed {
        let order = settled(stack, token, id).await;
        assert_eq!(order["status"], "CONFIRMED", "{order}");
        confirmed += 1;
        let payments = payments_of(stack, &admin, id).await;
        assert_eq!(payments.len(), 1, "order {id} charged once");
    }
    assert_eq!(confirmed, 100);
    wait_for!(
        "consistent stock",
        Duration::from_secs(60),
        async { (stock(stack, &product).await == (900, 0, 100)).then_some(()) }.await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_or_timing_out_while_charging_refunds_and_restocks() {
    // A slow provider keeps orders in the charging step; the saga times a
    // step out after 2 s of the stack's time.
    let es = start(&[("saga_step_timeout_secs", "2"), ("psp_timeout_ms", "15000")]);
    let stack = &es.stack;
    let admin = stack.token("admin-1", Role::Admin);
    let user = stack.token("user-1", Role::Customer);
    let product = stack.create_product(&admin, "Desk", 150.0, 5).await;
    stack.wait_for_stock(&product).await;
    stack.set_psp(&admin, &json!({"latency_ms": 5000})).await;

    // The owner cancels while the charge is under way.
    let (placed, _) = place(stack, &user, &[(&product, 2)], None).await;
    let cancelled_id = placed["id"].as_str().expect("id").to_string();
    wait_for!(
        "the charging step",
        Duration::from_secs(30),
        async {
            let o = stack
                .get_json(&format!("/api/orders/{cancelled_id}"), Some(&user))
                .await;
            (o["step"] == "charging").then_some(())
        }
        .await
    );
    let r = client()
        .post(stack.url(&format!("/api/orders/{cancelled_id}/cancel")))
        .bearer_auth(&user)
        .send()
        .await
        .expect("cancel");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let order = stack
        .get_json(&format!("/api/orders/{cancelled_id}"), Some(&user))
        .await;
    assert_eq!(order["status"], "CANCELLED");
    let again = client()
        .post(stack.url(&format!("/api/orders/{cancelled_id}/cancel")))
        .bearer_auth(&user)
        .send()
        .await
        .expect("cancel again");
    assert_eq!(again.status(), 409);

    // Another order times out in the charging step: its time runs out
    // while the slow charge is under way.
    let (placed, _) = place(stack, &user, &[(&product, 1)], None).await;
    let timed_out = placed["id"].as_str().expect("id").to_string();
    wait_for!(
        "the second order's charging step",
        Duration::from_secs(30),
        async {
            let o = stack
                .get_json(&format!("/api/orders/{timed_out}"), Some(&user))
                .await;
            (o["step"] == "charging").then_some(())
        }
        .await
    );
    advance(stack, Duration::from_secs(3)).await;
    let order = settled(stack, &user, &timed_out).await;
    assert_eq!(order["status"], "CANCELLED");
    assert!(
        order["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("timeout"),
        "{order}"
    );

    // The charges that went through late are refunded, and all the stock
    // is back.
    for id in [&cancelled_id, &timed_out] {
        wait_for!(
            format!("refund of {id}"),
            Duration::from_secs(60),
            async {
                let p = payments_of(stack, &admin, id).await;
                p.iter().any(|p| p["status"] == "refunded").then_some(())
            }
            .await
        );
    }
    wait_for!(
        "restocked",
        Duration::from_secs(30),
        async { (stock(stack, &product).await == (5, 0, 0)).then_some(()) }.await
    );
}
