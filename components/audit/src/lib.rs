//! audit: the append-only event store. Every domain event on every topic
//! is appended exactly once, with a global sequence number, the aggregate
//! it belongs to and its correlation metadata; admins query the log by
//! aggregate, type, correlation and time.

pub mod domain;
mod http;
pub mod store;

use platform::db::Db;
use platform::events::AnyEvent;
use platform::inbox::Delivered;
use platform::metrics::Metric;
use platform::{ApiError, Component, Consumer, Context, Database};

/// The audit log as the platform serves it: it takes every event, in
/// batches.
pub static COMPONENT: Component<AnyEvent> = Component {
    name: "audit",
    database: Some(Database {
        label: "audit",
        migrations: store::MIGRATIONS,
    }),
    rate_limit: Some("audit"),
    routes: http::ROUTES,
    events: Some(Consumer::in_transaction(append).batches()),
    metrics: Some(metrics),
    ..Component::BASE
};

platform::export!(COMPONENT);

/// Appends a delivered envelope, whatever its type. A malformed one is a
/// 422 naming the envelope field (the bridge dead-letters it).
fn append(db: &Db, _: &Context, event: Delivered<'_, AnyEvent>) -> Result<(), ApiError> {
    let record = domain::AuditRecord::from_envelope(event.envelope)?;
    store::append(db, &record, platform::clock::now_ms())
}

fn metrics(ctx: &Context) -> Result<Vec<Metric>, ApiError> {
    Ok(vec![Metric::counter(
        "audit_events_total",
        "Events recorded in the audit log",
    )
    .count(ctx.db()?, "SELECT COUNT(*) FROM audit_events")?])
}
