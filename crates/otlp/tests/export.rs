//! The tracer against a collector on loopback: batches arrive, a collector
//! that is down costs the traced work nothing, shutdown exports what waits.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use spinshop_otlp::{ExportConfig, Span, SpanKind, Tracer};
use tokio::net::TcpListener;

/// What the collector received: (path, content type, a header, body).
type Received = Arc<Mutex<Vec<(String, String, String, Vec<u8>)>>>;

async fn collector() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let received: Received = Arc::default();
    let store = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let store = store.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let header = |name: &str| {
                            req.headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_string()
                        };
                        let (ct, key) = (header("content-type"), header("api-key"));
                        let body = req.into_body().collect().await.expect("body").to_bytes();
                        store
                            .lock()
                            .expect("lock")
                            .push((path, ct, key, body.to_vec()));
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                            b"{}",
                        ))))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), received)
}

fn config(endpoint: &str, vars: &[(&str, &str)]) -> ExportConfig {
    let mut all = vec![("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)];
    all.extend_from_slice(vars);
    ExportConfig::from_vars("test-service", |k| {
        all.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .expect("valid")
    .expect("on")
}

fn span(name: &str) -> Span {
    let mut s = Span::child(name, SpanKind::Internal, None);
    s.end();
    s
}

fn report(_: &str) {}

#[tokio::test]
async fn spans_arrive_in_batches_with_the_configured_encoding_and_headers() {
    let (endpoint, received) = collector().await;
    let tracer = Tracer::start(
        config(
            &endpoint,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret"),
                ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ],
        ),
        ("test", "1"),
        report,
    );
    for i in 0..3 {
        tracer.record(span(&format!("s{i}")));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while tracer.stats().exported < 3 {
        assert!(
            Instant::now() < deadline,
            "not exported: {:?}",
            tracer.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = received.lock().expect("lock").clone();
    let (path, ct, key, body) = &got[0];
    assert_eq!(path, "/v1/traces");
    assert_eq!(ct, "application/json");
    assert_eq!(key, "secret");
    let json: serde_json::Value = serde_json::from_slice(body).expect("json");
    let spans = &json["resourceSpans"][0]["scopeSpans"][0]["spans"];
    assert_eq!(spans.as_array().map(Vec::len), Some(3), "one batch: {json}");
    assert_eq!(
        json["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
        "test-service"
    );
}

#[tokio::test]
async fn a_collector_that_is_down_drops_and_counts_and_never_holds_up_recording() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let tracer = Tracer::start(
        config(
            &endpoint,
            &[
                ("OTEL_BSP_SCHEDULE_DELAY", "20"),
                ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ],
        ),
        ("test", "1"),
        report,
    );
    let started = Instant::now();
    for _ in 0..10_000 {
        tracer.record(span("s"));
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "recording waited: {:?}",
        started.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = tracer.stats();
        if s.dropped_queue_full + s.dropped_export_failed == 10_000 {
            assert!(s.dropped_queue_full > 0, "the bounded queue overflowed");
            assert!(s.dropped_export_failed > 0, "exports were tried");
            assert_eq!(s.exported, 0);
            break;
        }
        assert!(Instant::now() < deadline, "unaccounted spans: {s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = tracer.render_metrics("x_otlp");
    assert!(text.contains("x_otlp_spans_dropped_total{reason=\"export_failed\"}"));
}

#[tokio::test]
async fn shutdown_exports_what_is_queued_in_protobuf_by_default() {
    let (endpoint, received) = collector().await;
    let tracer = Tracer::start(
        // A schedule far away: only shutdown can send these.
        config(&endpoint, &[("OTEL_BSP_SCHEDULE_DELAY", "600000")]),
        ("test", "1"),
        report,
    );
    tracer.record(span("last words"));
    tracer.shutdown(Duration::from_secs(10)).await;
    assert_eq!(tracer.stats().exported, 1);
    let got = received.lock().expect("lock").clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, "application/x-protobuf");
    assert!(
        got[0].3.windows(10).any(|w| w == b"last words"),
        "the span's name is in the body"
    );
    // Recorded after shutdown: counted, not lost silently.
    tracer.record(span("late"));
    assert_eq!(tracer.stats().dropped_queue_full, 1);
}

#[test]
fn a_tracer_that_is_off_records_nothing() {
    let tracer = Tracer::default();
    assert!(!tracer.is_on());
    tracer.record(span("ignored"));
    assert_eq!(tracer.stats(), spinshop_otlp::Stats::default());
    assert_eq!(tracer.render_metrics("x"), "");
}
