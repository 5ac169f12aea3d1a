//! Payments and the sandbox payment provider through the real host with
//! real Redis: charges from `payment.requested`, the circuit breaker
//! opening on a provider outage and closing on a probe, declines, refunds,
//! admin charges and the sandbox's own contract.

use crate::clock::{advance, MOVABLE};
use std::time::{Duration, Instant};

use platform::auth::Role;
use reqwest::Method;
use serde_json::{json, Value};
use spinshop_tests::{assert_all_4xx, client, envelope, hostile_bodies, Stack};

/// The variables that make the breaker quick to open and to recover.
const FAST_BREAKER: [(&str, &str); 4] = [
    ("breaker_failure_threshold", "3"),
    ("breaker_open_secs", "2"),
    ("breaker_window_secs", "60"),
    MOVABLE,
];

fn requested(order: &str, user: &str, amount_cents: i64) -> Value {
    envelope(
        "payment.requested",
        "payments.commands",
        order,
        json!({"order_id": order, "user_id": user, "amount_cents": amount_cents, "currency": "USD"}),
    )
}

fn refund_requested(payment_id: &str, order: &str) -> Value {
    envelope(
        "payment.refund_requested",
        "payments.commands",
        order,
        json!({"payment_id": payment_id, "order_id": order, "reason": "order_cancelled"}),
    )
}

/// Delivers an event and expects the bridge's 200.
async fn deliver(stack: &Stack, event: &Value) -> Value {
    let r = stack.deliver("payments", event).await;
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "{body}");
    body
}

/// Drains the outbox, expecting exactly one event, and returns it with its
/// payload parsed.
async fn only_event(stack: &Stack) -> (Value, Value) {
    let events = stack.drain("payments").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = events[0].clone();
    let payload: Value =
        serde_json::from_str(event["payload"].as_str().expect("payload")).expect("payload json");
    (event, payload)
}

async fn get(stack: &Stack, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = client().get(stack.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("get");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn items(stack: &Stack, path: &str, token: &str) -> Vec<Value> {
    let (status, body) = get(stack, path, Some(token)).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body["items"].as_array().cloned().expect("items")
}

/// The calls the sandbox provider was sent for a reference.
async fn psp_calls(stack: &Stack, admin: &str, reference: &str) -> Vec<Value> {
    items(
        stack,
        &format!("/sandbox/psp/calls?reference={reference}"),
        admin,
    )
    .await
}

/// The charges the sandbox provider holds for a reference.
async fn psp_charges(stack: &Stack, admin: &str, reference: &str) -> Vec<Value> {
    items(
        stack,
        &format!("/sandbox/psp/charges?reference={reference}"),
        admin,
    )
    .await
}

async fn breaker(stack: &Stack) -> Value {
    let (status, body) = get(stack, "/api/payments/health", None).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn post_json(
    stack: &Stack,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = client().post(stack.url(path)).bearer_auth(token).json(body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    req.send().await.expect("post")
}

#[tokio::test]
async fn a_requested_payment_is_charged_once_and_seen_only_by_its_owner() {
    let stack = Stack::start();
    let admin = stack.token("admin-1", Role::Admin);
    let ann = stack.token("ann", Role::Customer);
    let bob = stack.token("bob", Role::Customer);

    // The delivery's request id and trace go with the provider call.
    let event = requested("order-1", "ann", 2500);
    let r = client()
        .post(stack.url("/internal/payments/events"))
        .bearer_auth(&stack.internal_token)
        .header("x-request-id", "delivery-req-1")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .json(&event)
        .send()
        .await
        .expect("deliver");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.expect("json")["status"],
        "processed"
    );

    let (succeeded, payload) = only_event(&stack).await;
    assert_eq!(succeeded["type"], "payment.succeeded");
    assert_eq!(succeeded["topic"], "payments.events");
    assert_eq!(succeeded["key"], "order-1");
    assert_eq!(succeeded["correlation_id"], "corr-order-1");
    assert_eq!(succeeded["causation_id"], event["id"]);
    assert_eq!(payload["order_id"], "order-1");
    assert_eq!(payload["amount_cents"], 2500);
    let payment_id = payload["payment_id"]
        .as_str()
        .expect("payment id")
        .to_string();

    let sandbox_line = stack
        .host
        .wait_for_log(|l| l["component"] == "sandbox-psp" && l["path"] == "/sandbox/psp/charges");
    assert_eq!(sandbox_line["request_id"], "delivery-req-1");
    assert!(
        sandbox_line["traceparent"]
            .as_str()
            .unwrap_or_default()
            .starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
        "{sandbox_line}"
    );

    // The owner and admins see it; another customer does not.
    let mine = items(&stack, "/api/payments?order_id=order-1", &ann).await;
    assert_eq!(mine.len(), 1);
    let p = &mine[0];
    assert_eq!(p["id"], payment_id.as_str());
    assert_eq!(
        (
            &p["status"],
            &p["amount_cents"],
            &p["amount"],
            &p["currency"]
        ),
        (
            &json!("succeeded"),
            &json!(2500),
            &json!(25.0),
            &json!("USD")
        )
    );
    assert_eq!(p["user_id"], "ann");
    assert_eq!(p["reason"], Value::Null);
    let charge_id = p["provider_ref"]
        .as_str()
        .expect("provider ref")
        .to_string();
    assert!(items(&stack, "/api/payments?order_id=order-1", &bob)
        .await
        .is_empty());
    assert_eq!(
        items(&stack, "/api/payments?order_id=order-1", &admin)
            .await
            .len(),
        1
    );
    let path = format!("/api/payments/{payment_id}");
    assert_eq!(get(&stack, &path, Some(&ann)).await.0, 200);
    assert_eq!(get(&stack, &path, Some(&admin)).await.0, 200);
    assert_eq!(get(&stack, &path, Some(&bob)).await.0, 404);
    assert_eq!(get(&stack, &path, None).await.0, 401);

    // The same event again, and a new event for the same order: no second
    // charge, no second event.
    assert_eq!(deliver(&stack, &event).await["status"], "duplicate");
    assert_eq!(
        deliver(&stack, &requested("order-1", "ann", 2500)).await["status"],
        "processed"
    );
    assert!(stack.drain("payments").await.is_empty());
    let charges = psp_charges(&stack, &admin, "order-1").await;
    assert_eq!(charges.len(), 1, "{charges:?}");
    assert_eq!(charges[0]["id"], charge_id.as_str());
    assert_eq!(charges[0]["amount_cents"], 2500);
    assert_eq!(psp_calls(&stack, &admin, "order-1").await.len(), 1);
    let (status, charge) = get(
        &stack,
        &format!("/sandbox/psp/charges/{charge_id}"),
        Some(&stack.psp_api_key),
    )
    .await;
    assert_eq!((status, &charge["status"]), (200, &json!("captured")));

    // Lists page with a cursor, newest first.
    deliver(&stack, &requested("order-2", "ann", 100)).await;
    deliver(&stack, &requested("order-3", "ann", 200)).await;
    let (status, page) = get(&stack, "/api/payments?limit=2", Some(&ann)).await;
    assert_eq!(status, 200);
    let first: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["order_id"].as_str())
        .collect();
    assert_eq!(first, vec!["order-3", "order-2"]);
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let (_, rest) = get(
        &stack,
        &format!("/api/payments?limit=2&cursor={cursor}"),
        Some(&ann),
    )
    .await;
    assert_eq!(rest["items"][0]["order_id"], "order-1");
    assert_eq!(rest["next_cursor"], Value::Null);
}

#[tokio::test]
async fn an_outage_opens_the_breaker_and_a_probe_closes_it() {
    let stack = Stack::start_with(&FAST_BREAKER);
    let admin = stack.token("admin-1", Role::Admin);
    let ann = stack.token("ann", Role::Customer);
    let h = breaker(&stack).await;
    assert_eq!(
        (&h["status"], &h["breaker"]["state"]),
        (&json!("ok"), &json!("closed"))
    );
    assert_eq!(h["breaker"]["threshold"], 3);
    assert_eq!(h["breaker"]["open_secs"], 2);
    // The provider's address is for admins only.
    assert_eq!(h["provider"], Value::Null);
    assert_eq!(
        stack.get_json("/api/payments/health", Some(&admin)).await["provider"],
        "http://sandbox-psp.spin.internal/sandbox/psp"
    );

    stack.set_psp(&admin, &json!({"outage": true})).await;

    // Three attempts, each refused: the payment fails and the breaker opens.
    deliver(&stack, &requested("order-a", "ann", 1000)).await;
    let (failed, payload) = only_event(&stack).await;
    assert_eq!(failed["type"], "payment.failed");
    assert_eq!(failed["key"], "order-a");
    assert_eq!(payload["reason"], "provider_error");
    let calls = psp_calls(&stack, &admin, "order-a").await;
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(calls.iter().all(|c| c["status"] == 503));
    assert!(psp_charges(&stack, &admin, "order-a").await.is_empty());
    let p = &items(&stack, "/api/payments?order_id=order-a", &ann).await[0];
    assert_eq!(
        (&p["status"], &p["reason"], &p["attempts"]),
        (&json!("failed"), &json!("provider_error"), &json!(3))
    );
    let h = breaker(&stack).await;
    assert_eq!(h["status"], "degraded");
    assert_eq!(h["breaker"]["state"], "open", "{h}");
    assert_eq!(h["breaker"]["failures"], 3);
    assert!(h["breaker"]["opened_at"].is_string(), "{h}");
    assert!(h["breaker"]["probe_at"].is_string(), "{h}");

    // While open, a payment fails fast and the provider sees no call.
    deliver(&stack, &requested("order-b", "ann", 1000)).await;
    let (_, payload) = only_event(&stack).await;
    assert_eq!(payload["reason"], "provider_unavailable");
    assert!(psp_calls(&stack, &admin, "order-b").await.is_empty());

    // The outage ends; after the open interval one probe closes it.
    stack.set_psp(&admin, &json!({"outage": false})).await;
    advance(&stack, Duration::from_millis(2_300)).await;
    deliver(&stack, &requested("order-c", "ann", 1000)).await;
    let (succeeded, _) = only_event(&stack).await;
    assert_eq!(succeeded["type"], "payment.succeeded");
    assert_eq!(psp_calls(&stack, &admin, "order-c").await.len(), 1);
    let h = breaker(&stack).await;
    assert_eq!(
        (
            &h["status"],
            &h["breaker"]["state"],
            &h["breaker"]["failures"]
        ),
        (&json!("ok"), &json!("closed"), &json!(0)),
        "{h}"
    );
}

#[tokio::test]
async fn a_failed_probe_reopens_the_breaker() {
    let stack = Stack::start_with(&FAST_BREAKER);
    let admin = stack.token("admin-1", Role::Admin);
    stack.set_psp(&admin, &json!({"outage": true})).await;
    deliver(&stack, &requested("order-x", "u-1", 500)).await;
    assert_eq!(breaker(&stack).await["breaker"]["state"], "open");
    let first_open = breaker(&stack).await["breaker"]["opened_at"].clone();

    advance(&stack, Duration::from_millis(2_300)).await;
    // The probe goes out, fails, and is not retried: the breaker is open again.
    deliver(&stack, &requested("order-y", "u-1", 500)).await;
    assert_eq!(psp_calls(&stack, &admin, "order-y").await.len(), 1);
    let h = breaker(&stack).await;
    assert_eq!(h["breaker"]["state"], "open", "{h}");
    assert_ne!(h["breaker"]["opened_at"], first_open);
    deliver(&stack, &requested("order-z", "u-1", 500)).await;
    assert!(psp_calls(&stack, &admin, "order-z").await.is_empty());
    let reasons: Vec<String> = stack
        .drain("payments")
        .await
        .iter()
        .map(|e| {
            let p: Value =
                serde_json::from_str(e["payload"].as_str().unwrap_or("{}")).unwrap_or(Value::Null);
            p["reason"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(
        reasons,
        vec!["provider_error", "provider_error", "provider_unavailable"]
    );
}

#[tokio::test]
async fn without_redis_the_breaker_lets_payments_through_and_health_says_so() {
    let mut stack = Stack::start();
    stack.redis.stop();
    deliver(&stack, &requested("order-nr", "ann", 300)).await;
    let (event, _) = only_event(&stack).await;
    assert_eq!(event["type"], "payment.succeeded");
    let h = breaker(&stack).await;
    assert_eq!(
        (&h["status"], &h["breaker"]["state"]),
        (&json!("degraded"), &json!("unknown")),
        "{h}"
    );
}

#[tokio::test]
async fn declines_fail_the_payment_without_counting_against_the_provider() {
    let stack = Stack::start_with(&FAST_BREAKER);
    let admin = stack.token("admin-1", Role::Admin);
    stack.set_psp(&admin, &json!({"decline_rate": 1.0})).await;
    for i in 0..4 {
        let order = format!("declined-{i}");
        deliver(&stack, &requested(&order, "u-1", 700)).await;
        let (failed, payload) = only_event(&stack).await;
        assert_eq!(failed["type"], "payment.failed");
        assert_eq!(payload["reason"], "declined");
        assert_eq!(
            psp_calls(&stack, &admin, &order).await.len(),
            1,
            "a decline is not retried"
        );
    }
    let h = breaker(&stack).await;
    assert_eq!(
        (&h["breaker"]["state"], &h["breaker"]["failures"]),
        (&json!("closed"), &json!(0)),
        "{h}"
    );
    let p = &items(&stack, "/api/payments?order_id=declined-0", &admin).await[0];
    assert_eq!(
        (&p["status"], &p["reason"]),
        (&json!("failed"), &json!("declined"))
    );
}

#[tokio::test]
async fn a_slow_provider_times_out_and_charges_nothing() {
    let stack = Stack::start_with(&[("psp_timeout_ms", "400")]);
    let admin = stack.token("admin-1", Role::Admin);
    stack.set_psp(&admin, &json!({"latency_ms": 3000})).await;
    let started = Instant::now();
    deliver(&stack, &requested("order-slow", "u-1", 900)).await;
    let elapsed = started.elapsed();
    let (_, payload) = only_event(&stack).await;
    assert_eq!(payload["reason"], "provider_error");
    assert!(
        elapsed < Duration::from_millis(2_900),
        "three 400 ms attempts took {elapsed:?}"
    );
    let p = &items(&stack, "/api/payments?order_id=order-slow", &admin).await[0];
    assert_eq!(p["attempts"], 3);
    assert!(psp_charges(&stack, &admin, "order-slow").await.is_empty());
}

#[tokio::test]
async fn refunds_by_command_and_by_admin() {
    let stack = Stack::start();
    let admin = stack.token("admin-1", Role::Admin);
    let ann = stack.token("ann", Role::Customer);
    let mut paid = Vec::new();
    for order in ["order-r1", "order-r2"] {
        deliver(&stack, &requested(order, "ann", 4200)).await;
        let (_, payload) = only_event(&stack).await;
        paid.push(payload["payment_id"].as_str().expect("id").to_string());
    }

    // The saga's refund command.
    let command = refund_requested(&paid[0], "order-r1");
    deliver(&stack, &command).await;
    let (refunded, payload) = only_event(&stack).await;
    assert_eq!(refunded["type"], "payment.refunded");
    assert_eq!(refunded["key"], "order-r1");
    assert_eq!(refunded["causation_id"], command["id"]);
    assert_eq!(
        (&payload["payment_id"], &payload["amount_cents"]),
        (&json!(paid[0]), &json!(4200))
    );
    let (_, p) = get(&stack, &format!("/api/payments/{}", paid[0]), Some(&ann)).await;
    assert_eq!(p["status"], "refunded");
    assert_eq!(p["refund_reason"], "order_cancelled");
    let charge = p["provider_ref"].as_str().expect("charge");
    let (_, c) = get(
        &stack,
        &format!("/sandbox/psp/charges/{charge}"),
        Some(&stack.psp_api_key),
    )
    .await;
    assert_eq!(
        (&c["status"], &c["refunded_cents"]),
        (&json!("refunded"), &json!(4200))
    );
    // Redelivered or repeated: nothing more happens.
    assert_eq!(deliver(&stack, &command).await["status"], "duplicate");
    deliver(&stack, &refund_requested(&paid[0], "order-r1")).await;
    assert!(stack.drain("payments").await.is_empty());
    // An unknown payment is the sender's mistake (dead-lettered), not ours.
    let r = stack
        .deliver("payments", &refund_requested("no-such-payment", "order-r1"))
        .await;
    assert_eq!(r.status(), 422);

    // An admin's refund.
    let path = format!("/api/payments/{}/refund", paid[1]);
    let r = post_json(&stack, &path, &ann, None, &json!({})).await;
    assert_eq!(r.status(), 403);
    let r = post_json(&stack, &path, &admin, None, &json!({"reason": "damaged"})).await;
    assert_eq!(r.status(), 200);
    let p: Value = r.json().await.expect("json");
    assert_eq!(
        (&p["status"], &p["refund_reason"]),
        (&json!("refunded"), &json!("damaged"))
    );
    let (event, payload) = only_event(&stack).await;
    assert_eq!(event["type"], "payment.refunded");
    assert_eq!(payload["payment_id"], paid[1].as_str());
    let r = client()
        .post(stack.url(&path))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("again");
    assert_eq!(r.status(), 409, "already refunded");

    // A failed payment has nothing to refund.
    stack.set_psp(&admin, &json!({"decline_rate": 1})).await;
    deliver(&stack, &requested("order-r3", "ann", 100)).await;
    let (_, payload) = only_event(&stack).await;
    assert_eq!(payload["reason"], "declined");
    let failed = &items(&stack, "/api/payments?order_id=order-r3", &admin).await[0];
    let r = post_json(
        &stack,
        &format!(
            "/api/payments/{}/refund",
            failed["id"].as_str().expect("id")
        ),
        &admin,
        None,
        &json!({}),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        post_json(
            &stack,
            "/api/payments/nope/refund",
            &admin,
            None,
            &json!({})
        )
        .await
        .status(),
        404
    );
}

#[tokio::test]
async fn admins_charge_directly_once_per_idempotency_key() {
    let stack = Stack::start();
    let admin = stack.token("admin-1", Role::Admin);
    let carol = stack.token("carol", Role::Customer);
    let body =
        json!({"user_id": "carol", "amount_cents": 1234, "currency": "eur", "reference": "inv-1"});

    let r = post_json(&stack, "/api/payments", &carol, Some("k1"), &body).await;
    assert_eq!(r.status(), 403);
    let r = post_json(&stack, "/api/payments", &admin, Some("k1"), &body).await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let first: Value = r.json().await.expect("json");
    assert_eq!(
        location,
        format!("/api/payments/{}", first["id"].as_str().expect("id"))
    );
    assert_eq!(
        (
            &first["status"],
            &first["currency"],
            &first["amount"],
            &first["order_id"]
        ),
        (
            &json!("succeeded"),
            &json!("EUR"),
            &json!(12.34),
            &Value::Null
        )
    );

    let r = post_json(&stack, "/api/payments", &admin, Some("k1"), &body).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    let again: Value = r.json().await.expect("json");
    assert_eq!(again["id"], first["id"]);
    let other =
        json!({"user_id": "carol", "amount_cents": 999, "currency": "EUR", "reference": "inv-1"});
    let r = post_json(&stack, "/api/payments", &admin, Some("k1"), &other).await;
    assert_eq!(r.status(), 422);
    assert_eq!(psp_charges(&stack, &admin, "inv-1").await.len(), 1);

    // Carol sees her payment; direct charges publish no saga events.
    assert_eq!(
        get(&stack, &location, Some(&carol)).await.1["id"],
        first["id"]
    );
    assert_eq!(items(&stack, "/api/payments", &carol).await.len(), 1);
    assert!(stack.drain("payments").await.is_empty());

    // Declined: a 402 problem naming the failed payment, which is recorded.
    stack.set_psp(&admin, &json!({"decline_rate": 1})).await;
    let r = post_json(&stack, "/api/payments", &admin, Some("k2"), &body).await;
    assert_eq!(r.status(), 402);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let problem: Value = r.json().await.expect("json");
    assert_eq!(problem["reason"], "declined");
    let (_, failed) = get(
        &stack,
        &format!(
            "/api/payments/{}",
            problem["payment_id"].as_str().expect("id")
        ),
        Some(&admin),
    )
    .await;
    assert_eq!(
        (&failed["status"], &failed["reason"]),
        (&json!("failed"), &json!("declined"))
    );

    // Provider down: 503, and a retry under the same key may still succeed.
    stack
        .set_psp(&admin, &json!({"decline_rate": 0, "outage": true}))
        .await;
    let r = post_json(&stack, "/api/payments", &admin, Some("k3"), &body).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    stack.set_psp(&admin, &json!({"outage": false})).await;
    let r = post_json(&stack, "/api/payments", &admin, Some("k3"), &body).await;
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn the_sandbox_provider_keeps_its_contract() {
    let stack = Stack::start();
    let admin = stack.token("admin-1", Role::Admin);
    let ann = stack.token("ann", Role::Customer);
    let merchant = stack.psp_api_key.clone();
    let charge = |key: Option<&'static str>, body: Value| {
        let mut req = client()
            .post(stack.url("/sandbox/psp/charges"))
            .bearer_auth(&merchant)
            .json(&body);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        req.send()
    };
    let body = json!({"amount_cents": 5000, "currency": "USD", "reference": "ref-1"});

    // Money moves for the merchant's API key only: not for anyone, not for
    // a customer's or even an admin's token.
    for credential in [None, Some(ann.as_str()), Some(admin.as_str())] {
        let mut req = client()
            .post(stack.url("/sandbox/psp/charges"))
            .header("idempotency-key", "c0")
            .json(&body);
        if let Some(t) = credential {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.expect("post");
        assert_eq!(r.status(), 401, "{credential:?}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }

    let r = charge(None, body.clone()).await.expect("post");
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.expect("json")["field"],
        "Idempotency-Key"
    );
    let r = charge(Some("c1"), body.clone()).await.expect("post");
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.expect("json");
    assert_eq!(
        (
            &created["status"],
            &created["amount_cents"],
            &created["reference"]
        ),
        (&json!("captured"), &json!(5000), &json!("ref-1"))
    );
    let again: Value = charge(Some("c1"), body.clone())
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(again["id"], created["id"]);
    let r = charge(
        Some("c1"),
        json!({"amount_cents": 1, "currency": "USD", "reference": "ref-1"}),
    )
    .await
    .expect("post");
    assert_eq!(r.status(), 422);
    assert_eq!(psp_charges(&stack, &admin, "ref-1").await.len(), 1);
    for (bad, field) in [
        (
            json!({"amount_cents": 0, "currency": "USD", "reference": "r"}),
            "amount_cents",
        ),
        (
            json!({"amount_cents": 100000001, "currency": "USD", "reference": "r"}),
            "amount_cents",
        ),
        (
            json!({"amount_cents": 1, "currency": "dollars", "reference": "r"}),
            "currency",
        ),
        (
            json!({"amount_cents": 1, "currency": "USD", "reference": ""}),
            "reference",
        ),
    ] {
        let r = charge(Some("bad"), bad).await.expect("post");
        assert_eq!(r.status(), 422);
        assert_eq!(r.json::<Value>().await.expect("json")["field"], field);
    }

    // Refunds: keyed, once, and never more than was charged.
    let id = created["id"].as_str().expect("id");
    let refund_url = stack.url(&format!("/sandbox/psp/charges/{id}/refunds"));
    let refund = |key: Option<&'static str>| {
        let mut req = client().post(&refund_url).bearer_auth(&merchant);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        req.send()
    };
    // A customer who has seen the charge id can neither refund it nor take
    // the refund's idempotency key first.
    let r = client()
        .post(&refund_url)
        .bearer_auth(&ann)
        .header("idempotency-key", "r1")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);
    assert_eq!(
        get(&stack, &format!("/sandbox/psp/charges/{id}"), None)
            .await
            .0,
        401
    );
    assert_eq!(refund(None).await.expect("post").status(), 400);
    let r = refund(Some("r1")).await.expect("post");
    assert_eq!(r.status(), 201);
    let refunded: Value = r.json().await.expect("json");
    assert_eq!(
        (
            &refunded["status"],
            &refunded["amount_cents"],
            &refunded["charge_id"]
        ),
        (&json!("refunded"), &json!(5000), &created["id"])
    );
    let again: Value = refund(Some("r1"))
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(again["id"], refunded["id"]);
    assert_eq!(refund(Some("r2")).await.expect("post").status(), 409);
    let (_, c) = get(
        &stack,
        &format!("/sandbox/psp/charges/{id}"),
        Some(&merchant),
    )
    .await;
    assert_eq!(c["status"], "refunded");

    // Controls: admins only, validated, and obeyed.
    assert_eq!(get(&stack, "/sandbox/psp/control", None).await.0, 401);
    assert_eq!(get(&stack, "/sandbox/psp/control", Some(&ann)).await.0, 403);
    let (status, control) = get(&stack, "/sandbox/psp/control", Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(
        control,
        json!({"failure_rate": 0.0, "decline_rate": 0.0, "latency_ms": 0, "outage": false})
    );
    let put = |token: Option<String>, body: Value| {
        let mut req = client().put(stack.url("/sandbox/psp/control")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(
        put(None, json!({"outage": true}))
            .await
            .expect("put")
            .status(),
        401
    );
    assert_eq!(
        put(Some(ann.clone()), json!({"outage": true}))
            .await
            .expect("put")
            .status(),
        403
    );
    for (bad, field) in [
        (json!({"failure_rate": 1.5}), "failure_rate"),
        (json!({"decline_rate": -0.5}), "decline_rate"),
        (json!({"latency_ms": 10001}), "latency_ms"),
    ] {
        let r = put(Some(admin.clone()), bad).await.expect("put");
        assert_eq!(r.status(), 422);
        assert_eq!(r.json::<Value>().await.expect("json")["field"], field);
    }
    let c = stack.set_psp(&admin, &json!({"latency_ms": 300})).await;
    assert_eq!(
        (&c["latency_ms"], &c["outage"]),
        (&json!(300), &json!(false))
    );
    let started = Instant::now();
    let slow = json!({"amount_cents": 10, "currency": "USD", "reference": "ref-slow"});
    assert_eq!(charge(Some("s1"), slow).await.expect("post").status(), 201);
    assert!(started.elapsed() >= Duration::from_millis(300));

    let c = stack
        .set_psp(&admin, &json!({"latency_ms": 0, "failure_rate": 1}))
        .await;
    assert_eq!(
        (&c["failure_rate"], &c["latency_ms"]),
        (&json!(1.0), &json!(0))
    );
    let failing = json!({"amount_cents": 10, "currency": "USD", "reference": "ref-fail"});
    let r = charge(Some("f1"), failing).await.expect("post");
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert!(
        psp_charges(&stack, &admin, "ref-fail").await.is_empty(),
        "a failed call charges nothing"
    );
    assert_eq!(
        psp_calls(&stack, &admin, "ref-fail").await[0]["status"],
        503
    );
    stack
        .set_psp(&admin, &json!({"failure_rate": 0, "decline_rate": 1}))
        .await;
    let declining = json!({"amount_cents": 10, "currency": "USD", "reference": "ref-decline"});
    let r = charge(Some("d1"), declining).await.expect("post");
    assert_eq!(r.status(), 402);
    assert_eq!(r.json::<Value>().await.expect("json")["status"], "declined");

    // Inspection is for admins.
    let (status, _) = get(&stack, "/sandbox/psp/charges?reference=ref-1", Some(&ann)).await;
    assert_eq!(status, 403);
    assert_eq!(
        get(&stack, "/sandbox/psp/charges/nope", Some(&merchant))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn bad_input_is_a_4xx_problem_everywhere() {
    let stack = Stack::start();
    let admin = stack.token("admin-1", Role::Admin);
    let ann = stack.token("ann", Role::Customer);
    let bodies = hostile_bodies();
    let keyed = [("idempotency-key", "hostile-1")];
    for (method, path, token, headers) in [
        (
            Method::POST,
            "/api/payments",
            Some(admin.as_str()),
            &keyed[..],
        ),
        (
            Method::POST,
            "/api/payments/no-such-payment/refund",
            Some(admin.as_str()),
            &[][..],
        ),
        (
            Method::POST,
            "/sandbox/psp/charges",
            Some(stack.psp_api_key.as_str()),
            &keyed[..],
        ),
        (
            Method::POST,
            "/sandbox/psp/charges/no-such-charge/refunds",
            Some(stack.psp_api_key.as_str()),
            &keyed[..],
        ),
        (
            Method::PUT,
            "/sandbox/psp/control",
            Some(admin.as_str()),
            &[][..],
        ),
        (
            Method::POST,
            "/internal/payments/events",
            Some(stack.internal_token.as_str()),
            &[][..],
        ),
    ] {
        assert_all_4xx(&stack, method, path, token, headers, &bodies).await;
    }

    // Values the types accept but the rules do not, each naming its field.
    for (body, field) in [
        (
            json!({"user_id": "u 1", "amount_cents": 1, "currency": "USD", "reference": "r"}),
            "user_id",
        ),
        (
            json!({"user_id": "u", "amount_cents": -1, "currency": "USD", "reference": "r"}),
            "amount_cents",
        ),
        (
            json!({"user_id": "u", "amount_cents": 1, "currency": "US", "reference": "r"}),
            "currency",
        ),
        (
            json!({"user_id": "u", "amount_cents": 1, "currency": "USD", "reference": " "}),
            "reference",
        ),
        (
            json!({"user_id": "u", "amount_cents": "1", "currency": "USD", "reference": "r"}),
            "amount_cents",
        ),
    ] {
        let r = post_json(&stack, "/api/payments", &admin, None, &body).await;
        assert!(r.status().is_client_error(), "{body}");
        assert_eq!(
            r.json::<Value>().await.expect("json")["field"],
            field,
            "{body}"
        );
    }
    let r = client()
        .post(stack.url("/api/payments"))
        .bearer_auth(&admin)
        .header("idempotency-key", "has space")
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);

    // Events whose payloads cannot be a payment are refused, naming why.
    for (payload, field) in [
        (
            json!({"order_id": "bad id", "user_id": "u", "amount_cents": 1, "currency": "USD"}),
            "payload.order_id",
        ),
        (
            json!({"order_id": "o", "user_id": "", "amount_cents": 1, "currency": "USD"}),
            "payload.user_id",
        ),
        (json!({"order_id": "o", "amount_cents": 1}), "payload"),
    ] {
        let r = stack
            .deliver(
                "payments",
                &envelope("payment.requested", "payments.commands", "o", payload),
            )
            .await;
        assert_eq!(r.status(), 422);
        assert_eq!(r.json::<Value>().await.expect("json")["field"], field);
    }
    // A payment that cannot be charged as asked fails, and the saga hears it.
    deliver(&stack, &requested("order-zero", "ann", 0)).await;
    let (_, payload) = only_event(&stack).await;
    assert_eq!(payload["reason"], "invalid_request");

    for query in ["limit=0", "limit=x", "cursor=%%%", "order_id=bad%20id"] {
        let (status, problem) = get(&stack, &format!("/api/payments?{query}"), Some(&ann)).await;
        assert_eq!(status, 422, "{query}: {problem}");
    }
    assert_eq!(
        get(&stack, "/api/payments/bad%20id", Some(&ann)).await.0,
        422
    );
    assert_eq!(get(&stack, "/api/payments", None).await.0, 401);
    let r = client()
        .get(stack.url("/internal/payments/outbox"))
        .send()
        .await
        .expect("outbox");
    assert_eq!(r.status(), 401);
    let r = client()
        .post(stack.url("/internal/payments/tick"))
        .bearer_auth(&stack.internal_token)
        .send()
        .await
        .expect("tick");
    assert_eq!(r.status(), 200);
}
