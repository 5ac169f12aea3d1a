//! Domain events: Rust types generated from `wit/events.wit` (the one
//! definition of the contract), the names the contract gives them
//! ([`contract`]), their JSON form, building envelopes, and the sets of
//! events a consumer takes.

mod contract;

use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::problem::ApiError;

mod generated {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "spinshop:platform/types",
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, schemars::JsonSchema],
        generate_unused_types: true,
    });
}

pub use contract::{topic_of, Payload, Topic, EVENT_TYPES};
pub use generated::spinshop::platform::events::*;

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
    /// A new event caused by the request in `ctx`, or by `cause`, an event
    /// this one reacts to (whose correlation id and trace it keeps).
    pub fn new<P: Payload>(
        payload: &P,
        ctx: &Context,
        cause: Option<&Envelope>,
    ) -> Result<Self, ApiError> {
        let json = serde_json::to_string(payload).map_err(ApiError::internal)?;
        Ok(Self(Envelope {
            id: uuid::Uuid::now_v7().to_string(),
            type_: P::TYPE.to_string(),
            topic: P::TOPIC.as_str().to_string(),
            key: payload.key().to_string(),
            occurred_at: crate::clock::now_rfc3339(),
            correlation_id: cause
                .map_or_else(|| ctx.request_id.clone(), |c| c.correlation_id.clone()),
            causation_id: Some(cause.map_or_else(|| ctx.request_id.clone(), |c| c.id.clone())),
            traceparent: Some(
                cause
                    .and_then(|c| c.traceparent.clone())
                    .unwrap_or_else(|| ctx.traceparent.clone()),
            ),
            payload: json,
        }))
    }

    /// Continues the chain of `correlation_id` (work a component does on
    /// its own, such as a timeout, for something a request started).
    pub fn in_chain(mut self, correlation_id: &str) -> Self {
        self.0.correlation_id = correlation_id.to_string();
        self
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

    /// The envelope as the outbox stores it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The events a consumer takes, as an enum (see [`event_set!`](crate::event_set)).
pub trait EventSet: Sized {
    /// The event types of the set with their topics; `None` for a
    /// consumer of every event (a log of them all).
    const TYPES: Option<&'static [(&'static str, Topic)]>;

    /// The event as a member of the set: `Ok(None)` when its type is not
    /// one; 422 when its payload does not match its type.
    fn from_event(event: &Event) -> Result<Option<Self>, ApiError>;
}

/// The set of a component that consumes no events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEvents {}

impl EventSet for NoEvents {
    const TYPES: Option<&'static [(&'static str, Topic)]> = Some(&[]);

    fn from_event(_: &Event) -> Result<Option<Self>, ApiError> {
        Ok(None)
    }
}

/// The set of a consumer of every event, whatever its type: the handler
/// reads the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnyEvent;

impl EventSet for AnyEvent {
    const TYPES: Option<&'static [(&'static str, Topic)]> = None;

    fn from_event(_: &Event) -> Result<Option<Self>, ApiError> {
        Ok(Some(AnyEvent))
    }
}

/// Declares the enum of the events a consumer takes, one variant per
/// payload record of the contract, named as the record:
///
/// ```ignore
/// platform::event_set! {
///     /// What inventory acts on.
///     pub enum Inbound { ProductCreated, ProductDeleted, ReserveStock }
/// }
/// ```
#[macro_export]
macro_rules! event_set {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis enum $name {
            $($variant($crate::events::$variant)),+
        }

        impl $crate::events::EventSet for $name {
            const TYPES: Option<&'static [(&'static str, $crate::events::Topic)]> = Some(&[$((
                <$crate::events::$variant as $crate::events::Payload>::TYPE,
                <$crate::events::$variant as $crate::events::Payload>::TOPIC,
            )),+]);

            fn from_event(
                event: &$crate::events::Event,
            ) -> Result<Option<Self>, $crate::ApiError> {
                let kind = event.0.type_.as_str();
                $(
                    if kind == <$crate::events::$variant as $crate::events::Payload>::TYPE {
                        return event.payload().map(|p| Some(Self::$variant(p)));
                    }
                )+
                Ok(None)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Method, Request};

    crate::event_set! {
        enum Stock { ProductCreated, LowStock }
    }

    fn product() -> ProductCreated {
        ProductCreated {
            product_id: "p1".into(),
            sku: "SKU-1".into(),
            name: "Pen".into(),
            category: "office".into(),
            brand: "Acme".into(),
            price_cents: 1999,
            stock: 10,
            tags: vec!["blue".into()],
            featured: false,
            description: None,
        }
    }

    #[test]
    fn an_event_round_trips_through_the_json_the_bridge_sees() {
        let req = Request::new(
            Method::Post,
            "/api/catalog",
            &[("x-request-id", "req-1")],
            b"",
        );
        let ctx = Context::from_request("catalog", &req);
        let payload = product();
        let event = Event::new(&payload, &ctx, None).expect("event");
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
        assert_eq!(follow_up.in_chain("c-9").0.correlation_id, "c-9");
    }

    #[test]
    fn a_set_takes_its_types_and_leaves_the_rest() {
        let ctx = Context::from_request("t", &Request::new(Method::Post, "/", &[], b""));
        let created = Event::new(&product(), &ctx, None).expect("event");
        assert_eq!(
            Stock::from_event(&created).expect("member"),
            Some(Stock::ProductCreated(product()))
        );
        let deleted = Event::new(
            &ProductDeleted {
                product_id: "p1".into(),
            },
            &ctx,
            None,
        )
        .expect("event");
        assert_eq!(Stock::from_event(&deleted).expect("not a member"), None);
        let mut garbled = created.clone();
        garbled.0.payload = r#"{"product_id": 5}"#.into();
        assert_eq!(
            Stock::from_event(&garbled)
                .expect_err("bad payload")
                .status(),
            422
        );
        assert_eq!(
            Stock::TYPES.map(|t| t.len()),
            Some(2),
            "the set lists its types"
        );
        assert_eq!(AnyEvent::from_event(&deleted).expect("any"), Some(AnyEvent));
        assert_eq!(NoEvents::from_event(&deleted).expect("none"), None);
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
