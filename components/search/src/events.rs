//! Events in: the catalog's products feed the index; orders feed
//! popularity and what is bought together (an order's lines are kept from
//! `order.created` until `order.confirmed` counts them or
//! `order.cancelled` drops them; both travel after it on the order's key);
//! inventory says when a product runs out or comes back.

use platform::clock::{now_ms, parse_rfc3339};
use platform::db::Db;
use platform::inbox::Delivered;
use platform::{ApiError, Context, Id};

use crate::store::{self, Product};

platform::event_set! {
    /// What the read model is made of.
    pub enum Inbound {
        ProductCreated,
        ProductUpdated,
        ProductDeleted,
        OrderCreated,
        OrderConfirmed,
        OrderCancelled,
        StockAvailability,
    }
}

/// Applies one event inside the inbox's transaction.
pub fn apply(db: &Db, _: &Context, delivered: Delivered<'_, Inbound>) -> Result<(), ApiError> {
    let occurred_ms = parse_rfc3339(&delivered.envelope.occurred_at).unwrap_or_else(now_ms);
    match delivered.event {
        Inbound::ProductCreated(p) => {
            let indexed = Indexed {
                in_stock: p.stock > 0,
                version: 1,
                created_at_ms: occurred_ms,
            };
            let listed = Listed {
                id: &p.product_id,
                sku: p.sku,
                name: p.name,
                brand: p.brand,
                category: p.category,
                description: p.description,
                tags: p.tags,
                price_cents: p.price_cents,
                featured: p.featured,
            };
            store::upsert(db, &listed.product(indexed)?)
        }
        Inbound::ProductUpdated(p) => {
            let id = Id::parse("payload.product_id", &p.product_id)?.into_string();
            // An update keeps what the update does not carry: stock and
            // the creation time.
            let known = crate::store::query::product(db, &id)?;
            let indexed = Indexed {
                in_stock: known.as_ref().is_none_or(|k| k.in_stock),
                version: p.version,
                created_at_ms: store::created_at(db, &id)?.unwrap_or(occurred_ms),
            };
            let listed = Listed {
                id: &id,
                sku: p.sku,
                name: p.name,
                brand: p.brand,
                category: p.category,
                description: p.description,
                tags: p.tags,
                price_cents: p.price_cents,
                featured: p.featured,
            };
            store::upsert(db, &listed.product(indexed)?)
        }
        Inbound::ProductDeleted(p) => {
            store::delete(db, Id::parse("payload.product_id", &p.product_id)?.as_str()).map(|_| ())
        }
        Inbound::OrderCreated(o) => {
            let lines: Vec<(String, u32)> = o
                .lines
                .into_iter()
                .map(|l| (l.product_id, l.quantity))
                .collect();
            store::remember_order(db, &o.order_id, &o.user_id, &lines)
        }
        Inbound::OrderConfirmed(o) => match store::take_order(db, &o.order_id)? {
            Some((user, lines)) => store::record_sale(db, &user, &lines),
            // Its creation was never seen (the model was started after
            // it): nothing to count.
            None => Ok(()),
        },
        Inbound::OrderCancelled(o) => store::take_order(db, &o.order_id).map(|_| ()),
        Inbound::StockAvailability(s) => store::set_in_stock(
            db,
            Id::parse("payload.product_id", &s.product_id)?.as_str(),
            s.in_stock,
        ),
    }
}

/// What a catalog event says of a product.
struct Listed<'a> {
    id: &'a str,
    sku: String,
    name: String,
    brand: String,
    category: String,
    description: Option<String>,
    tags: Vec<String>,
    price_cents: i64,
    featured: bool,
}

/// What the index knows of a product that its events do not all carry.
struct Indexed {
    in_stock: bool,
    version: i64,
    created_at_ms: i64,
}

impl Listed<'_> {
    fn product(self, indexed: Indexed) -> Result<Product, ApiError> {
        Ok(Product {
            id: Id::parse("payload.product_id", self.id)?.into_string(),
            sku: self.sku,
            name: self.name,
            brand: self.brand,
            category: self.category,
            description: self.description.unwrap_or_default(),
            tags: self.tags,
            price_cents: self.price_cents,
            featured: self.featured,
            in_stock: indexed.in_stock,
            version: indexed.version,
            created_at_ms: indexed.created_at_ms,
        })
    }
}
