//! orders: the saga orchestrator. Places orders priced by the catalog, then
//! drives each through inventory (reserve stock) and payments (charge),
//! confirming it or compensating every step taken, with a history per
//! order. Events go out through the outbox; answers come in through the
//! inbox; ticks time out steps that wait too long.

mod catalog;
pub mod domain;
mod events;
mod http;
mod orchestrator;
pub mod store;

use platform::db::Db;
use platform::{ApiError, Context, Request, Response};

/// The component's name in logs and events.
pub const COMPONENT: &str = "orders";
/// Its SQLite database label.
pub const DATABASE: &str = "orders";

platform::http_component_async!(
    crate::COMPONENT,
    platform::request::DEFAULT_BODY_LIMIT,
    crate::route
);

/// Routes a request to its handler. The bridge's routes live under
/// `/internal/orders/`.
pub async fn route(req: Request, ctx: Context) -> Result<Response, ApiError> {
    let segments = req.segments();
    if let ["internal", COMPONENT, internal @ ..] = segments.as_slice() {
        platform::internal::require_internal(&req)?;
        let db = Db::open(DATABASE, store::MIGRATIONS)?;
        return match internal {
            ["outbox", ..] => platform::outbox::handle(&req, &db, internal),
            ["events"] => events::deliver(&req, &ctx, &db),
            ["tick"] => events::tick(&req, &ctx, &db),
            _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
        };
    }
    http::route(&req, &ctx, &segments).await
}
