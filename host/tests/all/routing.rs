//! Routing precedence and the request headers Spin gives a component.

use serde_json::Value;

use crate::harness::{client, Host, HostSpec};

const APP: &str = r#"spin_manifest_version = 2
[application]
name = "routing"

[[trigger.http]]
route = "/..."
component = "fallback"
[[trigger.http]]
route = "/api/..."
component = "api"
[[trigger.http]]
route = "/api/items/:id"
component = "item"
[[trigger.http]]
route = "/api/items/special"
component = "special"
[[trigger.http]]
route = { private = true }
component = "hidden"

[component.fallback]
source = "{guest}"
[component.api]
source = "{guest}"
[component.item]
source = "{guest}"
[component.special]
source = "{guest}"
[component.hidden]
source = "{guest}"
"#;

const NARROW: &str = r#"spin_manifest_version = 2
[application]
name = "narrow"
[[trigger.http]]
route = "/guest/..."
component = "guest"
[[trigger.http]]
route = "/exact"
component = "guest"
[component.guest]
source = "{guest}"
"#;

async fn echo(host: &Host, path: &str) -> Value {
    let response = client()
        .get(host.url(path))
        .header("spin-client-addr", "6.6.6.6:666")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("echo json")
}

fn header<'a>(echo: &'a Value, name: &str) -> &'a str {
    echo["headers"][name]
        .as_str()
        .unwrap_or_else(|| panic!("header {name} missing in {echo}"))
}

#[tokio::test]
async fn most_specific_route_wins_and_spin_headers_are_set() {
    let host = Host::start(HostSpec::new(APP));

    // The guest dispatches on spin-path-info, so a wildcard route whose
    // remainder is /echo reaches its echo handler.
    let e = echo(&host, "/api/echo?x=1").await;
    assert_eq!(header(&e, "spin-matched-route"), "/api/...");
    assert_eq!(header(&e, "spin-raw-component-route"), "/api/...");
    assert_eq!(header(&e, "spin-component-route"), "/api");
    assert_eq!(header(&e, "spin-path-info"), "/echo");
    assert_eq!(header(&e, "spin-base-path"), "/");
    assert_eq!(
        header(&e, "spin-full-url"),
        format!("http://{}/api/echo?x=1", host.addr)
    );
    // A client cannot spoof the address Spin reports.
    assert_eq!(
        header(&e, "spin-client-addr").split(':').next(),
        Some("127.0.0.1")
    );

    let e = echo(&host, "/echo").await;
    assert_eq!(header(&e, "spin-matched-route"), "/...");
    assert_eq!(header(&e, "spin-path-info"), "/echo");

    // `:id` beats the `/api/...` wildcard; the literal beats `:id`. Neither
    // has a path info, so the guest answers its 404 — which still proves
    // which component (route) was chosen through the log line.
    for (path, route) in [
        ("/api/items/42", "/api/items/:id"),
        ("/api/items/special", "/api/items/special"),
    ] {
        let r = client().get(host.url(path)).send().await.expect("request");
        assert_eq!(r.status(), 404, "guest's own 404 for {path}");
        let line = host.wait_for_log(|l| l["path"] == path);
        assert_eq!(line["route"], route, "{line}");
    }
}

#[tokio::test]
async fn named_segments_become_path_match_headers() {
    let app = r#"spin_manifest_version = 2
[application]
name = "params"
[[trigger.http]]
route = "/shops/:shop/items/:item/..."
component = "guest"
[component.guest]
source = "{guest}"
"#;
    let host = Host::start(HostSpec::new(app));
    let e = echo(&host, "/shops/acme/items/7/echo").await;
    assert_eq!(header(&e, "spin-path-match-shop"), "acme");
    assert_eq!(header(&e, "spin-path-match-item"), "7");
    assert_eq!(header(&e, "spin-path-info"), "/echo");
}

#[tokio::test]
async fn unmatched_paths_and_private_routes_are_404() {
    let host = Host::start(HostSpec::new(NARROW));
    for path in ["/", "/nothing", "/exact/more", "/guestx/echo"] {
        let r = client().get(host.url(path)).send().await.expect("request");
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.text().await.expect("body"), "Not Found");
    }
    let line = host.wait_for_log(|l| l["path"] == "/nothing");
    assert_eq!(line["status"], 404);
    let r = client()
        .get(host.url("/guest/echo"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn every_request_is_logged_as_one_json_line_and_counted() {
    let host = Host::start(HostSpec::new(NARROW));
    let r = client()
        .post(host.url("/guest/echo"))
        .header("x-request-id", "req-123")
        .body("hello")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["body"], "hello");
    assert_eq!(body["method"], "POST");

    let line = host.wait_for_log(|l| l["request_id"] == "req-123");
    assert_eq!(line["component"], "guest");
    assert_eq!(line["route"], "/guest/...");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["status"], 200);
    assert!(line["duration_ms"].as_f64().is_some(), "{line}");

    let metrics = host.metrics().await;
    assert!(
        metrics.contains("spinshop_host_requests_total{component=\"guest\",route=\"/guest/...\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("spinshop_host_instantiation_seconds_count 1"),
        "{metrics}"
    );
}
