//! The events the catalog publishes on `catalog.events`, keyed by product
//! id; each is appended to the outbox in the transaction that makes the
//! change it announces.

use platform::events::{topics, Event, ProductCreated, ProductDeleted, ProductUpdated};
use platform::{ApiError, Context};

use crate::store::Product;

/// `catalog.product_created`, carrying the initial stock for inventory.
pub fn created(ctx: &Context, p: &Product, stock: u32) -> Result<Event, ApiError> {
    Event::new(
        "catalog.product_created",
        topics::CATALOG,
        &p.id,
        &ProductCreated {
            product_id: p.id.clone(),
            sku: p.sku.clone(),
            name: p.name.clone(),
            category: p.category.clone(),
            brand: p.brand.clone(),
            price_cents: p.price_cents,
            stock,
            tags: p.tags.clone(),
            featured: p.featured,
        },
        ctx,
        None,
    )
}

/// `catalog.product_updated`, with the product's new version.
pub fn updated(ctx: &Context, p: &Product) -> Result<Event, ApiError> {
    Event::new(
        "catalog.product_updated",
        topics::CATALOG,
        &p.id,
        &ProductUpdated {
            product_id: p.id.clone(),
            sku: p.sku.clone(),
            name: p.name.clone(),
            category: p.category.clone(),
            brand: p.brand.clone(),
            price_cents: p.price_cents,
            tags: p.tags.clone(),
            featured: p.featured,
            version: p.version,
        },
        ctx,
        None,
    )
}

/// `catalog.product_deleted`.
pub fn deleted(ctx: &Context, product_id: &str) -> Result<Event, ApiError> {
    Event::new(
        "catalog.product_deleted",
        topics::CATALOG,
        product_id,
        &ProductDeleted {
            product_id: product_id.to_string(),
        },
        ctx,
        None,
    )
}
