//! users: accounts and sessions. Registers users (argon2id passwords),
//! issues EdDSA access tokens and rotating refresh tokens, revokes them on
//! logout or detected reuse, serves profiles, and announces
//! `user.registered` through its outbox.

pub mod domain;
mod events;
mod http;
mod session;
pub mod store;
mod throttle;

use platform::db::Db;
use platform::{ApiError, Context, Request, Response};

/// The component's name in logs and events.
pub const COMPONENT: &str = "users";
/// Its SQLite database label.
pub const DATABASE: &str = "users";
/// Request bodies here are small credentials and names.
pub const BODY_LIMIT: usize = 16 * 1024;

platform::http_component!(crate::COMPONENT, crate::BODY_LIMIT, crate::route);

/// Routes a request to its handler. The bridge's routes live under
/// `/internal/users/` (each component has its own internal prefix).
pub fn route(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let segments = req.segments();
    if let ["internal", COMPONENT, internal @ ..] = segments.as_slice() {
        platform::internal::require_internal(req)?;
        return match internal {
            ["outbox", ..] => {
                let db = Db::open(DATABASE, store::MIGRATIONS)?;
                platform::outbox::handle(req, &db, internal)
            }
            _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
        };
    }
    http::route(req, ctx, &segments)
}
