//! The bridge's spans, exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! is set (the same variables as spinshop-host; see `spinshop_otlp`):
//!
//! - relay: a producer span per event taken from an outbox to Kafka;
//! - delivery: a consumer span per delivery to a component (one event, or
//!   a batch: the first event's trace is the parent, the others are
//!   links), over every attempt until the component has it or it is
//!   dead-lettered. Its context is the `traceparent` of each POST, so the
//!   component's request (the platform reads that header) is its child.
//!
//! Both are children of the event's `traceparent`, the span of the request
//! that published it. Span names and attributes follow OpenTelemetry's
//! messaging conventions (`send <topic>`, `process <topic>`).

use anyhow::{Context as _, Result};
use rdkafka::message::{Message as _, OwnedMessage};
use serde_json::Value;
use spinshop_otlp::{ExportConfig, Span, SpanContext, SpanKind, Tracer};

use crate::log;
use crate::relay_out::Outgoing;

/// The tracer the environment asks for, or one that records nothing.
pub fn tracer_from_env() -> Result<Tracer> {
    let Some(config) = ExportConfig::from_env("kafka-bridge")
        .map_err(anyhow::Error::msg)
        .context("trace export settings")?
    else {
        return Ok(Tracer::default());
    };
    log::info(
        "exporting traces over OTLP",
        &[
            ("endpoint", &config.endpoint.to_string()),
            ("protocol", &format!("{:?}", config.protocol)),
            ("service", config.service_name()),
        ],
    );
    Ok(Tracer::start(
        config,
        ("kafka-bridge", env!("CARGO_PKG_VERSION")),
        |problem| log::warn("trace export failed", &[("error", problem)]),
    ))
}

fn parent_of(traceparent: Option<&str>) -> Option<SpanContext> {
    traceparent.and_then(SpanContext::from_traceparent)
}

/// The producer span of one event on its way from `component`'s outbox to
/// `kafka_topic`; `None` when tracing is off.
pub fn relay(
    tracer: &Tracer,
    component: &str,
    event: &Outgoing,
    kafka_topic: &str,
) -> Option<Span> {
    if !tracer.is_on() {
        return None;
    }
    let parent = parent_of(event.traceparent.as_deref());
    let mut span = Span::child(
        format!("send {kafka_topic}"),
        SpanKind::Producer,
        parent.as_ref(),
    )
    .with("messaging.system", "kafka")
    .with("messaging.operation.type", "send")
    .with("messaging.operation.name", "send")
    .with("messaging.destination.name", kafka_topic)
    .with("messaging.message.id", event.id.as_str())
    .with("messaging.kafka.message.key", event.key.as_str())
    .with("spinshop.event.type", event.event_type.as_str())
    .with("spinshop.component", component);
    if let Some(correlation) = &event.correlation_id {
        span.set("messaging.message.conversation_id", correlation.as_str());
    }
    Some(span)
}

/// Ends a relay span: where Kafka put the event, or why it did not.
pub fn relayed(tracer: &Tracer, span: Option<Span>, outcome: Result<(i32, i64), String>) {
    let Some(mut span) = span else { return };
    match outcome {
        Ok((partition, offset)) => {
            span.set("messaging.destination.partition.id", partition.to_string());
            span.set("messaging.kafka.offset", offset);
        }
        Err(error) => span.fail("produce", error),
    }
    span.end();
    tracer.record(span);
}

/// The consumer span of a delivery; ends when finished, or, dropped
/// unfinished (the bridge stopping, the partition moving), as interrupted.
pub struct Delivery {
    span: Option<Span>,
    tracer: Tracer,
    attempts: i64,
}

impl Delivery {
    /// A delivery of `messages` (with their parsed envelopes, where they
    /// parsed) from `kafka_topic` to `component` at `url`.
    pub fn start(
        tracer: &Tracer,
        component: &str,
        group: &str,
        messages: &[&OwnedMessage],
        envelopes: &[Option<&Value>],
        url: &str,
    ) -> Self {
        let mut delivery = Self {
            span: None,
            tracer: tracer.clone(),
            attempts: 0,
        };
        let (Some(first), true) = (messages.first(), tracer.is_on()) else {
            return delivery;
        };
        let field = |e: Option<&Value>, k: &str| {
            e.and_then(|e| e.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let contexts: Vec<Option<SpanContext>> = envelopes
            .iter()
            .map(|e| parent_of(e.and_then(|e| e.get("traceparent")).and_then(Value::as_str)))
            .collect();
        let parent = contexts.first().copied().flatten();
        let topic = first.topic();
        let mut span = Span::child(
            format!("process {topic}"),
            SpanKind::Consumer,
            parent.as_ref(),
        )
        .with("messaging.system", "kafka")
        .with("messaging.operation.type", "process")
        .with("messaging.operation.name", "process")
        .with("messaging.destination.name", topic)
        .with("messaging.consumer.group.name", group)
        .with(
            "messaging.destination.partition.id",
            first.partition().to_string(),
        )
        .with("messaging.kafka.offset", first.offset())
        .with("spinshop.component", component)
        .with("url.full", url);
        if messages.len() > 1 {
            span.set("messaging.batch.message_count", messages.len());
        }
        let head = envelopes.first().copied().flatten();
        for (key, attribute) in [
            ("id", "messaging.message.id"),
            ("key", "messaging.kafka.message.key"),
            ("correlation_id", "messaging.message.conversation_id"),
            ("type", "spinshop.event.type"),
        ] {
            if let Some(v) = field(head, key) {
                span.set(attribute, v);
            }
        }
        for context in contexts.into_iter().skip(1).flatten() {
            span.link(context);
        }
        delivery.span = Some(span);
        delivery
    }

    /// The `traceparent` for the POST: the delivery span's.
    pub fn traceparent(&self) -> Option<String> {
        self.span.as_ref().map(|s| s.context.traceparent())
    }

    /// One POST was answered with `status` (`None`: no answer).
    pub fn attempted(&mut self, status: Option<u16>) {
        self.attempts += 1;
        if let (Some(span), Some(status)) = (self.span.as_mut(), status) {
            span.set("http.response.status_code", status);
        }
    }

    /// Ends the span: `delivered`, or failed with `outcome` (dead-lettered,
    /// a batch refused) and `error`.
    pub fn finish(mut self, outcome: &str, error: Option<&str>) {
        self.end(outcome, error);
    }

    fn end(&mut self, outcome: &str, error: Option<&str>) {
        let Some(mut span) = self.span.take() else {
            return;
        };
        span.set("spinshop.delivery.outcome", outcome);
        span.set("spinshop.delivery.attempts", self.attempts);
        if let Some(error) = error {
            span.fail(outcome, error);
        }
        span.end();
        self.tracer.record(span);
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        self.end("interrupted", None);
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::message::Timestamp;
    use spinshop_otlp::ExportConfig;

    use super::*;

    const FIRST: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const SECOND: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    /// A tracer that is on (spans are built) whose exports go nowhere.
    fn tracer() -> Tracer {
        let config = ExportConfig::from_vars("t", |k| {
            (k == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "http://127.0.0.1:9".to_string())
        })
        .expect("valid")
        .expect("on");
        Tracer::start(config, ("t", "0"), |_| {})
    }

    fn message(offset: i64) -> OwnedMessage {
        OwnedMessage::new(
            Some(b"{}".to_vec()),
            Some(b"k".to_vec()),
            "t1.orders.events".into(),
            Timestamp::NotAvailable,
            2,
            offset,
            None,
        )
    }

    #[tokio::test]
    async fn a_batch_delivery_is_a_child_of_its_first_event_and_links_the_rest() {
        let tracer = tracer();
        let (a, b) = (message(7), message(8));
        let first = serde_json::json!({"id": "e1", "type": "order.created", "key": "o1",
            "correlation_id": "r1", "traceparent": FIRST});
        let second = serde_json::json!({"id": "e2", "traceparent": SECOND});
        let delivery = Delivery::start(
            &tracer,
            "audit",
            "g.audit",
            &[&a, &b],
            &[Some(&first), Some(&second)],
            "http://h/internal/audit/events",
        );
        let span = delivery.span.as_ref().expect("on");
        assert_eq!(span.name, "process t1.orders.events");
        assert_eq!(span.kind, SpanKind::Consumer);
        let parent = SpanContext::from_traceparent(FIRST).expect("valid");
        assert_eq!(span.context.trace_id, parent.trace_id);
        assert_eq!(span.parent, Some(parent.span_id));
        assert_eq!(
            span.links,
            vec![SpanContext::from_traceparent(SECOND).expect("valid")]
        );
        assert_eq!(
            span.get("messaging.message.conversation_id"),
            Some(&"r1".into())
        );
        assert_eq!(
            span.get("messaging.batch.message_count"),
            Some(&2usize.into())
        );
        let header = delivery.traceparent().expect("a header");
        assert_eq!(
            SpanContext::from_traceparent(&header).map(|c| c.span_id),
            Some(span.context.span_id),
            "the POST names the delivery span"
        );
    }

    #[tokio::test]
    async fn a_relay_span_is_a_child_of_its_events_traceparent() {
        let tracer = tracer();
        let event = Outgoing::from_value(&serde_json::json!({"id": "e1", "type": "order.created",
            "topic": "orders.events", "key": "o1", "traceparent": FIRST, "payload": "{}"}))
        .expect("event");
        let span = relay(&tracer, "orders", &event, "t1.orders.events").expect("on");
        assert_eq!(span.name, "send t1.orders.events");
        assert_eq!(span.kind, SpanKind::Producer);
        assert_eq!(
            span.parent,
            SpanContext::from_traceparent(FIRST).map(|c| c.span_id)
        );
        assert!(relay(&Tracer::default(), "orders", &event, "x").is_none());
    }
}
