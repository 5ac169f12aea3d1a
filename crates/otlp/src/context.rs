//! W3C Trace Context: trace and span ids, and the `traceparent` header
//! (https://www.w3.org/TR/trace-context/).

use std::fmt;

/// A trace id: 16 bytes, never all zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// A span id: 8 bytes, never all zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

impl TraceId {
    /// A random id (wyrand: ids must be unique, not secret).
    pub fn random() -> Self {
        loop {
            let id = fastrand::u128(..).to_be_bytes();
            if id != [0; 16] {
                return Self(id);
            }
        }
    }

    /// From 32 lowercase hex digits, as `traceparent` writes it.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let mut id = [0; 16];
        decode_hex(hex, &mut id)?;
        (id != [0; 16]).then_some(Self(id))
    }

    pub fn bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl SpanId {
    /// A random id.
    pub fn random() -> Self {
        loop {
            let id = fastrand::u64(..).to_be_bytes();
            if id != [0; 8] {
                return Self(id);
            }
        }
    }

    /// From 16 lowercase hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let mut id = [0; 8];
        decode_hex(hex, &mut id)?;
        (id != [0; 8]).then_some(Self(id))
    }

    pub fn bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// Where a span sits: its trace, its own id, and whether the trace is
/// sampled (recorded and exported) or only propagated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanContext {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub sampled: bool,
}

impl SpanContext {
    /// The first span of a new trace, sampled.
    pub fn new_root() -> Self {
        Self {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            sampled: true,
        }
    }

    /// A new span in the same trace, sampled as this one is (the SDKs'
    /// default sampler, `parentbased_always_on`, decides the same way).
    pub fn new_child(&self) -> Self {
        Self {
            trace_id: self.trace_id,
            span_id: SpanId::random(),
            sampled: self.sampled,
        }
    }

    /// A child of `parent` when there is one, else a new root.
    pub fn child_of(parent: Option<&SpanContext>) -> Self {
        parent.map_or_else(Self::new_root, Self::new_child)
    }

    /// Parses a `traceparent` header. Versions after `00` are read as
    /// `00` (their first four fields), as the specification asks, so a
    /// newer caller still continues its trace; `ff` and malformed values
    /// are refused, and so are all-zero ids.
    pub fn from_traceparent(header: &str) -> Option<Self> {
        let header = header.trim();
        let b = header.as_bytes();
        // ASCII first: the slicing below is by byte.
        if !header.is_ascii() || b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        let version = u8::from_str_radix(lowercase_hex(&header[..2])?, 16).ok()?;
        match version {
            0xff => return None,
            0 if b.len() != 55 => return None,
            // A later version may append fields, after a dash.
            _ if b.len() > 55 && b[55] != b'-' => return None,
            _ => {}
        }
        let flags = u8::from_str_radix(lowercase_hex(&header[53..55])?, 16).ok()?;
        Some(Self {
            trace_id: TraceId::from_hex(&header[3..35])?,
            span_id: SpanId::from_hex(&header[36..52])?,
            sampled: flags & 1 == 1,
        })
    }

    /// The `traceparent` header naming this span as the parent.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{}",
            self.trace_id,
            self.span_id,
            if self.sampled { "01" } else { "00" }
        )
    }

    /// The W3C trace flags byte.
    pub fn flags(&self) -> u8 {
        u8::from(self.sampled)
    }
}

fn lowercase_hex(s: &str) -> Option<&str> {
    s.bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        .then_some(s)
}

fn decode_hex(hex: &str, out: &mut [u8]) -> Option<()> {
    let hex = lowercase_hex(hex)?;
    if hex.len() != out.len() * 2 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(())
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_traceparent_round_trips() {
        let c = SpanContext::from_traceparent(EXAMPLE).expect("valid");
        assert_eq!(c.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(c.span_id.to_string(), "00f067aa0ba902b7");
        assert!(c.sampled);
        assert_eq!(c.traceparent(), EXAMPLE);
        let unsampled = SpanContext::from_traceparent(&EXAMPLE.replace("-01", "-00"))
            .expect("unsampled is valid");
        assert!(!unsampled.sampled);
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in [
            "",
            "garbage",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
        ] {
            assert!(SpanContext::from_traceparent(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_later_version_is_read_as_its_first_fields() {
        let c = SpanContext::from_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-whatever",
        )
        .expect("future versions continue the trace");
        assert_eq!(c.span_id.to_string(), "00f067aa0ba902b7");
        assert!(SpanContext::from_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"
        )
        .is_none());
    }

    #[test]
    fn children_keep_the_trace_and_get_a_span_of_their_own() {
        let parent = SpanContext::from_traceparent(EXAMPLE).expect("valid");
        let child = SpanContext::child_of(Some(&parent));
        assert_eq!(child.trace_id, parent.trace_id);
        assert_ne!(child.span_id, parent.span_id);
        let root = SpanContext::child_of(None);
        assert_ne!(root.trace_id, parent.trace_id);
        assert!(root.sampled);
    }
}
