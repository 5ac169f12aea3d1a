//! catalog: the product write model. Admins create, replace and delete
//! products; anyone lists and reads them through a Redis read-through
//! cache. Changes are published as `catalog.*` events through the outbox.

pub mod domain;
mod http;
mod read_cache;
mod service;
pub mod store;
mod views;

use platform::metrics::Metric;
use platform::{ApiError, Component, Context, Database};

/// The catalog as the platform serves it: public routes and an outbox
/// (it takes no events); its tick forgets old idempotency keys.
pub static COMPONENT: Component = Component {
    name: "catalog",
    database: Some(Database {
        label: "catalog",
        migrations: store::MIGRATIONS,
    }),
    routes: http::ROUTES,
    metrics: Some(metrics),
    ..Component::BASE
};

platform::export!(COMPONENT);

fn metrics(ctx: &Context) -> Result<Vec<Metric>, ApiError> {
    let db = ctx.db()?;
    Ok(vec![
        Metric::gauge("catalog_products", "Products on sale")
            .count(db, "SELECT COUNT(*) FROM products WHERE deleted = 0")?,
        Metric::counter("products_created_total", "Products ever created")
            .count(db, "SELECT COUNT(*) FROM products")?,
    ])
}
