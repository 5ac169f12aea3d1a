//! The order saga's orchestrator on the real host: orders priced by the
//! real catalog (service chaining), the saga driven by delivering
//! inventory's and payments' answers by hand, and what orders emits read
//! from its outbox as the bridge reads it.

use crate::clock::{advance, MOVABLE};
use std::time::Duration;

use platform::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use spinshop_tests::{assert_all_4xx, client, envelope, hostile_bodies, Stack};

/// Creates a product in the catalog as an admin; returns its id.
async fn product(stack: &Stack, name: &str, price: f64) -> String {
    let admin = stack.token("catalog-admin", Role::Admin);
    let r = client()
        .post(stack.url("/api/catalog"))
        .bearer_auth(&admin)
        .json(&json!({
            "name": name, "description": "", "price": price, "category": "office",
            "brand": "Acme", "stock": 100, "tags": [],
        }))
        .send()
        .await
        .expect("post product");
    assert_eq!(r.status(), StatusCode::CREATED);
    let p: Value = r.json().await.expect("json");
    p["id"].as_str().expect("id").to_string()
}

async fn post_order(stack: &Stack, token: &str, body: &Value) -> (StatusCode, Value) {
    let r = client()
        .post(stack.url("/api/orders"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("post order");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Places an order of one unit of each product; returns the order.
async fn place(stack: &Stack, token: &str, products: &[&str]) -> Value {
    let items: Vec<Value> = products
        .iter()
        .map(|p| json!({"product_id": p, "quantity": 1}))
        .collect();
    let (status, order) = post_order(stack, token, &json!({ "items": items })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{order}");
    order
}

async fn get_json(stack: &Stack, token: &str, path: &str) -> (StatusCode, Value) {
    let r = client()
        .get(stack.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("get");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn order(stack: &Stack, token: &str, id: &str) -> Value {
    let (status, order) = get_json(stack, token, &format!("/api/orders/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    order
}

async fn cancel(stack: &Stack, token: &str, id: &str) -> (StatusCode, Value) {
    let r = client()
        .post(stack.url(&format!("/api/orders/{id}/cancel")))
        .bearer_auth(token)
        .send()
        .await
        .expect("cancel");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Delivers an event to orders; returns the inbox's verdict.
async fn deliver(stack: &Stack, event: &Value) -> String {
    let r = stack.deliver("orders", event).await;
    assert_eq!(r.status(), StatusCode::OK, "{event}");
    let body: Value = r.json().await.expect("json");
    body["status"].as_str().unwrap_or_default().to_string()
}

/// `inventory.reserved` for an order of one unit of each of `products`
/// (what `place` orders).
fn reserved(order_id: &str, reservation_id: &str, products: &[&str]) -> Value {
    let lines: Vec<Value> = products
        .iter()
        .map(|p| json!({"product_id": p, "quantity": 1}))
        .collect();
    envelope(
        "inventory.reserved",
        "inventory.events",
        order_id,
        json!({"order_id": order_id, "reservation_id": reservation_id, "lines": lines,
               "expires_at": "2026-11-22T00:15:00Z"}),
    )
}

fn paid(order_id: &str, payment_id: &str, amount_cents: i64) -> Value {
    envelope(
        "payment.succeeded",
        "payments.events",
        order_id,
        json!({"payment_id": payment_id, "order_id": order_id, "amount_cents": amount_cents}),
    )
}

fn payment_failed(order_id: &str, reason: &str) -> Value {
    envelope(
        "payment.failed",
        "payments.events",
        order_id,
        json!({"order_id": order_id, "reason": reason}),
    )
}

/// The payload of an outbox event, parsed.
fn payload(event: &Value) -> Value {
    serde_json::from_str(event["payload"].as_str().expect("payload")).expect("payload json")
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default())
        .collect()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn an_order_is_priced_by_the_catalog_and_starts_the_saga() {
    let stack = Stack::start();
    let pen = product(&stack, "Pen", 19.99).await;
    let pad = product(&stack, "Pad", 5.0).await;
    let ann = stack.token("ann", Role::Customer);

    let r = client()
        .post(stack.url("/api/orders"))
        .bearer_auth(&ann)
        .header("x-request-id", "order-req-1")
        .json(&json!({
            "items": [{"product_id": pen, "quantity": 2}, {"product_id": pad, "quantity": 1}],
            "shipping_address": {"street": "1 Main St", "city": "Lisbon"},
        }))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let created: Value = r.json().await.expect("json");
    let order_id = id(&created);
    assert_eq!(location, format!("/api/orders/{order_id}"));
    assert_eq!(
        created["status_url"],
        format!("/api/orders/{order_id}/status")
    );
    assert_eq!(
        (&created["status"], &created["step"], &created["user_id"]),
        (&json!("PENDING"), &json!("reserving"), &json!("ann"))
    );
    assert_eq!(created["total_cents"], 4498);
    assert_eq!(created["total"], json!(44.98));
    assert_eq!(created["currency"], "USD");
    assert_eq!(
        created["items"],
        json!([
            {"product_id": pen, "quantity": 2, "unit_price_cents": 1999, "unit_price": 19.99},
            {"product_id": pad, "quantity": 1, "unit_price_cents": 500, "unit_price": 5.0},
        ])
    );
    assert_eq!(created["shipping_address"]["city"], "Lisbon");
    assert!(created["reason"].is_null() && created["reservation_id"].is_null());
    assert!(created["created_at"]
        .as_str()
        .is_some_and(|t| t.contains('T') && t.ends_with('Z')));

    let fetched = order(&stack, &ann, &order_id).await;
    assert_eq!(fetched["items"], created["items"]);
    assert_eq!(fetched["status"], "PENDING");

    // One transaction wrote the announcement and the first command.
    let events = stack.drain("orders").await;
    assert_eq!(types(&events), ["order.created", "inventory.reserve"]);
    for e in &events {
        assert_eq!(e["key"], order_id.as_str());
        assert_eq!(e["correlation_id"], "order-req-1");
    }
    assert_eq!(events[0]["topic"], "orders.events");
    let announced = payload(&events[0]);
    assert_eq!(announced["total_cents"], 4498);
    assert_eq!(announced["user_id"], "ann");
    assert_eq!(events[1]["topic"], "inventory.commands");
    let reserve = payload(&events[1]);
    assert_eq!(reserve["order_id"], order_id.as_str());
    assert_eq!(reserve["ttl_seconds"], 900);
    assert_eq!(
        reserve["lines"],
        json!([{"product_id": pen, "quantity": 2}, {"product_id": pad, "quantity": 1}])
    );

    // The price is the catalog's at order time: a later order sees a new price.
    let admin = stack.token("root", Role::Admin);
    let current = client()
        .get(stack.url(&format!("/api/catalog/{pad}")))
        .send()
        .await
        .expect("get");
    let etag = current.headers()["etag"]
        .to_str()
        .expect("etag")
        .to_string();
    let r = client()
        .put(stack.url(&format!("/api/catalog/{pad}")))
        .bearer_auth(&admin)
        .header("if-match", etag)
        .json(&json!({"name": "Pad", "price": 7.25, "category": "office", "brand": "Acme"}))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), StatusCode::OK);
    let later = place(&stack, &ann, &[&pad]).await;
    assert_eq!(later["total_cents"], 725);
    assert_eq!(
        order(&stack, &ann, &order_id).await["total_cents"],
        4498,
        "placed orders keep their price"
    );
}

#[tokio::test]
async fn the_happy_path_confirms_once_and_the_status_lists_every_step() {
    let stack = Stack::start();
    let pen = product(&stack, "Pen", 19.99).await;
    let ann = stack.token("ann", Role::Customer);
    let created = place(&stack, &ann, &[&pen]).await;
    let order_id = id(&created);
    stack.drain("orders").await;

    let answer = reserved(&order_id, "res-1", &[&pen]);
    assert_eq!(deliver(&stack, &answer).await, "processed");
    let events = stack.drain("orders").await;
    assert_eq!(types(&events), ["payment.requested"]);
    assert_eq!(events[0]["topic"], "payments.commands");
    assert_eq!(events[0]["key"], order_id.as_str());
    assert_eq!(
        events[0]["correlation_id"], answer["correlation_id"],
        "one correlation id runs through the chain"
    );
    assert_eq!(events[0]["causation_id"], answer["id"]);
    assert_eq!(
        payload(&events[0]),
        json!({"order_id": order_id, "user_id": "ann", "amount_cents": 1999, "currency": "USD"})
    );
    let charging = order(&stack, &ann, &order_id).await;
    assert_eq!(
        (
            &charging["status"],
            &charging["step"],
            &charging["reservation_id"]
        ),
        (&json!("PENDING"), &json!("charging"), &json!("res-1"))
    );

    // The same event again, or the same answer under a new event id:
    // no second transition and nothing sent.
    assert_eq!(deliver(&stack, &answer).await, "duplicate");
    assert_eq!(
        deliver(&stack, &reserved(&order_id, "res-1", &[&pen])).await,
        "processed"
    );
    assert!(stack.drain("orders").await.is_empty());

    let payment = paid(&order_id, "pay-1", 1999);
    deliver(&stack, &payment).await;
    let events = stack.drain("orders").await;
    assert_eq!(types(&events), ["inventory.commit", "order.confirmed"]);
    assert_eq!(
        payload(&events[0]),
        json!({"order_id": order_id, "reservation_id": "res-1"})
    );
    assert_eq!(events[0]["topic"], "inventory.commands");
    assert_eq!(
        payload(&events[1]),
        json!({"order_id": order_id, "user_id": "ann", "total_cents": 1999, "payment_id": "pay-1"})
    );
    let confirmed = order(&stack, &ann, &order_id).await;
    assert_eq!(
        (
            &confirmed["status"],
            &confirmed["step"],
            &confirmed["payment_id"]
        ),
        (&json!("CONFIRMED"), &json!("confirmed"), &json!("pay-1"))
    );

    assert_eq!(deliver(&stack, &payment).await, "duplicate");
    deliver(&stack, &paid(&order_id, "pay-1", 1999)).await;
    // Answers the saga does not act on are acknowledged and ignored.
    for kind in [
        "inventory.committed",
        "inventory.low_stock",
        "payment.refunded",
    ] {
        let other = envelope(kind, "inventory.events", &order_id, json!({"anything": 1}));
        assert_eq!(deliver(&stack, &other).await, "processed", "{kind}");
    }
    assert!(stack.drain("orders").await.is_empty());

    let (status, problem) = cancel(&stack, &ann, &order_id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(order(&stack, &ann, &order_id).await["status"], "CONFIRMED");

    let (status, saga) = get_json(&stack, &ann, &format!("/api/orders/{order_id}/status")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&saga["id"], &saga["status"], &saga["step"], &saga["reason"]),
        (
            &json!(order_id),
            &json!("CONFIRMED"),
            &json!("confirmed"),
            &Value::Null
        )
    );
    let history = saga["history"].as_array().expect("history");
    let steps: Vec<(&str, &str, &str)> = history
        .iter()
        .map(|h| {
            (
                h["step"].as_str().unwrap_or_default(),
                h["status"].as_str().unwrap_or_default(),
                h["event_type"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("reserving", "PENDING", "order.created"),
            ("charging", "PENDING", "inventory.reserved"),
            ("confirmed", "CONFIRMED", "payment.succeeded"),
        ]
    );
    assert_eq!(history[1]["event_id"], answer["id"]);
    assert_eq!(history[2]["event_id"], payment["id"]);
    let times: Vec<&str> = history.iter().filter_map(|h| h["at"].as_str()).collect();
    assert_eq!(times.len(), 3);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[tokio::test]
async fn failed_steps_cancel_the_order_and_release_what_was_held() {
    let stack = Stack::start();
    let pen = product(&stack, "Pen", 2.5).await;
    let ann = stack.token("ann", Role::Customer);

    // Out of stock: nothing was held, so nothing is released.
    let first = id(&place(&stack, &ann, &[&pen]).await);
    stack.drain("orders").await;
    deliver(
        &stack,
        &envelope(
            "inventory.reservation_failed",
            "inventory.events",
            &first,
            json!({"order_id": first, "failures": [
                {"product_id": pen, "requested": 1, "available": 0, "reason": "insufficient_stock"}]}),
        ),
    )
    .await;
    let cancelled = order(&stack, &ann, &first).await;
    assert_eq!(
        (&cancelled["status"], &cancelled["step"]),
        (&json!("CANCELLED"), &json!("cancelled"))
    );
    assert_eq!(cancelled["reason"], format!("out_of_stock: {pen}"));
    let events = stack.drain("orders").await;
    assert_eq!(types(&events), ["order.cancelled"]);
    assert_eq!(
        payload(&events[0]),
        json!({"order_id": first, "user_id": "ann", "reason": format!("out_of_stock: {pen}")})
    );

    // The charge fails: the reservation goes back.
    let second = id(&place(&stack, &ann, &[&pen]).await);
    deliver(&stack, &reserved(&second, "res-2", &[&pen])).await;
    stack.drain("orders").await;
    deliver(&stack, &payment_failed(&second, "card_declined")).await;
    let cancelled = order(&stack, &ann, &second).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["reason"], "payment_failed: card_declined");
    let events = stack.drain("orders").await;
    assert_eq!(types(&events), ["inventory.release", "order.cancelled"]);
    assert_eq!(
        payload(&events[0]),
        json!({"order_id": second, "reservation_id": "res-2", "reason": "payment_failed: card_declined"})
    );

    // A failure that no longer applies changes nothing.
    deliver(&stack, &payment_failed(&second, "again")).await;
    deliver(&stack, &paid(&first, "pay-x", 250)).await;
    let late = stack.drain("orders").await;
    assert_eq!(
        types(&late),
        ["payment.refund_requested"],
        "only the stray charge of a cancelled order is undone"
    );
    assert_eq!(
        order(&stack, &ann, &second).await["reason"],
        "payment_failed: card_declined"
    );
}

#[tokio::test]
async fn a_user_cancels_a_pending_order_and_late_answers_are_undone() {
    let stack = Stack::start();
    let pen = product(&stack, "Pen", 3.0).await;
    let ann = stack.token("ann", Role::Customer);

    // Cancelled while reserving: released by order, then the late
    // reservation is released by id.
    let first = id(&place(&stack, &ann, &[&pen]).await);
    stack.drain("orders").await;
    let (status, cancelled) = cancel(&stack, &ann, &first).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(
        (&cancelled["status"], &cancelled["reason"]),
        (&json!("CANCELLED"), &json!("cancelled_by_user"))
    );
    let events = stack.drain("orders").await;
    assert_eq!(types(&events), ["inventory.release", "order.cancelled"]);
    assert_eq!(events[0]["key"], first.as_str());
    assert_eq!(
        payload(&events[0]),
        json!({"order_id": first, "reservation_id": "", "reason": "cancelled_by_user"})
    );
    assert_eq!(cancel(&stack, &ann, &first).await.0, StatusCode::CONFLICT);

    deliver(&stack, &reserved(&first, "res-late", &[&pen])).await;
    let events = stack.drain("orders").await;
    assert_eq!(types(&events), ["inventory.release"]);
    assert_eq!(payload(&events[0])["reservation_id"], "res-late");
    assert_eq!(order(&stack, &ann, &first).await["status"], "CANCELLED");
    deliver(&stack, &reserved(&first, "res-late", &[&pen])).await;
    assert!(stack.drain("orders").await.is_empty(), "released once only");

    // Cancelled while charging: the charge that lands afterwards is refunded.
    let second = id(&place(&stack, &ann, &[&pen]).await);
    deliver(&stack, &reserved(&second, "res-2", &[&pen])).await;
    stack.drain("orders").await;
    let (status, _) = cancel(&stack, &ann, &second).await;
    assert_eq!(status, StatusCode::OK);
    let events = stack.drain("orders").await;
    assert_eq!(types(&events), ["inventory.release", "order.cancelled"]);
    assert_eq!(payload(&events[0])["reservation_id"], "res-2");

    deliver(&stack, &paid(&second, "pay-late", 300)).await;
    let events = stack.drain("orders").await;
    assert_eq!(types(&events), ["payment.refund_requested"]);
    assert_eq!(events[0]["topic"], "payments.commands");
    assert_eq!(events[0]["key"], second.as_str());
    let refund = payload(&events[0]);
    assert_eq!(
        (&refund["payment_id"], &refund["order_id"]),
        (&json!("pay-late"), &json!(second))
    );
    let after = order(&stack, &ann, &second).await;
    assert_eq!(
        (&after["status"], &after["reason"]),
        (&json!("CANCELLED"), &json!("cancelled_by_user"))
    );
    deliver(&stack, &paid(&second, "pay-late", 300)).await;
    assert!(stack.drain("orders").await.is_empty(), "refunded once only");
}

#[tokio::test]
async fn a_step_that_waits_too_long_is_compensated_on_tick() {
    let stack = Stack::start_with(&[("saga_step_timeout_secs", "1"), MOVABLE]);
    let pen = product(&stack, "Pen", 1.0).await;
    let ann = stack.token("ann", Role::Customer);
    let waiting = place(&stack, &ann, &[&pen]).await;
    let charging = id(&place(&stack, &ann, &[&pen]).await);
    deliver(&stack, &reserved(&charging, "res-c", &[&pen])).await;
    stack.drain("orders").await;

    let tick = || async {
        client()
            .post(stack.url("/internal/orders/tick"))
            .bearer_auth(&stack.internal_token)
            .send()
            .await
            .expect("tick")
    };
    let unauthorised = client()
        .post(stack.url("/internal/orders/tick"))
        .send()
        .await
        .expect("tick");
    assert_eq!(unauthorised.status(), StatusCode::UNAUTHORIZED);

    advance(&stack, Duration::from_millis(2_200)).await;
    let r = tick().await;
    assert_eq!(r.status(), StatusCode::OK);
    let counts: Value = r.json().await.expect("json");
    assert_eq!(counts["timed_out"], 2, "{counts}");

    let first = order(&stack, &ann, &id(&waiting)).await;
    assert_eq!(
        (&first["status"], &first["reason"]),
        (&json!("CANCELLED"), &json!("timeout: reserving"))
    );
    let second = order(&stack, &ann, &charging).await;
    assert_eq!(second["reason"], "timeout: charging");

    let events = stack.drain("orders").await;
    assert_eq!(events.len(), 4, "{events:?}");
    let for_order =
        |oid: &str| -> Vec<Value> { events.iter().filter(|e| e["key"] == oid).cloned().collect() };
    let charging_events = for_order(&charging);
    assert_eq!(
        types(&charging_events),
        ["inventory.release", "order.cancelled"]
    );
    assert_eq!(
        payload(&charging_events[0]),
        json!({"order_id": charging, "reservation_id": "res-c", "reason": "timeout: charging"})
    );
    let waiting_events = for_order(&id(&waiting));
    assert_eq!(
        types(&waiting_events),
        ["inventory.release", "order.cancelled"]
    );
    assert_eq!(payload(&waiting_events[0])["reservation_id"], "");

    // Nothing left to time out; a late payment of a timed-out order is refunded.
    let again: Value = tick().await.json().await.expect("json");
    assert_eq!(again["timed_out"], 0);
    deliver(&stack, &paid(&charging, "pay-slow", 100)).await;
    assert_eq!(
        types(&stack.drain("orders").await),
        ["payment.refund_requested"]
    );
    let (_, saga) = get_json(&stack, &ann, &format!("/api/orders/{charging}/status")).await;
    let steps: Vec<&str> = saga["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["step"].as_str())
        .collect();
    assert_eq!(steps[..3], ["reserving", "charging", "cancelled"], "{saga}");
}

#[tokio::test]
async fn orders_are_private_to_their_owner_and_admins_see_all() {
    let stack = Stack::start();
    let pen = product(&stack, "Pen", 1.5).await;
    let ann = stack.token("ann", Role::Customer);
    let bob = stack.token("bob", Role::Customer);
    let admin = stack.token("root", Role::Admin);
    let ann_first = id(&place(&stack, &ann, &[&pen]).await);
    let ann_second = id(&place(&stack, &ann, &[&pen]).await);
    let bobs = id(&place(&stack, &bob, &[&pen]).await);

    for path in [
        format!("/api/orders/{ann_first}"),
        format!("/api/orders/{ann_first}/status"),
    ] {
        let (status, problem) = get_json(&stack, &bob, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: not even a 403");
        assert_eq!(problem["status"], 404);
    }
    assert_eq!(
        cancel(&stack, &bob, &ann_first).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(order(&stack, &ann, &ann_first).await["status"], "PENDING");
    let r = client()
        .get(stack.url(&format!("/api/orders/{ann_first}")))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        get_json(&stack, &ann, "/api/orders/no-such-order").await.0,
        StatusCode::NOT_FOUND
    );

    let (_, list) = get_json(&stack, &ann, "/api/orders").await;
    let ids: Vec<String> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(id)
        .collect();
    assert_eq!(
        ids,
        [ann_second.clone(), ann_first.clone()],
        "own orders, newest first"
    );
    assert!(list["next_cursor"].is_null());

    // An admin reads and cancels anyone's order and sees every order.
    assert_eq!(order(&stack, &admin, &bobs).await["user_id"], "bob");
    let (status, _) = cancel(&stack, &admin, &ann_first).await;
    assert_eq!(status, StatusCode::OK);
    let (_, all) = get_json(&stack, &admin, "/api/orders").await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(3));
    let (_, cancelled) = get_json(&stack, &admin, "/api/orders?status=CANCELLED").await;
    let cancelled: Vec<String> = cancelled["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(id)
        .collect();
    assert_eq!(cancelled, std::slice::from_ref(&ann_first));
    let (_, bobs_list) = get_json(&stack, &bob, "/api/orders").await;
    assert_eq!(bobs_list["items"].as_array().map(Vec::len), Some(1));

    // Pages follow each other without gaps.
    let (_, page1) = get_json(&stack, &admin, "/api/orders?limit=2").await;
    let cursor = page1["next_cursor"].as_str().expect("cursor").to_string();
    let (_, page2) = get_json(
        &stack,
        &admin,
        &format!("/api/orders?limit=2&cursor={cursor}"),
    )
    .await;
    let mut paged: Vec<String> = page1["items"]
        .as_array()
        .expect("p1")
        .iter()
        .map(id)
        .collect();
    paged.extend(page2["items"].as_array().expect("p2").iter().map(id));
    assert_eq!(paged, [bobs, ann_second, ann_first]);
    assert!(page2["next_cursor"].is_null());

    for bad in ["status=SHIPPED", "limit=0", "cursor=%25%25"] {
        let (status, problem) = get_json(&stack, &admin, &format!("/api/orders?{bad}")).await;
        assert!(status.is_client_error(), "{bad}: {status} {problem}");
    }
    let (_, problem) = get_json(&stack, &admin, "/api/orders?status=SHIPPED").await;
    assert_eq!(problem["field"], "status");
}

#[tokio::test]
async fn an_idempotency_key_places_one_order() {
    let stack = Stack::start();
    let pen = product(&stack, "Pen", 4.0).await;
    let ann = stack.token("ann", Role::Customer);
    let body = json!({"items": [{"product_id": pen, "quantity": 3}]});
    let send = |body: Value, key: &'static str| {
        let stack = &stack;
        let ann = &ann;
        async move {
            client()
                .post(stack.url("/api/orders"))
                .bearer_auth(ann)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .expect("post")
        }
    };
    let first = send(body.clone(), "checkout-1").await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.expect("json");
    let again = send(body.clone(), "checkout-1").await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["total_cents"], 1200);

    let other = send(
        json!({"items": [{"product_id": pen, "quantity": 4}]}),
        "checkout-1",
    )
    .await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let events = stack.drain("orders").await;
    assert_eq!(types(&events), ["order.created", "inventory.reserve"]);
    let (_, list) = get_json(&stack, &ann, "/api/orders").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));

    // A key is the user's own: bob's same key places bob's own order.
    let bob = stack.token("bob", Role::Customer);
    let r = client()
        .post(stack.url("/api/orders"))
        .bearer_auth(&bob)
        .header("idempotency-key", "checkout-1")
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let bobs: Value = r.json().await.expect("json");
    assert_ne!(bobs["id"], first["id"]);
    assert_eq!(bobs["user_id"], "bob");
}

#[tokio::test]
async fn bad_input_is_a_4xx_problem_and_places_nothing() {
    let stack = Stack::start();
    let pen = product(&stack, "Pen", 1.0).await;
    let ann = stack.token("ann", Role::Customer);
    let line = |q: Value| json!({"product_id": pen, "quantity": q});

    let cases = [
        (
            json!({"items": [line(json!(1))], "user_id": "mallory"}),
            "user_id",
        ),
        (json!({"items": [line(json!(1))], "total": 0.01}), "total"),
        (
            json!({"items": [{"product_id": pen, "quantity": 1, "price": 0.01}]}),
            "items[0].price",
        ),
        (
            json!({"items": [{"product_id": pen, "quantity": 1, "unit_price": 0}]}),
            "items[0].unit_price",
        ),
        (json!({"items": [line(json!(0))]}), "items[0].quantity"),
        (json!({"items": [line(json!(-1))]}), "items[0].quantity"),
        (json!({"items": [line(json!(1001))]}), "items[0].quantity"),
        (json!({"items": [line(json!(1e30))]}), "items[0].quantity"),
        (json!({"items": [line(json!("2"))]}), "items[0].quantity"),
        (json!({"items": []}), "items"),
        (
            json!({"items": [line(json!(1)), line(json!(2))]}),
            "items[1].product_id",
        ),
        (
            json!({"items": [line(json!(1)), {"product_id": "0190c0de-0000-7000-8000-000000000000", "quantity": 1}]}),
            "items[1].product_id",
        ),
        (
            json!({"items": [{"product_id": "../../admin", "quantity": 1}]}),
            "items[0].product_id",
        ),
        (
            json!({"items": [line(json!(1))], "shipping_address": 42}),
            "shipping_address",
        ),
    ];
    for (body, field) in &cases {
        let (status, problem) = post_order(&stack, &ann, body).await;
        assert!(status.is_client_error(), "{body}: {status} {problem}");
        assert_eq!(problem["field"], *field, "{body}: {problem}");
        assert_eq!(problem["status"], status.as_u16());
    }
    let (status, problem) = post_order(
        &stack,
        &ann,
        &json!({"items": [line(json!(1))], "user_id": "mallory"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

    assert_all_4xx(
        &stack,
        reqwest::Method::POST,
        "/api/orders",
        Some(&ann),
        &[],
        &hostile_bodies(),
    )
    .await;
    let r = client()
        .post(stack.url("/api/orders"))
        .json(&json!({"items": [line(json!(1))]}))
        .send()
        .await
        .expect("post");
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "ordering needs a user"
    );

    assert!(
        stack.drain("orders").await.is_empty(),
        "no bad request placed an order"
    );
    let (_, list) = get_json(&stack, &ann, "/api/orders").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));

    // The event route: answers about unknown orders are acknowledged;
    // malformed envelopes and payloads are 4xx (the bridge's DLQ), never 5xx.
    assert_eq!(
        deliver(&stack, &reserved("no-such-order", "res-0", &["p"])).await,
        "processed"
    );
    let garbled = envelope(
        "payment.succeeded",
        "payments.events",
        "k",
        json!({"wrong": true}),
    );
    let r = stack.deliver("orders", &garbled).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = stack.deliver("orders", &json!({"id": 1})).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = client()
        .post(stack.url("/internal/orders/events"))
        .json(&reserved("x", "y", &["p"]))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the bridge's route");
}

#[tokio::test]
async fn a_reservation_of_other_lines_is_given_back_never_sold() {
    let stack = Stack::start();
    let pen = product(&stack, "Pen", 2.0).await;
    let ann = stack.token("ann", Role::Customer);
    let placed = id(&place(&stack, &ann, &[&pen]).await);
    stack.drain("orders").await;

    // Seven pens held for a one-pen order: the saga takes no part of it.
    let seven = envelope(
        "inventory.reserved",
        "inventory.events",
        &placed,
        json!({"order_id": placed, "reservation_id": "res-7",
               "lines": [{"product_id": pen, "quantity": 7}],
               "expires_at": "2026-11-22T00:15:00Z"}),
    );
    assert_eq!(deliver(&stack, &seven).await, "processed");
    let events = stack.drain("orders").await;
    assert_eq!(types(&events), ["inventory.release", "order.cancelled"]);
    assert_eq!(payload(&events[0])["reservation_id"], "res-7");
    let cancelled = order(&stack, &ann, &placed).await;
    assert_eq!(
        (&cancelled["status"], &cancelled["reason"]),
        (&json!("CANCELLED"), &json!("reservation_mismatch"))
    );
}
