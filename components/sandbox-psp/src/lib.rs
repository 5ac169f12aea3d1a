//! sandbox-psp: a stand-in payment provider. Charges and refunds behave
//! like a real provider's (idempotency keys required, a repeated key
//! answers the first result, a reused key with another body is refused),
//! and an admin can inject outages, failures, declines and latency, read
//! from SQLite on every call.

pub mod domain;
mod http;
pub mod store;

use platform::{ApiError, Context, Request, Response};

/// The component's name in logs.
pub const COMPONENT: &str = "sandbox-psp";
/// Its SQLite database label.
pub const DATABASE: &str = "psp";

platform::http_component!(
    crate::COMPONENT,
    platform::request::DEFAULT_BODY_LIMIT,
    crate::route
);

/// Routes `/sandbox/psp/...` to its handler.
pub fn route(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    match req.segments().as_slice() {
        ["sandbox", "psp", rest @ ..] => http::route(req, ctx, rest),
        _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
    }
}
