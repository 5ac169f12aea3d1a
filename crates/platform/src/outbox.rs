//! The transactional outbox: events are written in the same SQLite
//! transaction as the state change, and the bridge drains them with
//! `GET /internal/<component>/outbox` and `POST .../outbox/ack`. A crash
//! anywhere repeats a delivery; it never loses one.
//!
//! The bridge polls outboxes, but it need not wait for a poll: once a
//! request has committed outbox rows, the serving layer publishes one
//! wake-up on the Redis channel `spinshop:outbox:<component>` ([`wake`]).

use std::cell::Cell;

use serde::Deserialize;
use serde_json::json;
use spin_sdk::sqlite3::Value;

use crate::context::Context;
use crate::db::{int, text, Db, Migration};
use crate::events::{Envelope, Event, Payload};
use crate::problem::ApiError;
use crate::redis_store::{bin, log_warning, Redis};
use crate::request::Request;
use crate::response::Response;

/// The outbox table; add it to a component's migrations.
pub const MIGRATION: Migration = &["CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        topic TEXT NOT NULL,
        key TEXT NOT NULL,
        envelope TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL)"];

/// Most events one drain returns.
pub const MAX_BATCH: u32 = 500;
/// Events a drain returns without `?limit=`.
const DEFAULT_BATCH: u32 = 100;

/// The Redis channel that wakes the bridge for `component`'s outbox.
pub fn channel(component: &str) -> String {
    format!("spinshop:outbox:{component}")
}

thread_local! {
    /// This request committed outbox rows.
    static COMMITTED: Cell<bool> = const { Cell::new(false) };
}

/// Called by [`Db`] when outbox rows were committed.
pub(crate) fn note_committed() {
    COMMITTED.with(|c| c.set(true));
}

/// Whether outbox rows were committed since the last call (and forgets).
pub fn take_committed() -> bool {
    COMMITTED.with(|c| c.replace(false))
}

/// Publishes `payload` as a new event: call inside the transaction that
/// changes the state it announces. `cause` is the event being handled,
/// if any (the new one keeps its correlation).
pub fn publish<P: Payload>(
    db: &Db,
    ctx: &Context,
    payload: &P,
    cause: Option<&Envelope>,
) -> Result<Event, ApiError> {
    let event = Event::new(payload, ctx, cause)?;
    append(db, &event)?;
    Ok(event)
}

/// Appends a built event; call inside the transaction that changes the state.
pub fn append(db: &Db, event: &Event) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO outbox (id, topic, key, envelope, created_at_ms) VALUES (?, ?, ?, ?, ?)",
        &[
            text(&event.0.id),
            text(&event.0.topic),
            text(&event.0.key),
            text(event.to_json()),
            int(crate::clock::now_ms()),
        ],
    )?;
    db.note_outbox_write();
    Ok(())
}

/// `GET .../outbox?limit=N`: the oldest events, oldest first, each with
/// the `created_at_ms` of its row.
pub fn drain(req: &Request, db: &Db) -> Result<Response, ApiError> {
    let limit = crate::pagination::limit(req, DEFAULT_BATCH, MAX_BATCH)?;
    let rows = db.execute(
        "SELECT envelope, created_at_ms FROM outbox ORDER BY seq LIMIT ?",
        &[int(limit)],
    )?;
    let mut events = Vec::with_capacity(rows.rows.len());
    for row in &rows.rows {
        if let (Some(Value::Text(envelope)), Some(Value::Integer(created))) =
            (row.values.first(), row.values.get(1))
        {
            let mut value: serde_json::Value =
                serde_json::from_str(envelope).map_err(ApiError::internal)?;
            value["created_at_ms"] = json!(created);
            events.push(value);
        }
    }
    Ok(Response::json(200, &json!({ "events": events })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ack {
    ids: Vec<String>,
}

/// `POST .../outbox/ack` with `{"ids": [...]}`: deletes what the bridge
/// has produced to Kafka.
pub fn ack(req: &Request, db: &Db) -> Result<Response, ApiError> {
    let ack: Ack = req.json()?;
    if ack.ids.len() > MAX_BATCH as usize {
        return Err(ApiError::invalid(
            "ids",
            format!("at most {MAX_BATCH} ids per ack"),
        ));
    }
    let acked = db.transaction(|db| {
        let mut n = 0;
        for id in &ack.ids {
            db.execute("DELETE FROM outbox WHERE id = ?", &[text(id)])?;
            n += db.changes();
        }
        Ok(n)
    })?;
    Ok(Response::json(200, &json!({ "acked": acked })))
}

/// Wakes the bridge for `component`'s outbox: one `PUBLISH`. A failure is
/// logged and otherwise ignored (the bridge polls as well).
pub fn wake(redis: Option<&Redis>, component: &str) {
    let Some(redis) = redis else {
        log_warning("outbox_wake_skipped", "redis unavailable");
        return;
    };
    if let Err(e) = redis.execute("PUBLISH", vec![bin(channel(component)), bin("1")]) {
        log_warning("outbox_wake_failed", &e.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::LowStock;
    use crate::request::Method;

    fn low(product: &str) -> LowStock {
        LowStock {
            product_id: product.into(),
            available: 1,
            threshold: 5,
        }
    }

    fn ctx() -> Context {
        Context::from_request("inventory", &Request::new(Method::Post, "/", &[], b""))
    }

    fn internal(method: Method, path: &str, body: &str) -> Request {
        Request::new(
            method,
            path,
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
    }

    #[test]
    fn committed_rows_wake_the_bridge_and_rolled_back_ones_do_not() {
        let db = Db::memory(&[MIGRATION]).expect("db");
        take_committed();
        let failed: Result<(), ApiError> = db.transaction(|db| {
            publish(db, &ctx(), &low("p1"), None)?;
            Err(ApiError::Conflict("no".into()))
        });
        assert!(failed.is_err());
        assert!(!take_committed(), "nothing was committed");
        db.transaction(|db| publish(db, &ctx(), &low("p2"), None))
            .expect("commit");
        assert!(take_committed());
        assert!(!take_committed(), "asked once");
        assert_eq!(channel("inventory"), "spinshop:outbox:inventory");
    }

    #[test]
    fn drained_events_are_in_order_until_acked() {
        let db = Db::memory(&[MIGRATION]).expect("db");
        let ids: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|p| publish(&db, &ctx(), &low(p), None).expect("publish").0.id)
            .collect();
        let r = drain(
            &internal(Method::Get, "/internal/x/outbox?limit=2", ""),
            &db,
        )
        .expect("drain");
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        let events = body["events"].as_array().expect("events");
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["id"], ids[0].as_str());
        assert_eq!(events[0]["type"], "inventory.low_stock");
        assert!(events[0]["created_at_ms"].is_i64());
        let acked = ack(
            &internal(
                Method::Post,
                "/internal/x/outbox/ack",
                &json!({"ids": [ids[0], ids[1], "unknown"]}).to_string(),
            ),
            &db,
        )
        .expect("ack");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&acked.body).expect("json")["acked"],
            2
        );
        let rest = drain(&internal(Method::Get, "/internal/x/outbox", ""), &db).expect("drain");
        let body: serde_json::Value = serde_json::from_slice(&rest.body).expect("json");
        assert_eq!(body["events"][0]["id"], ids[2].as_str());
        for bad in ["limit=0", "limit=501", "limit=x"] {
            let path = format!("/internal/x/outbox?{bad}");
            assert_eq!(
                drain(&internal(Method::Get, &path, ""), &db)
                    .expect_err(bad)
                    .status(),
                422
            );
        }
    }
}
