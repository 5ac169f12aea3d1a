//! The catalog's SQL: products (soft-deleted, versioned), their tags, and
//! keyset-paged lists. Every value is a bound parameter; the only text
//! spliced into statements is chosen from constants.

use platform::clock::now_ms;
use platform::db::{int, opt_int, text, Db, Migration};
use platform::{idempotency, outbox, ApiError};
use serde::{Deserialize, Serialize};
use spin_sdk::sqlite3::{RowResult, Value};

use crate::domain::{self, Cursor, Filters, ProductFields, Sort, SortKey};

const SCHEMA: Migration = &[
    "CREATE TABLE products (
        id TEXT PRIMARY KEY,
        sku TEXT NOT NULL,
        name TEXT NOT NULL,
        sort_name TEXT NOT NULL,
        description TEXT NOT NULL,
        price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
        category TEXT NOT NULL COLLATE NOCASE,
        brand TEXT NOT NULL COLLATE NOCASE,
        tags TEXT NOT NULL,
        images TEXT NOT NULL,
        featured INTEGER NOT NULL DEFAULT 0,
        initial_stock INTEGER NOT NULL CHECK (initial_stock >= 0),
        version INTEGER NOT NULL DEFAULT 1,
        deleted INTEGER NOT NULL DEFAULT 0,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL)",
    // A deleted product's SKU may be used again.
    "CREATE UNIQUE INDEX products_live_sku ON products (sku) WHERE deleted = 0",
    "CREATE INDEX products_by_created ON products (created_at_ms, id) WHERE deleted = 0",
    "CREATE INDEX products_by_price ON products (price_cents, id) WHERE deleted = 0",
    "CREATE INDEX products_by_name ON products (sort_name, id) WHERE deleted = 0",
    "CREATE INDEX products_by_category ON products (category) WHERE deleted = 0",
    "CREATE TABLE product_tags (
        product_id TEXT NOT NULL REFERENCES products (id),
        tag TEXT NOT NULL,
        PRIMARY KEY (tag, product_id))",
];

/// The schema, in order.
pub const MIGRATIONS: &[Migration] = &[SCHEMA, outbox::MIGRATION, idempotency::MIGRATION];

/// A product as stored (and as cached: its JSON form is internal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub category: String,
    pub brand: String,
    pub tags: Vec<String>,
    pub images: Vec<String>,
    pub featured: bool,
    pub initial_stock: i64,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl Product {
    /// This product's key in `sort`.
    pub fn sort_key(&self, sort: Sort) -> SortKey {
        sort.key_of(
            &domain::sort_name(&self.name),
            self.price_cents,
            self.created_at_ms,
        )
    }
}

const COLUMNS: &str = "id, sku, name, description, price_cents, category, brand, tags, images, \
     featured, initial_stock, version, created_at_ms, updated_at_ms";

fn product_of(row: &RowResult) -> Option<Product> {
    let s = |i| row.get::<&str>(i).map(str::to_string);
    let list = |i| {
        row.get::<&str>(i)
            .and_then(|j| serde_json::from_str::<Vec<String>>(j).ok())
    };
    Some(Product {
        id: s(0)?,
        sku: s(1)?,
        name: s(2)?,
        description: s(3)?,
        price_cents: row.get(4)?,
        category: s(5)?,
        brand: s(6)?,
        tags: list(7)?,
        images: list(8)?,
        featured: row.get(9)?,
        initial_stock: row.get(10)?,
        version: row.get(11)?,
        created_at_ms: row.get(12)?,
        updated_at_ms: row.get(13)?,
    })
}

fn products_of(rows: &[RowResult]) -> Result<Vec<Product>, ApiError> {
    rows.iter()
        .map(|r| product_of(r).ok_or_else(|| ApiError::internal("malformed product row")))
        .collect()
}

fn json_list(items: &[String]) -> Value {
    text(serde_json::to_string(items).unwrap_or_else(|_| "[]".into()))
}

/// A live (not deleted) product.
pub fn get(db: &Db, id: &str) -> Result<Option<Product>, ApiError> {
    let r = db.execute(
        &format!("SELECT {COLUMNS} FROM products WHERE id = ? AND deleted = 0"),
        &[text(id)],
    )?;
    Ok(products_of(&r.rows)?.into_iter().next())
}

/// Whether a live product other than `except_id` has `sku`.
pub fn sku_taken(db: &Db, sku: &str, except_id: &str) -> Result<bool, ApiError> {
    let r = db.execute(
        "SELECT 1 FROM products WHERE sku = ? AND deleted = 0 AND id <> ?",
        &[text(sku), text(except_id)],
    )?;
    Ok(!r.rows.is_empty())
}

/// Inserts a new product at version 1.
pub fn insert(
    db: &Db,
    id: &str,
    sku: &str,
    fields: &ProductFields,
    initial_stock: u32,
) -> Result<Product, ApiError> {
    let now = now_ms();
    db.execute(
        &format!(
            "INSERT INTO products ({COLUMNS}, sort_name, deleted) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, 0)"
        ),
        &[
            text(id),
            text(sku),
            text(&fields.name),
            text(&fields.description),
            int(fields.price_cents),
            text(&fields.category),
            text(&fields.brand),
            json_list(&fields.tags),
            json_list(&fields.images),
            int(i64::from(fields.featured)),
            int(initial_stock),
            int(now),
            int(now),
            text(domain::sort_name(&fields.name)),
        ],
    )?;
    set_tags(db, id, &fields.tags)?;
    get(db, id)?.ok_or_else(|| ApiError::internal("inserted product vanished"))
}

/// Replaces the editable fields if the product is still at
/// `expected_version`; false if it moved on (or went).
pub fn replace(
    db: &Db,
    id: &str,
    sku: &str,
    fields: &ProductFields,
    expected_version: i64,
) -> Result<bool, ApiError> {
    db.execute(
        "UPDATE products SET sku = ?, name = ?, sort_name = ?, description = ?, price_cents = ?, \
         category = ?, brand = ?, tags = ?, images = ?, featured = ?, version = version + 1, \
         updated_at_ms = ? WHERE id = ? AND version = ? AND deleted = 0",
        &[
            text(sku),
            text(&fields.name),
            text(domain::sort_name(&fields.name)),
            text(&fields.description),
            int(fields.price_cents),
            text(&fields.category),
            text(&fields.brand),
            json_list(&fields.tags),
            json_list(&fields.images),
            int(i64::from(fields.featured)),
            int(now_ms()),
            text(id),
            int(expected_version),
        ],
    )?;
    if db.changes() != 1 {
        return Ok(false);
    }
    set_tags(db, id, &fields.tags)?;
    Ok(true)
}

/// Soft-deletes a product at `expected_version` (any version when `None`);
/// false if there was no such live product.
pub fn soft_delete(db: &Db, id: &str, expected_version: Option<i64>) -> Result<bool, ApiError> {
    db.execute(
        "UPDATE products SET deleted = 1, version = version + 1, updated_at_ms = ? \
         WHERE id = ? AND deleted = 0 AND (? IS NULL OR version = ?)",
        &[
            int(now_ms()),
            text(id),
            opt_int(expected_version),
            opt_int(expected_version),
        ],
    )?;
    if db.changes() != 1 {
        return Ok(false);
    }
    db.execute("DELETE FROM product_tags WHERE product_id = ?", &[text(id)])?;
    Ok(true)
}

fn set_tags(db: &Db, id: &str, tags: &[String]) -> Result<(), ApiError> {
    db.execute("DELETE FROM product_tags WHERE product_id = ?", &[text(id)])?;
    for tag in tags {
        db.execute(
            "INSERT INTO product_tags (product_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING",
            &[text(id), text(tag)],
        )?;
    }
    Ok(())
}

/// A statement under construction: constant SQL fragments, bound values.
#[derive(Default)]
struct Query {
    clauses: Vec<&'static str>,
    params: Vec<Value>,
}

impl Query {
    fn and(&mut self, clause: &'static str, params: impl IntoIterator<Item = Value>) {
        self.clauses.push(clause);
        self.params.extend(params);
    }
}

/// Up to `limit` live products matching `filters`, in `sort`, after `after`.
pub fn list(
    db: &Db,
    filters: &Filters,
    sort: Sort,
    after: Option<&Cursor>,
    limit: u32,
) -> Result<Vec<Product>, ApiError> {
    let mut q = Query::default();
    q.and("deleted = 0", []);
    if let Some(c) = &filters.category {
        q.and("category = ?", [text(c)]);
    }
    if let Some(b) = &filters.brand {
        q.and("brand = ?", [text(b)]);
    }
    if let Some(min) = filters.min_price_cents {
        q.and("price_cents >= ?", [int(min)]);
    }
    if let Some(max) = filters.max_price_cents {
        q.and("price_cents <= ?", [int(max)]);
    }
    if let Some(tag) = &filters.tag {
        q.and(
            "EXISTS (SELECT 1 FROM product_tags t WHERE t.product_id = products.id AND t.tag = ?)",
            [text(tag)],
        );
    }
    if let Some(needle) = &filters.q {
        // instr, not LIKE: the text is matched literally, `%` and `_` included.
        q.and("instr(sort_name, ?) > 0", [text(needle)]);
    }
    if let Some(f) = filters.featured {
        q.and("featured = ?", [int(i64::from(f))]);
    }
    if let Some(c) = after {
        let key = match &c.key {
            SortKey::Int(i) => int(*i),
            SortKey::Text(s) => text(s),
        };
        let clause = match (sort.column(), sort.descending()) {
            ("sort_name", false) => "(sort_name > ? OR (sort_name = ? AND id > ?))",
            ("price_cents", false) => "(price_cents > ? OR (price_cents = ? AND id > ?))",
            ("price_cents", true) => "(price_cents < ? OR (price_cents = ? AND id < ?))",
            (_, false) => "(created_at_ms > ? OR (created_at_ms = ? AND id > ?))",
            (_, true) => "(created_at_ms < ? OR (created_at_ms = ? AND id < ?))",
        };
        q.and(clause, [key.clone(), key, text(&c.id)]);
    }
    let order = match sort {
        Sort::Name => "sort_name, id",
        Sort::Price => "price_cents, id",
        Sort::PriceDesc => "price_cents DESC, id DESC",
        Sort::Created => "created_at_ms, id",
        Sort::CreatedDesc => "created_at_ms DESC, id DESC",
    };
    q.params.push(int(i64::from(limit)));
    let sql = format!(
        "SELECT {COLUMNS} FROM products WHERE {} ORDER BY {order} LIMIT ?",
        q.clauses.join(" AND ")
    );
    let r = db.execute(&sql, &q.params)?;
    products_of(&r.rows)
}

/// A category and how many live products it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CategoryCount {
    pub category: String,
    pub count: i64,
}

/// Every category with live products, by name.
pub fn categories(db: &Db) -> Result<Vec<CategoryCount>, ApiError> {
    let r = db.execute(
        "SELECT MIN(category), COUNT(*) FROM products WHERE deleted = 0 \
         GROUP BY category ORDER BY category",
        &[],
    )?;
    Ok(r.rows
        .iter()
        .filter_map(|row| {
            Some(CategoryCount {
                category: row.get::<&str>(0)?.to_string(),
                count: row.get(1)?,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests;
