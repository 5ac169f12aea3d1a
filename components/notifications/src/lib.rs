//! notifications: tells users what happens to their account, orders and
//! payments, and admins about low stock. Notifications are rendered per
//! channel from compiled-in templates, honour each user's preferences,
//! are recorded in SQLite and delivered to the channel's provider (when
//! one is configured) with retries driven by the bridge's tick.

pub mod compose;
pub mod delivery;
pub mod domain;
mod events;
mod http;
pub mod send;
pub mod store;
pub mod templates;

use platform::db::Db;
use platform::{ApiError, Context, Method, Request, Response};

/// The component's name in logs and events.
pub const COMPONENT: &str = "notifications";
/// Its SQLite database label.
pub const DATABASE: &str = "notifications";

// Async: delivery awaits outbound HTTP to the providers.
platform::http_component_async!(
    crate::COMPONENT,
    platform::request::DEFAULT_BODY_LIMIT,
    crate::route
);

/// Routes a request to its handler. The bridge's routes live under
/// `/internal/notifications/`.
pub async fn route(req: Request, ctx: Context) -> Result<Response, ApiError> {
    let segments = req.segments();
    if let ["internal", COMPONENT, internal @ ..] = segments.as_slice() {
        platform::internal::require_internal(&req)?;
        let providers = delivery::Providers::from_variables();
        return match (req.method, internal) {
            (Method::Post, ["events"]) => {
                events::deliver(&req, &ctx, &open_db()?, &providers).await
            }
            (Method::Post, ["tick"]) => delivery::tick(&ctx, &open_db()?, &providers).await,
            (_, ["events"] | ["tick"]) => Err(ApiError::MethodNotAllowed { allow: "POST" }),
            _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
        };
    }
    http::route(&req, &ctx, &segments).await
}

fn open_db() -> Result<Db, ApiError> {
    Db::open(DATABASE, store::MIGRATIONS)
}
