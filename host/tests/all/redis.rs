//! Outbound Redis against a real `redis-server`.

use serde_json::{json, Value};

use crate::harness::{client, guest_app, Host, HostSpec, Redis};

async fn call(host: &Host, body: Value) -> (u16, Value) {
    let r = client()
        .post(host.url("/guest/redis"))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn app(redis: &Redis) -> String {
    guest_app(
        &format!(
            "allowed_outbound_hosts = [\"redis://{}\"]",
            redis.host_port()
        ),
        "",
    )
}

#[tokio::test]
async fn every_operation_reaches_redis() {
    let redis = Redis::start();
    let app = app(&redis);
    let host = Host::start(HostSpec::new(&app));
    let a = redis.url();
    assert_eq!(
        call(
            &host,
            json!({"address": a, "op": "set", "key": "k", "value": "v"})
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(&host, json!({"address": a, "op": "get", "key": "k"}))
            .await
            .1["value"],
        "v"
    );
    assert_eq!(
        call(&host, json!({"address": a, "op": "get", "key": "absent"}))
            .await
            .1["value"],
        Value::Null
    );
    assert_eq!(
        call(&host, json!({"address": a, "op": "incr", "key": "n"}))
            .await
            .1["value"],
        1
    );
    assert_eq!(
        call(&host, json!({"address": a, "op": "incr", "key": "n"}))
            .await
            .1["value"],
        2
    );
    assert_eq!(
        call(
            &host,
            json!({"address": a, "op": "sadd", "key": "s", "values": ["x", "y", "z"]})
        )
        .await
        .1["value"],
        3
    );
    assert_eq!(
        call(
            &host,
            json!({"address": a, "op": "srem", "key": "s", "values": ["y"]})
        )
        .await
        .1["value"],
        1
    );
    assert_eq!(
        call(&host, json!({"address": a, "op": "smembers", "key": "s"}))
            .await
            .1["value"],
        json!(["x", "z"])
    );
    assert_eq!(
        call(
            &host,
            json!({"address": a, "op": "del", "keys": ["k", "n", "missing"]})
        )
        .await
        .1["value"],
        2
    );
    assert_eq!(
        call(
            &host,
            json!({"address": a, "op": "publish", "channel": "events", "value": "hi"})
        )
        .await
        .0,
        204
    );

    // `execute` runs anything, including Lua scripts: the rate limiter's path.
    let script = "local v = redis.call('INCRBY', KEYS[1], ARGV[1]); return {v, 'ok'}";
    let (status, body) = call(
        &host,
        json!({"address": a, "op": "execute", "command": "EVAL", "args": [script, 1, "bucket", 5]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"], json!([5, "ok"]));
    let (_, body) = call(
        &host,
        json!({"address": a, "op": "execute", "command": "PING", "args": []}),
    )
    .await;
    assert_eq!(body["value"], json!([{"status": "PONG"}]));
    let (status, body) = call(
        &host,
        json!({"address": a, "op": "execute", "command": "NOSUCHCOMMAND", "args": []}),
    )
    .await;
    assert_eq!(
        status, 502,
        "a Redis error is an error result, not a trap: {body}"
    );
}

#[tokio::test]
async fn addresses_outside_allowed_outbound_hosts_are_refused() {
    let redis = Redis::start();
    let other = Redis::start();
    let app = app(&redis);
    let host = Host::start(HostSpec::new(&app));
    let (status, body) = call(
        &host,
        json!({"address": other.url(), "op": "get", "key": "k"}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("InvalidAddress"), "{body}");
    host.wait_for_log(|l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.contains("allowed_outbound_hosts"))
            && l["component"] == "guest"
    });
}
