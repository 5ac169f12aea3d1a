//! `ExportTraceServiceRequest` in OTLP/JSON: protobuf's JSON mapping with
//! OTLP's exceptions (ids as hex, not base64; enums as numbers). 64-bit
//! integers are strings, as the mapping writes them.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value as Json};

use crate::span::{Span, Status, Value};
use crate::Origin;

/// The request body.
pub fn encode(origin: &Origin, spans: &[Span]) -> Vec<u8> {
    let resource: Vec<Json> = origin
        .resource
        .iter()
        .map(|(k, v)| key_value(k, &Value::Str(v.clone())))
        .collect();
    let body = json!({
        "resourceSpans": [{
            "resource": { "attributes": resource },
            "scopeSpans": [{
                "scope": { "name": origin.scope_name, "version": origin.scope_version },
                "spans": spans.iter().map(span).collect::<Vec<_>>(),
            }],
        }],
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

fn span(s: &Span) -> Json {
    let mut out = Map::new();
    out.insert("traceId".into(), s.context.trace_id.to_string().into());
    out.insert("spanId".into(), s.context.span_id.to_string().into());
    if let Some(parent) = s.parent {
        out.insert("parentSpanId".into(), parent.to_string().into());
    }
    out.insert("flags".into(), u32::from(s.context.flags()).into());
    out.insert("name".into(), s.name.clone().into());
    out.insert("kind".into(), s.kind.number().into());
    out.insert(
        "startTimeUnixNano".into(),
        nanos(s.start).to_string().into(),
    );
    out.insert("endTimeUnixNano".into(), nanos(s.end).to_string().into());
    out.insert(
        "attributes".into(),
        s.attributes
            .iter()
            .map(|(k, v)| key_value(k, v))
            .collect::<Vec<_>>()
            .into(),
    );
    if !s.links.is_empty() {
        let links: Vec<Json> = s
            .links
            .iter()
            .map(|l| {
                json!({"traceId": l.trace_id.to_string(), "spanId": l.span_id.to_string(),
                       "flags": u32::from(l.flags())})
            })
            .collect();
        out.insert("links".into(), links.into());
    }
    match &s.status {
        Status::Unset => {}
        Status::Ok => {
            out.insert("status".into(), json!({"code": 1}));
        }
        Status::Error(message) => {
            out.insert("status".into(), json!({"code": 2, "message": message}));
        }
    }
    Json::Object(out)
}

fn key_value(key: &str, value: &Value) -> Json {
    let value = match value {
        Value::Str(s) => json!({ "stringValue": s }),
        Value::Int(i) => json!({ "intValue": i.to_string() }),
        Value::Bool(b) => json!({ "boolValue": b }),
        Value::Float(f) if f.is_finite() => json!({ "doubleValue": f }),
        // JSON has no NaN or infinity; protobuf's mapping spells them so.
        Value::Float(f) => json!({ "doubleValue": f.to_string() }),
    };
    json!({ "key": key, "value": value })
}

/// Nanoseconds since the Unix epoch.
pub(crate) fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::SpanContext;
    use crate::span::SpanKind;

    #[test]
    fn spans_are_written_with_otlp_json_conventions() {
        let parent = SpanContext::from_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .expect("valid");
        let mut s = Span::child("GET /x/...", SpanKind::Server, Some(&parent))
            .with("http.response.status_code", 200u16)
            .with("url.path", "/x/y");
        s.link(SpanContext::new_root());
        s.fail("500", "boom");
        s.end();
        let origin = Origin {
            resource: vec![("service.name".into(), "spinshop".into())],
            scope_name: "test".into(),
            scope_version: "1".into(),
        };
        let body: Json = serde_json::from_slice(&encode(&origin, &[s.clone()])).expect("json");
        let rs = &body["resourceSpans"][0];
        assert_eq!(
            rs["resource"]["attributes"][0],
            json!({"key": "service.name", "value": {"stringValue": "spinshop"}})
        );
        assert_eq!(rs["scopeSpans"][0]["scope"]["name"], "test");
        let span = &rs["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(span["spanId"], s.context.span_id.to_string());
        assert_eq!(span["kind"], 2);
        assert_eq!(span["flags"], 1);
        assert!(span["startTimeUnixNano"].is_string());
        assert_eq!(
            span["attributes"][0],
            json!({"key": "http.response.status_code", "value": {"intValue": "200"}})
        );
        assert_eq!(span["status"], json!({"code": 2, "message": "boom"}));
        assert_eq!(span["links"].as_array().map(Vec::len), Some(1));
    }
}
