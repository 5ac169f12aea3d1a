//! The audit event store through its event route and its admin API, on
//! the real host with real SQLite and Redis.

use std::collections::HashSet;

use platform::auth::Role;
use serde_json::{json, Value};
use spinshop_tests::{assert_all_4xx, client, envelope, hostile_bodies, Stack};

/// An envelope with its time and correlation set.
fn event(
    event_type: &str,
    topic: &str,
    key: &str,
    occurred_at: &str,
    correlation: &str,
    payload: Value,
) -> Value {
    let mut e = envelope(event_type, topic, key, payload);
    e["occurred_at"] = json!(occurred_at);
    e["correlation_id"] = json!(correlation);
    e
}

async fn record(stack: &Stack, e: &Value) -> Value {
    let r = stack.deliver("audit", e).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    r.json().await.expect("json")
}

async fn query(stack: &Stack, token: &str, q: &str) -> Value {
    stack
        .get_json(&format!("/api/audit/events?{q}"), Some(token))
        .await
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn an_event_is_appended_once_however_often_it_is_delivered() {
    let stack = Stack::start();
    let admin = stack.token("admin-1", Role::Admin);
    let mut created = envelope(
        "order.created",
        "orders.events",
        "order-1",
        json!({"order_id": "order-1", "user_id": "ann", "lines": [], "total_cents": 2500, "currency": "EUR"}),
    );
    created["causation_id"] = json!("req-7");
    assert_eq!(record(&stack, &created).await["status"], "processed");
    assert_eq!(record(&stack, &created).await["status"], "duplicate");

    let page = query(&stack, &admin, "aggregate_id=order-1").await;
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{page}");
    let e = &items[0];
    assert_eq!(e["id"], created["id"]);
    assert_eq!(e["type"], "order.created");
    assert_eq!(e["topic"], "orders.events");
    assert_eq!(e["aggregate_type"], "order");
    assert_eq!(e["aggregate_id"], "order-1");
    assert_eq!(e["occurred_at"], "2026-11-22T00:00:00Z");
    assert_eq!(e["correlation_id"], "corr-order-1");
    assert_eq!(e["causation_id"], "req-7");
    assert_eq!(e["traceparent"], created["traceparent"]);
    assert_eq!(
        e["payload"]["total_cents"], 2500,
        "the payload as a document"
    );
    assert!(e["seq"].as_i64().is_some_and(|s| s > 0));
    assert!(e["recorded_at"]
        .as_str()
        .is_some_and(|t| t.starts_with("20")));
    assert_eq!(page["next_cursor"], Value::Null);

    // Events of types nobody acts on are recorded all the same.
    let other = envelope(
        "shipment.sent",
        "misc.events",
        "s-1",
        json!({"any": "thing"}),
    );
    record(&stack, &other).await;
    let page = query(&stack, &admin, "aggregate_type=other").await;
    assert_eq!(ids(&page), vec![other["id"].as_str().expect("id")]);
}

#[tokio::test]
async fn filters_select_by_aggregate_type_correlation_and_time() {
    let stack = Stack::start();
    let admin = stack.token("admin-1", Role::Admin);
    let events = [
        event(
            "order.created",
            "orders.events",
            "o1",
            "2026-11-22T10:00:00Z",
            "c1",
            json!({"order_id": "o1"}),
        ),
        event(
            "inventory.reserve",
            "inventory.commands",
            "o1",
            "2026-11-22T10:00:01Z",
            "c1",
            json!({"order_id": "o1", "lines": [], "ttl_seconds": 60}),
        ),
        event(
            "payment.failed",
            "payments.events",
            "o1",
            "2026-11-22T10:00:02.500+00:00",
            "c1",
            json!({"order_id": "o1", "reason": "declined"}),
        ),
        event(
            "catalog.product_created",
            "catalog.events",
            "p1",
            "2026-11-22T11:00:00Z",
            "c2",
            json!({"product_id": "p1"}),
        ),
        event(
            "user.registered",
            "users.events",
            "u1",
            "2026-11-22T12:30:00+01:00",
            "c3",
            json!({"user_id": "u1", "email": "u1@example.com", "name": "U"}),
        ),
        event(
            "order.created",
            "orders.events",
            "o2",
            "2026-11-23T09:00:00Z",
            "c4",
            json!({"order_id": "o2"}),
        ),
    ];
    for e in &events {
        record(&stack, e).await;
    }
    let id = |i: usize| events[i]["id"].as_str().expect("id").to_string();

    // One aggregate's history, in the order it happened.
    assert_eq!(
        ids(&query(&stack, &admin, "aggregate_id=o1").await),
        vec![id(0), id(1), id(2)]
    );
    let page = query(&stack, &admin, "aggregate_type=product").await;
    assert_eq!(ids(&page), vec![id(3)]);
    assert_eq!(page["items"][0]["type"], "catalog.product_created");
    assert_eq!(
        ids(&query(&stack, &admin, "type=order.created").await),
        vec![id(0), id(5)]
    );
    assert_eq!(
        ids(&query(&stack, &admin, "correlation_id=c1&type=payment.failed").await),
        vec![id(2)]
    );
    assert_eq!(
        ids(&query(&stack, &admin, "aggregate_type=order&aggregate_id=o2").await),
        vec![id(5)]
    );
    // from is inclusive, to exclusive; offsets are honoured (12:30+01:00 is 11:30Z).
    assert_eq!(
        ids(&query(
            &stack,
            &admin,
            "from=2026-11-22T10:00:01Z&to=2026-11-22T11:30:00Z"
        )
        .await),
        vec![id(1), id(2), id(3)]
    );
    assert_eq!(
        ids(&query(&stack, &admin, "from=2026-11-22T11:30:00%2B00:00").await),
        vec![id(4), id(5)]
    );
    assert_eq!(
        ids(&query(&stack, &admin, "to=2026-11-22T10:00:01Z").await),
        vec![id(0)]
    );
    assert!(ids(&query(&stack, &admin, "correlation_id=nobody").await).is_empty());
}

#[tokio::test]
async fn pages_cover_the_log_without_gaps_or_duplicates() {
    let stack = Stack::start();
    let admin = stack.token("admin-1", Role::Admin);
    let mut sent = Vec::new();
    for i in 0..23 {
        let e = envelope(
            "catalog.product_updated",
            "catalog.events",
            &format!("p{}", i % 4),
            json!({"product_id": format!("p{}", i % 4), "n": i}),
        );
        record(&stack, &e).await;
        sent.push(e["id"].as_str().expect("id").to_string());
    }
    let mut seen = Vec::new();
    let mut seqs = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("limit=5&cursor={c}"),
            None => "limit=5".to_string(),
        };
        let page = query(&stack, &admin, &q).await;
        pages += 1;
        for e in page["items"].as_array().expect("items") {
            seqs.push(e["seq"].as_i64().expect("seq"));
        }
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 5);
    assert_eq!(seen, sent, "every event once, in the order recorded");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 23);

    // Filtered pages too.
    let first = query(&stack, &admin, "aggregate_id=p1&limit=2").await;
    let cursor = first["next_cursor"].as_str().expect("more");
    let second = query(
        &stack,
        &admin,
        &format!("aggregate_id=p1&limit=2&cursor={cursor}"),
    )
    .await;
    let third = second["next_cursor"].as_str().expect("more");
    let third = query(
        &stack,
        &admin,
        &format!("aggregate_id=p1&limit=2&cursor={third}"),
    )
    .await;
    let mut p1 = ids(&first);
    p1.extend(ids(&second));
    p1.extend(ids(&third));
    let expected: Vec<String> = (0..23)
        .filter(|i| i % 4 == 1)
        .map(|i| sent[i].clone())
        .collect();
    assert_eq!(p1, expected);
    assert_eq!(third["next_cursor"], Value::Null);
}

#[tokio::test]
async fn only_admins_read_the_log_and_bad_queries_are_4xx() {
    let stack = Stack::start();
    let admin = stack.token("admin-1", Role::Admin);
    let customer = stack.token("ann", Role::Customer);
    record(
        &stack,
        &envelope(
            "user.registered",
            "users.events",
            "ann",
            json!({"user_id": "ann"}),
        ),
    )
    .await;

    let url = stack.url("/api/audit/events");
    let anonymous = client().get(&url).send().await.expect("get");
    assert_eq!(anonymous.status(), 401);
    let r = client()
        .get(&url)
        .bearer_auth(&customer)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = client()
        .post(&url)
        .bearer_auth(&admin)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 405);

    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=many", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("from=yesterday", "from"),
        ("to=2026-02-30T00:00:00Z", "to"),
        ("from=2026-11-22T10:00:00Z&to=2026-11-22T09:00:00Z", "to"),
        ("aggregate_type=spaceship", "aggregate_type"),
        ("type=", "type"),
        ("aggregateid=ann", "aggregateid"),
        ("type=a&type=b", "type"),
    ] {
        let r = client()
            .get(format!("{url}?{q}"))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("get");
        let status = r.status().as_u16();
        assert!(status == 400 || status == 422, "{q}: {status}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let problem: Value = r.json().await.expect("problem");
        assert_eq!(problem["field"], field, "{q}: {problem}");
    }
    // A well-formed query still works after all that.
    assert_eq!(
        query(&stack, &admin, "limit=500").await["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn the_event_route_takes_only_the_bridge_and_well_formed_envelopes() {
    let stack = Stack::start();
    let admin = stack.token("admin-1", Role::Admin);
    let good = envelope(
        "order.created",
        "orders.events",
        "o1",
        json!({"order_id": "o1"}),
    );
    let r = client()
        .post(stack.url("/internal/audit/events"))
        .json(&good)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);
    let r = client()
        .post(stack.url("/internal/audit/events"))
        .bearer_auth("wrong")
        .json(&good)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);

    let auth = format!("Bearer {}", stack.internal_token);
    assert_all_4xx(
        &stack,
        reqwest::Method::POST,
        "/internal/audit/events",
        None,
        &[("authorization", &auth)],
        &hostile_bodies(),
    )
    .await;
    for (field, bad) in [
        ("occurred_at", json!("last tuesday")),
        ("payload", json!("{not json")),
        ("type", json!("")),
    ] {
        let mut e = envelope("order.created", "orders.events", "o2", json!({}));
        e[field] = bad;
        let r = stack.deliver("audit", &e).await;
        assert_eq!(r.status(), 422, "{field}");
        let problem: Value = r.json().await.expect("problem");
        assert_eq!(problem["field"], field);
    }
    // Nothing of that was recorded; the tick answers.
    let page = query(&stack, &admin, "").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");
    let tick = client()
        .post(stack.url("/internal/audit/tick"))
        .bearer_auth(&stack.internal_token)
        .send()
        .await
        .expect("tick");
    assert_eq!(tick.status(), 200);
}
