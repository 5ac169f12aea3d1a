//! inventory: stock levels per product and reservations against them.
//! Consumes catalog events and inventory commands; emits reservation
//! outcomes and low-stock alerts through its outbox.

pub mod domain;
mod events;
mod http;
pub mod store;

use platform::db::Db;
use platform::{ApiError, Context, Request, Response};

/// The component's name in logs and events.
pub const COMPONENT: &str = "inventory";
/// Its SQLite database label.
pub const DATABASE: &str = "inventory";

platform::http_component!(
    crate::COMPONENT,
    platform::request::DEFAULT_BODY_LIMIT,
    crate::route
);

/// Routes a request to its handler. The bridge's routes live under
/// `/internal/inventory/` (each component has its own internal prefix).
pub fn route(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let segments = req.segments();
    if let ["internal", COMPONENT, internal @ ..] = segments.as_slice() {
        platform::internal::require_internal(req)?;
        let db = Db::open(DATABASE, store::MIGRATIONS)?;
        return match internal {
            ["outbox", ..] => platform::outbox::handle(req, &db, internal),
            ["events"] => events::deliver(req, ctx, &db),
            ["tick"] => events::tick(req, ctx, &db),
            _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
        };
    }
    http::route(req, ctx, &segments)
}
