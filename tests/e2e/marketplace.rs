//! The MercadoLibre integration against the sandbox MercadoLibre, through
//! the real host, Redis and (for notifications and stock) the bridge on
//! Kafka: the OAuth round trip with PKCE, signing in with MercadoLibre,
//! one refresh for many concurrent requests, and seed 000's four demo
//! scenarios (an outage behind the breaker with stale copies, a burst
//! meeting the per-user limit, the metrics moving, a stock change reaching
//! inventory and the admins).

use std::time::Duration;

use crate::clock::{advance, MOVABLE};
use platform::auth::Role;
use reqwest::Method;
use serde_json::{json, Value};
use spinshop_tests::marketplace::{self, authorize, callback};
use spinshop_tests::{assert_all_4xx, client, hostile_bodies, wait_for, EventStack, Stack};

/// The application id the stacks are registered under at the sandbox.
const CLIENT_ID: (&str, &str) = ("ml_client_id", "4242424242");

async fn send(
    stack: &Stack,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = client().request(method, stack.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("send");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

/// Links seller `seller`'s MercadoLibre account to a new customer; the
/// customer's token.
async fn linked_customer(stack: &Stack, seller: &str) -> String {
    linked(stack, seller, Role::Customer).await
}

/// Links seller `seller`'s MercadoLibre account to a new user of `role`.
async fn linked(stack: &Stack, seller: &str, role: Role) -> String {
    let user = stack.token(&uuid::Uuid::new_v4().to_string(), role);
    marketplace::link(stack, &user, seller).await;
    user
}

async fn sandbox(stack: &Stack, admin: &str, settings: Value) -> Value {
    let (status, _, body) = send(
        stack,
        Method::PUT,
        "/sandbox/ml/control",
        Some(admin),
        Some(settings),
    )
    .await;
    assert_eq!(status, 200, "PUT /sandbox/ml/control: {body}");
    body
}

async fn sandbox_state(stack: &Stack, admin: &str) -> Value {
    stack.get_json("/sandbox/ml/control", Some(admin)).await
}

/// A counter's total over the series whose line contains every `part`.
fn total(text: &str, name: &str, parts: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && parts.iter().all(|p| l.contains(p)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn metrics(stack: &Stack) -> String {
    client()
        .get(stack.url("/internal/marketplace/metrics"))
        .bearer_auth(&stack.internal_token)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

#[tokio::test]
async fn the_oauth_round_trip_links_an_account_and_signs_people_in() {
    let stack = Stack::start();
    // A real account: signing in with the MercadoLibre account it links
    // must reach it.
    let (status, _, _) = send(
        &stack,
        Method::POST,
        "/api/auth/register",
        None,
        Some(json!({"email": "lu@example.com", "password": "a long pass phrase", "name": "Lu"})),
    )
    .await;
    assert_eq!(status, 201);
    let (_, _, login) = send(
        &stack,
        Method::POST,
        "/api/auth/login",
        None,
        Some(json!({"email": "lu@example.com", "password": "a long pass phrase"})),
    )
    .await;
    let customer = login["access_token"].as_str().expect("token").to_string();

    // A link started by one account cannot be finished by another (or by
    // nobody): that is how a victim's MercadoLibre account would be taken.
    let other = stack.token(&uuid::Uuid::new_v4().to_string(), Role::Customer);
    for finisher in [Some(other.as_str()), None] {
        let (url, _) = authorize(&stack, Some(&customer), "1001").await;
        let (status, body) = callback(&url, finisher).await;
        assert_eq!(status, 403, "{body}");
    }

    // Link: the state is single-use and the link shows no token.
    let (url, start) = authorize(&stack, Some(&customer), "1001").await;
    assert_eq!(start["mode"], "link");
    let (status, body) = callback(&url, Some(&customer)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["linked"]["nickname"], "TESTSELLER_A");
    assert_eq!(body["linked"]["status"], "active");
    let (status, replay) = callback(&url, Some(&customer)).await;
    assert_eq!(status, 400, "a replayed callback: {replay}");
    assert_eq!(replay["field"], "state");
    let link = stack.get_json("/api/ml/link", Some(&customer)).await;
    assert_eq!(link["ml_user_id"], "1001");
    let text = link.to_string();
    assert!(!text.contains("APP_USR") && !text.contains("TG-"), "{text}");

    // Unknown and malformed states, and a refusal, are 400s.
    for query in [
        "code=TG-x&state=AAAAAAAAAAAAAAAAAAAAAAAA",
        "code=TG-x&state=bad",
        "code=TG-x",
        "error=access_denied&error_description=no",
    ] {
        let (status, body) =
            callback(&stack.url(&format!("/api/auth/callback?{query}")), None).await;
        assert_eq!(status, 400, "{query}: {body}");
    }

    // A code taken to another start's state is exchanged with the wrong
    // verifier, and MercadoLibre refuses it.
    let (url_a, _) = authorize(&stack, Some(&other), "1002").await;
    let (_, _, start_b) = send(
        &stack,
        Method::POST,
        "/api/auth/oauth/start",
        Some(&other),
        None,
    )
    .await;
    let code = url_a
        .split("code=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("code");
    let mixed = stack.url(&format!(
        "/api/auth/callback?code={code}&state={}",
        start_b["state"].as_str().expect("state")
    ));
    let (status, body) = callback(&mixed, Some(&other)).await;
    assert_eq!(status, 400, "wrong verifier: {body}");
    assert!(
        body["detail"].as_str().unwrap_or("").contains("refused"),
        "{body}"
    );

    // Another user cannot take the linked MercadoLibre account.
    let (url, _) = authorize(&stack, Some(&other), "1001").await;
    let (status, body) = callback(&url, Some(&other)).await;
    assert_eq!(status, 409, "{body}");

    // Sign in with MercadoLibre: a local account is made once, then reused.
    let (url, start) = authorize(&stack, None, "1002").await;
    assert_eq!(start["mode"], "sign_in");
    let (status, first) = callback(&url, None).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["created"], true);
    let token = first["access_token"].as_str().expect("our token");
    let me = stack.get_json("/api/auth/me", Some(token)).await;
    assert_eq!(me["id"], first["user"]["id"]);
    // Its own items are listed; another seller's are not, cached or not.
    let mine = stack
        .get_json("/api/ml/users/1002/items", Some(token))
        .await;
    assert_eq!(mine["seller_id"], "1002", "{mine}");
    stack
        .get_json("/api/ml/users/1001/items", Some(&customer))
        .await;
    let (status, _, body) = send(
        &stack,
        Method::GET,
        "/api/ml/users/1001/items",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (url, _) = authorize(&stack, None, "1002").await;
    let (status, again) = callback(&url, None).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["created"], false);
    assert_eq!(again["user"]["id"], first["user"]["id"]);
    // The account linked while signed in signs in to the same account.
    let (url, _) = authorize(&stack, None, "1001").await;
    let (status, signed) = callback(&url, None).await;
    assert_eq!(status, 201, "{signed}");
    assert_eq!(signed["linked"]["user_id"], link["user_id"]);

    // Unlinking forgets the account; the proxy then says to link one.
    let (status, _, _) = send(
        &stack,
        Method::DELETE,
        "/api/ml/link",
        Some(&customer),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, body) = send(
        &stack,
        Method::GET,
        "/api/ml/user/me",
        Some(&customer),
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn twenty_concurrent_requests_near_expiry_refresh_the_token_once() {
    let stack = Stack::start_with(&[MOVABLE]);
    let admin = stack.token("admin-ml", Role::Admin);
    let customer = linked_customer(&stack, "1001").await;
    let grants = |state: &Value| state["stats"]["token_grants"]["refresh_token"].as_u64();
    let before = grants(&sandbox_state(&stack, &admin).await).unwrap_or(0);
    // Five minutes before the six hours are up: inside the refresh margin.
    advance(&stack, Duration::from_secs(6 * 3600 - 300)).await;
    let requests = (0..20).map(|i| {
        let url = stack.url(&format!("/api/ml/users/1001/items?offset={i}&limit=1"));
        let customer = customer.clone();
        async move {
            let r = client()
                .get(url)
                .bearer_auth(customer)
                .send()
                .await
                .expect("get");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    });
    for (status, body) in futures::future::join_all(requests).await {
        assert_eq!(status, 200, "{body}");
    }
    let after = grants(&sandbox_state(&stack, &admin).await).unwrap_or(0);
    assert_eq!(after - before, 1, "exactly one refresh");
    let link = stack.get_json("/api/ml/link", Some(&customer)).await;
    assert!(link["refreshed_at"].is_string(), "{link}");
    // Counted after the answer has gone: wait for the count to land.
    let text = wait_for!(
        "the refresh counted",
        Duration::from_secs(10),
        async {
            let text = metrics(&stack).await;
            (total(&text, "ml_token_refreshes_total", &[]) >= 1.0).then_some(text)
        }
        .await
    );
    assert_eq!(
        total(
            &text,
            "ml_token_refreshes_total",
            &["outcome=\"refreshed\""]
        ),
        1.0,
        "{text}"
    );

    // A refresh MercadoLibre refuses marks the link; the API says so.
    sandbox(&stack, &admin, json!({"revoke_refresh_tokens": true})).await;
    advance(&stack, Duration::from_secs(6 * 3600 - 300)).await;
    let (status, _, body) = send(
        &stack,
        Method::GET,
        "/api/ml/users/1001/items?offset=99&limit=1",
        Some(&customer),
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let link = stack.get_json("/api/ml/link", Some(&customer)).await;
    assert_eq!(link["status"], "reauthorization_required");
}

#[tokio::test]
async fn an_outage_opens_the_breaker_and_cached_items_are_served_stale() {
    let stack = Stack::start_with(&[MOVABLE, ("ml_cache_ttl_items_secs", "1")]);
    let admin = stack.token("admin-ml", Role::Admin);
    let customer = linked_customer(&stack, "1001").await;
    let item = "/api/ml/items/MLA123";
    let (status, headers, first) = send(&stack, Method::GET, item, Some(&customer), None).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["id"], "MLA123");
    assert_eq!(headers["x-cache"], "miss");
    let (_, headers, _) = send(&stack, Method::GET, item, Some(&customer), None).await;
    assert_eq!(headers["x-cache"], "hit");

    sandbox(&stack, &admin, json!({"outage": true})).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await; // the fresh copy expires
    let (status, headers, stale) = send(&stack, Method::GET, item, Some(&customer), None).await;
    assert_eq!(status, 200, "{stale}");
    assert_eq!(stale, first);
    assert_eq!(headers["x-cache"], "stale");
    assert!(headers["warning"]
        .to_str()
        .expect("warning")
        .starts_with("110"));
    assert!(headers.contains_key("age"));
    // Nothing cached and MercadoLibre down: 503, never a 500.
    let (status, _, body) = send(
        &stack,
        Method::GET,
        "/api/ml/items/MLA124",
        Some(&customer),
        None,
    )
    .await;
    assert_eq!(status, 503, "{body}");

    let health = wait_for!(
        "the breaker to open",
        Duration::from_secs(20),
        async {
            let _ = send(&stack, Method::GET, item, Some(&customer), None).await;
            let h = stack.get_json("/api/ml/health", None).await;
            (h["breaker"]["state"] == "OPEN").then_some(h)
        }
        .await
    );
    assert_eq!(health["status"], "degraded");
    assert!(health["breaker"]["next_probe_at"].is_string(), "{health}");
    assert!(health["accounts"].is_null(), "accounts are for admins");
    let admin_view = stack.get_json("/api/ml/health", Some(&admin)).await;
    assert_eq!(admin_view["accounts"][0]["ml_user_id"], "1001");
    assert!(!admin_view.to_string().contains("APP_USR"));
    // While open, nothing goes out and the stale copy still answers.
    let (status, headers, _) = send(&stack, Method::GET, item, Some(&customer), None).await;
    assert_eq!(
        (status, &headers["x-cache"]),
        (200, &"stale".parse().expect("h"))
    );
    // Counted after the answer has gone: wait for the count to land.
    let text = wait_for!(
        "the refused call counted",
        Duration::from_secs(10),
        async {
            let text = metrics(&stack).await;
            (total(&text, "ml_api_requests_total", &["status=\"circuit_open\""]) >= 1.0)
                .then_some(text)
        }
        .await
    );
    assert!(
        text.contains("circuit_breaker_state{breaker=\"mercadolibre\"} 1"),
        "{text}"
    );

    // MercadoLibre recovers; after the open interval a probe closes it.
    sandbox(&stack, &admin, json!({"outage": false})).await;
    advance(&stack, Duration::from_secs(31)).await;
    let (status, headers, _) = send(&stack, Method::GET, item, Some(&customer), None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-cache"], "miss");
    let health = stack.get_json("/api/ml/health", None).await;
    assert_eq!(health["breaker"]["state"], "CLOSED", "{health}");
    assert!(health["cache"]["hit_ratio"].as_f64().is_some(), "{health}");
}

#[tokio::test]
async fn a_burst_meets_the_per_user_limit_and_the_metrics_move() {
    let stack = Stack::start_with(&[("rate_limit_ml_user", "100/0.01")]);
    let customer = linked_customer(&stack, "1001").await;
    let before = metrics(&stack).await;
    let mut limited = None;
    for _ in 0..150 {
        let r = client()
            .get(stack.url("/api/ml/categories/MLA1051"))
            .bearer_auth(&customer)
            .send()
            .await
            .expect("get");
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("x-ratelimit-remaining"));
    }
    let limited = limited.expect("a 429 within 150 requests");
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    assert!(limited.headers().contains_key("retry-after"));
    // One call went to MercadoLibre; the rest were cache hits. A request
    // is counted after its answer has gone, so the last counts may land a
    // moment after the test has the answers.
    let calls = |t: &str| {
        total(
            t,
            "ml_api_requests_total",
            &["endpoint=\"/categories/:id\"", "status=\"200\""],
        )
    };
    let hits = |t: &str| total(t, "cache_hits_total", &["cache=\"ml\""]);
    let refused = |t: &str| {
        total(
            t,
            "rate_limit_decisions_total",
            &["group=\"ml_user\"", "outcome=\"refused\""],
        )
    };
    let after = wait_for!(
        "every request counted",
        Duration::from_secs(10),
        async {
            let text = metrics(&stack).await;
            (hits(&text) - hits(&before) >= 99.0 && refused(&text) >= 1.0).then_some(text)
        }
        .await
    );
    assert_eq!(calls(&after) - calls(&before), 1.0, "{after}");
}

#[tokio::test]
async fn a_stock_change_on_mercadolibre_reaches_inventory_and_the_admins_once() {
    let events = EventStack::start(&[CLIENT_ID], |c| c);
    let stack = &events.stack;
    let seller = linked(stack, "1001", Role::Admin).await;
    let product = stack
        .create_product(&seller, "Wireless headphones", 159.99, 20)
        .await;
    stack.wait_for_stock(&product).await;
    // Only the seller's own items, and only for admins.
    let link_body = Some(json!({ "product_id": product }));
    let (status, _, body) = send(
        stack,
        Method::PUT,
        "/api/ml/items/MLA201/link",
        Some(&seller),
        link_body.clone(),
    )
    .await;
    assert_eq!(status, 403, "another seller's item: {body}");
    let customer = linked_customer(stack, "1002").await;
    let (status, _, _) = send(
        stack,
        Method::PUT,
        "/api/ml/items/MLA123/link",
        Some(&customer),
        link_body.clone(),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, link) = send(
        stack,
        Method::PUT,
        "/api/ml/items/MLA123/link",
        Some(&seller),
        link_body,
    )
    .await;
    assert_eq!(status, 200, "{link}");
    // Our stock is the starting figure: pushed, then agreed.
    wait_for!(
        "the first agreement",
        Duration::from_secs(30),
        async {
            let l = stack
                .get_json("/api/ml/items/MLA123/link", Some(&seller))
                .await;
            (l["synced_quantity"] == 20).then_some(())
        }
        .await
    );

    // Seed 000's scenario 4: the seller sets 5 on MercadoLibre.
    let (status, _, item) = send(
        stack,
        Method::PUT,
        "/api/ml/items/MLA123",
        Some(&seller),
        Some(json!({"available_quantity": 5})),
    )
    .await;
    assert_eq!(status, 200, "{item}");
    assert_eq!(item["available_quantity"], 5);
    let stock = wait_for!(
        "inventory to follow",
        Duration::from_secs(30),
        async {
            let s = stack
                .get_json(&format!("/api/inventory/{product}"), None)
                .await;
            (s["available"] == 5).then_some(s)
        }
        .await
    );
    assert_eq!(stock["available"], 5);
    let alert = wait_for!(
        "the low-stock alert",
        Duration::from_secs(30),
        async {
            let h = stack
                .get_json("/api/notifications/history?user_id=admins", Some(&seller))
                .await;
            h["items"]
                .as_array()
                .and_then(|items| items.iter().find(|n| n["template"] == "low_stock").cloned())
        }
        .await
    );
    assert!(
        alert["body"].as_str().unwrap_or("").contains("5 available"),
        "{alert}"
    );

    // A sale on MercadoLibre arrives as a notification, fetched with the
    // seller's token; delivered twice, it is applied once.
    let (status, _, _) = send(
        stack,
        Method::POST,
        "/sandbox/ml/control/items/MLA123/sell",
        Some(&seller),
        Some(json!({"quantity": 2})),
    )
    .await;
    assert_eq!(status, 200);
    wait_for!(
        "the sale to reach inventory",
        Duration::from_secs(30),
        async {
            let s = stack
                .get_json(&format!("/api/inventory/{product}"), None)
                .await;
            (s["available"] == 3).then_some(())
        }
        .await
    );
    let notification = json!({"_id": uuid::Uuid::new_v4().to_string(), "resource": "/items/MLA123",
        "user_id": 1001, "topic": "items", "application_id": 4242424242u64,
        "attempts": 1, "sent": "2026-12-07T10:00:00.000Z", "received": "2026-12-07T10:00:00.000Z"});
    let (status, _, first) = send(
        stack,
        Method::POST,
        "/api/ml/webhooks",
        None,
        Some(notification.clone()),
    )
    .await;
    assert_eq!(
        (status, &first["duplicate"]),
        (200, &json!(false)),
        "{first}"
    );
    let (status, _, second) = send(
        stack,
        Method::POST,
        "/api/ml/webhooks",
        None,
        Some(notification),
    )
    .await;
    assert_eq!(
        (status, &second["duplicate"]),
        (200, &json!(true)),
        "{second}"
    );
    // The first was processed (MercadoLibre still says 3: nothing moves);
    // the repeat never was.
    wait_for!(
        "the notification processed",
        Duration::from_secs(30),
        async {
            let text = metrics(stack).await;
            (total(
                &text,
                "ml_notifications_processed_total",
                &["outcome=\"synced\""],
            ) >= 3.0)
                .then_some(())
        }
        .await
    );
    let stock = stack
        .get_json(&format!("/api/inventory/{product}"), None)
        .await;
    assert_eq!(stock["available"], 3, "{stock}");

    // Hostile and foreign notifications are refused with 4xx problems.
    let mut bodies = hostile_bodies();
    for bad in [
        json!({"_id": "x", "resource": "/items/MLA1", "user_id": 1001, "topic": "items",
               "application_id": 1, "attempts": 1, "sent": "2026-12-07T10:00:00Z",
               "received": "2026-12-07T10:00:00Z"}),
        json!({"_id": "../../x", "resource": "/items/MLA1", "user_id": 1001, "topic": "items",
               "application_id": 4242424242u64, "attempts": 1, "sent": "x", "received": "y"}),
        json!({"_id": "ok", "resource": "/items/../../etc", "user_id": 1001, "topic": "items",
               "application_id": 4242424242u64, "attempts": 1, "sent": "2026-12-07T10:00:00Z",
               "received": "2026-12-07T10:00:00Z"}),
        json!({"_id": "ok", "resource": "/items/MLA1", "user_id": -1, "topic": "items"}),
    ] {
        bodies.push((bad.to_string(), "application/json"));
    }
    assert_all_4xx(stack, Method::POST, "/api/ml/webhooks", None, &[], &bodies).await;

    // Everything MercadoLibre said was processed; nothing is left pending.
    let text = metrics(stack).await;
    assert!(
        total(
            &text,
            "ml_notifications_processed_total",
            &["outcome=\"synced\""]
        ) >= 1.0,
        "{text}"
    );
}
