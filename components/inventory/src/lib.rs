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

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod export {
    use spin_sdk::http::{IncomingRequest, ResponseOutparam};

    #[spin_sdk::http_component]
    async fn handle(req: IncomingRequest, out: ResponseOutparam) {
        platform::serve::serve(
            super::COMPONENT,
            req,
            out,
            platform::request::DEFAULT_BODY_LIMIT,
            |req, ctx| async move { super::route(&req, &ctx) },
        )
        .await;
    }
}

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
