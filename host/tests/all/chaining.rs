//! Local service chaining: `http://<component>.spin.internal` is served
//! in-process, needs an allow-list entry, and reaches private components.

use serde_json::Value;

use crate::harness::{client, Host, HostSpec};

const APP: &str = r#"spin_manifest_version = 2
[application]
name = "chaining"

[[trigger.http]]
route = "/caller/..."
component = "caller"
[[trigger.http]]
route = "/stranger/..."
component = "stranger"
[[trigger.http]]
route = { private = true }
component = "backend"

[component.caller]
source = "{guest}"
allowed_outbound_hosts = ["http://backend.spin.internal", "http://ghost.spin.internal"]
[component.stranger]
source = "{guest}"
[component.backend]
source = "{guest}"
"#;

async fn call(host: &Host, from: &str, url: &str) -> (u16, Value) {
    let target = format!(
        "/{from}/outbound?url={}",
        url.replace(':', "%3A").replace('/', "%2F")
    );
    let r = client()
        .get(host.url(&target))
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

#[tokio::test]
async fn a_component_calls_a_private_one_in_process() {
    let host = Host::start(HostSpec::new(APP));
    let (status, body) = call(
        &host,
        "caller",
        "http://backend.spin.internal/echo?via=chain",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], 200);
    let echoed: Value = serde_json::from_str(body["body"].as_str().expect("body")).expect("json");
    assert_eq!(echoed["headers"]["spin-path-info"], "/echo");
    assert_eq!(echoed["headers"]["spin-matched-route"], "/...");
    assert_eq!(echoed["headers"]["spin-client-addr"], "0.0.0.0:0");
    assert_eq!(
        echoed["headers"]["spin-full-url"],
        "http://backend.spin.internal/echo?via=chain"
    );

    // The private component has no public route.
    let r = client()
        .get(host.url("/echo"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn chaining_needs_an_allow_list_entry_and_an_existing_component() {
    let host = Host::start(HostSpec::new(APP));
    let (status, body) = call(&host, "stranger", "http://backend.spin.internal/echo").await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("HttpRequestDenied"),
        "{body}"
    );
    let (status, body) = call(&host, "caller", "http://ghost.spin.internal/echo").await;
    assert_eq!(status, 502, "{body}");
    let error = body["error"].as_str().unwrap_or_default().to_string();
    assert!(
        !error.contains("HttpRequestDenied"),
        "allowed, but nobody is there: {error}"
    );
}
