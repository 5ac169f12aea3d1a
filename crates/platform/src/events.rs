//! Domain events: Rust types generated from `wit/events.wit` (the one
//! definition of the contract), their JSON form, and building envelopes.

use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::problem::ApiError;

mod generated {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "spinshop:platform/types",
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
        generate_unused_types: true,
    });
}

pub use generated::spinshop::platform::events::*;

/// Topics, each with a `.dlq` twin in Kafka.
pub mod topics {
    pub const CATALOG: &str = "catalog.events";
    pub const INVENTORY_COMMANDS: &str = "inventory.commands";
    pub const INVENTORY: &str = "inventory.events";
    pub const ORDERS: &str = "orders.events";
    pub const PAYMENTS_COMMANDS: &str = "payments.commands";
    pub const PAYMENTS: &str = "payments.events";
    pub const USERS: &str = "users.events";
    pub const MARKETPLACE: &str = "marketplace.events";
    pub const NOTIFICATIONS_COMMANDS: &str = "notifications.commands";
}

/// The envelope's JSON form: the generated record, with `type` spelled as
/// the wire has it (Rust's field is `type_`). Unknown fields are ignored
/// (a tolerant reader), so producers and relays can add metadata, such as
/// the outbox's `created_at_ms`, without breaking consumers.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Envelope")]
struct EnvelopeJson {
    id: String,
    #[serde(rename = "type")]
    type_: String,
    topic: String,
    key: String,
    occurred_at: String,
    correlation_id: String,
    #[serde(default)]
    causation_id: Option<String>,
    #[serde(default)]
    traceparent: Option<String>,
    payload: String,
}

/// An envelope as it travels: `Serialize`/`Deserialize` with the wire names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event(#[serde(with = "EnvelopeJson")] pub Envelope);

impl Event {
    /// A new event caused by the request in `ctx` (or by `cause`, an event
    /// this one reacts to, whose correlation id it keeps).
    pub fn new<P: Serialize>(
        event_type: &str,
        topic: &str,
        key: &str,
        payload: &P,
        ctx: &Context,
        cause: Option<&Envelope>,
    ) -> Result<Self, ApiError> {
        let payload = serde_json::to_string(payload).map_err(ApiError::internal)?;
        Ok(Self(Envelope {
            id: uuid::Uuid::now_v7().to_string(),
            type_: event_type.to_string(),
            topic: topic.to_string(),
            key: key.to_string(),
            occurred_at: now_rfc3339(),
            correlation_id: cause
                .map_or_else(|| ctx.request_id.clone(), |c| c.correlation_id.clone()),
            causation_id: Some(cause.map_or_else(|| ctx.request_id.clone(), |c| c.id.clone())),
            traceparent: Some(
                cause
                    .and_then(|c| c.traceparent.clone())
                    .unwrap_or_else(|| ctx.traceparent.clone()),
            ),
            payload,
        }))
    }

    /// The payload as its record type; a mismatch is the sender's fault (422).
    pub fn payload<P: for<'de> Deserialize<'de>>(&self) -> Result<P, ApiError> {
        serde_json::from_str(&self.0.payload).map_err(|e| {
            ApiError::invalid(
                "payload",
                format!("payload of {} does not match its type: {e}", self.0.type_),
            )
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A new event or entity id: UUID v7, so ids sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A Unix time in milliseconds as RFC 3339 UTC with exactly three
/// fractional digits (`2026-11-22T08:52:34.740Z`), so that timestamps sort
/// as text in time order.
pub fn rfc3339_from_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(format_ms)
        .unwrap_or_default()
}

/// Current UTC time, RFC 3339 with exactly three fractional digits.
pub fn now_rfc3339() -> String {
    format_ms(time::OffsetDateTime::now_utc())
}

fn format_ms(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Method, Request};

    #[test]
    fn an_event_round_trips_through_the_json_the_bridge_sees() {
        let req = Request::new(
            Method::Post,
            "/api/catalog",
            &[("x-request-id", "req-1")],
            b"",
        );
        let ctx = Context::from_request("catalog", &req);
        let payload = ProductCreated {
            product_id: "p1".into(),
            sku: "SKU-1".into(),
            name: "Pen".into(),
            category: "office".into(),
            brand: "Acme".into(),
            price_cents: 1999,
            stock: 10,
            tags: vec!["blue".into()],
            featured: false,
        };
        let event = Event::new(
            "catalog.product_created",
            topics::CATALOG,
            "p1",
            &payload,
            &ctx,
            None,
        )
        .expect("event");
        let json: serde_json::Value = serde_json::from_str(&event.to_json()).expect("json");
        assert_eq!(json["type"], "catalog.product_created");
        assert_eq!(json["topic"], "catalog.events");
        assert_eq!(json["key"], "p1");
        assert_eq!(json["correlation_id"], "req-1");
        assert_eq!(json["causation_id"], "req-1");
        assert!(json["traceparent"].as_str().expect("tp").starts_with("00-"));
        let inner: serde_json::Value =
            serde_json::from_str(json["payload"].as_str().expect("payload")).expect("payload json");
        assert_eq!(inner["price_cents"], 1999);
        assert_eq!(inner["product_id"], "p1");

        let back: Event = serde_json::from_value(json).expect("parses back");
        assert_eq!(back, event);
        assert_eq!(back.payload::<ProductCreated>().expect("payload"), payload);
        assert!(back.payload::<ReservationFailed>().is_err());

        let follow_up = Event::new(
            "inventory.low_stock",
            topics::INVENTORY,
            "p1",
            &LowStock {
                product_id: "p1".into(),
                available: 1,
                threshold: 5,
            },
            &ctx,
            Some(&back.0),
        )
        .expect("event");
        assert_eq!(follow_up.0.correlation_id, "req-1");
        assert_eq!(
            follow_up.0.causation_id.as_deref(),
            Some(back.0.id.as_str())
        );
    }

    #[test]
    fn timestamps_have_fixed_width_milliseconds_and_sort_as_text() {
        assert_eq!(rfc3339_from_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_from_ms(1_795_337_554_740),
            "2026-11-22T08:52:34.740Z"
        );
        let times: Vec<String> = [737, 740, 747, 1_000]
            .iter()
            .map(|ms| rfc3339_from_ms(1_795_337_554_000 + ms))
            .collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(sorted, times);
        let now = now_rfc3339();
        assert_eq!(now.len(), 24, "{now}");
        assert!(
            time::OffsetDateTime::parse(&now, &time::format_description::well_known::Rfc3339)
                .is_ok()
        );
    }

    #[test]
    fn unknown_envelope_fields_are_ignored_and_required_ones_enforced() {
        let extra = r#"{"id":"1","type":"x","topic":"t","key":"k","occurred_at":"now","correlation_id":"c","payload":"{}","created_at_ms":1}"#;
        let event: Event = serde_json::from_str(extra).expect("tolerant");
        assert_eq!(event.0.type_, "x");
        let missing = r#"{"id":"1","topic":"t","key":"k","occurred_at":"now","correlation_id":"c","payload":"{}"}"#;
        assert!(
            serde_json::from_str::<Event>(missing).is_err(),
            "type is required"
        );
    }
}
