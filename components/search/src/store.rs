//! Search's SQL: the read model of products (an FTS5 index kept in step
//! with its table by triggers), what confirmed orders say about them
//! (popularity, products bought together, each customer's purchases),
//! and rebuild jobs. Reads live in `store::query`.

pub mod query;

use platform::db::{int, opt_text, text, Db, Migration};
use platform::{inbox, ApiError};
use spin_sdk::sqlite3::{RowResult, Value};

use crate::domain::plain_text;

const SCHEMA: Migration = &[
    // `rowid` is the index's document id.
    "CREATE TABLE products (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        sku TEXT NOT NULL,
        name TEXT NOT NULL,
        brand TEXT NOT NULL,
        tags TEXT NOT NULL,
        description TEXT NOT NULL,
        tags_json TEXT NOT NULL,
        category TEXT NOT NULL,
        price_cents INTEGER NOT NULL,
        featured INTEGER NOT NULL,
        in_stock INTEGER NOT NULL,
        popularity INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL,
        generation INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX products_category ON products (category COLLATE NOCASE)",
    "CREATE INDEX products_brand ON products (brand COLLATE NOCASE)",
    "CREATE INDEX products_price ON products (price_cents)",
    "CREATE INDEX products_popularity ON products (popularity)",
    "CREATE INDEX products_created ON products (created_at_ms)",
    // Name first: bm25 weights the columns in this order (see query.rs).
    "CREATE VIRTUAL TABLE products_fts USING fts5(
        name, brand, tags, description,
        content = 'products', content_rowid = 'rowid',
        tokenize = 'unicode61 remove_diacritics 2', prefix = '3')",
    "CREATE TRIGGER products_indexed AFTER INSERT ON products BEGIN
        INSERT INTO products_fts (rowid, name, brand, tags, description)
        VALUES (new.rowid, new.name, new.brand, new.tags, new.description);
     END",
    "CREATE TRIGGER products_unindexed AFTER DELETE ON products BEGIN
        INSERT INTO products_fts (products_fts, rowid, name, brand, tags, description)
        VALUES ('delete', old.rowid, old.name, old.brand, old.tags, old.description);
     END",
    "CREATE TRIGGER products_reindexed AFTER UPDATE OF name, brand, tags, description ON products BEGIN
        INSERT INTO products_fts (products_fts, rowid, name, brand, tags, description)
        VALUES ('delete', old.rowid, old.name, old.brand, old.tags, old.description);
        INSERT INTO products_fts (rowid, name, brand, tags, description)
        VALUES (new.rowid, new.name, new.brand, new.tags, new.description);
     END",
    // The index's terms and how many products hold each: typo correction
    // and term suggestions read it.
    "CREATE VIRTUAL TABLE products_vocab USING fts5vocab(products_fts, 'row')",
    // Units sold per product, kept apart from `products` so that it
    // survives a product's re-indexing and may arrive before the product.
    "CREATE TABLE popularity (
        product_id TEXT PRIMARY KEY,
        units INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE pending_orders (
        order_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        lines TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE co_purchases (
        product_id TEXT NOT NULL,
        other_id TEXT NOT NULL,
        orders INTEGER NOT NULL,
        PRIMARY KEY (product_id, other_id)) WITHOUT ROWID",
    "CREATE TABLE purchases (
        user_id TEXT NOT NULL,
        product_id TEXT NOT NULL,
        units INTEGER NOT NULL,
        PRIMARY KEY (user_id, product_id)) WITHOUT ROWID",
    "CREATE TABLE rebuilds (
        id INTEGER PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
        cursor TEXT,
        indexed INTEGER NOT NULL DEFAULT 0,
        removed INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        started_at_ms INTEGER NOT NULL,
        finished_at_ms INTEGER)",
];

/// The schema, in order.
pub const MIGRATIONS: &[Migration] = &[SCHEMA, inbox::MIGRATION];

/// A product as the read model holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub brand: String,
    pub category: String,
    pub description: String,
    pub tags: Vec<String>,
    pub price_cents: i64,
    pub featured: bool,
    pub in_stock: bool,
    /// The catalog's version: an older one never overwrites a newer.
    pub version: i64,
    pub created_at_ms: i64,
}

/// Writes `p`, unless the model already has a newer version of it. New
/// products start with the popularity their sales already earned, and
/// count as seen by the latest rebuild (one running now must not drop a
/// product an event just added).
pub fn upsert(db: &Db, p: &Product) -> Result<(), ApiError> {
    let tags_json = serde_json::to_string(&p.tags).map_err(ApiError::internal)?;
    let tags_text = p
        .tags
        .iter()
        .map(|t| plain_text(t))
        .collect::<Vec<_>>()
        .join(", ");
    db.execute(
        "INSERT INTO products (id, sku, name, brand, tags, description, tags_json, category,
             price_cents, featured, in_stock, popularity, version, created_at_ms, generation)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
             COALESCE((SELECT units FROM popularity WHERE product_id = ?1), 0), ?12, ?13,
             (SELECT COALESCE(MAX(id), 0) FROM rebuilds))
         ON CONFLICT (id) DO UPDATE SET
             sku = excluded.sku, name = excluded.name, brand = excluded.brand,
             tags = excluded.tags, description = excluded.description,
             tags_json = excluded.tags_json, category = excluded.category,
             price_cents = excluded.price_cents, featured = excluded.featured,
             version = excluded.version
         WHERE excluded.version >= products.version",
        &[
            text(&p.id),
            text(&p.sku),
            text(plain_text(&p.name)),
            text(plain_text(&p.brand)),
            text(tags_text),
            text(plain_text(&p.description)),
            text(tags_json),
            text(&p.category),
            int(p.price_cents),
            int(i64::from(p.featured)),
            int(i64::from(p.in_stock)),
            int(p.version),
            int(p.created_at_ms),
        ],
    )?;
    Ok(())
}

/// Marks a product seen by rebuild `generation`.
pub fn mark_seen(db: &Db, id: &str, generation: i64) -> Result<(), ApiError> {
    db.execute(
        "UPDATE products SET generation = MAX(generation, ?) WHERE id = ?",
        &[int(generation), text(id)],
    )?;
    Ok(())
}

/// When an indexed product was created.
pub fn created_at(db: &Db, id: &str) -> Result<Option<i64>, ApiError> {
    let r = db.execute(
        "SELECT created_at_ms FROM products WHERE id = ?",
        &[text(id)],
    )?;
    Ok(platform::db::first_i64(&r))
}

/// Removes a product from the model.
pub fn delete(db: &Db, id: &str) -> Result<bool, ApiError> {
    db.execute("DELETE FROM products WHERE id = ?", &[text(id)])?;
    Ok(db.changes() == 1)
}

/// Whether a product can be bought now.
pub fn set_in_stock(db: &Db, id: &str, in_stock: bool) -> Result<(), ApiError> {
    db.execute(
        "UPDATE products SET in_stock = ? WHERE id = ?",
        &[int(i64::from(in_stock)), text(id)],
    )?;
    Ok(())
}

/// An order's lines: product and units.
pub type Lines = Vec<(String, u32)>;

/// An order's lines, kept until it is confirmed or cancelled.
pub fn remember_order(
    db: &Db,
    order_id: &str,
    user_id: &str,
    lines: &[(String, u32)],
) -> Result<(), ApiError> {
    let lines = serde_json::to_string(lines).map_err(ApiError::internal)?;
    db.execute(
        "INSERT INTO pending_orders (order_id, user_id, lines) VALUES (?, ?, ?)
         ON CONFLICT (order_id) DO NOTHING",
        &[text(order_id), text(user_id), text(lines)],
    )?;
    Ok(())
}

/// Takes (and forgets) an order's remembered lines.
pub fn take_order(db: &Db, order_id: &str) -> Result<Option<(String, Lines)>, ApiError> {
    let r = db.execute(
        "SELECT user_id, lines FROM pending_orders WHERE order_id = ?",
        &[text(order_id)],
    )?;
    let found = match r.rows.first().map(|row| row.values.as_slice()) {
        Some([Value::Text(user), Value::Text(lines)]) => Some((
            user.clone(),
            serde_json::from_str(lines).map_err(ApiError::internal)?,
        )),
        _ => None,
    };
    db.execute(
        "DELETE FROM pending_orders WHERE order_id = ?",
        &[text(order_id)],
    )?;
    Ok(found)
}

/// What a confirmed order adds: units to each product's popularity, one
/// to each pair bought together, and the units to the buyer's purchases.
pub fn record_sale(db: &Db, user_id: &str, lines: &[(String, u32)]) -> Result<(), ApiError> {
    for (product, units) in lines {
        let units = i64::from(*units);
        db.execute(
            "INSERT INTO popularity (product_id, units) VALUES (?1, ?2)
             ON CONFLICT (product_id) DO UPDATE SET units = units + ?2",
            &[text(product), int(units)],
        )?;
        db.execute(
            "UPDATE products SET popularity = popularity + ? WHERE id = ?",
            &[int(units), text(product)],
        )?;
        db.execute(
            "INSERT INTO purchases (user_id, product_id, units) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id, product_id) DO UPDATE SET units = units + ?3",
            &[text(user_id), text(product), int(units)],
        )?;
        for (other, _) in lines.iter().filter(|(o, _)| o != product) {
            db.execute(
                "INSERT INTO co_purchases (product_id, other_id, orders) VALUES (?, ?, 1)
                 ON CONFLICT (product_id, other_id) DO UPDATE SET orders = orders + 1",
                &[text(product), text(other)],
            )?;
        }
    }
    Ok(())
}

/// A rebuild job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuild {
    pub id: i64,
    pub state: String,
    /// The catalog cursor to read next; `None` before the first page.
    pub cursor: Option<String>,
    pub indexed: i64,
    pub removed: i64,
    pub error: Option<String>,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
}

fn rebuild_of(row: &RowResult) -> Option<Rebuild> {
    let opt_text = |v: &Value| match v {
        Value::Text(t) => Some(t.clone()),
        _ => None,
    };
    match row.values.as_slice() {
        [Value::Integer(id), Value::Text(state), cursor, Value::Integer(indexed), Value::Integer(removed), error, Value::Integer(started), finished] => {
            Some(Rebuild {
                id: *id,
                state: state.clone(),
                cursor: opt_text(cursor),
                indexed: *indexed,
                removed: *removed,
                error: opt_text(error),
                started_at_ms: *started,
                finished_at_ms: match finished {
                    Value::Integer(f) => Some(*f),
                    _ => None,
                },
            })
        }
        _ => None,
    }
}

const REBUILD_COLUMNS: &str =
    "id, state, cursor, indexed, removed, error, started_at_ms, finished_at_ms";

/// The newest rebuild job, if any.
pub fn latest_rebuild(db: &Db) -> Result<Option<Rebuild>, ApiError> {
    let r = db.execute(
        &format!("SELECT {REBUILD_COLUMNS} FROM rebuilds ORDER BY id DESC LIMIT 1"),
        &[],
    )?;
    Ok(r.rows.first().and_then(rebuild_of))
}

/// Starts a rebuild job; its id is the generation its pages mark.
pub fn start_rebuild(db: &Db, now_ms: i64) -> Result<Rebuild, ApiError> {
    db.execute(
        "INSERT INTO rebuilds (state, started_at_ms) VALUES ('running', ?)",
        &[int(now_ms)],
    )?;
    latest_rebuild(db)?.ok_or_else(|| ApiError::internal("rebuild vanished"))
}

/// Records a page of a rebuild done: where to read next, and the count.
pub fn rebuild_progress(
    db: &Db,
    id: i64,
    cursor: Option<&str>,
    indexed: i64,
) -> Result<(), ApiError> {
    db.execute(
        "UPDATE rebuilds SET cursor = ?, indexed = indexed + ? WHERE id = ?",
        &[opt_text(cursor), int(indexed), int(id)],
    )?;
    Ok(())
}

/// Ends a rebuild: products it did not see are no longer in the catalog.
pub fn finish_rebuild(db: &Db, id: i64, now_ms: i64) -> Result<i64, ApiError> {
    db.execute("DELETE FROM products WHERE generation < ?", &[int(id)])?;
    let removed = i64::try_from(db.changes()).unwrap_or(i64::MAX);
    db.execute(
        "UPDATE rebuilds SET state = 'done', removed = ?, finished_at_ms = ? WHERE id = ?",
        &[int(removed), int(now_ms), int(id)],
    )?;
    Ok(removed)
}

#[cfg(test)]
mod tests;
