//! audit: the append-only event store. Every domain event on every topic
//! is appended exactly once, with a global sequence number, the aggregate
//! it belongs to and its correlation metadata; admins query the log by
//! aggregate, type, correlation and time.

pub mod domain;
mod http;
pub mod store;

use platform::db::{now_ms, Db};
use platform::{inbox, ApiError, Context, Method, Request, Response};
use serde_json::json;

/// The component's name in logs and events.
pub const COMPONENT: &str = "audit";
/// Its SQLite database label.
pub const DATABASE: &str = "audit";

platform::http_component!(
    crate::COMPONENT,
    platform::request::DEFAULT_BODY_LIMIT,
    crate::route
);

/// Routes a request to its handler. The bridge's routes live under
/// `/internal/audit/`.
pub fn route(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let segments = req.segments();
    if let ["internal", COMPONENT, internal @ ..] = segments.as_slice() {
        platform::internal::require_internal(req)?;
        return match (req.method, internal) {
            (Method::Post, ["events"]) => append(req, &open_db()?),
            (Method::Post, ["tick"]) => Ok(Response::json(200, &json!({}))),
            (_, ["events"] | ["tick"]) => Err(ApiError::MethodNotAllowed { allow: "POST" }),
            _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
        };
    }
    http::route(req, ctx, &segments)
}

fn open_db() -> Result<Db, ApiError> {
    Db::open(DATABASE, store::MIGRATIONS)
}

/// `POST /internal/audit/events`: appends each envelope (one, or the
/// bridge's batch) once. A malformed
/// envelope is a 4xx (the bridge dead-letters it); every well-formed one is
/// recorded, whatever its type.
fn append(req: &Request, db: &Db) -> Result<Response, ApiError> {
    inbox::deliver_each(req, |event| {
        let record = domain::AuditRecord::from_envelope(&event.0)?;
        inbox::process_once(db, event, |db| store::append(db, &record, now_ms()))
    })
}
