//! payments: charges orders through the payment provider, behind a circuit
//! breaker every instance shares. Consumes `payment.requested` and
//! `payment.refund_requested`; publishes `payment.succeeded|failed|refunded`
//! through its outbox. Admins can also refund and charge directly.

pub mod domain;
mod events;
mod http;
pub mod provider;
mod service;
pub mod store;

use platform::metrics::Metric;
use platform::{ApiError, Component, Consumer, Context, Database};

/// Payments as the platform serves it: public routes, the saga's
/// commands one at a time (each calls the provider), and a tick that
/// forgets old idempotency keys.
pub static COMPONENT: Component<events::Inbound> = Component {
    name: "payments",
    database: Some(Database {
        label: "payments",
        migrations: store::MIGRATIONS,
    }),
    rate_limit: Some("payments"),
    routes: http::ROUTES,
    events: Some(Consumer::staged(events::handle)),
    metrics: Some(metrics),
    ..Component::BASE
};

platform::export!(COMPONENT);

fn metrics(ctx: &Context) -> Result<Vec<Metric>, ApiError> {
    Ok(vec![Metric::gauge("payments", "Payments, by status")
        .counts_by(
            ctx.db()?,
            "status",
            "SELECT status, COUNT(*) FROM payments GROUP BY status ORDER BY status",
        )?])
}
