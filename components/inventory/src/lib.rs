//! inventory: stock levels per product and reservations against them.
//! Consumes catalog events and inventory commands; emits reservation
//! outcomes and low-stock alerts through its outbox.

pub mod domain;
mod events;
mod http;
mod service;
pub mod store;
mod views;

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

/// Inventory's metrics. `inventory_level` is labelled by product, so to
/// keep its cardinality bounded it lists only the products at or under
/// the low-stock threshold, the 100 lowest at most (the ones an operator
/// acts on); the failed operations are counted as they happen
/// (`Context::count` in `service`).
fn metrics(ctx: &Context) -> Result<Vec<Metric>, ApiError> {
    let db = ctx.db()?;
    let threshold = service::low_stock_threshold();
    Ok(vec![
        Metric::gauge("inventory_reservations", "Reservations, by status").counts_by(
            db,
            "status",
            "SELECT status, COUNT(*) FROM reservations GROUP BY status ORDER BY status",
        )?,
        Metric::counter(
            "inventory_operations_total",
            "Stock operations, by operation and result",
        )
        .counts_by_labels(
            db,
            &["operation", "status"],
            "SELECT 'reserve', 'success', COUNT(*) FROM reservations
             UNION ALL SELECT 'commit', 'success', COUNT(*) FROM reservations WHERE status = 'committed'
             UNION ALL SELECT 'release', 'success', COUNT(*) FROM reservations
                       WHERE status = 'released' AND COALESCE(reason, '') != 'expired'
             UNION ALL SELECT 'expire', 'success', COUNT(*) FROM reservations
                       WHERE status = 'released' AND reason = 'expired'",
        )?,
        Metric::gauge(
            "inventory_level",
            "Units available, for products at or under the low-stock threshold (100 lowest at most)",
        )
        .counts_by(
            db,
            "product_id",
            &format!(
                "SELECT product_id, available FROM stock WHERE deleted = 0 AND available <= {threshold}
                 ORDER BY available, product_id LIMIT 100"
            ),
        )?,
    ])
}
