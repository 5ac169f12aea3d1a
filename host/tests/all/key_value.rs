//! Key-value stores: the default SQLite-backed store, a Redis-backed store
//! from the runtime config, and undeclared labels.

use serde_json::{json, Value};

use crate::harness::{client, guest_app, Host, HostSpec, Redis};

async fn status_of(r: reqwest::RequestBuilder) -> (u16, String) {
    let r = r.send().await.expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

async fn exercise(host: &Host, label: &str) {
    let c = client();
    let url = |k: &str| host.url(&format!("/guest/kv/{label}/{k}"));
    assert_eq!(status_of(c.get(url("a"))).await.0, 404);
    assert_eq!(status_of(c.put(url("a")).body("one")).await.0, 204);
    assert_eq!(
        status_of(c.put(url("b")).body(vec![0u8, 159, 146, 150]))
            .await
            .0,
        204
    );
    assert_eq!(status_of(c.get(url("a"))).await, (200, "one".into()));
    let raw = c
        .get(url("b"))
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(
        raw.as_ref(),
        &[0u8, 159, 146, 150],
        "binary values round-trip"
    );
    assert_eq!(status_of(c.put(url("a")).body("two")).await.0, 204);
    assert_eq!(status_of(c.get(url("a"))).await, (200, "two".into()));
    let (_, keys) = status_of(c.get(host.url(&format!("/guest/kv/{label}")))).await;
    let keys: Value = serde_json::from_str(&keys).expect("json");
    assert_eq!(keys, json!(["a", "b"]));
    assert_eq!(status_of(c.delete(url("a"))).await.0, 204);
    assert_eq!(status_of(c.get(url("a"))).await.0, 404);
}

#[tokio::test]
async fn default_store_is_a_sqlite_file_under_the_state_dir() {
    let app = guest_app(r#"key_value_stores = ["default"]"#, "");
    let host = Host::start(HostSpec::new(&app));
    exercise(&host, "default").await;
    assert!(host.dir.0.join("state/sqlite_key_value.db").exists());
}

#[tokio::test]
async fn a_redis_store_keeps_values_in_redis() {
    let redis = Redis::start();
    let app = guest_app(
        r#"key_value_stores = ["cache"]
allowed_outbound_hosts = ["redis://127.0.0.1:*"]"#,
        "",
    );
    let rc = format!(
        "[key_value_store.cache]\ntype = \"redis\"\nurl = \"{}\"\n",
        redis.url()
    );
    let host = Host::start(HostSpec::new(&app).runtime_config(&rc));
    exercise(&host, "cache").await;
    // The value is really in Redis: read it with the Redis interface.
    client()
        .put(host.url("/guest/kv/cache/seen"))
        .body("yes")
        .send()
        .await
        .expect("put");
    let r: Value = client()
        .post(host.url("/guest/redis"))
        .json(&json!({"address": redis.url(), "op": "get", "key": "seen"}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(r["value"], "yes");
}

#[tokio::test]
async fn undeclared_store_labels_are_refused() {
    let app = guest_app(r#"key_value_stores = ["default"]"#, "");
    let host = Host::start(HostSpec::new(&app));
    let (status, body) = status_of(client().get(host.url("/guest/kv/other/x"))).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("AccessDenied"), "{body}");
}
