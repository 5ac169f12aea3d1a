//! users: accounts and sessions. Registers users (argon2id passwords),
//! issues EdDSA access tokens and rotating refresh tokens, revokes them on
//! logout or detected reuse, serves profiles, and announces
//! `user.registered` through its outbox.

pub mod domain;
mod http;
mod revocation;
mod session;
pub mod store;
mod throttle;

use platform::metrics::Metric;
use platform::{ApiError, Component, Context, Database, Tick};

/// Request bodies here are small credentials and names.
pub const BODY_LIMIT: usize = 16 * 1024;

/// Users as the platform serves them: public routes, an outbox (it takes
/// no events), and a tick that restores Redis's copy of the revoked
/// sessions when Redis has lost it.
pub static COMPONENT: Component = Component {
    name: "users",
    database: Some(Database {
        label: "users",
        migrations: store::MIGRATIONS,
    }),
    body_limit: BODY_LIMIT,
    routes: http::ROUTES,
    internal_routes: http::INTERNAL_ROUTES,
    tick: Some(Tick::Sync(revocation::tick)),
    metrics: Some(metrics),
    ..Component::BASE
};

platform::export!(COMPONENT);

fn metrics(ctx: &Context) -> Result<Vec<Metric>, ApiError> {
    Ok(vec![Metric::gauge("users", "Registered accounts, by role")
        .counts_by(
            ctx.db()?,
            "role",
            "SELECT role, COUNT(*) FROM users GROUP BY role ORDER BY role",
        )?])
}
