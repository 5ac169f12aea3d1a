//! Idempotent event handling for `POST /internal/events`: the event id is
//! recorded in `processed_events` in the same transaction as the handler's
//! effects, so a redelivered event changes nothing and still gets a 2xx.

use serde_json::json;

use crate::db::{int, now_ms, text, Db, Migration};
use crate::events::Event;
use crate::problem::ApiError;
use crate::request::Request;
use crate::response::Response;

/// The processed-events table; add it to a component's migrations.
pub const MIGRATION: Migration = &["CREATE TABLE IF NOT EXISTS processed_events (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        processed_at_ms INTEGER NOT NULL)"];

/// What became of a delivered event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Processed,
    Duplicate,
}

/// Applies `effects` for `event` exactly once.
pub fn process_once(
    db: &Db,
    event: &Event,
    effects: impl FnOnce(&Db) -> Result<(), ApiError>,
) -> Result<Outcome, ApiError> {
    db.transaction(|db| {
        let seen = db.execute(
            "SELECT 1 FROM processed_events WHERE id = ?",
            &[text(&event.0.id)],
        )?;
        if !seen.rows.is_empty() {
            return Ok(Outcome::Duplicate);
        }
        effects(db)?;
        db.execute(
            "INSERT INTO processed_events (id, type, processed_at_ms) VALUES (?, ?, ?)",
            &[text(&event.0.id), text(&event.0.type_), int(now_ms())],
        )?;
        Ok(Outcome::Processed)
    })
}

/// Parses the delivered envelope; a malformed one is 400 (the bridge sends
/// it to the DLQ rather than retrying).
pub fn parse(req: &Request) -> Result<Event, ApiError> {
    req.json::<Event>()
}

/// Most events in one batch delivery.
pub const MAX_BATCH: usize = 500;

/// The events of a delivery: one envelope, or the bridge's batch
/// `{"events": [envelope, ...]}` (several events of one partition, in order).
pub fn parse_delivery(req: &Request) -> Result<(Vec<Event>, bool), ApiError> {
    let value: serde_json::Value = req.json()?;
    let Some(list) = value
        .as_object()
        .filter(|o| !o.contains_key("id"))
        .and_then(|o| o.get("events"))
    else {
        return serde_json::from_value::<Event>(value)
            .map(|e| (vec![e], false))
            .map_err(|e| ApiError::invalid("body", format!("not an event envelope: {e}")));
    };
    let list = list
        .as_array()
        .ok_or_else(|| ApiError::invalid("events", "must be an array of event envelopes"))?;
    if list.is_empty() || list.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "events",
            format!("must hold 1 to {MAX_BATCH} envelopes"),
        ));
    }
    let events = list
        .iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_value::<Event>(v.clone()).map_err(|e| {
                ApiError::invalid(
                    format!("events[{i}]"),
                    format!("not an event envelope: {e}"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((events, true))
}

/// Handles a delivery of one event or of a batch, each event in order
/// through `handle` (which runs [`process_once`]). The first failure ends
/// the request with its error: the bridge then delivers the batch's events
/// one at a time, and those already applied come back as duplicates.
pub fn deliver_each(
    req: &Request,
    mut handle: impl FnMut(&Event) -> Result<Outcome, ApiError>,
) -> Result<Response, ApiError> {
    let (events, batch) = parse_delivery(req)?;
    let mut results = Vec::with_capacity(events.len());
    for event in &events {
        let outcome = handle(event)?;
        if !batch {
            return Ok(reply(event, outcome));
        }
        results.push(json!({ "id": event.0.id, "status": status(outcome) }));
    }
    Ok(Response::json(200, &json!({ "results": results })))
}

fn status(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Processed => "processed",
        Outcome::Duplicate => "duplicate",
    }
}

/// The answer the bridge gets.
pub fn reply(event: &Event, outcome: Outcome) -> Response {
    Response::json(200, &json!({ "id": event.0.id, "status": status(outcome) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Method;

    fn envelope(id: &str) -> serde_json::Value {
        json!({"id": id, "type": "t.happened", "topic": "t", "key": "k",
               "occurred_at": "2026-11-22T00:00:00.000Z", "correlation_id": "c", "payload": "{}"})
    }

    fn delivery(body: &serde_json::Value) -> Result<(Vec<Event>, bool), ApiError> {
        let body = body.to_string();
        parse_delivery(&Request::new(
            Method::Post,
            "/internal/x/events",
            &[("content-type", "application/json")],
            body.as_bytes(),
        ))
    }

    #[test]
    fn a_delivery_is_one_envelope_or_a_batch_in_order() {
        let (one, batch) = delivery(&envelope("e1")).expect("one");
        assert_eq!((one.len(), batch), (1, false));
        let (many, batch) =
            delivery(&json!({"events": [envelope("e1"), envelope("e2")]})).expect("batch");
        assert!(batch);
        assert_eq!(
            many.iter().map(|e| e.0.id.as_str()).collect::<Vec<_>>(),
            ["e1", "e2"]
        );
    }

    #[test]
    fn a_bad_batch_names_what_is_wrong() {
        let field = |body: serde_json::Value| match delivery(&body) {
            Err(e) => e.problem("r")["field"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            Ok(_) => "accepted".into(),
        };
        assert_eq!(field(json!({"events": []})), "events");
        assert_eq!(field(json!({"events": "no"})), "events");
        assert_eq!(
            field(json!({"events": [envelope("e1"), {"id": "x"}]})),
            "events[1]"
        );
        assert_eq!(field(json!({"id": "x"})), "body");
    }
}
