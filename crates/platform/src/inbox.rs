//! Idempotent event handling for `POST /internal/<component>/events`: the
//! event id is recorded in `processed_events` in the same transaction as
//! the handler's effects, so a redelivered event changes nothing and still
//! gets a 2xx.
//!
//! A delivery is one envelope or, to a component that takes batches, the
//! bridge's `{"events": [...]}` (several events of one partition, in
//! order). A batch is applied in one transaction: one commit for all its
//! events. Any failure rolls the whole batch back and answers the error,
//! and the bridge then delivers the batch's events one at a time, so a bad
//! event is dead-lettered on its own.

use std::cell::Cell;
use std::rc::Rc;

use futures::future::LocalBoxFuture;

use serde_json::json;

use crate::db::{int, text, Db, Migration};
use crate::events::{Envelope, Event, EventSet};
use crate::problem::ApiError;
use crate::request::Request;
use crate::response::Response;

/// The processed-events table; add it to a component's migrations.
pub const MIGRATION: Migration = &["CREATE TABLE IF NOT EXISTS processed_events (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        processed_at_ms INTEGER NOT NULL)"];

/// Most events in one batch delivery.
pub const MAX_BATCH: usize = 500;

/// What became of a delivered event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Processed,
    Duplicate,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Processed => "processed",
            Outcome::Duplicate => "duplicate",
        }
    }
}

/// An event handed to its handler: the envelope (the cause of whatever
/// the handler publishes) and, typed, what it says.
#[derive(Debug)]
pub struct Delivered<'a, E> {
    pub envelope: &'a Envelope,
    pub event: E,
}

/// Whether the event `id` was processed already.
pub fn seen(db: &Db, id: &str) -> Result<bool, ApiError> {
    let r = db.execute("SELECT 1 FROM processed_events WHERE id = ?", &[text(id)])?;
    Ok(!r.rows.is_empty())
}

/// Applies `effects` for `event` exactly once, in a transaction (a
/// savepoint of the caller's, if one is open). `None`: a duplicate.
pub fn process_once<T>(
    db: &Db,
    event: &Event,
    effects: impl FnOnce(&Db) -> Result<T, ApiError>,
) -> Result<Option<T>, ApiError> {
    db.transaction(|db| {
        if seen(db, &event.0.id)? {
            return Ok(None);
        }
        let value = effects(db)?;
        db.execute(
            "INSERT INTO processed_events (id, type, processed_at_ms) VALUES (?, ?, ?)",
            &[
                text(&event.0.id),
                text(&event.0.type_),
                int(crate::clock::now_ms()),
            ],
        )?;
        Ok(Some(value))
    })
}

/// The events of a delivery, and whether it came as a batch. A malformed
/// delivery is 422 naming what is wrong (the bridge dead-letters it).
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

fn events_of(req: &Request, batches: bool) -> Result<(Vec<Event>, bool), ApiError> {
    let (events, batch) = parse_delivery(req)?;
    if batch && !batches {
        return Err(ApiError::invalid(
            "events",
            "this component takes one event per delivery",
        ));
    }
    Ok((events, batch))
}

/// The answer the bridge gets: one event's outcome, or a batch's in order.
fn reply(outcomes: &[(&str, Outcome)], batch: bool) -> Response {
    let result = |(id, outcome): &(&str, Outcome)| json!({ "id": id, "status": outcome.as_str() });
    match outcomes {
        [one] if !batch => Response::json(200, &result(one)),
        many => Response::json(
            200,
            &json!({ "results": many.iter().map(result).collect::<Vec<_>>() }),
        ),
    }
}

/// Delivers to a handler that works inside the inbox's transaction: one
/// transaction for the whole delivery. Events whose type is not in `E`
/// are recorded as processed and change nothing.
pub fn deliver_in_transaction<E: EventSet>(
    req: &Request,
    db: &Db,
    batches: bool,
    mut apply: impl FnMut(&Db, Delivered<'_, E>) -> Result<(), ApiError>,
) -> Result<Response, ApiError> {
    let (events, batch) = events_of(req, batches)?;
    let outcomes = db.transaction(|db| {
        events
            .iter()
            .map(|event| {
                let done = process_once(db, event, |db| match E::from_event(event)? {
                    Some(typed) => apply(
                        db,
                        Delivered {
                            envelope: &event.0,
                            event: typed,
                        },
                    ),
                    None => Ok(()),
                })?;
                let outcome = done.map_or(Outcome::Duplicate, |()| Outcome::Processed);
                Ok((event.0.id.as_str(), outcome))
            })
            .collect::<Result<Vec<_>, ApiError>>()
    })?;
    Ok(reply(&outcomes, batch))
}

/// An event for a handler whose work must not hold the database (it calls
/// out): the handler does that work, then records its effects with
/// [`Delivery::commit`], which marks the event processed in the same
/// transaction.
#[derive(Debug)]
pub struct Delivery<'d, E> {
    pub db: &'d Db,
    pub event: E,
    raw: Event,
    outcome: Rc<Cell<Option<Outcome>>>,
}

impl<E> Delivery<'_, E> {
    /// The envelope: the cause of whatever the handler publishes.
    pub fn envelope(&self) -> &Envelope {
        &self.raw.0
    }

    /// Applies `effects` and marks the event processed, in one
    /// transaction. `None`: a concurrent delivery of the same event got
    /// there first, and nothing was applied.
    pub fn commit<T>(
        &self,
        effects: impl FnOnce(&Db) -> Result<T, ApiError>,
    ) -> Result<Option<T>, ApiError> {
        let done = process_once(self.db, &self.raw, effects)?;
        self.outcome.set(Some(if done.is_some() {
            Outcome::Processed
        } else {
            Outcome::Duplicate
        }));
        Ok(done)
    }
}

/// Delivers to a handler that calls out: each event in order, a
/// transaction each, an event already processed never reaching the
/// handler. A handler that returns without committing has its event
/// recorded as processed with no effects.
pub async fn deliver_staged<'d, E: EventSet>(
    req: &Request,
    db: &'d Db,
    batches: bool,
    handle: impl Fn(Delivery<'d, E>) -> LocalBoxFuture<'d, Result<(), ApiError>>,
) -> Result<Response, ApiError> {
    let (events, batch) = events_of(req, batches)?;
    let mut outcomes = Vec::with_capacity(events.len());
    for event in &events {
        let outcome = Rc::new(Cell::new(None));
        if seen(db, &event.0.id)? {
            outcome.set(Some(Outcome::Duplicate));
        } else if let Some(typed) = E::from_event(event)? {
            handle(Delivery {
                db,
                event: typed,
                raw: event.clone(),
                outcome: outcome.clone(),
            })
            .await?;
        }
        let outcome = match outcome.get() {
            Some(o) => o,
            None => process_once(db, event, |_| Ok(()))?
                .map_or(Outcome::Duplicate, |()| Outcome::Processed),
        };
        outcomes.push((event.0.id.as_str(), outcome));
    }
    Ok(reply(&outcomes, batch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Method;

    crate::event_set! {
        enum Deletions { ProductDeleted }
    }

    fn envelope(id: &str, event_type: &str, payload: &str) -> serde_json::Value {
        json!({"id": id, "type": event_type, "topic": "catalog.events", "key": "k",
               "occurred_at": "2026-11-22T00:00:00.000Z", "correlation_id": "c", "payload": payload})
    }

    fn deleted(id: &str, product: &str) -> serde_json::Value {
        envelope(
            id,
            "catalog.product_deleted",
            &json!({ "product_id": product }).to_string(),
        )
    }

    fn post(body: &serde_json::Value) -> Request {
        let body = body.to_string();
        Request::new(
            Method::Post,
            "/internal/x/events",
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
    }

    const LOG: Migration = &["CREATE TABLE log (product TEXT NOT NULL)"];

    fn db() -> Db {
        Db::memory(&[MIGRATION, LOG]).expect("db")
    }

    fn logged(db: &Db) -> Vec<String> {
        db.execute("SELECT product FROM log ORDER BY rowid", &[])
            .expect("log")
            .rows
            .iter()
            .filter_map(|r| r.get::<&str>(0).map(str::to_string))
            .collect()
    }

    fn record(db: &Db, d: Delivered<'_, Deletions>) -> Result<(), ApiError> {
        let Deletions::ProductDeleted(p) = d.event;
        if p.product_id == "bad" {
            return Err(ApiError::invalid("payload.product_id", "bad"));
        }
        db.execute(
            "INSERT INTO log (product) VALUES (?)",
            &[text(p.product_id)],
        )?;
        Ok(())
    }

    fn body(r: &Response) -> serde_json::Value {
        serde_json::from_slice(&r.body).expect("json")
    }

    #[test]
    fn a_batch_is_applied_once_in_order_and_other_types_are_acknowledged() {
        let db = db();
        let batch = json!({"events": [deleted("e1", "a"), envelope("e2", "catalog.product_updated", "{}"), deleted("e3", "b")]});
        let r = deliver_in_transaction(&post(&batch), &db, true, record).expect("batch");
        assert_eq!(
            body(&r)["results"],
            json!([{"id": "e1", "status": "processed"}, {"id": "e2", "status": "processed"},
                   {"id": "e3", "status": "processed"}])
        );
        assert_eq!(logged(&db), ["a", "b"]);
        let again =
            deliver_in_transaction(&post(&deleted("e3", "b")), &db, true, record).expect("repeat");
        assert_eq!(body(&again), json!({"id": "e3", "status": "duplicate"}));
        assert_eq!(logged(&db), ["a", "b"], "nothing applied twice");
    }

    #[test]
    fn one_bad_event_rolls_back_its_whole_batch() {
        let db = db();
        let batch = json!({"events": [deleted("e1", "a"), deleted("e2", "bad")]});
        let err = deliver_in_transaction(&post(&batch), &db, true, record).expect_err("bad");
        assert_eq!(err.status(), 422);
        assert!(logged(&db).is_empty());
        // One at a time, as the bridge retries, the good one goes through.
        deliver_in_transaction(&post(&deleted("e1", "a")), &db, true, record).expect("good");
        assert_eq!(logged(&db), ["a"]);
        let err =
            deliver_in_transaction(&post(&batch), &db, false, record).expect_err("no batches");
        assert_eq!(err.problem("r")["field"], "events");
    }

    fn log_it<'d>(
        calls: &'d Cell<u32>,
        d: Delivery<'d, Deletions>,
    ) -> LocalBoxFuture<'d, Result<(), ApiError>> {
        calls.set(calls.get() + 1);
        Box::pin(async move {
            let Deletions::ProductDeleted(p) = &d.event;
            let product = p.product_id.clone();
            d.commit(|db| db.execute("INSERT INTO log (product) VALUES (?)", &[text(product)]))?;
            Ok(())
        })
    }

    #[test]
    fn a_staged_handler_commits_once_and_duplicates_skip_it() {
        let db = db();
        let calls = Cell::new(0);
        let run = |body: serde_json::Value| {
            futures::executor::block_on(deliver_staged(&post(&body), &db, false, |d| {
                log_it(&calls, d)
            }))
        };
        let r = run(deleted("e1", "a")).expect("first");
        assert_eq!(body(&r)["status"], "processed");
        let r = run(deleted("e1", "a")).expect("again");
        assert_eq!(body(&r)["status"], "duplicate");
        assert_eq!(
            calls.get(),
            1,
            "a processed event never reaches the handler"
        );
        let r = run(envelope("e2", "catalog.product_updated", "{}")).expect("other");
        assert_eq!(body(&r)["status"], "processed");
        assert_eq!(logged(&db), ["a"]);
    }

    #[test]
    fn a_bad_delivery_names_what_is_wrong() {
        let field = |body: serde_json::Value| match parse_delivery(&post(&body)) {
            Err(e) => e.problem("r")["field"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            Ok(_) => "accepted".into(),
        };
        assert_eq!(field(json!({"events": []})), "events");
        assert_eq!(field(json!({"events": "no"})), "events");
        assert_eq!(
            field(json!({"events": [deleted("e1", "a"), {"id": "x"}]})),
            "events[1]"
        );
        assert_eq!(field(json!({"id": "x"})), "body");
    }
}
