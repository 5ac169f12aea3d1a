//! Outbound HTTP: allowed destinations are reached, others are refused
//! before any connection is made.

use serde_json::Value;

use crate::harness::{client, guest_app, EchoServer, Host, HostSpec};

async fn outbound(host: &Host, url: &str, method: &str, body: &str) -> (u16, Value) {
    let target = format!(
        "/guest/outbound?url={}&method={method}",
        url.replace(':', "%3A")
            .replace('/', "%2F")
            .replace('?', "%3F")
    );
    let r = client()
        .get(host.url(&target))
        .header("x-test", "passed-along")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

#[tokio::test]
async fn allowed_hosts_are_reached_and_others_denied() {
    let server = EchoServer::start();
    let app = guest_app(
        &format!(
            "allowed_outbound_hosts = [\"http://127.0.0.1:{}\"]",
            server.addr.port()
        ),
        "",
    );
    let host = Host::start(HostSpec::new(&app));

    let (status, body) = outbound(
        &host,
        &format!("http://127.0.0.1:{}/things?q=1", server.addr.port()),
        "GET",
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], 200);
    let upstream: Value = serde_json::from_str(body["body"].as_str().expect("body")).expect("json");
    assert_eq!(upstream["path"], "/things?q=1");
    assert_eq!(upstream["headers"]["x-test"], "passed-along");

    let (status, body) = outbound(
        &host,
        &format!("http://127.0.0.1:{}/submit", server.addr.port()),
        "POST",
        "payload",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let upstream: Value = serde_json::from_str(body["body"].as_str().expect("body")).expect("json");
    assert_eq!(upstream["method"], "POST");
    assert_eq!(upstream["body"], "payload");
    assert_eq!(server.hits.load(std::sync::atomic::Ordering::Relaxed), 2);

    // Same host, another port; and another host altogether.
    let other = EchoServer::start();
    for url in [
        format!("http://127.0.0.1:{}/", other.addr.port()),
        format!("http://localhost:{}/", server.addr.port()),
    ] {
        let (status, body) = outbound(&host, &url, "GET", "").await;
        assert_eq!(status, 502, "{url}: {body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap_or_default()
                .contains("HttpRequestDenied"),
            "{body}"
        );
    }
    assert_eq!(
        other.hits.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "no connection was made"
    );
}
