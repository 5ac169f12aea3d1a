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

/// The answer the bridge gets.
pub fn reply(event: &Event, outcome: Outcome) -> Response {
    let status = match outcome {
        Outcome::Processed => "processed",
        Outcome::Duplicate => "duplicate",
    };
    Response::json(200, &json!({ "id": event.0.id, "status": status }))
}
