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

use platform::metrics::Metric;
use platform::{ApiError, Component, Consumer, Context, Database, Tick};

/// Orders as the platform serves it: public routes (all in one rate-limit
/// group), the saga's answers in batches, and a tick for timeouts.
pub static COMPONENT: Component<events::Inbound> = Component {
    name: "orders",
    database: Some(Database {
        label: "orders",
        migrations: store::MIGRATIONS,
    }),
    rate_limit: Some("orders"),
    routes: http::ROUTES,
    events: Some(Consumer::in_transaction(events::apply).batches()),
    tick: Some(Tick::Sync(orchestrator::time_out_stalled)),
    metrics: Some(metrics),
    ..Component::BASE
};

platform::export!(COMPONENT);

fn metrics(ctx: &Context) -> Result<Vec<Metric>, ApiError> {
    let db = ctx.db()?;
    Ok(vec![
        Metric::counter("orders_created_total", "Orders placed")
            .count(db, "SELECT COUNT(*) FROM orders")?,
        Metric::gauge("orders", "Orders, by status").counts_by(
            db,
            "status",
            "SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY status",
        )?,
    ])
}
