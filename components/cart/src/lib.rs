//! cart: one versioned cart per user (and per guest cart token) in Redis,
//! whose lines hold stock through inventory, checked out into an order.

mod carts;
pub mod domain;
mod http;
pub mod owner;
mod service;
pub mod store;
mod upstream;
mod views;

use platform::metrics::Metric;
use platform::{ApiError, Component, Context, Database, Tick};

/// The cart as the platform serves it: its public routes, and a tick
/// that forgets checkouts never retried to their end (and old
/// idempotency keys).
pub static COMPONENT: Component = Component {
    name: "cart",
    database: Some(Database {
        label: "cart",
        migrations: store::MIGRATIONS,
    }),
    rate_limit: Some("cart"),
    routes: http::ROUTES,
    tick: Some(Tick::Sync(service::tick)),
    metrics: Some(metrics),
    ..Component::BASE
};

platform::export!(COMPONENT);

fn metrics(ctx: &Context) -> Result<Vec<Metric>, ApiError> {
    Ok(vec![Metric::gauge(
        "cart_checkouts_under_way",
        "Checkouts sent to orders and not yet answered",
    )
    .count(ctx.db()?, "SELECT COUNT(*) FROM checkouts")?])
}
