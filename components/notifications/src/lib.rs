//! notifications: not yet implemented.

use platform::{ApiError, Context, Request, Response};

/// The component's name in logs and events.
pub const COMPONENT: &str = "notifications";

platform::http_component!(
    crate::COMPONENT,
    platform::request::DEFAULT_BODY_LIMIT,
    crate::route
);

/// Routes a request to its handler.
pub fn route(req: &Request, _ctx: &Context) -> Result<Response, ApiError> {
    Err(ApiError::NotFound(format!("no route for {}", req.path)))
}
