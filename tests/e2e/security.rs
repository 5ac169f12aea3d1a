//! Holes that were found in what users already had, each shown closed:
//! customer holds on stock, registration, refresh and login throttling,
//! sessions that end at logout and stay ended when Redis loses its copy,
//! and a cache that cannot crowd out the state Redis.

use std::net::{IpAddr, Ipv4Addr};

use platform::auth::Role;
use serde_json::{json, Value};
use spinshop_tests::{client, envelope, Stack};

const PASSWORD: &str = "correct horse battery";

/// A client whose connections come from `ip` (any 127.0.0.0/8 address
/// reaches the host on Linux), so the app sees another client address.
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::from(ip)))
        .build()
        .expect("http client")
}

async fn post(http: &reqwest::Client, stack: &Stack, path: &str, body: &Value) -> (u16, Value) {
    let r = http
        .post(stack.url(path))
        .json(body)
        .send()
        .await
        .expect("post");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn register(stack: &Stack, email: &str) {
    let (status, body) = post(
        &client(),
        stack,
        "/api/auth/register",
        &json!({"email": email, "password": PASSWORD, "name": "Ann"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

async fn login_from(
    http: &reqwest::Client,
    stack: &Stack,
    email: &str,
    password: &str,
) -> (u16, Value) {
    post(
        http,
        stack,
        "/api/auth/login",
        &json!({"email": email, "password": password}),
    )
    .await
}

/// `GET /api/auth/me`'s status with `token`.
async fn me(stack: &Stack, token: &str) -> u16 {
    client()
        .get(stack.url("/api/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("me")
        .status()
        .as_u16()
}

async fn reserve(stack: &Stack, token: &str, body: Value) -> (u16, Value) {
    let r = client()
        .post(stack.url("/api/inventory/reservations"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("post");
    let status = r.status().as_u16();
    if status >= 400 {
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn stock_for(stack: &Stack, id: &str, units: u32) {
    let event = envelope(
        "catalog.product_created",
        "catalog.events",
        id,
        json!({"product_id": id, "sku": format!("SKU-{id}"), "name": "Pen", "category": "office",
               "brand": "Acme", "price_cents": 199, "stock": units, "tags": [], "featured": false}),
    );
    assert_eq!(stack.deliver("inventory", &event).await.status(), 200);
}

#[tokio::test]
async fn customers_hold_stock_briefly_within_caps_and_never_for_an_order() {
    let stack = Stack::start_with(&[
        ("hold_max_ttl_secs", "120"),
        ("hold_max_units_per_user", "5"),
        ("hold_max_open_per_user", "2"),
    ]);
    stock_for(&stack, "pen", 100).await;
    let ann = stack.token("ann", Role::Customer);

    // Only the saga ties stock to an order.
    let (status, problem) = reserve(
        &stack,
        &ann,
        json!({"lines": [{"product_id": "pen", "quantity": 1}], "order_id": "order-1"}),
    )
    .await;
    assert!((400..500).contains(&status), "{status} {problem}");
    // A day-long hold is refused, naming the field; the default is the
    // longest allowed.
    let (status, problem) = reserve(
        &stack,
        &ann,
        json!({"lines": [{"product_id": "pen", "quantity": 1}], "ttl_seconds": 86400}),
    )
    .await;
    assert_eq!((status, &problem["field"]), (422, &json!("ttl_seconds")));

    let (status, hold) = reserve(
        &stack,
        &ann,
        json!({"lines": [{"product_id": "pen", "quantity": 3}]}),
    )
    .await;
    assert_eq!(status, 201, "{hold}");
    assert_eq!(hold.get("order_id"), None);
    let (status, problem) = reserve(
        &stack,
        &ann,
        json!({"lines": [{"product_id": "pen", "quantity": 3}]}),
    )
    .await;
    assert_eq!(
        (status, &problem["limit"], &problem["max"]),
        (409, &json!("hold_max_units_per_user"), &json!(5)),
        "{problem}"
    );
    let (status, _) = reserve(
        &stack,
        &ann,
        json!({"lines": [{"product_id": "pen", "quantity": 2}]}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, problem) = reserve(
        &stack,
        &ann,
        json!({"lines": [{"product_id": "pen", "quantity": 1}]}),
    )
    .await;
    assert_eq!(
        (status, &problem["limit"]),
        (409, &json!("hold_max_open_per_user"))
    );
    // Another customer has caps of their own; the shop's staff has none.
    let bob = stack.token("bob", Role::Customer);
    assert_eq!(
        reserve(
            &stack,
            &bob,
            json!({"lines": [{"product_id": "pen", "quantity": 5}]})
        )
        .await
        .0,
        201
    );
    let admin = stack.token("admin-1", Role::Admin);
    for _ in 0..3 {
        assert_eq!(
            reserve(
                &stack,
                &admin,
                json!({"lines": [{"product_id": "pen", "quantity": 10}]})
            )
            .await
            .0,
            201
        );
    }
}

#[tokio::test]
async fn registration_refresh_and_logout_have_limits_of_their_own() {
    let stack = Stack::start();
    let http = client();
    register(&stack, "ann@example.com").await;
    // An address already registered is found before any hashing.
    let (status, _) = post(
        &http,
        &stack,
        "/api/auth/register",
        &json!({"email": "ann@example.com", "password": PASSWORD, "name": "Ann"}),
    )
    .await;
    assert_eq!(status, 409);
    // Ten registrations per address, then one every ten seconds: the
    // general 100/50 never applies.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let (status, _) = post(
            &http,
            &stack,
            "/api/auth/register",
            &json!({"email": format!("user{i}@example.com"), "password": PASSWORD, "name": "U"}),
        )
        .await;
        statuses.push(status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");

    // A flood of made-up refresh tokens is cut off at 30 per address, and
    // never stands in the way of a login.
    let mut refused = 0;
    for i in 0..40 {
        let (status, _) = post(
            &http,
            &stack,
            "/api/auth/refresh",
            &json!({"refresh_token": format!("made-up-{i}")}),
        )
        .await;
        assert!(status == 401 || status == 429, "{status}");
        refused += u32::from(status == 429);
    }
    assert!(refused >= 10, "{refused} of 40 throttled");
    let (status, session) = login_from(&http, &stack, "ann@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{session}");
}

#[tokio::test]
async fn a_guesser_locks_out_only_their_own_address() {
    let stack = Stack::start();
    register(&stack, "ann@example.com").await;
    let attacker = client_from([127, 0, 0, 2]);
    let mut last = 0;
    for _ in 0..6 {
        last = login_from(&attacker, &stack, "ann@example.com", "a wrong guess 1")
            .await
            .0;
    }
    assert_eq!(last, 429, "the guesser is throttled");
    // Ann, from her own address, is not locked out.
    let owner = client_from([127, 0, 0, 3]);
    let (status, session) = login_from(&owner, &stack, "ann@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["user"]["email"], "ann@example.com");
}

#[tokio::test]
async fn logout_ends_its_session_and_a_redis_flush_brings_no_token_back() {
    let stack = Stack::start();
    register(&stack, "ann@example.com").await;
    let http = client();
    let (status, laptop) = login_from(&http, &stack, "ann@example.com", PASSWORD).await;
    assert_eq!(status, 200);
    let (_, phone) = login_from(&http, &stack, "ann@example.com", PASSWORD).await;
    let token = |s: &Value| s["access_token"].as_str().expect("access").to_string();
    let refresh = |s: &Value| json!({"refresh_token": s["refresh_token"]});

    // Logout with the access token alone ends that login entirely: its
    // access token and its refresh token.
    let r = http
        .post(stack.url("/api/auth/logout"))
        .bearer_auth(token(&laptop))
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), 204);
    assert_eq!(me(&stack, &token(&laptop)).await, 401);
    assert_eq!(
        post(&http, &stack, "/api/auth/refresh", &refresh(&laptop))
            .await
            .0,
        401
    );
    // The other login goes on.
    assert_eq!(me(&stack, &token(&phone)).await, 200);

    // Redis loses everything: no token may pass until the revocations are
    // back from the users database...
    let flushed = stack.redis.command(&["FLUSHALL"]).expect("flush");
    assert!(flushed.starts_with("+OK"), "{flushed}");
    assert_eq!(me(&stack, &token(&laptop)).await, 503);
    assert_eq!(me(&stack, &token(&phone)).await, 503);
    // ...and once they are, the logged-out one is still refused.
    stack.load_revocations();
    assert_eq!(me(&stack, &token(&laptop)).await, 401);
    assert_eq!(me(&stack, &token(&phone)).await, 200);
    let (status, renewed) = post(&http, &stack, "/api/auth/refresh", &refresh(&phone)).await;
    assert_eq!(status, 200, "{renewed}");
}

#[tokio::test]
async fn token_answers_are_never_cached() {
    let stack = Stack::start();
    register(&stack, "ann@example.com").await;
    let r = client()
        .post(stack.url("/api/auth/login"))
        .json(&json!({"email": "ann@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let session: Value = r.json().await.expect("json");
    let r = client()
        .post(stack.url("/api/auth/refresh"))
        .json(&json!({"refresh_token": session["refresh_token"]}))
        .send()
        .await
        .expect("refresh");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn anonymous_queries_fill_only_the_bounded_cache() {
    // Limits lifted: the point is what the queries leave behind.
    let stack = Stack::start_with(&[("rate_limit_default", "100000/100000")]);
    // The state Redis as production runs it: a memory limit and no
    // eviction (sessions, revocations and limits must never be dropped).
    for setting in [["maxmemory", "3mb"], ["maxmemory-policy", "noeviction"]] {
        let reply = stack
            .redis
            .command(&["CONFIG", "SET", setting[0], setting[1]])
            .expect("config");
        assert!(reply.starts_with("+OK"), "{reply}");
    }
    let admin = stack.token("admin-1", Role::Admin);
    for i in 0..40 {
        stack
            .create_product(
                &admin,
                &format!("Lamp {i} with a long enough name"),
                10.0 + f64::from(i),
                5,
            )
            .await;
    }
    register(&stack, "ann@example.com").await;
    let (_, session) = login_from(&client(), &stack, "ann@example.com", PASSWORD).await;

    // Hundreds of distinct anonymous list queries, each cached.
    for i in 0..400 {
        let r = client()
            .get(stack.url(&format!("/api/catalog?limit=100&max_price={}", 50 + i)))
            .send()
            .await
            .expect("list");
        assert_eq!(r.status(), 200);
    }
    let keys = stack.cache_redis.command(&["DBSIZE"]).expect("dbsize");
    assert!(
        keys.trim_start_matches(':')
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
            > 0,
        "{keys}"
    );

    // The state Redis still takes writes: logout works.
    let r = client()
        .post(stack.url("/api/auth/logout"))
        .bearer_auth(session["access_token"].as_str().expect("access"))
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), 204, "{:?}", r.text().await);
}
