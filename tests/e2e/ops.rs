//! Operations endpoints: liveness answers while the app does, readiness
//! reflects real dependencies.

use serde_json::Value;
use spinshop_tests::{client, Stack};

#[tokio::test]
async fn readiness_reports_each_dependency_and_liveness_survives_an_outage() {
    let mut stack = Stack::start();
    let base = stack.url("");
    let probe = |path: &'static str, token: Option<String>| {
        let mut req = client().get(format!("{base}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let r = probe("/ready", None).await.expect("ready");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["sqlite"]["status"], "ok");
    assert_eq!(body["checks"]["redis"]["status"], "ok");
    let r = probe("/health", None).await.expect("health");
    assert_eq!(r.status(), 200);

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
    // Not ready, and anonymous callers learn which dependency failed but
    // not how (no address, no driver error).
    let r = probe("/ready", None).await.expect("ready");
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "degraded");
    assert_eq!(
        body["checks"]["redis"],
        serde_json::json!({"status": "error"})
    );
    assert_eq!(body["checks"]["sqlite"]["status"], "ok");
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");
    // The internal credential sees why.
    let r = probe("/ready", Some(stack.internal_token.clone()))
        .await
        .expect("ready");
    let body: Value = r.json().await.expect("json");
    assert!(
        body["checks"]["redis"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    // Liveness still says the app answers: an orchestrator must not
    // restart it (and the sagas in it) for a Redis outage.
    let r = probe("/health", None).await.expect("health");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["status"], "ok");
}
