//! search: the read model of the catalog (SQLite FTS5, bm25 ranking,
//! facets, typo correction) fed by catalog, order and stock events, with
//! suggestions as the user types, recommendations from what is bought
//! together and what is alike, and search analytics.

pub mod analytics;
pub mod domain;
mod events;
mod http;
pub mod service;
pub mod store;
mod views;

use platform::metrics::Metric;
use platform::{ApiError, Component, Consumer, Context, Database, Tick};

/// Search as the platform serves it: public routes, the events of the
/// catalog, orders and inventory in batches, and a tick that carries out
/// rebuilds.
pub static COMPONENT: Component<events::Inbound> = Component {
    name: "search",
    database: Some(Database {
        label: "search",
        migrations: store::MIGRATIONS,
    }),
    rate_limit: Some("search"),
    routes: http::ROUTES,
    events: Some(Consumer::in_transaction(events::apply).batches()),
    tick: Some(Tick::Async(service::tick)),
    metrics: Some(metrics),
    ..Component::BASE
};

platform::export!(COMPONENT);

fn metrics(ctx: &Context) -> Result<Vec<Metric>, ApiError> {
    Ok(vec![Metric::gauge(
        "search_indexed_products",
        "Products in the search index",
    )
    .count(ctx.db()?, "SELECT COUNT(*) FROM products")?])
}
