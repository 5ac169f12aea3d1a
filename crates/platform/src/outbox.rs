//! The transactional outbox: events are written in the same SQLite
//! transaction as the state change, and the bridge drains them with
//! `GET /internal/outbox` and `POST /internal/outbox/ack`. A crash anywhere
//! repeats a delivery; it never loses one.

use serde::Deserialize;
use serde_json::json;
use spin_sdk::sqlite3::Value;

use crate::db::{int, now_ms, text, Db, Migration};
use crate::events::Event;
use crate::problem::ApiError;
use crate::request::{Method, Request};
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
pub const MAX_BATCH: i64 = 500;

/// Appends an event; call inside the transaction that changes the state.
pub fn append(db: &Db, event: &Event) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO outbox (id, topic, key, envelope, created_at_ms) VALUES (?, ?, ?, ?, ?)",
        &[
            text(&event.0.id),
            text(&event.0.topic),
            text(&event.0.key),
            text(event.to_json()),
            int(now_ms()),
        ],
    )?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ack {
    ids: Vec<String>,
}

/// Serves `GET .../outbox?limit=N` and `POST .../outbox/ack`; `route` is
/// the path below the component's internal prefix (`["outbox"]` or
/// `["outbox", "ack"]`). The caller has checked the internal credential.
pub fn handle(req: &Request, db: &Db, route: &[&str]) -> Result<Response, ApiError> {
    match (req.method, route) {
        (Method::Get, ["outbox"]) => {
            let limit = match req.query_param("limit") {
                None => 100,
                Some(l) => l
                    .parse::<i64>()
                    .ok()
                    .filter(|l| (1..=MAX_BATCH).contains(l))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "limit",
                            format!("must be an integer from 1 to {MAX_BATCH}"),
                        )
                    })?,
            };
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
        (Method::Post, ["outbox", "ack"]) => {
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
        (_, ["outbox"]) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        (_, ["outbox", "ack"]) => Err(ApiError::MethodNotAllowed { allow: "POST" }),
        _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
    }
}
