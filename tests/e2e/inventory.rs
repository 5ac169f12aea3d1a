//! Inventory through its HTTP API and its event routes, on the real host
//! with real SQLite and Redis.

use crate::clock::{advance, MOVABLE};
use platform::auth::Role;
use serde_json::{json, Value};
use spinshop_tests::{client, envelope, Stack};

async fn create_product(stack: &Stack, id: &str, stock: u32) -> Value {
    let event = envelope(
        "catalog.product_created",
        "catalog.events",
        id,
        json!({"product_id": id, "sku": format!("SKU-{id}"), "name": "Pen", "category": "office", "brand": "Acme",
               "price_cents": 199, "stock": stock, "tags": [], "featured": false}),
    );
    let r = stack.deliver("inventory", &event).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    event
}

async fn stock(stack: &Stack, id: &str) -> Value {
    let r = client()
        .get(stack.url(&format!("/api/inventory/{id}")))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

#[tokio::test]
async fn a_product_event_creates_stock_once_however_often_it_is_delivered() {
    let stack = Stack::start();
    let event = create_product(&stack, "pen-1", 7).await;
    let again = stack.deliver("inventory", &event).await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<Value>().await.expect("json")["status"],
        "duplicate"
    );
    let s = stock(&stack, "pen-1").await;
    assert_eq!(
        (
            s["available"].as_i64(),
            s["reserved"].as_i64(),
            s["sold"].as_i64()
        ),
        (Some(7), Some(0), Some(0))
    );

    // A second product_created for the same product (a new event id) does
    // not reset the stock either.
    create_product(&stack, "pen-1", 99).await;
    assert_eq!(stock(&stack, "pen-1").await["available"], 7);

    let missing = client()
        .get(stack.url("/api/inventory/nope"))
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn reservations_take_and_give_back_stock() {
    let stack = Stack::start();
    create_product(&stack, "cup", 5).await;
    let ann = stack.token("ann", Role::Customer);
    let bob = stack.token("bob", Role::Customer);

    let r = client()
        .post(stack.url("/api/inventory/reservations"))
        .json(&json!({"lines": [{"product_id": "cup", "quantity": 2}]}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401, "reserving needs a user");

    let r = client()
        .post(stack.url("/api/inventory/reservations"))
        .bearer_auth(&ann)
        .json(&json!({"lines": [{"product_id": "cup", "quantity": 2}], "ttl_seconds": 60}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 201);
    let reservation: Value = r.json().await.expect("json");
    let id = reservation["reservation_id"]
        .as_str()
        .expect("id")
        .to_string();
    let s = stock(&stack, "cup").await;
    assert_eq!(
        (s["available"].as_i64(), s["reserved"].as_i64()),
        (Some(3), Some(2))
    );

    // Too many, or an unknown product: nothing is reserved, and each line says why.
    let r = client()
        .post(stack.url("/api/inventory/reservations"))
        .bearer_auth(&ann)
        .json(&json!({"lines": [{"product_id": "cup", "quantity": 1}, {"product_id": "cup-xl", "quantity": 1}, {"product_id": "ghost", "quantity": 1}]}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["failures"].as_array().map(Vec::len), Some(2), "{body}");
    assert_eq!(stock(&stack, "cup").await["available"], 3, "all or nothing");

    // Another user can neither see nor cancel it.
    let url = stack.url(&format!("/api/inventory/reservations/{id}"));
    assert_eq!(
        client()
            .get(&url)
            .bearer_auth(&bob)
            .send()
            .await
            .expect("get")
            .status(),
        404
    );
    assert_eq!(
        client()
            .delete(&url)
            .bearer_auth(&bob)
            .send()
            .await
            .expect("delete")
            .status(),
        404
    );
    assert_eq!(
        client()
            .get(&url)
            .bearer_auth(&ann)
            .send()
            .await
            .expect("get")
            .status(),
        200
    );

    assert_eq!(
        client()
            .delete(&url)
            .bearer_auth(&ann)
            .send()
            .await
            .expect("delete")
            .status(),
        204
    );
    let s = stock(&stack, "cup").await;
    assert_eq!(
        (s["available"].as_i64(), s["reserved"].as_i64()),
        (Some(5), Some(0))
    );
    assert_eq!(
        client()
            .delete(&url)
            .bearer_auth(&ann)
            .send()
            .await
            .expect("delete")
            .status(),
        409,
        "already released"
    );
}

#[tokio::test]
async fn fifty_racing_reservations_for_ten_units_sell_exactly_ten() {
    let stack = Stack::start();
    create_product(&stack, "hot-item", 10).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let url = stack.url("/api/inventory/reservations");
        let token = stack.token(&format!("buyer-{i}"), Role::Customer);
        tasks.push(tokio::spawn(async move {
            client()
                .post(url)
                .bearer_auth(token)
                .json(&json!({"lines": [{"product_id": "hot-item", "quantity": 1}]}))
                .send()
                .await
                .expect("post")
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("join"));
    }
    let won = statuses.iter().filter(|s| **s == 201).count();
    let lost = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((won, lost), (10, 40), "{statuses:?}");
    let s = stock(&stack, "hot-item").await;
    assert_eq!(
        (s["available"].as_i64(), s["reserved"].as_i64()),
        (Some(0), Some(10))
    );
}

#[tokio::test]
async fn saga_commands_reserve_commit_and_release_with_events() {
    let stack = Stack::start_with(&[("low_stock_threshold", "2")]);
    create_product(&stack, "lamp", 4).await;
    stack.drain("inventory").await;

    let reserve = |order: &str, qty: u32| {
        envelope(
            "inventory.reserve",
            "inventory.commands",
            order,
            json!({"order_id": order, "lines": [{"product_id": "lamp", "quantity": qty}], "ttl_seconds": 600}),
        )
    };
    assert_eq!(
        stack
            .deliver("inventory", &reserve("order-1", 3))
            .await
            .status(),
        200
    );
    let events = stack.drain("inventory").await;
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(types.contains(&"inventory.reserved"), "{types:?}");
    assert!(
        types.contains(&"inventory.low_stock"),
        "1 left <= 2: {types:?}"
    );
    let reserved = events
        .iter()
        .find(|e| e["type"] == "inventory.reserved")
        .expect("reserved");
    assert_eq!(reserved["key"], "order-1");
    assert_eq!(
        reserved["correlation_id"], "corr-order-1",
        "keeps the saga's correlation id"
    );

    // Not enough left for a second order: a failure naming the line.
    assert_eq!(
        stack
            .deliver("inventory", &reserve("order-2", 3))
            .await
            .status(),
        200
    );
    let events = stack.drain("inventory").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "inventory.reservation_failed");
    let payload: Value =
        serde_json::from_str(events[0]["payload"].as_str().expect("payload")).expect("json");
    assert_eq!(payload["failures"][0]["reason"], "insufficient_stock");
    assert_eq!(payload["failures"][0]["available"], 1);

    let reserved: Value =
        serde_json::from_str(reserved["payload"].as_str().expect("payload")).expect("json");
    let reservation_id = reserved["reservation_id"].as_str().expect("reservation id");

    // A commit must name the order's own reservation: none, or another
    // order's, is refused (dead-lettered) and sells nothing.
    for wrong in ["", "no-such-reservation"] {
        let commit = envelope(
            "inventory.commit",
            "inventory.commands",
            "order-2",
            json!({"order_id": "order-2", "reservation_id": if wrong.is_empty() { "" } else { wrong }}),
        );
        assert_eq!(stack.deliver("inventory", &commit).await.status(), 422);
    }
    let stolen = envelope(
        "inventory.commit",
        "inventory.commands",
        "order-2",
        json!({"order_id": "order-2", "reservation_id": reservation_id}),
    );
    assert_eq!(stack.deliver("inventory", &stolen).await.status(), 422);
    assert_eq!(stock(&stack, "lamp").await["sold"], 0);

    let commit = envelope(
        "inventory.commit",
        "inventory.commands",
        "order-1",
        json!({"order_id": "order-1", "reservation_id": reservation_id}),
    );
    assert_eq!(stack.deliver("inventory", &commit).await.status(), 200);
    let s = stock(&stack, "lamp").await;
    assert_eq!(
        (
            s["available"].as_i64(),
            s["reserved"].as_i64(),
            s["sold"].as_i64()
        ),
        (Some(1), Some(0), Some(3))
    );
    assert_eq!(
        stack.drain("inventory").await[0]["type"],
        "inventory.committed"
    );

    // Releasing a committed order changes nothing.
    let release = envelope(
        "inventory.release",
        "inventory.commands",
        "order-1",
        json!({"order_id": "order-1", "reservation_id": "", "reason": "late"}),
    );
    assert_eq!(stack.deliver("inventory", &release).await.status(), 200);
    assert_eq!(stock(&stack, "lamp").await["sold"], 3);
    assert!(stack.drain("inventory").await.is_empty());
}

#[tokio::test]
async fn expired_reservations_are_released_on_tick() {
    let stack = Stack::start_with(&[MOVABLE]);
    create_product(&stack, "clock", 3).await;
    let ann = stack.token("ann", Role::Customer);
    let r = client()
        .post(stack.url("/api/inventory/reservations"))
        .bearer_auth(&ann)
        .json(&json!({"lines": [{"product_id": "clock", "quantity": 3}], "ttl_seconds": 10}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 201);
    let tick = || async {
        let r = client()
            .post(stack.url("/internal/inventory/tick"))
            .bearer_auth(&stack.internal_token)
            .send()
            .await
            .expect("tick");
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.expect("json")["released"].as_i64()
    };
    assert_eq!(tick().await, Some(0), "not expired yet");
    advance(&stack, std::time::Duration::from_millis(10_500)).await;
    assert_eq!(tick().await, Some(1));
    assert_eq!(stock(&stack, "clock").await["available"], 3);
}

#[tokio::test]
async fn admins_adjust_stock_with_if_match() {
    let stack = Stack::start();
    create_product(&stack, "desk", 1).await;
    let admin = stack.token("root", Role::Admin);
    let ann = stack.token("ann", Role::Customer);
    let url = stack.url("/api/inventory/desk");
    let put = |token: &str, etag: Option<&str>, body: Value| {
        let mut r = client().put(&url).bearer_auth(token).json(&body);
        if let Some(e) = etag {
            r = r.header("if-match", e);
        }
        r.send()
    };
    let etag = client().get(&url).send().await.expect("get").headers()["etag"]
        .to_str()
        .expect("etag")
        .to_string();
    assert_eq!(
        put(&ann, Some(&etag), json!({"available": 9}))
            .await
            .expect("put")
            .status(),
        403
    );
    assert_eq!(
        put(&admin, None, json!({"available": 9}))
            .await
            .expect("put")
            .status(),
        428
    );
    assert_eq!(
        put(&admin, Some("\"999\""), json!({"available": 9}))
            .await
            .expect("put")
            .status(),
        412
    );
    assert_eq!(
        put(&admin, Some(&etag), json!({"delta": -2}))
            .await
            .expect("put")
            .status(),
        422,
        "never below zero"
    );
    let r = put(&admin, Some(&etag), json!({"delta": 20}))
        .await
        .expect("put");
    assert_eq!(r.status(), 200);
    let new_etag = r.headers()["etag"].to_str().expect("etag").to_string();
    assert_ne!(new_etag, etag);
    assert_eq!(r.json::<Value>().await.expect("json")["available"], 21);
    assert_eq!(
        put(&admin, Some(&etag), json!({"available": 1}))
            .await
            .expect("put")
            .status(),
        412,
        "stale ETag"
    );
    let r = client()
        .get(&url)
        .header("if-none-match", &new_etag)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 304);

    // The admin list, with the low-stock filter.
    create_product(&stack, "chair", 2).await;
    let list: Value = client()
        .get(stack.url("/api/inventory?low_stock=true"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["product_id"].as_str())
        .collect();
    assert_eq!(ids, vec!["chair"]);
    assert_eq!(
        client()
            .get(stack.url("/api/inventory"))
            .bearer_auth(&ann)
            .send()
            .await
            .expect("list")
            .status(),
        403
    );
}

#[tokio::test]
async fn internal_routes_need_the_bridge_credential() {
    let stack = Stack::start();
    for (method, path) in [
        ("GET", "/internal/inventory/outbox"),
        ("POST", "/internal/inventory/events"),
        ("POST", "/internal/inventory/tick"),
    ] {
        let url = stack.url(path);
        let req = if method == "GET" {
            client().get(&url)
        } else {
            client().post(&url)
        };
        assert_eq!(
            req.try_clone()
                .expect("clone")
                .send()
                .await
                .expect("send")
                .status(),
            401,
            "{path}"
        );
        assert_eq!(
            req.bearer_auth("wrong")
                .send()
                .await
                .expect("send")
                .status(),
            401,
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_burst_of_anonymous_reads_is_rate_limited() {
    let stack = Stack::start();
    create_product(&stack, "popular", 1).await;
    let first = client()
        .get(stack.url("/api/inventory/popular"))
        .send()
        .await
        .expect("get");
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-ratelimit-limit"], "100");
    assert!(first.headers().contains_key("x-ratelimit-remaining"));
    let mut tasks = Vec::new();
    for _ in 0..150 {
        let url = stack.url("/api/inventory/popular");
        tasks.push(tokio::spawn(async move {
            client().get(url).send().await.expect("get")
        }));
    }
    let (mut ok, mut limited) = (0, 0);
    for t in tasks {
        let r = t.await.expect("join");
        match r.status().as_u16() {
            200 => ok += 1,
            429 => {
                limited += 1;
                assert!(r.headers().contains_key("retry-after"));
                assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
                assert_eq!(r.headers()["content-type"], "application/problem+json");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(limited > 0, "some of the burst is refused ({ok} ok)");
    assert!(
        ok >= 50,
        "the bucket's capacity is served ({ok} ok, {limited} limited)"
    );
}
