//! inventory: stock levels per product and reservations against them.
//! Consumes catalog events and inventory commands; emits reservation
//! outcomes and low-stock alerts through its outbox.

pub mod domain;
mod events;
mod http;
mod service;
pub mod store;

use platform::metrics::Metric;
use platform::{ApiError, Component, Consumer, Context, Database, Tick};

/// Inventory as the platform serves it: public routes, catalog events and
/// stock commands in batches, and a tick that releases expired
/// reservations.
pub static COMPONENT: Component<events::Inbound> = Component {
    name: "inventory",
    database: Some(Database {
        label: "inventory",
        migrations: store::MIGRATIONS,
    }),
    rate_limit: Some("inventory"),
    routes: http::ROUTES,
    events: Some(Consumer::in_transaction(events::apply).batches()),
    tick: Some(Tick::Sync(service::expire)),
    metrics: Some(metrics),
    ..Component::BASE
};

platform::export!(COMPONENT);

fn metrics(ctx: &Context) -> Result<Vec<Metric>, ApiError> {
    Ok(vec![Metric::gauge(
        "inventory_reservations",
        "Reservations, by status",
    )
    .counts_by(
        ctx.db()?,
        "status",
        "SELECT status, COUNT(*) FROM reservations GROUP BY status ORDER BY status",
    )?])
}
