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
mod views;

use platform::metrics::{Metric, PROCESS_BUCKETS};
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

/// The seeds' order metrics, from the orders' own rows. Every series of a
/// counter must only rise, so the settled orders are counted by outcome
/// (`orders_settled_total{status}`) rather than the placed ones by a
/// status that moves; `orders{status}` is the level of each status.
fn metrics(ctx: &Context) -> Result<Vec<Metric>, ApiError> {
    let db = ctx.db()?;
    let durations = |status: &str| {
        format!(
            "SELECT (updated_at_ms - created_at_ms) / 1000.0 AS d FROM orders WHERE status = '{status}'"
        )
    };
    Ok(vec![
        Metric::counter("orders_created_total", "Orders placed")
            .count(db, "SELECT COUNT(*) FROM orders")?,
        Metric::counter("orders_settled_total", "Orders whose saga ended, by outcome").counts_by(
            db,
            "status",
            "SELECT status, COUNT(*) FROM orders WHERE status != 'PENDING' GROUP BY status ORDER BY status",
        )?,
        Metric::gauge("active_orders", "Orders whose saga is still running")
            .count(db, "SELECT COUNT(*) FROM orders WHERE status = 'PENDING'")?,
        Metric::histogram(
            "order_processing_duration_seconds",
            "From placing an order to its confirmation",
        )
        .durations(db, vec![], &PROCESS_BUCKETS, &durations("CONFIRMED"))?,
        Metric::histogram(
            "saga_execution_duration_seconds",
            "From placing an order to the end of its saga, by outcome",
        )
        .durations(
            db,
            vec![("outcome", "confirmed".into())],
            &PROCESS_BUCKETS,
            &durations("CONFIRMED"),
        )?
        .durations(
            db,
            vec![("outcome", "cancelled".into())],
            &PROCESS_BUCKETS,
            &durations("CANCELLED"),
        )?,
        Metric::gauge("orders", "Orders, by status").counts_by(
            db,
            "status",
            "SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY status",
        )?,
    ])
}
