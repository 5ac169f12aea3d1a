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
mod views;

use platform::metrics::Metric;
use platform::{ApiError, Component, Consumer, Context, Database, Tick};

/// Notifications as the platform serves them: public routes, events one
/// at a time (each delivery calls a provider after its commit), and a
/// tick that retries due deliveries.
pub static COMPONENT: Component<events::Inbound> = Component {
    name: "notifications",
    database: Some(Database {
        label: "notifications",
        migrations: store::MIGRATIONS,
    }),
    rate_limit: Some("notifications"),
    routes: http::ROUTES,
    events: Some(Consumer::staged(events::handle)),
    tick: Some(Tick::Async(delivery::tick)),
    metrics: Some(metrics),
    ..Component::BASE
};

platform::export!(COMPONENT);

fn metrics(ctx: &Context) -> Result<Vec<Metric>, ApiError> {
    let db = ctx.db()?;
    Ok(vec![
        Metric::gauge("notifications", "Notifications, by delivery status").counts_by(
            db,
            "status",
            "SELECT status, COUNT(*) FROM notifications GROUP BY status ORDER BY status",
        )?,
        Metric::counter(
            "notifications_sent_total",
            "Notifications handled, by template and delivery status",
        )
        .counts_by_labels(
            db,
            &["type", "status"],
            "SELECT template, status, COUNT(*) FROM notifications GROUP BY template, status
             ORDER BY template, status",
        )?,
    ])
}
