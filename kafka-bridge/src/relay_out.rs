//! Relay out: drain a component's outbox into Kafka, then acknowledge.
//! Events are produced with the idempotent producer, keyed by aggregate id;
//! only events Kafka confirmed are acknowledged, in outbox order, so a crash
//! at any point produces an event again rather than losing it. A drain
//! starts when the component announces new rows (see `wake`), or at the
//! next poll, whichever comes first.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;
use spinshop_otlp::Tracer;
use tokio::sync::{watch, Notify};

use crate::backoff::Backoff;
use crate::config::OutboxPolicy;
use crate::log;
use crate::metrics::Metrics;
use crate::platform::Platform;
use crate::traces;

/// How long a produce may wait in librdkafka's queue before it fails.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(30);

/// The part of an outbox event the relay needs.
#[derive(Debug)]
pub struct Outgoing {
    pub id: String,
    pub topic: String,
    pub key: String,
    pub traceparent: Option<String>,
    pub correlation_id: Option<String>,
    pub event_type: String,
    pub body: Vec<u8>,
}

impl Outgoing {
    pub fn from_value(v: &Value) -> Result<Self> {
        let field = |name: &str| {
            v.get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .with_context(|| format!("outbox event without a string `{name}`: {v}"))
        };
        Ok(Self {
            id: field("id")?,
            topic: field("topic")?,
            key: field("key")?,
            event_type: field("type")?,
            traceparent: v
                .get("traceparent")
                .and_then(Value::as_str)
                .map(str::to_string),
            correlation_id: v
                .get("correlation_id")
                .and_then(Value::as_str)
                .map(str::to_string),
            body: serde_json::to_vec(v)?,
        })
    }
}

/// What one component's relay needs.
pub struct Relay {
    pub component: String,
    pub platform: Platform,
    pub producer: FutureProducer,
    pub policy: OutboxPolicy,
    pub metrics: Arc<Metrics>,
    /// Prepended to every topic (see `Config::topic_prefix`).
    pub topic_prefix: String,
    /// Fired when the component has new rows.
    pub wake: Arc<Notify>,
    pub tracer: Tracer,
}

/// Drains one component until `stop` says so.
pub async fn run(relay: Relay, mut stop: watch::Receiver<bool>) {
    let Relay {
        component,
        platform,
        producer,
        policy,
        metrics,
        topic_prefix,
        wake,
        tracer,
    } = relay;
    let idle = Backoff::new(policy.idle_min_ms, policy.idle_max_ms);
    let mut idle_rounds = 0u32;
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        let drained = drain_once(
            &component,
            &platform,
            &producer,
            policy.batch,
            &topic_prefix,
            &metrics,
            &tracer,
        )
        .await;
        let wait = match drained {
            Ok(0) => {
                failures = 0;
                idle_rounds = idle_rounds.saturating_add(1);
                idle.ceiling(idle_rounds.saturating_sub(1))
            }
            Ok(_) => {
                failures = 0;
                idle_rounds = 0;
                continue;
            }
            Err(e) => {
                metrics.count(
                    "bridge_outbox_errors_total",
                    &[("component", &component)],
                    1.0,
                );
                log::warn(
                    "outbox drain failed",
                    &[("component", &component), ("error", &format!("{e:#}"))],
                );
                failures = failures.saturating_add(1);
                Backoff::new(200, 5_000).delay(failures)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified(), if failures == 0 => {}
            _ = stop.changed() => {}
        }
    }
}

/// One round: read a batch, produce it, ack what Kafka confirmed. Returns
/// how many events were relayed.
pub async fn drain_once(
    component: &str,
    platform: &Platform,
    producer: &FutureProducer,
    batch: u32,
    topic_prefix: &str,
    metrics: &Metrics,
    tracer: &Tracer,
) -> Result<usize> {
    let events = platform.outbox(component, batch).await?;
    if events.is_empty() {
        return Ok(0);
    }
    let outgoing = events
        .iter()
        .map(Outgoing::from_value)
        .collect::<Result<Vec<_>>>()?;
    // All sends are queued at once; librdkafka batches them and, being
    // idempotent, keeps their order per partition.
    let topics: Vec<String> = outgoing
        .iter()
        .map(|e| format!("{topic_prefix}{}", e.topic))
        .collect();
    let sends = outgoing.iter().zip(&topics).map(|(e, topic)| {
        let mut headers = OwnedHeaders::new().insert(Header {
            key: "event-type",
            value: Some(e.event_type.as_str()),
        });
        if let Some(tp) = &e.traceparent {
            headers = headers.insert(Header {
                key: "traceparent",
                value: Some(tp.as_str()),
            });
        }
        let record = FutureRecord::to(topic)
            .key(&e.key)
            .payload(&e.body)
            .headers(headers);
        producer.send(record, QUEUE_TIMEOUT)
    });
    let spans: Vec<_> = outgoing
        .iter()
        .zip(&topics)
        .map(|(e, topic)| traces::relay(tracer, component, e, topic))
        .collect();
    let results = futures::future::join_all(sends).await;
    for (span, result) in spans.into_iter().zip(&results) {
        let outcome = match result {
            Ok(d) => Ok((d.partition, d.offset)),
            Err((e, _)) => Err(e.to_string()),
        };
        traces::relayed(tracer, span, outcome);
    }
    // Ack the confirmed prefix only: an event after a failed one is
    // produced again with it, which keeps per-key order on the retry.
    let mut confirmed = Vec::with_capacity(outgoing.len());
    let mut failure = None;
    for (event, result) in outgoing.iter().zip(results) {
        match result {
            Ok(_) => confirmed.push(event),
            Err((e, _)) => {
                failure = Some(format!("producing {} to {}: {e}", event.id, event.topic));
                break;
            }
        }
    }
    if !confirmed.is_empty() {
        let ids: Vec<String> = confirmed.iter().map(|e| e.id.clone()).collect();
        platform.ack(component, &ids).await?;
        for e in &confirmed {
            metrics.count("bridge_relayed_out_total", &[("topic", &e.topic)], 1.0);
        }
    }
    match failure {
        Some(f) => anyhow::bail!(f),
        None => Ok(confirmed.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_events_keep_their_envelope_and_routing_fields() {
        let v = serde_json::json!({
            "id": "e1", "type": "catalog.product_created", "topic": "catalog.events",
            "key": "p1", "traceparent": "00-abc-def-01", "payload": "{}",
            "created_at_ms": 5
        });
        let e = Outgoing::from_value(&v).expect("event");
        assert_eq!(e.id, "e1");
        assert_eq!(e.topic, "catalog.events");
        assert_eq!(e.key, "p1");
        assert_eq!(e.traceparent.as_deref(), Some("00-abc-def-01"));
        let body: Value = serde_json::from_slice(&e.body).expect("json");
        assert_eq!(
            body, v,
            "the whole envelope travels, created_at_ms included"
        );
        assert!(Outgoing::from_value(&serde_json::json!({"id": "e1"})).is_err());
    }
}
