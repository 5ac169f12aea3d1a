//! Operations endpoints: health reflects real dependencies.

use serde_json::Value;
use spinshop_tests::{client, Stack};

#[tokio::test]
async fn health_reports_each_dependency_and_503_when_one_is_down() {
    let mut stack = Stack::start();
    let r = client()
        .get(stack.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["sqlite"]["status"], "ok");
    assert_eq!(body["checks"]["redis"]["status"], "ok");

    let api: Value = client()
        .get(stack.url("/api"))
        .send()
        .await
        .expect("api")
        .json()
        .await
        .expect("json");
    let routes: Vec<&str> = api["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .filter_map(|r| r["route"].as_str())
        .collect();
    assert!(routes.contains(&"/api/inventory/..."), "{routes:?}");
    assert!(
        !routes.iter().any(|r| r.starts_with("/internal/")),
        "{routes:?}"
    );

    stack.redis.stop();
    let r = client()
        .get(stack.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["redis"]["status"], "error");
    assert_eq!(body["checks"]["sqlite"]["status"], "ok");
}
