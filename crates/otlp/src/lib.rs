//! OTLP trace export for spinshop's native processes (`spinshop-host` and
//! `kafka-bridge`): W3C trace context, spans as plain data, and a tracer
//! that batches them in the background to an OTLP/HTTP collector
//! (protobuf or JSON), configured by the standard `OTEL_*` variables.

pub mod config;
pub mod context;
mod export;
mod json;
mod proto;
pub mod span;
mod transport;

pub use config::{ExportConfig, Protocol};
pub use context::{SpanContext, SpanId, TraceId};
pub use export::{Stats, Tracer};
pub use span::{Span, SpanKind, Status, Value};

/// Where spans come from: the resource (`service.name`...) and the
/// instrumentation scope (the program that made them).
#[derive(Debug, Clone)]
pub struct Origin {
    pub resource: Vec<(String, String)>,
    pub scope_name: String,
    pub scope_version: String,
}

/// Encodes spans as an OTLP/HTTP request body in `protocol`, as the
/// tracer sends them (for tests of what a collector receives).
pub fn encode(protocol: Protocol, origin: &Origin, spans: &[Span]) -> Vec<u8> {
    match protocol {
        Protocol::HttpProtobuf => proto::encode(origin, spans),
        Protocol::HttpJson => json::encode(origin, spans),
    }
}
