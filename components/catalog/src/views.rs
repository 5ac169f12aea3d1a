//! What clients see of the catalog: the types the handlers answer with,
//! which also give the OpenAPI document its schemas.

use platform::clock::rfc3339_from_ms;
use platform::domain::Money;
use schemars::JsonSchema;
use serde::Serialize;

use crate::store::{CategoryCount, Product};

/// A product as clients see it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProductView {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub category: String,
    pub brand: String,
    pub tags: Vec<String>,
    /// Image URLs.
    pub images: Vec<String>,
    pub featured: bool,
    /// The stock it was created with (inventory keeps the current stock).
    pub initial_stock: i64,
    /// Its version: the `ETag`, to send back as `If-Match`.
    pub version: i64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<&Product> for ProductView {
    fn from(p: &Product) -> Self {
        Self {
            id: p.id.clone(),
            sku: p.sku.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            price: Money::from_cents(p.price_cents),
            category: p.category.clone(),
            brand: p.brand.clone(),
            tags: p.tags.clone(),
            images: p.images.clone(),
            featured: p.featured,
            initial_stock: p.initial_stock,
            version: p.version,
            created_at: rfc3339_from_ms(p.created_at_ms),
            updated_at: rfc3339_from_ms(p.updated_at_ms),
        }
    }
}

/// The categories with products on sale, by name.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CategoryList<'a> {
    pub items: &'a [CategoryCount],
}
