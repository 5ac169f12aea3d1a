//! The receiver reads what the exporter writes, in both encodings: the
//! exporter's encoder and the receiver's decoder were written apart, so
//! each checks the other.

use std::time::Duration;

use spinshop_otlp::{ExportConfig, Span, SpanContext, SpanKind, Tracer};
use spinshop_testkit::OtlpReceiver;

fn tracer(receiver: &OtlpReceiver, protocol: &str) -> Tracer {
    let endpoint = receiver.endpoint();
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ("OTEL_SERVICE_NAME", "round-trip"),
    ];
    let config = ExportConfig::from_vars("unused", |k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .expect("valid")
    .expect("on");
    Tracer::start(config, ("scope", "1"), |_| {})
}

#[tokio::test]
async fn spans_survive_both_encodings() {
    let receiver = OtlpReceiver::start();
    let parent = SpanContext::new_root();
    let link = SpanContext::new_root();
    for protocol in ["http/protobuf", "http/json"] {
        let tracer = tracer(&receiver, protocol);
        let mut span = Span::child(protocol, SpanKind::Consumer, Some(&parent))
            .with("text", "é and ✓")
            .with("count", -3i64)
            .with("flag", true)
            .with("ratio", 0.5);
        span.link(link);
        span.fail("500", "it broke");
        span.end();
        tracer.record(span.clone());
        tracer.shutdown(Duration::from_secs(10)).await;
        let got = receiver
            .spans()
            .into_iter()
            .find(|s| s.name == protocol)
            .unwrap_or_else(|| panic!("{protocol}: nothing received"));
        assert_eq!(got.service, "round-trip");
        assert_eq!(got.scope, "scope");
        assert_eq!(got.trace_id, parent.trace_id.to_string());
        assert_eq!(got.span_id, span.context.span_id.to_string());
        assert_eq!(got.parent_span_id, Some(parent.span_id.to_string()));
        assert_eq!(got.kind, 5);
        assert_eq!(got.attr_str("text"), Some("é and ✓"));
        assert_eq!(got.attr_i64("count"), Some(-3));
        assert_eq!(got.attributes["flag"], serde_json::json!(true));
        assert_eq!(got.attributes["ratio"], serde_json::json!(0.5));
        assert_eq!(got.attr_str("error.type"), Some("500"));
        assert_eq!(got.status_code, 2);
        assert_eq!(
            got.links,
            vec![(link.trace_id.to_string(), link.span_id.to_string())]
        );
        assert!(got.end_ns >= got.start_ns && got.start_ns > 0);
        let expected = if protocol == "http/json" {
            "json"
        } else {
            "protobuf"
        };
        assert_eq!(got.encoding, expected);
    }
}
