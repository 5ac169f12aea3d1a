//! payments: charges orders through the payment provider, behind a circuit
//! breaker every instance shares. Consumes `payment.requested` and
//! `payment.refund_requested`; publishes `payment.succeeded|failed|refunded`
//! through its outbox. Admins can also refund and charge directly.

pub mod domain;
mod events;
mod http;
pub mod provider;
pub mod store;
mod transport;

use platform::db::Db;
use platform::{ApiError, Context, Request, Response};

/// The component's name in logs and events.
pub const COMPONENT: &str = "payments";
/// Its SQLite database label.
pub const DATABASE: &str = "payments";

platform::http_component!(
    crate::COMPONENT,
    platform::request::DEFAULT_BODY_LIMIT,
    crate::route
);

/// Routes a request to its handler. The bridge's routes live under
/// `/internal/payments/`.
pub fn route(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let segments = req.segments();
    if let ["internal", COMPONENT, internal @ ..] = segments.as_slice() {
        platform::internal::require_internal(req)?;
        let db = Db::open(DATABASE, store::MIGRATIONS)?;
        return match internal {
            ["outbox", ..] => platform::outbox::handle(req, &db, internal),
            ["events"] => events::deliver(req, ctx, &db),
            ["tick"] => events::tick(req, &db),
            _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
        };
    }
    http::route(req, ctx, &segments)
}
