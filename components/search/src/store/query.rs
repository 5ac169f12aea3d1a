//! Reads of the read model: ranked, filtered, faceted search; suggestion
//! candidates; the index's vocabulary; recommendations.

use std::collections::BTreeMap;

use platform::db::{int, text, Db};
use platform::ApiError;
use spin_sdk::sqlite3::{RowResult, Value};

use crate::domain::{Filters, Sort, MARK_CLOSE, MARK_OPEN};

/// bm25's column weights: name above brand and tags, both above the
/// description.
const BM25: &str = "bm25(products_fts, 10.0, 4.0, 4.0, 1.0)";
/// Most values a facet lists.
const FACET_VALUES: u32 = 20;
/// Candidates weighed for "similar" recommendations.
const SIMILAR_CANDIDATES: u32 = 200;

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub name: String,
    pub brand: String,
    pub category: String,
    pub tags: Vec<String>,
    pub price_cents: i64,
    pub in_stock: bool,
    pub popularity: i64,
    /// The name with matches marked (when there was a query).
    pub name_marked: Option<String>,
    /// A passage of the description with matches marked.
    pub snippet_marked: Option<String>,
}

/// A page of results, the total and the facets of the whole result set.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    pub hits: Vec<Hit>,
    pub total: i64,
    pub categories: Vec<(String, i64)>,
    pub brands: Vec<(String, i64)>,
}

/// A facet, left out of its own counts so that every value of it can be
/// chosen (picking "audio" still shows how many "office" would give).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Facet {
    Category,
    Brand,
}

/// The SQL and parameters of `filters` (without the facets in `skip`).
fn filter_sql(filters: &Filters, skip: &[Facet]) -> (String, Vec<Value>) {
    let mut sql = String::new();
    let mut params = Vec::new();
    if let (Some(c), false) = (&filters.category, skip.contains(&Facet::Category)) {
        sql.push_str(" AND p.category = ? COLLATE NOCASE");
        params.push(text(c));
    }
    if let (Some(b), false) = (&filters.brand, skip.contains(&Facet::Brand)) {
        sql.push_str(" AND p.brand = ? COLLATE NOCASE");
        params.push(text(b));
    }
    if let Some(min) = filters.min_price_cents {
        sql.push_str(" AND p.price_cents >= ?");
        params.push(int(min));
    }
    if let Some(max) = filters.max_price_cents {
        sql.push_str(" AND p.price_cents <= ?");
        params.push(int(max));
    }
    if let Some(in_stock) = filters.in_stock {
        sql.push_str(" AND p.in_stock = ?");
        params.push(int(i64::from(in_stock)));
    }
    (sql, params)
}

/// `FROM ... WHERE ...` for a query (an FTS5 expression) or for browsing.
fn source(fts: Option<&str>, filters: &Filters, skip: &[Facet]) -> (String, Vec<Value>) {
    let (filter, mut params) = filter_sql(filters, skip);
    match fts {
        Some(q) => {
            params.insert(0, text(q));
            (
                format!(
                    "FROM products_fts JOIN products p ON p.rowid = products_fts.rowid
                     WHERE products_fts MATCH ?{filter}"
                ),
                params,
            )
        }
        None => (format!("FROM products p WHERE 1 = 1{filter}"), params),
    }
}

fn order_by(sort: Sort, ranked: bool) -> String {
    match sort {
        Sort::Relevance if ranked => format!("{BM25}, p.popularity DESC, p.rowid"),
        Sort::Relevance | Sort::Popularity => "p.popularity DESC, p.rowid".into(),
        Sort::Price => "p.price_cents, p.rowid".into(),
        Sort::PriceDesc => "p.price_cents DESC, p.rowid".into(),
        Sort::Newest => "p.created_at_ms DESC, p.rowid DESC".into(),
    }
}

fn text_at(row: &RowResult, i: usize) -> String {
    match row.values.get(i) {
        Some(Value::Text(t)) => t.clone(),
        _ => String::new(),
    }
}

fn int_at(row: &RowResult, i: usize) -> i64 {
    match row.values.get(i) {
        Some(Value::Integer(n)) => *n,
        _ => 0,
    }
}

fn tags_of(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

const HIT_COLUMNS: &str =
    "p.id, p.name, p.brand, p.category, p.tags_json, p.price_cents, p.in_stock, p.popularity";

fn hit(row: &RowResult, marks_at: Option<usize>) -> Hit {
    let marked_at = |i: Option<usize>| i.map(|i| text_at(row, i)).filter(|t| t.contains(MARK_OPEN));
    Hit {
        id: text_at(row, 0),
        name: text_at(row, 1),
        brand: text_at(row, 2),
        category: text_at(row, 3),
        tags: tags_of(&text_at(row, 4)),
        price_cents: int_at(row, 5),
        in_stock: int_at(row, 6) != 0,
        popularity: int_at(row, 7),
        name_marked: marked_at(marks_at),
        snippet_marked: marked_at(marks_at.map(|i| i + 1)),
    }
}

/// A page of the products matching `fts` (all products when `None`) and
/// `filters`, ordered by `sort`, with the total and facet counts. Three
/// statements whatever the query: the page's row ids in order (sorting
/// reads nothing else), the page's products with their matches marked
/// (highlighting only what is shown), and one count per category and
/// brand pair from which the total and both facets are summed.
pub fn search(
    db: &Db,
    fts: Option<&str>,
    filters: &Filters,
    sort: Sort,
    limit: u32,
    offset: u32,
) -> Result<Results, ApiError> {
    let (from, mut params) = source(fts, filters, &[]);
    params.push(int(i64::from(limit)));
    params.push(int(i64::from(offset)));
    let page: Vec<i64> = db
        .execute(
            &format!(
                "SELECT p.rowid {from} ORDER BY {} LIMIT ? OFFSET ?",
                order_by(sort, fts.is_some())
            ),
            &params,
        )?
        .rows
        .iter()
        .map(|row| int_at(row, 0))
        .collect();
    let hits = page_products(db, fts, &page)?;
    let Counts {
        total,
        categories,
        brands,
    } = counts(db, fts, filters)?;
    Ok(Results {
        hits,
        total,
        categories,
        brands,
    })
}

/// The products of `page` (row ids), in that order, marked for `fts`.
fn page_products(db: &Db, fts: Option<&str>, page: &[i64]) -> Result<Vec<Hit>, ApiError> {
    if page.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(page).map_err(ApiError::internal)?;
    let r = match fts {
        Some(q) => db.execute(
            &format!(
                "SELECT {HIT_COLUMNS}, p.rowid,
                        highlight(products_fts, 0, char({open}), char({close})),
                        snippet(products_fts, 3, char({open}), char({close}), '…', 16)
                 FROM products_fts JOIN products p ON p.rowid = products_fts.rowid
                 WHERE products_fts MATCH ? AND products_fts.rowid IN (SELECT value FROM json_each(?))",
                open = MARK_OPEN as u32,
                close = MARK_CLOSE as u32
            ),
            &[text(q), text(ids)],
        )?,
        None => db.execute(
            &format!(
                "SELECT {HIT_COLUMNS}, p.rowid FROM products p
                 WHERE p.rowid IN (SELECT value FROM json_each(?))"
            ),
            &[text(ids)],
        )?,
    };
    let marks_at = fts.map(|_| 9);
    let mut found: Vec<(i64, Hit)> = r
        .rows
        .iter()
        .map(|row| (int_at(row, 8), hit(row, marks_at)))
        .collect();
    found.sort_by_key(|(rowid, _)| page.iter().position(|p| p == rowid));
    Ok(found.into_iter().map(|(_, h)| h).collect())
}

/// The total and the category and brand facets, from one count per
/// (category, brand) over the matches under every filter but those two:
/// each facet then obeys every filter but its own, so every value of it
/// can still be chosen.
fn counts(db: &Db, fts: Option<&str>, filters: &Filters) -> Result<Counts, ApiError> {
    let (from, params) = source(fts, filters, &[Facet::Category, Facet::Brand]);
    let r = db.execute(
        &format!("SELECT p.category, p.brand, COUNT(*) {from} GROUP BY p.category, p.brand"),
        &params,
    )?;
    let is = |filter: &Option<String>, value: &str| {
        filter
            .as_ref()
            .is_none_or(|f| f.eq_ignore_ascii_case(value))
    };
    let mut total = 0;
    let mut categories: BTreeMap<String, i64> = BTreeMap::new();
    let mut brands: BTreeMap<String, i64> = BTreeMap::new();
    for row in &r.rows {
        let (category, brand, n) = (text_at(row, 0), text_at(row, 1), int_at(row, 2));
        let in_category = is(&filters.category, &category);
        let in_brand = is(&filters.brand, &brand);
        if in_category && in_brand {
            total += n;
        }
        if in_brand {
            *categories.entry(category).or_insert(0) += n;
        }
        if in_category {
            *brands.entry(brand).or_insert(0) += n;
        }
    }
    Ok(Counts {
        total,
        categories: top_values(categories),
        brands: top_values(brands),
    })
}

/// The total and the facets of a search.
struct Counts {
    total: i64,
    categories: Vec<(String, i64)>,
    brands: Vec<(String, i64)>,
}

/// A facet's values, the commonest first (then by value), at most
/// [`FACET_VALUES`].
fn top_values(counts: BTreeMap<String, i64>) -> Vec<(String, i64)> {
    let mut values: Vec<(String, i64)> = counts.into_iter().collect();
    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    values.truncate(FACET_VALUES as usize);
    values
}

/// Whether any product matches the FTS5 expression `fts`.
pub fn matches_any(db: &Db, fts: &str) -> Result<bool, ApiError> {
    let r = db.execute(
        "SELECT EXISTS (SELECT 1 FROM products_fts WHERE products_fts MATCH ?)",
        &[text(fts)],
    )?;
    Ok(platform::db::first_i64(&r).unwrap_or(0) != 0)
}

/// Indexed terms starting with `prefix`, with how many products hold
/// each, most common first.
pub fn terms_with_prefix(
    db: &Db,
    prefix: &str,
    limit: u32,
) -> Result<Vec<(String, i64)>, ApiError> {
    let r = db.execute(
        "SELECT term, doc FROM products_vocab WHERE term >= ?1 AND term < ?1 || char(1114111)
         ORDER BY doc DESC, term LIMIT ?2",
        &[text(prefix), int(i64::from(limit))],
    )?;
    Ok(r.rows
        .iter()
        .map(|row| (text_at(row, 0), int_at(row, 1)))
        .collect())
}

/// The products whose name matches the FTS5 expression `fts`, most
/// popular first: suggestion candidates.
pub fn names_matching(db: &Db, fts: &str, limit: u32) -> Result<Vec<(String, String)>, ApiError> {
    let r = db.execute(
        &format!(
            "SELECT p.id, p.name FROM products_fts JOIN products p ON p.rowid = products_fts.rowid
             WHERE products_fts MATCH ? ORDER BY p.popularity DESC, {BM25}, p.rowid LIMIT ?"
        ),
        &[text(fts), int(i64::from(limit))],
    )?;
    Ok(r.rows
        .iter()
        .map(|row| (text_at(row, 0), text_at(row, 1)))
        .collect())
}

/// A product of the model, as a hit without marks.
pub fn product(db: &Db, id: &str) -> Result<Option<Hit>, ApiError> {
    let r = db.execute(
        &format!("SELECT {HIT_COLUMNS} FROM products p WHERE p.id = ?"),
        &[text(id)],
    )?;
    Ok(r.rows.first().map(|row| hit(row, None)))
}

/// Products bought in the same orders as `product_id`, most often first.
pub fn bought_together(db: &Db, product_id: &str, limit: u32) -> Result<Vec<Hit>, ApiError> {
    let r = db.execute(
        &format!(
            "SELECT {HIT_COLUMNS} FROM co_purchases c JOIN products p ON p.id = c.other_id
             WHERE c.product_id = ?1 AND p.id != ?1
             ORDER BY c.orders DESC, p.popularity DESC, p.rowid LIMIT ?2"
        ),
        &[text(product_id), int(i64::from(limit))],
    )?;
    Ok(r.rows.iter().map(|row| hit(row, None)).collect())
}

/// Products like `of`: same category (worth 3), same brand (2), each
/// shared tag (1); the more popular first among equals. Never `of`
/// itself, never one scoring nothing.
pub fn similar(db: &Db, of: &Hit, limit: u32) -> Result<Vec<Hit>, ApiError> {
    let r = db.execute(
        &format!(
            "SELECT {HIT_COLUMNS} FROM products p
             WHERE p.id != ?1 AND (p.category = ?2 COLLATE NOCASE OR p.brand = ?3 COLLATE NOCASE
                   OR EXISTS (SELECT 1 FROM json_each(p.tags_json) t
                              WHERE t.value IN (SELECT value FROM json_each(?4))))
             ORDER BY p.popularity DESC, p.rowid LIMIT ?5"
        ),
        &[
            text(&of.id),
            text(&of.category),
            text(&of.brand),
            text(serde_json::to_string(&of.tags).map_err(ApiError::internal)?),
            int(i64::from(SIMILAR_CANDIDATES)),
        ],
    )?;
    let score = |h: &Hit| {
        3 * i64::from(h.category.eq_ignore_ascii_case(&of.category))
            + 2 * i64::from(h.brand.eq_ignore_ascii_case(&of.brand))
            + h.tags.iter().filter(|t| of.tags.contains(t)).count() as i64
    };
    let mut candidates: Vec<(i64, Hit)> = r
        .rows
        .iter()
        .map(|row| hit(row, None))
        .map(|h| (score(&h), h))
        .collect();
    // Stable: equal scores keep the popularity order.
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    Ok(candidates
        .into_iter()
        .take(limit as usize)
        .map(|(_, h)| h)
        .collect())
}

/// For a customer: products bought with what they bought, not already
/// theirs, most often bought together first.
pub fn for_customer(db: &Db, user_id: &str, limit: u32) -> Result<Vec<Hit>, ApiError> {
    let r = db.execute(
        &format!(
            "SELECT {HIT_COLUMNS} FROM products p JOIN (
                 SELECT c.other_id AS id, SUM(c.orders) AS weight
                 FROM purchases b JOIN co_purchases c ON c.product_id = b.product_id
                 WHERE b.user_id = ?1
                   AND c.other_id NOT IN (SELECT product_id FROM purchases WHERE user_id = ?1)
                 GROUP BY c.other_id) w ON w.id = p.id
             ORDER BY w.weight DESC, p.popularity DESC, p.rowid LIMIT ?2"
        ),
        &[text(user_id), int(i64::from(limit))],
    )?;
    Ok(r.rows.iter().map(|row| hit(row, None)).collect())
}

/// What a customer has bought, most units first.
pub fn purchased(db: &Db, user_id: &str, limit: u32) -> Result<Vec<String>, ApiError> {
    let r = db.execute(
        "SELECT product_id FROM purchases WHERE user_id = ? ORDER BY units DESC, product_id LIMIT ?",
        &[text(user_id), int(i64::from(limit))],
    )?;
    Ok(r.rows.iter().map(|row| text_at(row, 0)).collect())
}

/// The most popular products, except `exclude`.
pub fn popular(db: &Db, exclude: &[String], limit: u32) -> Result<Vec<Hit>, ApiError> {
    let exclude = serde_json::to_string(exclude).map_err(ApiError::internal)?;
    let r = db.execute(
        &format!(
            "SELECT {HIT_COLUMNS} FROM products p
             WHERE p.id NOT IN (SELECT value FROM json_each(?1))
             ORDER BY p.popularity DESC, p.created_at_ms DESC, p.rowid LIMIT ?2"
        ),
        &[text(exclude), int(i64::from(limit))],
    )?;
    Ok(r.rows.iter().map(|row| hit(row, None)).collect())
}
