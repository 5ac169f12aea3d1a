//! The catalog's write workflows: each change and the event that
//! announces it, in the caller's transaction.

use platform::db::Db;
use platform::events::{ProductCreated, ProductDeleted, ProductUpdated};
use platform::{outbox, ApiError, Context, Id};

use crate::domain::{self, ProductFields};
use crate::store::{self, Product};

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no product {id}"))
}

fn stale(version: i64) -> ApiError {
    ApiError::PreconditionFailed(format!(
        "the product is at version {version}; reload it and retry"
    ))
}

fn sku_free(db: &Db, sku: &str, id: &str) -> Result<(), ApiError> {
    if store::sku_taken(db, sku, id)? {
        return Err(ApiError::Conflict(format!(
            "another product already has sku {sku}"
        )));
    }
    Ok(())
}

/// A live product, or 404.
pub fn product(db: &Db, id: &Id) -> Result<Product, ApiError> {
    store::get(db, id.as_str())?.ok_or_else(|| not_found(id.as_str()))
}

/// Creates a product and publishes `catalog.product_created` with its
/// initial stock (for inventory).
pub fn create(
    db: &Db,
    ctx: &Context,
    fields: &ProductFields,
    stock: u32,
) -> Result<Product, ApiError> {
    let id = Id::generate();
    let sku = fields
        .sku
        .clone()
        .unwrap_or_else(|| domain::generated_sku(id.as_str()));
    sku_free(db, &sku, id.as_str())?;
    let p = store::insert(db, id.as_str(), &sku, fields, stock)?;
    let created = ProductCreated {
        product_id: p.id.clone(),
        sku: p.sku.clone(),
        name: p.name.clone(),
        category: p.category.clone(),
        brand: p.brand.clone(),
        price_cents: p.price_cents,
        stock,
        tags: p.tags.clone(),
        featured: p.featured,
        description: Some(p.description.clone()),
    };
    outbox::publish(db, ctx, &created, None)?;
    Ok(p)
}

/// Replaces a product's fields if it is at a version `if_match` names,
/// and publishes `catalog.product_updated` with the new version.
pub fn replace(
    db: &Db,
    ctx: &Context,
    id: &Id,
    fields: &ProductFields,
    if_match: &str,
) -> Result<Product, ApiError> {
    db.transaction(|db| {
        let current = product(db, id)?;
        if !domain::etag_matches(if_match, current.version) {
            return Err(stale(current.version));
        }
        let sku = fields.sku.clone().unwrap_or_else(|| current.sku.clone());
        sku_free(db, &sku, id.as_str())?;
        if !store::replace(db, id.as_str(), &sku, fields, current.version)? {
            return Err(stale(current.version));
        }
        let p = product(db, id)?;
        let updated = ProductUpdated {
            product_id: p.id.clone(),
            sku: p.sku.clone(),
            name: p.name.clone(),
            category: p.category.clone(),
            brand: p.brand.clone(),
            price_cents: p.price_cents,
            tags: p.tags.clone(),
            featured: p.featured,
            version: p.version,
            description: Some(p.description.clone()),
        };
        outbox::publish(db, ctx, &updated, None)?;
        Ok(p)
    })
}

/// Deletes a product (at the version `if_match` names, if given) and
/// publishes `catalog.product_deleted`.
pub fn delete(db: &Db, ctx: &Context, id: &Id, if_match: Option<&str>) -> Result<(), ApiError> {
    db.transaction(|db| {
        let current = product(db, id)?;
        if if_match.is_some_and(|h| !domain::etag_matches(h, current.version)) {
            return Err(stale(current.version));
        }
        if !store::soft_delete(db, id.as_str(), Some(current.version))? {
            return Err(stale(current.version));
        }
        let deleted = ProductDeleted {
            product_id: id.to_string(),
        };
        outbox::publish(db, ctx, &deleted, None).map(|_| ())
    })
}
