//! Notifications through their event route and HTTP API, on the real host
//! with real SQLite and Redis, and delivery to a provider over HTTP.

use platform::auth::Role;
use serde_json::{json, Value};
use spinshop_testkit::EchoServer;
use spinshop_tests::{assert_all_4xx, client, envelope, hostile_bodies, Stack};

/// Delivers an event to notifications, asserting a 2xx; returns the envelope.
async fn deliver(stack: &Stack, event_type: &str, topic: &str, key: &str, payload: Value) -> Value {
    let e = envelope(event_type, topic, key, payload);
    let r = stack.deliver("notifications", &e).await;
    assert_eq!(
        r.status(),
        200,
        "{event_type}: {}",
        r.text().await.unwrap_or_default()
    );
    e
}

async fn registered(stack: &Stack, user_id: &str, email: &str, name: &str) -> Value {
    deliver(
        stack,
        "user.registered",
        "users.events",
        user_id,
        json!({"user_id": user_id, "email": email, "name": name}),
    )
    .await
}

async fn order_created(stack: &Stack, order_id: &str, user_id: &str, total_cents: i64) {
    deliver(
        stack,
        "order.created",
        "orders.events",
        order_id,
        json!({"order_id": order_id, "user_id": user_id, "lines": [{"product_id": "p1", "quantity": 1}],
               "total_cents": total_cents, "currency": "EUR"}),
    )
    .await;
}

async fn order_confirmed(stack: &Stack, order_id: &str, user_id: &str, total_cents: i64) -> Value {
    deliver(
        stack,
        "order.confirmed",
        "orders.events",
        order_id,
        json!({"order_id": order_id, "user_id": user_id, "total_cents": total_cents, "payment_id": "pay-1"}),
    )
    .await
}

/// A user's history (as `token`), newest first.
async fn history(stack: &Stack, token: &str, query: &str) -> Vec<Value> {
    let page = stack
        .get_json(&format!("/api/notifications/history?{query}"), Some(token))
        .await;
    page["items"].as_array().expect("items").clone()
}

fn of_template<'a>(items: &'a [Value], template: &str) -> Vec<&'a Value> {
    items.iter().filter(|n| n["template"] == template).collect()
}

/// The notifications an event caused.
fn of_event<'a>(items: &'a [Value], event: &Value) -> Vec<&'a Value> {
    items
        .iter()
        .filter(|n| n["event_id"] == event["id"])
        .collect()
}

fn by_channel<'a>(items: &[&'a Value], channel: &str) -> &'a Value {
    items
        .iter()
        .find(|n| n["channel"] == channel)
        .unwrap_or_else(|| panic!("no {channel} notification in {items:?}"))
}

async fn put_preferences(stack: &Stack, token: &str, body: Value) -> reqwest::Response {
    client()
        .put(stack.url("/api/notifications/preferences"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("put preferences")
}

async fn send(stack: &Stack, token: &str, body: &Value, key: Option<&str>) -> reqwest::Response {
    let mut req = client()
        .post(stack.url("/api/notifications/send"))
        .bearer_auth(token)
        .json(body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    req.send().await.expect("send")
}

#[tokio::test]
async fn a_welcome_is_in_the_new_users_history_and_nobody_elses() {
    let stack = Stack::start();
    let ann = stack.token("ann-1", Role::Customer);
    let bob = stack.token("bob-1", Role::Customer);
    let admin = stack.token("admin-1", Role::Admin);
    let event = registered(&stack, "ann-1", "Ann@Example.com", "Ann").await;

    let items = history(&stack, &ann, "").await;
    assert_eq!(items.len(), 1, "{items:?}");
    let welcome = &items[0];
    assert_eq!(welcome["template"], "welcome");
    assert_eq!(welcome["channel"], "email");
    assert_eq!(welcome["user_id"], "ann-1");
    assert_eq!(welcome["status"], "recorded", "no provider is configured");
    assert_eq!(welcome["priority"], "normal");
    assert_eq!(welcome["attempts"], 0);
    assert_eq!(welcome["subject"], "Welcome to spinshop, Ann");
    assert!(welcome["body"]
        .as_str()
        .expect("body")
        .starts_with("Hi Ann,"));
    assert_eq!(welcome["event_id"], event["id"]);
    assert_eq!(welcome["event_type"], "user.registered");
    assert!(welcome["created_at"]
        .as_str()
        .expect("created_at")
        .starts_with("20"));

    // Delivered again: nothing new.
    let again = stack.deliver("notifications", &event).await;
    assert_eq!(
        again.json::<Value>().await.expect("json")["status"],
        "duplicate"
    );
    assert_eq!(history(&stack, &ann, "").await.len(), 1);

    // Bob sees none of it, and may not ask for Ann's; an admin may.
    assert!(history(&stack, &bob, "").await.is_empty());
    let r = client()
        .get(stack.url("/api/notifications/history?user_id=ann-1"))
        .bearer_auth(&bob)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 403);
    assert_eq!(history(&stack, &admin, "user_id=ann-1").await.len(), 1);
    assert_eq!(history(&stack, &ann, "user_id=ann-1").await.len(), 1);
    let anonymous = client()
        .get(stack.url("/api/notifications/history"))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn order_and_payment_events_tell_the_orders_owner() {
    let stack = Stack::start();
    let cat = stack.token("cat-1", Role::Customer);
    registered(&stack, "cat-1", "cat@example.com", "Cat").await;
    order_created(&stack, "ord-1", "cat-1", 2500).await;
    assert_eq!(
        history(&stack, &cat, "").await.len(),
        1,
        "order.created sends nothing"
    );

    let confirmed = order_confirmed(&stack, "ord-1", "cat-1", 2500).await;
    let items = history(&stack, &cat, "").await;
    let confirmations = of_template(&items, "order_confirmed");
    assert_eq!(confirmations.len(), 2, "email and push: {items:?}");
    let email = by_channel(&confirmations, "email");
    let body = email["body"].as_str().expect("body");
    assert!(
        body.contains("ord-1") && body.contains("Total: 25.00 EUR"),
        "{body}"
    );
    assert_eq!(email["subject"], "Your order ord-1 is confirmed");
    assert_eq!(email["event_id"], confirmed["id"]);
    assert_eq!(
        by_channel(&confirmations, "push")["body"],
        "Order ord-1 is confirmed: 25.00 EUR."
    );
    assert_eq!(items[0]["template"], "order_confirmed", "newest first");

    deliver(
        &stack,
        "payment.failed",
        "payments.events",
        "ord-1",
        json!({"order_id": "ord-1", "reason": "card_declined"}),
    )
    .await;
    deliver(
        &stack,
        "order.cancelled",
        "orders.events",
        "ord-1",
        json!({"order_id": "ord-1", "user_id": "cat-1", "reason": "payment_failed"}),
    )
    .await;
    deliver(
        &stack,
        "payment.refunded",
        "payments.events",
        "ord-1",
        json!({"payment_id": "pay-1", "order_id": "ord-1", "amount_cents": 2500}),
    )
    .await;
    let items = history(&stack, &cat, "").await;
    let failed = of_template(&items, "payment_failed");
    assert_eq!(failed.len(), 2, "found through the remembered order");
    assert_eq!(failed[0]["priority"], "high");
    assert!(by_channel(&failed, "email")["body"]
        .as_str()
        .expect("body")
        .contains("card_declined"));
    let cancelled = of_template(&items, "order_cancelled");
    assert!(by_channel(&cancelled, "push")["body"]
        .as_str()
        .expect("body")
        .contains("payment_failed"));
    let refunded = of_template(&items, "payment_refunded");
    assert!(by_channel(&refunded, "email")["body"]
        .as_str()
        .expect("body")
        .contains("25.00 EUR"));

    // A payment for an order never seen has nobody to tell: 2xx, nothing recorded.
    let before = history(&stack, &cat, "limit=100").await.len();
    deliver(
        &stack,
        "payment.failed",
        "payments.events",
        "ord-x",
        json!({"order_id": "ord-x", "reason": "declined"}),
    )
    .await;
    // Events of other types are acknowledged and ignored.
    deliver(
        &stack,
        "catalog.product_created",
        "catalog.events",
        "p1",
        json!({"product_id": "p1"}),
    )
    .await;
    assert_eq!(history(&stack, &cat, "limit=100").await.len(), before);
}

#[tokio::test]
async fn preferences_skip_turned_off_channels_and_quiet_hours_hold_push() {
    let stack = Stack::start();
    let dee = stack.token("dee-1", Role::Customer);
    let eve = stack.token("eve-1", Role::Customer);
    let defaults = stack
        .get_json("/api/notifications/preferences", Some(&dee))
        .await;
    assert_eq!(
        defaults,
        json!({"email": true, "sms": false, "push": true, "quiet_hours": null})
    );

    let r = put_preferences(&stack, &dee, json!({"email": false})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["email"], false);
    let now = stack
        .get_json("/api/notifications/preferences", Some(&dee))
        .await;
    assert_eq!(
        now,
        json!({"email": false, "sms": false, "push": true, "quiet_hours": null})
    );
    assert_eq!(
        stack
            .get_json("/api/notifications/preferences", Some(&eve))
            .await["email"],
        true,
        "each user has their own"
    );

    order_created(&stack, "ord-2", "dee-1", 999).await;
    order_confirmed(&stack, "ord-2", "dee-1", 999).await;
    let items = history(&stack, &dee, "").await;
    let email = by_channel(&of_template(&items, "order_confirmed"), "email").clone();
    assert_eq!(email["status"], "skipped");
    assert_eq!(email["reason"], "preference");
    assert_eq!(
        by_channel(&of_template(&items, "order_confirmed"), "push")["status"],
        "recorded"
    );

    // SMS is opt-in; quiet hours around now hold push back unless urgent.
    let minute = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        / 60)
        % 1440;
    let hm = |m: u64| format!("{:02}:{:02}", (m % 1440) / 60, m % 60);
    let quiet = json!({"start": hm(minute + 1440 - 60), "end": hm(minute + 60)});
    let r = put_preferences(&stack, &dee, json!({"sms": true, "quiet_hours": quiet})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.expect("json"),
        json!({"email": false, "sms": true, "push": true, "quiet_hours": quiet})
    );
    let again = order_confirmed(&stack, "ord-2", "dee-1", 999).await;
    let items = history(&stack, &dee, "limit=100").await;
    let quiet_ones = of_event(&items, &again);
    assert_eq!(quiet_ones.len(), 3, "email, push and sms: {items:?}");
    let held = by_channel(&quiet_ones, "push");
    assert_eq!(held["status"], "pending", "{items:?}");
    assert_eq!(held["reason"], "quiet_hours");
    assert!(held["next_attempt_at"].is_string());
    assert_eq!(by_channel(&quiet_ones, "sms")["status"], "pending");
    assert_eq!(by_channel(&quiet_ones, "email")["status"], "skipped");
    let cancelled = deliver(
        &stack,
        "order.cancelled",
        "orders.events",
        "ord-2",
        json!({"order_id": "ord-2", "user_id": "dee-1", "reason": "out_of_stock"}),
    )
    .await;
    let items = history(&stack, &dee, "limit=100").await;
    let urgent = of_event(&items, &cancelled);
    assert_eq!(urgent.len(), 3, "email, push and sms: {items:?}");
    assert_eq!(
        by_channel(&urgent, "push")["status"],
        "recorded",
        "high priority is not held"
    );
    assert_eq!(by_channel(&urgent, "sms")["status"], "recorded");

    let r = put_preferences(&stack, &dee, json!({"quiet_hours": null})).await;
    assert_eq!(
        r.json::<Value>().await.expect("json")["quiet_hours"],
        Value::Null
    );

    // Bad preferences are 4xx naming the field, and change nothing.
    for (body, field) in [
        (json!({"email": "yes"}), "email"),
        (
            json!({"quiet_hours": {"start": "25:00", "end": "07:00"}}),
            "quiet_hours.start",
        ),
        (
            json!({"quiet_hours": {"start": "22:00", "end": "22:00"}}),
            "quiet_hours.end",
        ),
        (json!({"quiet_hours": {"start": "22:00"}}), "quiet_hours"),
    ] {
        let r = put_preferences(&stack, &dee, body.clone()).await;
        let status = r.status().as_u16();
        assert!(status == 400 || status == 422, "{body}: {status}");
        let problem: Value = r.json().await.expect("problem");
        assert!(
            problem["field"]
                .as_str()
                .is_some_and(|f| f.starts_with(field)),
            "{body}: {problem}"
        );
    }
    assert_all_4xx(
        &stack,
        reqwest::Method::PUT,
        "/api/notifications/preferences",
        Some(&dee),
        &[],
        &hostile_bodies(),
    )
    .await;
    assert_eq!(
        stack
            .get_json("/api/notifications/preferences", Some(&dee))
            .await,
        json!({"email": false, "sms": true, "push": true, "quiet_hours": null})
    );
    let anonymous = client()
        .get(stack.url("/api/notifications/preferences"))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn low_stock_goes_to_the_admins() {
    let stack = Stack::start();
    let admin = stack.token("admin-1", Role::Admin);
    let customer = stack.token("fay-1", Role::Customer);
    let low = |n: u32| json!({"product_id": "kettle", "available": n, "threshold": 5});

    // No admin known yet: recorded for the audience `admins`.
    deliver(
        &stack,
        "inventory.low_stock",
        "inventory.events",
        "kettle",
        low(3),
    )
    .await;
    let items = history(&stack, &admin, "user_id=admins").await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["template"], "low_stock");
    assert_eq!(items[0]["priority"], "high");
    assert!(items[0]["body"]
        .as_str()
        .expect("body")
        .contains("kettle is low on stock: 3 available"));
    let r = client()
        .get(stack.url("/api/notifications/history?user_id=admins"))
        .bearer_auth(&customer)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 403);

    // Once the admin (the admin_email address) is known, it goes to them.
    registered(&stack, "admin-1", "admin@spinshop.local", "Ada").await;
    registered(&stack, "fay-1", "fay@example.com", "Fay").await;
    deliver(
        &stack,
        "inventory.low_stock",
        "inventory.events",
        "kettle",
        low(1),
    )
    .await;
    let mine = history(&stack, &admin, "").await;
    let alerts = of_template(&mine, "low_stock");
    assert_eq!(alerts.len(), 1, "{mine:?}");
    assert!(alerts[0]["body"]
        .as_str()
        .expect("body")
        .contains("1 available"));
    assert_eq!(history(&stack, &admin, "user_id=admins").await.len(), 1);
    assert!(of_template(&history(&stack, &customer, "").await, "low_stock").is_empty());
}

#[tokio::test]
async fn admins_send_with_a_priority_and_bad_sends_are_4xx() {
    let stack = Stack::start();
    let admin = stack.token("admin-1", Role::Admin);
    let gus = stack.token("gus-1", Role::Customer);
    registered(&stack, "gus-1", "gus@example.com", "Gus").await;

    let body = json!({"user_id": "gus-1", "channel": "push", "template": "order_confirmed",
                      "priority": "high", "data": {"order_id": "o-9", "total_cents": 1234}});
    let r = send(&stack, &gus, &body, None).await;
    assert_eq!(r.status(), 403);
    let r = client()
        .post(stack.url("/api/notifications/send"))
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);

    let r = send(&stack, &admin, &body, Some("send-1")).await;
    assert_eq!(r.status(), 202);
    let accepted: Value = r.json().await.expect("json");
    let sent = accepted["notifications"].as_array().expect("notifications");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["priority"], "high");
    assert_eq!(sent[0]["channel"], "push");
    assert_eq!(sent[0]["status"], "recorded");
    assert_eq!(sent[0]["body"], "Order o-9 is confirmed: 12.34.");
    // A retry with the same key replays the answer and sends nothing more.
    let replay = send(&stack, &admin, &body, Some("send-1")).await;
    assert_eq!(replay.status(), 202);
    assert_eq!(replay.json::<Value>().await.expect("json"), accepted);
    let other = json!({"user_id": "gus-1", "channel": "sms", "body": "Hi"});
    assert_eq!(
        send(&stack, &admin, &other, Some("send-1")).await.status(),
        422
    );

    // Free text, default channels (email and push), low priority.
    let r = send(
        &stack,
        &admin,
        &json!({"user_id": "gus-1", "subject": "Hello", "body": "Hello Gus,\nwelcome back.", "priority": "low"}),
        None,
    )
    .await;
    assert_eq!(r.status(), 202);
    let custom: Value = r.json().await.expect("json");
    assert_eq!(custom["notifications"].as_array().map(Vec::len), Some(2));

    let items = history(&stack, &gus, "").await;
    assert_eq!(
        items.len(),
        4,
        "welcome, one push, two free-text: {items:?}"
    );
    let pushed = of_template(&items, "order_confirmed");
    assert_eq!((pushed.len(), &pushed[0]["priority"]), (1, &json!("high")));
    let texts = of_template(&items, "custom");
    assert_eq!(by_channel(&texts, "email")["subject"], "Hello");
    assert_eq!(
        by_channel(&texts, "push")["body"],
        "Hello Gus,\nwelcome back."
    );
    assert!(texts.iter().all(|n| n["priority"] == "low"));

    for (bad, field) in [
        (json!({"user_id": "gus-1", "template": "nope"}), "template"),
        (
            json!({"user_id": "gus-1", "template": "order_confirmed", "data": {"order_id": "o"}}),
            "data",
        ),
        (
            json!({"user_id": "gus-1", "channel": "fax", "template": "welcome"}),
            "channel",
        ),
        (
            json!({"user_id": "gus-1", "template": "welcome", "priority": "asap"}),
            "priority",
        ),
        (
            json!({"user_id": "gus 1", "template": "welcome"}),
            "user_id",
        ),
        (
            json!({"user_id": "gus-1", "channel": "email", "body": "no subject"}),
            "subject",
        ),
        (json!({"user_id": "gus-1", "channel": "email"}), "body"),
        (
            json!({"user_id": "gus-1", "template": "welcome", "data": "x"}),
            "data",
        ),
        (
            json!({"channel": "email", "template": "welcome"}),
            "user_id",
        ),
    ] {
        let r = send(&stack, &admin, &bad, None).await;
        let status = r.status().as_u16();
        assert!(status == 400 || status == 422, "{bad}: {status}");
        let problem: Value = r.json().await.expect("problem");
        assert!(
            problem["field"].as_str().is_some_and(|f| f.contains(field))
                || problem["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains(field)),
            "{bad}: {problem}"
        );
    }
    assert_all_4xx(
        &stack,
        reqwest::Method::POST,
        "/api/notifications/send",
        Some(&admin),
        &[],
        &hostile_bodies(),
    )
    .await;
    assert_eq!(
        history(&stack, &gus, "").await.len(),
        4,
        "nothing bad was recorded"
    );

    // History pages are newest first and complete.
    let first = stack
        .get_json("/api/notifications/history?limit=3", Some(&gus))
        .await;
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = stack
        .get_json(
            &format!("/api/notifications/history?limit=3&cursor={cursor}"),
            Some(&gus),
        )
        .await;
    let mut ids: Vec<Value> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    ids.extend(
        second["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|n| n["id"].clone()),
    );
    let all: Vec<Value> = items.iter().map(|n| n["id"].clone()).collect();
    assert_eq!(ids, all);
    assert_eq!(second["next_cursor"], Value::Null);
    for q in ["limit=0", "limit=101", "cursor=%%%", "user_id=a%20b"] {
        let r = client()
            .get(stack.url(&format!("/api/notifications/history?{q}")))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 422, "{q}");
    }
}

#[tokio::test]
async fn notification_commands_are_recorded_once_and_bad_ones_refused() {
    let stack = Stack::start();
    let hal = stack.token("hal-1", Role::Customer);
    registered(&stack, "hal-1", "hal@example.com", "Hal").await;
    let command = |template: &str, channel: &str, data: Value| {
        envelope(
            "notification.requested",
            "notifications.commands",
            "hal-1",
            json!({"user_id": "hal-1", "channel": channel, "template": template,
                   "priority": "low", "data": data.to_string()}),
        )
    };
    let ok = command(
        "order_cancelled",
        "sms",
        json!({"order_id": "o-5", "reason": "changed my mind"}),
    );
    for _ in 0..2 {
        assert_eq!(stack.deliver("notifications", &ok).await.status(), 200);
    }
    let items = history(&stack, &hal, "").await;
    let sms = of_template(&items, "order_cancelled");
    assert_eq!(sms.len(), 1, "once: {items:?}");
    assert_eq!(sms[0]["channel"], "sms");
    assert_eq!(sms[0]["priority"], "low");
    assert_eq!(sms[0]["status"], "skipped", "SMS is opt-in");
    assert_eq!(
        sms[0]["body"],
        "spinshop: order o-5 was cancelled (changed my mind)."
    );

    // An unknown template: recorded as failed with the reason, answered 2xx.
    let unknown = command("birthday", "email", json!({}));
    assert_eq!(stack.deliver("notifications", &unknown).await.status(), 200);
    let items = history(&stack, &hal, "").await;
    assert_eq!(items[0]["template"], "birthday");
    assert_eq!(items[0]["status"], "failed");
    assert!(items[0]["reason"]
        .as_str()
        .expect("reason")
        .contains("unknown template"));

    // No valid channel, recipient or data: 422, and the bridge dead-letters it.
    for bad in [
        command("welcome", "fax", json!({})),
        envelope(
            "notification.requested",
            "notifications.commands",
            "x",
            json!({"user_id": "", "channel": "email", "template": "welcome", "priority": "", "data": "{}"}),
        ),
        envelope(
            "notification.requested",
            "notifications.commands",
            "x",
            json!({"user_id": "hal-1", "channel": "email", "template": "welcome", "priority": "", "data": "[1]"}),
        ),
        envelope(
            "notification.requested",
            "notifications.commands",
            "x",
            json!({"user_id": "hal-1"}),
        ),
    ] {
        let r = stack.deliver("notifications", &bad).await;
        assert_eq!(r.status(), 422, "{bad}");
    }
    assert_eq!(history(&stack, &hal, "").await.len(), 3);

    // The bridge's routes need its token; hostile bodies are 4xx.
    let r = client()
        .post(stack.url("/internal/notifications/events"))
        .json(&ok)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);
    let r = client()
        .post(stack.url("/internal/notifications/tick"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);
    let auth = format!("Bearer {}", stack.internal_token);
    assert_all_4xx(
        &stack,
        reqwest::Method::POST,
        "/internal/notifications/events",
        None,
        &[("authorization", &auth)],
        &hostile_bodies(),
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_provider_fails_and_waits_for_its_retry() {
    // Nothing listens on port 1 (and it is not an allowed host either).
    let stack = Stack::start_with(&[("notify_email_url", "http://127.0.0.1:1/email")]);
    let ivy = stack.token("ivy-1", Role::Customer);
    registered(&stack, "ivy-1", "ivy@example.com", "Ivy").await;
    let items = history(&stack, &ivy, "").await;
    assert_eq!(items[0]["status"], "failed", "{items:?}");
    assert_eq!(items[0]["attempts"], 1);
    assert!(items[0]["reason"]
        .as_str()
        .expect("reason")
        .contains("unreachable"));
    assert!(
        items[0]["next_attempt_at"].is_string(),
        "a retry is scheduled"
    );

    // The retry is not due yet: a tick leaves it alone.
    let tick: Value = client()
        .post(stack.url("/internal/notifications/tick"))
        .bearer_auth(&stack.internal_token)
        .send()
        .await
        .expect("tick")
        .json()
        .await
        .expect("json");
    assert_eq!(tick["attempted"], 0, "{tick}");
    assert_eq!(history(&stack, &ivy, "").await[0]["attempts"], 1);
}

/// The application with notifications allowed to reach a loopback
/// provider for email (the production default allows only `https://*:443`).
struct ProviderStack {
    stack: Stack,
}

impl ProviderStack {
    fn start(provider: &EchoServer) -> Self {
        let allowed = format!("http://{}", provider.addr);
        let email = format!("http://{}/email", provider.addr);
        Self {
            stack: Stack::start_with(&[
                ("notify_allowed_hosts", &allowed),
                ("notify_email_url", &email),
            ]),
        }
    }

    fn token(&self, user_id: &str) -> String {
        self.stack.token(user_id, Role::Customer)
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        client()
            .post(self.stack.url(path))
            .bearer_auth(&self.stack.internal_token)
            .json(body)
            .send()
            .await
            .expect("post")
    }

    async fn history(&self, token: &str) -> Vec<Value> {
        let r = client()
            .get(self.stack.url("/api/notifications/history"))
            .bearer_auth(token)
            .send()
            .await
            .expect("history");
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.expect("json")["items"]
            .as_array()
            .expect("items")
            .clone()
    }
}

#[tokio::test]
async fn a_configured_provider_receives_each_notification_once() {
    let provider = EchoServer::start();
    let stack = ProviderStack::start(&provider);
    let jo = stack.token("jo-1");
    let hits = || provider.hits.load(std::sync::atomic::Ordering::Relaxed);

    let welcome = envelope(
        "user.registered",
        "users.events",
        "jo-1",
        json!({"user_id": "jo-1", "email": "jo@example.com", "name": "Jo"}),
    );
    let r = stack.post("/internal/notifications/events", &welcome).await;
    assert_eq!(r.status(), 200);
    let items = stack.history(&jo).await;
    assert_eq!(items[0]["status"], "sent", "{items:?}");
    assert_eq!(items[0]["attempts"], 1);
    assert_eq!(items[0]["next_attempt_at"], Value::Null);
    assert_eq!(hits(), 1);

    // A redelivered event sends nothing more; channels without a provider
    // (push) are recorded only.
    stack.post("/internal/notifications/events", &welcome).await;
    let confirmed = envelope(
        "order.confirmed",
        "orders.events",
        "o-1",
        json!({"order_id": "o-1", "user_id": "jo-1", "total_cents": 100, "payment_id": "p"}),
    );
    assert_eq!(
        stack
            .post("/internal/notifications/events", &confirmed)
            .await
            .status(),
        200
    );
    let items = stack.history(&jo).await;
    let confirmations = of_template(&items, "order_confirmed");
    assert_eq!(by_channel(&confirmations, "email")["status"], "sent");
    assert_eq!(by_channel(&confirmations, "push")["status"], "recorded");
    assert_eq!(hits(), 2);

    // Nothing is due, so a tick sends nothing again.
    let tick: Value = stack
        .post("/internal/notifications/tick", &json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(tick["attempted"], 0, "{tick}");
    assert_eq!(hits(), 2);
}
