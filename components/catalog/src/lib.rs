//! catalog: the product write model. Admins create, replace and delete
//! products; anyone lists and reads them through a Redis read-through
//! cache. Changes are published as `catalog.*` events through the outbox.

pub mod domain;
mod events;
mod http;
mod read_cache;
pub mod store;

use platform::db::Db;
use platform::{ApiError, Context, Method, Request, Response};
use serde_json::json;

/// The component's name in logs and events.
pub const COMPONENT: &str = "catalog";
/// Its SQLite database label.
pub const DATABASE: &str = "catalog";

platform::http_component!(
    crate::COMPONENT,
    platform::request::DEFAULT_BODY_LIMIT,
    crate::route
);

/// Routes a request to its handler. The bridge's routes live under
/// `/internal/catalog/`.
pub fn route(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let segments = req.segments();
    if let ["internal", COMPONENT, internal @ ..] = segments.as_slice() {
        platform::internal::require_internal(req)?;
        let db = Db::open(DATABASE, store::MIGRATIONS)?;
        return match internal {
            ["outbox", ..] => platform::outbox::handle(req, &db, internal),
            ["tick"] => tick(req, &db),
            _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
        };
    }
    http::route(req, ctx, &segments)
}

/// `POST /internal/catalog/tick`: forgets saved idempotent responses past
/// their retention.
fn tick(req: &Request, db: &Db) -> Result<Response, ApiError> {
    if req.method != Method::Post {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    let purged = platform::idempotency::purge_expired(db)?;
    Ok(Response::json(
        200,
        &json!({ "idempotency_keys_purged": purged }),
    ))
}
