//! `ExportTraceServiceRequest` in protobuf, written by hand.
//!
//! Why not prost and the generated types: the request is five small
//! messages that only ever get written, and their wire format (varints,
//! length-delimited fields, fixed64 times) fits in this file, whereas
//! prost, prost-derive and the generated OTLP types (or the opentelemetry
//! SDK, which brings them with tonic) would be new crates in both
//! binaries. Field numbers are those of opentelemetry-proto's
//! `trace/v1/trace.proto`, `common/v1/common.proto` and
//! `resource/v1/resource.proto`.

use crate::json::nanos;
use crate::span::{Span, Status, Value};
use crate::Origin;

/// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// The request body.
pub fn encode(origin: &Origin, spans: &[Span]) -> Vec<u8> {
    let mut resource = Vec::new();
    for (k, v) in &origin.resource {
        // Resource.attributes = 1
        message(&mut resource, 1, |m| {
            key_value(m, k, &Value::Str(v.clone()))
        });
    }
    let mut scope_spans = Vec::new();
    // ScopeSpans.scope = 1: InstrumentationScope { name = 1, version = 2 }
    message(&mut scope_spans, 1, |m| {
        string(m, 1, &origin.scope_name);
        string(m, 2, &origin.scope_version);
    });
    for s in spans {
        // ScopeSpans.spans = 2
        message(&mut scope_spans, 2, |m| span(m, s));
    }
    let mut resource_spans = Vec::new();
    // ResourceSpans { resource = 1, scope_spans = 2 }
    bytes(&mut resource_spans, 1, &resource);
    bytes(&mut resource_spans, 2, &scope_spans);
    let mut request = Vec::with_capacity(resource_spans.len() + 8);
    // ExportTraceServiceRequest.resource_spans = 1
    bytes(&mut request, 1, &resource_spans);
    request
}

fn span(m: &mut Vec<u8>, s: &Span) {
    bytes(m, 1, s.context.trace_id.bytes());
    bytes(m, 2, s.context.span_id.bytes());
    if let Some(parent) = s.parent {
        bytes(m, 4, parent.bytes());
    }
    string(m, 5, &s.name);
    uint(m, 6, s.kind.number());
    fixed64(m, 7, nanos(s.start));
    fixed64(m, 8, nanos(s.end));
    for (k, v) in &s.attributes {
        message(m, 9, |kv| key_value(kv, k, v));
    }
    for link in &s.links {
        // Span.links = 13: Link { trace_id = 1, span_id = 2, flags = 6 }
        message(m, 13, |l| {
            bytes(l, 1, link.trace_id.bytes());
            bytes(l, 2, link.span_id.bytes());
            fixed32(l, 6, u32::from(link.flags()));
        });
    }
    // Span.status = 15: Status { message = 2, code = 3 }
    match &s.status {
        Status::Unset => {}
        Status::Ok => message(m, 15, |st| uint(st, 3, 1)),
        Status::Error(text) => message(m, 15, |st| {
            string(st, 2, text);
            uint(st, 3, 2);
        }),
    }
    fixed32(m, 16, u32::from(s.context.flags()));
}

/// `KeyValue { key = 1, value = 2 }`, the value an `AnyValue` whose oneof
/// is string = 1, bool = 2, int = 3, double = 4.
fn key_value(m: &mut Vec<u8>, key: &str, value: &Value) {
    string(m, 1, key);
    message(m, 2, |any| match value {
        Value::Str(s) => {
            // Written even when empty: presence selects the oneof case.
            tag(any, 1, LEN);
            varint(any, s.len() as u64);
            any.extend_from_slice(s.as_bytes());
        }
        Value::Bool(b) => {
            tag(any, 2, VARINT);
            varint(any, u64::from(*b));
        }
        Value::Int(i) => {
            tag(any, 3, VARINT);
            // int64: two's complement, as ten bytes when negative.
            varint(any, *i as u64);
        }
        Value::Float(f) => {
            tag(any, 4, FIXED64);
            any.extend_from_slice(&f.to_bits().to_le_bytes());
        }
    });
}

fn tag(m: &mut Vec<u8>, field: u32, wire: u8) {
    varint(m, (u64::from(field) << 3) | u64::from(wire));
}

fn varint(m: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        m.push((v as u8) | 0x80);
        v >>= 7;
    }
    m.push(v as u8);
}

/// A length-delimited field; proto3 leaves out empty ones.
fn bytes(m: &mut Vec<u8>, field: u32, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    tag(m, field, LEN);
    varint(m, data.len() as u64);
    m.extend_from_slice(data);
}

fn string(m: &mut Vec<u8>, field: u32, s: &str) {
    bytes(m, field, s.as_bytes());
}

/// A varint field; proto3 leaves out zero.
fn uint(m: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        tag(m, field, VARINT);
        varint(m, v);
    }
}

fn fixed64(m: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        tag(m, field, FIXED64);
        m.extend_from_slice(&v.to_le_bytes());
    }
}

fn fixed32(m: &mut Vec<u8>, field: u32, v: u32) {
    if v != 0 {
        tag(m, field, FIXED32);
        m.extend_from_slice(&v.to_le_bytes());
    }
}

/// A nested message, written into its own buffer to learn its length.
/// Unlike [`bytes`] it is written even when empty: an `AnyValue` or a
/// `Status` that is present means something.
fn message(m: &mut Vec<u8>, field: u32, write: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    write(&mut inner);
    tag(m, field, LEN);
    varint(m, inner.len() as u64);
    m.extend_from_slice(&inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_tags_follow_the_wire_format() {
        let mut m = Vec::new();
        varint(&mut m, 300);
        assert_eq!(m, [0xac, 0x02]);
        let mut m = Vec::new();
        varint(&mut m, -1i64 as u64);
        assert_eq!(m.len(), 10, "negative int64 takes ten bytes");
        let mut m = Vec::new();
        tag(&mut m, 16, FIXED32);
        assert_eq!(m, [0x85, 0x01]);
    }

    #[test]
    fn a_key_value_is_a_string_and_an_any_value() {
        let mut m = Vec::new();
        key_value(&mut m, "a", &Value::Int(150));
        // key = 1 "a"; value = 2 { int_value = 3: 150 }
        assert_eq!(m, [0x0a, 0x01, b'a', 0x12, 0x03, 0x18, 0x96, 0x01]);
        let mut m = Vec::new();
        key_value(&mut m, "e", &Value::Str(String::new()));
        assert_eq!(m, [0x0a, 0x01, b'e', 0x12, 0x02, 0x0a, 0x00]);
    }
}
