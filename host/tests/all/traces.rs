//! Traces: with an OTLP endpoint set, the host exports Spin's spans (the
//! request, the component's execution, each outbound call) to a receiver,
//! continues the caller's trace, hands the callee the client span as its
//! parent, and takes the span a guest names as its execution's.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{client, EchoServer, Host, HostSpec};
use spinshop_testkit::{OtlpReceiver, ReceivedSpan};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const GUEST_SPAN: &str = "b7ad6b7169203331";

fn app(echo_port: u16) -> String {
    format!(
        r#"spin_manifest_version = 2
[application]
name = "traces"

[[trigger.http]]
route = "/caller/..."
component = "caller"
[[trigger.http]]
route = {{ private = true }}
component = "backend"

[component.caller]
source = "{{guest}}"
allowed_outbound_hosts = ["http://backend.spin.internal", "http://127.0.0.1:{echo_port}"]
[component.backend]
source = "{{guest}}"
"#
    )
}

/// `GET /caller/outbound?url=<url>` with `headers`; the guest's report of
/// what came back.
async fn call(host: &Host, url: &str, headers: &[(&str, &str)]) -> Value {
    let target = format!(
        "/caller/outbound?url={}",
        url.replace(':', "%3A").replace('/', "%2F")
    );
    let mut req = client().get(host.url(&target));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("request");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

/// The headers the far end saw, from the guest's report.
fn seen_headers(report: &Value) -> Value {
    let upstream: Value =
        serde_json::from_str(report["body"].as_str().expect("body")).expect("json body");
    upstream["headers"].clone()
}

fn find<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
}

#[tokio::test]
async fn spans_chain_from_the_caller_through_service_chaining() {
    let receiver = OtlpReceiver::start();
    let echo = EchoServer::start();
    let host = Host::start(
        HostSpec::new(&app(echo.addr.port()))
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint())
            .env("OTEL_BSP_SCHEDULE_DELAY", "50")
            .env("OTEL_SERVICE_NAME", "host-test"),
    );
    let incoming = format!("00-{TRACE}-{CALLER_SPAN}-01");
    let guest = format!("00-{TRACE}-{GUEST_SPAN}-01");
    let report = call(
        &host,
        "http://backend.spin.internal/echo",
        &[("traceparent", &incoming), ("x-guest-traceparent", &guest)],
    )
    .await;

    let spans = receiver.wait_for("the request's spans", Duration::from_secs(10), |spans| {
        (spans.len() >= 4 && spans.iter().any(|s| s.name == "GET /caller/..."))
            .then(|| spans.to_vec())
    });
    let server = find(&spans, "GET /caller/...");
    assert_eq!(server.kind, 2);
    assert_eq!(server.service, "host-test");
    assert_eq!(server.trace_id, TRACE);
    assert_eq!(server.parent_span_id.as_deref(), Some(CALLER_SPAN));
    assert_eq!(server.attr_str("http.route"), Some("/caller/..."));
    assert_eq!(server.attr_i64("http.response.status_code"), Some(200));
    assert_eq!(server.attr_str("url.path"), Some("/caller/outbound"));

    // The guest named its span: the execution takes that id.
    let execution = find(&spans, "execute_wasm_component caller");
    assert_eq!(execution.span_id, GUEST_SPAN);
    assert_eq!(execution.parent_span_id, Some(server.span_id.clone()));

    let call = find(&spans, "GET");
    assert_eq!(call.kind, 3);
    assert_eq!(call.parent_span_id.as_deref(), Some(GUEST_SPAN));
    assert_eq!(
        call.attr_str("server.address"),
        Some("backend.spin.internal")
    );
    assert_eq!(call.attr_i64("http.response.status_code"), Some(200));

    // The callee saw the client span as its parent, not the guest's span,
    // and its execution hangs under that span (no server span, as in Spin).
    let seen = seen_headers(&report);
    assert_eq!(
        seen["traceparent"],
        format!("00-{TRACE}-{}-01", call.span_id)
    );
    let callee = find(&spans, "execute_wasm_component backend");
    assert_eq!(callee.parent_span_id, Some(call.span_id.clone()));
    assert!(spans.iter().all(|s| s.trace_id == TRACE), "{spans:#?}");
}

#[tokio::test]
async fn outbound_calls_carry_the_client_span_and_a_root_request_starts_a_trace() {
    let receiver = OtlpReceiver::start();
    let echo = EchoServer::start();
    let host = Host::start(
        HostSpec::new(&app(echo.addr.port()))
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint())
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
            .env("OTEL_BSP_SCHEDULE_DELAY", "50"),
    );
    // No traceparent from the caller, none from the guest: the host still
    // gives the far end one, its client span's.
    let report = call(
        &host,
        &format!("http://127.0.0.1:{}/x", echo.addr.port()),
        &[],
    )
    .await;
    let spans = receiver.wait_for("the request's spans", Duration::from_secs(10), |spans| {
        (spans.len() >= 3).then(|| spans.to_vec())
    });
    let server = find(&spans, "GET /caller/...");
    assert!(server.parent_span_id.is_none(), "a root");
    assert_eq!(server.service, "spinshop");
    assert_eq!(server.encoding, "json");
    let call = find(&spans, "GET");
    assert_eq!(
        seen_headers(&report)["traceparent"],
        format!("00-{}-{}-01", server.trace_id, call.span_id)
    );
    assert_eq!(call.attr_str("server.address"), Some("127.0.0.1"));
    assert_eq!(
        call.attr_i64("server.port"),
        Some(i64::from(echo.addr.port()))
    );

    let metrics = host.metrics().await;
    assert!(
        metrics.contains("spinshop_host_otlp_spans_exported_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_added_to_what_the_guest_sends() {
    let echo = EchoServer::start();
    let host = Host::start(HostSpec::new(&app(echo.addr.port())));
    let url = format!("http://127.0.0.1:{}/x", echo.addr.port());
    let report = call(&host, &url, &[]).await;
    assert!(seen_headers(&report).get("traceparent").is_none());
    // What the guest sends goes through untouched.
    let guest = format!("00-{TRACE}-{GUEST_SPAN}-01");
    let report = call(&host, &url, &[("x-guest-traceparent", &guest)]).await;
    assert_eq!(seen_headers(&report)["traceparent"], guest.as_str());
}
