//! `ExportTraceServiceRequest` in protobuf, read with a small wire-format
//! reader of its own (written apart from the exporter's encoder, from the
//! field numbers of opentelemetry-proto, so the two check each other).

use std::collections::BTreeMap;

use anyhow::{bail, Context as _, Result};
use serde_json::Value;

use crate::otlp::ReceivedSpan;

/// One field of a message.
enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    /// Span and link flags; read past, not used.
    Fixed32,
}

/// The fields of a message, in order, as (number, value).
fn fields(mut buf: &[u8]) -> Result<Vec<(u64, Field<'_>)>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let field = match key & 7 {
            0 => Field::Varint(varint(&mut buf)?),
            1 => Field::Fixed64(u64::from_le_bytes(take(&mut buf, 8)?.try_into()?)),
            2 => {
                let len = usize::try_from(varint(&mut buf)?)?;
                Field::Bytes(take(&mut buf, len)?)
            }
            5 => {
                take(&mut buf, 4)?;
                Field::Fixed32
            }
            other => bail!("wire type {other} is not used by OTLP"),
        };
        out.push((key >> 3, field));
    }
    Ok(out)
}

fn varint(buf: &mut &[u8]) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first().context("truncated varint")?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    bail!("varint longer than ten bytes")
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if buf.len() < n {
        bail!("truncated field");
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

fn text(bytes: &[u8]) -> Result<String> {
    Ok(std::str::from_utf8(bytes)?.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The request's spans.
pub fn decode(body: &[u8]) -> Result<Vec<ReceivedSpan>> {
    let mut out = Vec::new();
    for (n, f) in fields(body)? {
        if let (1, Field::Bytes(resource_spans)) = (n, f) {
            resource(resource_spans, &mut out)?;
        }
    }
    Ok(out)
}

/// `ResourceSpans { resource = 1, scope_spans = 2 }`.
fn resource(buf: &[u8], out: &mut Vec<ReceivedSpan>) -> Result<()> {
    let mut service = String::new();
    let mut scopes = Vec::new();
    for (n, f) in fields(buf)? {
        match (n, f) {
            (1, Field::Bytes(resource)) => {
                // Resource.attributes = 1
                for (n, f) in fields(resource)? {
                    if let (1, Field::Bytes(kv)) = (n, f) {
                        let (k, v) = key_value(kv)?;
                        if k == "service.name" {
                            service = v.as_str().unwrap_or_default().to_string();
                        }
                    }
                }
            }
            (2, Field::Bytes(scope_spans)) => scopes.push(scope_spans),
            _ => {}
        }
    }
    for scope_spans in scopes {
        let mut scope = String::new();
        for (n, f) in fields(scope_spans)? {
            match (n, f) {
                // InstrumentationScope.name = 1
                (1, Field::Bytes(s)) => {
                    for (n, f) in fields(s)? {
                        if let (1, Field::Bytes(name)) = (n, f) {
                            scope = text(name)?;
                        }
                    }
                }
                (2, Field::Bytes(s)) => out.push(span(s, &service, &scope)?),
                _ => {}
            }
        }
    }
    Ok(())
}

fn span(buf: &[u8], service: &str, scope: &str) -> Result<ReceivedSpan> {
    let mut s = ReceivedSpan {
        service: service.to_string(),
        scope: scope.to_string(),
        trace_id: String::new(),
        span_id: String::new(),
        parent_span_id: None,
        name: String::new(),
        kind: 0,
        start_ns: 0,
        end_ns: 0,
        attributes: BTreeMap::new(),
        links: Vec::new(),
        status_code: 0,
        encoding: "protobuf",
    };
    for (n, f) in fields(buf)? {
        match (n, f) {
            (1, Field::Bytes(b)) => s.trace_id = hex(b),
            (2, Field::Bytes(b)) => s.span_id = hex(b),
            (4, Field::Bytes(b)) if !b.is_empty() => s.parent_span_id = Some(hex(b)),
            (5, Field::Bytes(b)) => s.name = text(b)?,
            (6, Field::Varint(v)) => s.kind = v,
            (7, Field::Fixed64(v)) => s.start_ns = v,
            (8, Field::Fixed64(v)) => s.end_ns = v,
            (9, Field::Bytes(kv)) => {
                let (k, v) = key_value(kv)?;
                s.attributes.insert(k, v);
            }
            (13, Field::Bytes(link)) => {
                let (mut trace, mut span) = (String::new(), String::new());
                for (n, f) in fields(link)? {
                    match (n, f) {
                        (1, Field::Bytes(b)) => trace = hex(b),
                        (2, Field::Bytes(b)) => span = hex(b),
                        _ => {}
                    }
                }
                s.links.push((trace, span));
            }
            // Status.code = 3
            (15, Field::Bytes(status)) => {
                for (n, f) in fields(status)? {
                    if let (3, Field::Varint(code)) = (n, f) {
                        s.status_code = code;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(s)
}

/// `KeyValue { key = 1, value = 2: AnyValue }`.
fn key_value(buf: &[u8]) -> Result<(String, Value)> {
    let mut key = String::new();
    let mut value = Value::Null;
    for (n, f) in fields(buf)? {
        match (n, f) {
            (1, Field::Bytes(k)) => key = text(k)?,
            (2, Field::Bytes(any)) => {
                for (n, f) in fields(any)? {
                    value = match (n, f) {
                        (1, Field::Bytes(s)) => Value::from(text(s)?),
                        (2, Field::Varint(b)) => Value::from(b != 0),
                        (3, Field::Varint(i)) => Value::from(i as i64),
                        (4, Field::Fixed64(d)) => Value::from(f64::from_bits(d)),
                        _ => Value::Null,
                    };
                }
            }
            _ => {}
        }
    }
    Ok((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_made_request_decodes() {
        // One resource (service.name = "s"), one scope, one span with a
        // 16-byte trace id, 8-byte span id, name "n", kind 2 and an int
        // attribute k = 150.
        let kv = |key: &[u8], any: &[u8]| {
            let mut m = vec![0x0a, key.len() as u8];
            m.extend_from_slice(key);
            m.extend_from_slice(&[0x12, any.len() as u8]);
            m.extend_from_slice(any);
            m
        };
        let service = kv(b"service.name", &[0x0a, 1, b's']);
        let attr = kv(b"k", &[0x18, 0x96, 0x01]);
        let mut span = vec![0x0a, 16];
        span.extend_from_slice(&[1; 16]);
        span.extend_from_slice(&[0x12, 8]);
        span.extend_from_slice(&[2; 8]);
        span.extend_from_slice(&[0x2a, 1, b'n', 0x30, 2, 0x4a, attr.len() as u8]);
        span.extend_from_slice(&attr);
        let mut scope_spans = vec![0x12, span.len() as u8];
        scope_spans.extend_from_slice(&span);
        let mut resource = vec![0x0a, service.len() as u8];
        resource.extend_from_slice(&service);
        let mut rs = vec![0x0a, resource.len() as u8];
        rs.extend_from_slice(&resource);
        rs.extend_from_slice(&[0x12, scope_spans.len() as u8]);
        rs.extend_from_slice(&scope_spans);
        let mut request = vec![0x0a, rs.len() as u8];
        request.extend_from_slice(&rs);

        let spans = decode(&request).expect("decodes");
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!(s.service, "s");
        assert_eq!(s.trace_id, "01".repeat(16));
        assert_eq!(s.span_id, "02".repeat(8));
        assert_eq!((s.name.as_str(), s.kind), ("n", 2));
        assert_eq!(s.attr_i64("k"), Some(150));
        assert!(s.parent_span_id.is_none());
        assert!(decode(&[0x0a, 5, 1]).is_err(), "truncated");
    }
}
