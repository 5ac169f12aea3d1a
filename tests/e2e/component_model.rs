//! What the platform serves alike for every component: the bridge's
//! metrics route, one way of refusing a wrong method on the bridge's
//! routes, and the Redis wake-up a commit of outbox rows publishes.

use std::time::Duration;

use platform::auth::Role;
use serde_json::json;
use spinshop_tests::{client, Stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Components the bridge talks to, as `spin.toml` routes them.
const BRIDGED: [&str; 7] = [
    "catalog",
    "inventory",
    "orders",
    "payments",
    "users",
    "notifications",
    "audit",
];

async fn internal(stack: &Stack, method: reqwest::Method, path: &str) -> reqwest::Response {
    client()
        .request(method, stack.url(path))
        .bearer_auth(&stack.internal_token)
        .send()
        .await
        .expect("internal route")
}

#[tokio::test]
async fn every_component_serves_metrics_and_refuses_wrong_methods_alike() {
    let stack = Stack::start();
    let admin = stack.token("admin-1", Role::Admin);
    stack.create_product(&admin, "Lamp", 12.5, 3).await;
    for component in BRIDGED {
        let path = format!("/internal/{component}/metrics");
        let r = internal(&stack, reqwest::Method::GET, &path).await;
        assert_eq!(r.status(), 200, "{path}");
        let content_type = r.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .to_string();
        assert!(
            content_type.starts_with("text/plain"),
            "{path}: {content_type}"
        );
        let text = r.text().await.expect("metrics");
        assert!(text.contains("# TYPE "), "{path}: {text}");

        let r = internal(&stack, reqwest::Method::POST, &path).await;
        assert_eq!(r.status(), 405, "{path}");
        assert_eq!(r.headers()["allow"], "GET");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let tick = format!("/internal/{component}/tick");
        let r = internal(&stack, reqwest::Method::GET, &tick).await;
        assert_eq!(r.status(), 405, "{tick}");
        assert_eq!(r.headers()["allow"], "POST");
    }
    let catalog = internal(&stack, reqwest::Method::GET, "/internal/catalog/metrics")
        .await
        .text()
        .await
        .expect("metrics");
    assert!(catalog.contains("catalog_products 1"), "{catalog}");
    assert!(
        catalog.contains("spinshop_outbox_pending_events{component=\"catalog\"} 1"),
        "the product's event waits for the bridge: {catalog}"
    );
    let r = internal(&stack, reqwest::Method::POST, "/internal/users/events").await;
    assert_eq!(r.status(), 404, "users takes no events");
}

/// A Redis connection subscribed to `channel`.
async fn subscribe(address: &str, channel: &str) -> TcpStream {
    let mut conn = TcpStream::connect(address).await.expect("redis");
    let command = format!(
        "*2\r\n$9\r\nSUBSCRIBE\r\n${}\r\n{channel}\r\n",
        channel.len()
    );
    conn.write_all(command.as_bytes()).await.expect("subscribe");
    // The confirmation ends with the count of subscriptions, `:1`.
    let confirmation = read_until(&mut conn, |s| s.ends_with(":1\r\n")).await;
    assert!(confirmation.contains(channel), "{confirmation}");
    conn
}

/// Reads what the connection receives until `done` says it is all there.
async fn read_until(conn: &mut TcpStream, done: impl Fn(&str) -> bool) -> String {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 512];
    while !done(&String::from_utf8_lossy(&seen)) {
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk))
            .await
            .expect("redis answers in time")
            .expect("read");
        assert!(n > 0, "redis closed the connection");
        seen.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn a_commit_with_events_wakes_the_bridge() {
    let stack = Stack::start();
    let channel = "spinshop:outbox:catalog";
    let mut wake = subscribe(&stack.redis.host_port(), channel).await;
    let admin = stack.token("admin-1", Role::Admin);
    let r = client()
        .post(stack.url("/api/catalog"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Pen", "price": 1.5, "category": "office", "brand": "Acme", "stock": 1}))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), 201);
    // `["message", channel, "1"]` in RESP.
    let message = read_until(&mut wake, |s| s.ends_with("$1\r\n1\r\n")).await;
    assert!(
        message.starts_with("*3\r\n$7\r\nmessage\r\n") && message.contains(channel),
        "{message:?}"
    );
}
