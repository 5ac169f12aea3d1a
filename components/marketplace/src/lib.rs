//! marketplace: the MercadoLibre integration. Links MercadoLibre accounts
//! (OAuth 2.0 with PKCE; tokens sealed at rest and refreshed before they
//! expire, single-flight per account) or signs people in with them;
//! proxies MercadoLibre's resources through a Redis cache that serves a
//! marked stale copy when MercadoLibre fails, behind a circuit breaker,
//! limits per application and per user, and a back-off after its 429s;
//! turns MercadoLibre's notifications into `marketplace.item_synced`
//! events through its outbox, which inventory follows.

mod api;
mod events;
mod http;
mod oauth;
pub mod sealed;
mod service;
mod settings;
pub mod store;
mod tokens;
mod views;

use platform::breaker::Breaker;
use platform::component::report;
use platform::metrics::Metric;
use platform::{ApiError, Component, Consumer, Context, Database, LocalBoxFuture, Tick};
use serde_json::json;

/// The component's name.
pub const NAME: &str = "marketplace";

/// The marketplace as the platform serves it: public routes, its own
/// notifications one at a time, and a tick that refreshes tokens due soon.
pub static COMPONENT: Component<events::Inbound> = Component {
    name: NAME,
    database: Some(Database {
        label: "marketplace",
        migrations: store::MIGRATIONS,
    }),
    rate_limit: Some("marketplace"),
    routes: http::ROUTES,
    events: Some(Consumer::staged(events::handle).batches()),
    tick: Some(Tick::Async(tick)),
    metrics: Some(metrics),
    ..Component::BASE
};

platform::export!(COMPONENT);

fn tick(ctx: &Context) -> LocalBoxFuture<'_, Result<platform::Report, ApiError>> {
    Box::pin(async move {
        let refreshed = tokens::refresh_due(ctx).await?;
        Ok(report(json!({ "tokens_refreshed": refreshed })))
    })
}

/// The breaker as health and metrics show it.
pub(crate) fn breaker_view(ctx: &Context) -> views::BreakerView {
    let config = settings::breaker();
    let breaker = Breaker::new(settings::BREAKER, config, ctx.redis_if_up());
    let time = |ms: Option<i64>| ms.map(platform::clock::rfc3339_from_ms);
    match breaker.state() {
        Ok(s) => views::BreakerView {
            state: s.state.to_ascii_uppercase(),
            failures: Some(s.failures),
            threshold: config.failure_threshold,
            open_secs: config.open_secs,
            opened_at: time(s.opened_at_ms),
            next_probe_at: time(s.probe_at_ms),
        },
        Err(_) => views::BreakerView {
            state: "UNKNOWN".into(),
            failures: None,
            threshold: config.failure_threshold,
            open_secs: config.open_secs,
            opened_at: None,
            next_probe_at: None,
        },
    }
}

fn metrics(ctx: &Context) -> Result<Vec<Metric>, ApiError> {
    let db = ctx.db()?;
    let mut metrics = vec![
        Metric::gauge("ml_linked_accounts", "Linked MercadoLibre accounts, by status").counts_by(
            db,
            "status",
            "SELECT status, COUNT(*) FROM accounts GROUP BY status ORDER BY status",
        )?,
        Metric::counter(
            "ml_notifications_processed_total",
            "MercadoLibre notifications, by what processing them came to",
        )
        .counts_by(
            db,
            "outcome",
            "SELECT COALESCE(outcome, 'pending'), COUNT(*) FROM notifications GROUP BY 1 ORDER BY 1",
        )?,
    ];
    let level = match breaker_view(ctx).state.as_str() {
        "OPEN" => Some(1.0),
        "HALF_OPEN" => Some(2.0),
        "CLOSED" => Some(0.0),
        _ => None,
    };
    if let Some(level) = level {
        metrics.push(
            Metric::gauge(
                "circuit_breaker_state",
                "0 closed, 1 open, 2 half-open, by breaker",
            )
            .sample(vec![("breaker", settings::BREAKER.to_string())], level),
        );
    }
    Ok(metrics)
}
