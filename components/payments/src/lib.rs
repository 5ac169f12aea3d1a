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
mod views;

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
    let db = ctx.db()?;
    let mut metrics = vec![
        Metric::gauge("payments", "Payments, by status").counts_by(
            db,
            "status",
            "SELECT status, COUNT(*) FROM payments GROUP BY status ORDER BY status",
        )?,
        Metric::counter("payments_processed_total", "Payments the provider captured").count(
            db,
            "SELECT COUNT(*) FROM payments WHERE status IN ('succeeded', 'refunded')",
        )?,
        Metric::counter("payments_failed_total", "Payments that failed")
            .count(db, "SELECT COUNT(*) FROM payments WHERE status = 'failed'")?,
    ];
    // 0 closed, 1 open, 2 half-open (seed 000's encoding); nothing when
    // Redis, which holds the breaker, cannot say.
    if let Ok(state) = provider::Provider::from_variables().breaker(ctx).state() {
        let level = match state.state {
            "open" => 1.0,
            "half_open" => 2.0,
            _ => 0.0,
        };
        metrics.push(
            Metric::gauge(
                "circuit_breaker_state",
                "0 closed, 1 open, 2 half-open, by breaker",
            )
            .sample(vec![("breaker", provider::BREAKER.to_string())], level),
        );
    }
    Ok(metrics)
}
