//! Search's workflows: a search with typo correction, suggestions,
//! recommendations, and the rebuild of the read model from the catalog
//! (begun by an admin, carried on by the tick a few pages at a time).

use std::time::Duration;

use platform::clock::{now_ms, parse_rfc3339};
use platform::component::report;
use platform::db::Db;
use platform::domain::Money;
use platform::outbound::{CallError, Client, Exchange};
use platform::{ApiError, Context, Id, LocalBoxFuture, Report};
use serde::Deserialize;
use serde_json::json;

use crate::domain::{self, fts_query, fts_term, SearchRequest};
use crate::store::query::{self, Hit, Results};
use crate::store::{self, Product, Rebuild};

/// The catalog's listing, as seen from inside the application.
const CATALOG_URL: &str = "http://catalog.spin.internal/api/catalog";
/// The largest page the catalog serves.
const CATALOG_PAGE: u32 = 100;
/// Catalog pages one tick reads, at most.
const PAGES_PER_TICK: u32 = 20;
/// Vocabulary terms weighed to correct one word.
const CORRECTION_CANDIDATES: u32 = 5_000;

/// A word searched as another, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Correction {
    pub from: String,
    pub to: String,
}

/// A search's results and the corrections made to get them.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub results: Results,
    pub corrections: Vec<Correction>,
}

/// Runs a search. When the query as typed finds nothing, each word that
/// matches nothing on its own is replaced by the nearest indexed term (if
/// one is near enough) and the search runs again: what was typed always
/// wins when it matches anything, so exact matches are never displaced by
/// corrected ones.
pub fn search(db: &Db, req: &SearchRequest) -> Result<Found, ApiError> {
    let run = |terms: &[String]| {
        let fts = (!terms.is_empty()).then(|| fts_query(terms));
        query::search(
            db,
            fts.as_deref(),
            &req.filters,
            req.sort,
            req.limit,
            req.offset,
        )
    };
    let results = run(&req.terms)?;
    if results.total > 0 || req.terms.is_empty() {
        return Ok(Found {
            results,
            corrections: Vec::new(),
        });
    }
    let mut corrections = Vec::new();
    let mut corrected = Vec::with_capacity(req.terms.len());
    for term in &req.terms {
        if !query::matches_any(db, &fts_term(term))? {
            if let Some(fix) = correct(db, term)? {
                corrections.push(Correction {
                    from: term.clone(),
                    to: fix.clone(),
                });
                corrected.push(fix);
                continue;
            }
        }
        corrected.push(term.clone());
    }
    if corrections.is_empty() {
        return Ok(Found {
            results,
            corrections,
        });
    }
    Ok(Found {
        results: run(&corrected)?,
        corrections,
    })
}

/// The indexed term nearest to `word`, among those that start with its
/// first character (typos rarely touch the first letter, and this keeps
/// the candidates few).
fn correct(db: &Db, word: &str) -> Result<Option<String>, ApiError> {
    let Some(first) = word.chars().next() else {
        return Ok(None);
    };
    let candidates = query::terms_with_prefix(db, &first.to_string(), CORRECTION_CANDIDATES)?;
    Ok(domain::correction(
        word,
        candidates.iter().map(|(t, n)| (t.as_str(), *n)),
    ))
}

/// One suggestion.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Suggestion {
    pub text: String,
    /// `product` (a product's name) or `query` (the typed words completed
    /// with an indexed term).
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
}

/// Completions of what has been typed: products whose names hold every
/// word typed (the last as a prefix), most popular first, then the typed
/// words with the last one completed by the commonest indexed terms.
/// Product names are offered from the third letter on: shorter prefixes
/// match a large part of a big catalog, and the index keeps prefixes of
/// three letters (terms still complete from the first).
pub fn suggest(db: &Db, words: &[String], limit: u32) -> Result<Vec<Suggestion>, ApiError> {
    let Some((last, before)) = words.split_last() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut name_query: Vec<String> = before.iter().map(|w| format!("\"{w}\"")).collect();
    name_query.push(format!("\"{last}\"*"));
    let products = if last.chars().count() >= domain::PREFIX_MIN_CHARS {
        query::names_matching(db, &format!("name : ({})", name_query.join(" AND ")), limit)?
    } else {
        Vec::new()
    };
    for (id, name) in products {
        out.push(Suggestion {
            text: name,
            kind: "product",
            product_id: Some(id),
        });
    }
    let head = before.join(" ");
    for (term, _) in query::terms_with_prefix(db, last, limit)? {
        let text = if head.is_empty() {
            term
        } else {
            format!("{head} {term}")
        };
        if !out.iter().any(|s| s.text.eq_ignore_ascii_case(&text)) {
            out.push(Suggestion {
                text,
                kind: "query",
                product_id: None,
            });
        }
    }
    out.truncate(limit as usize);
    Ok(out)
}

/// Recommendations around one product: bought with it, and like it.
pub fn for_product(db: &Db, id: &Id, limit: u32) -> Result<(Vec<Hit>, Vec<Hit>), ApiError> {
    let product = query::product(db, id.as_str())?
        .ok_or_else(|| ApiError::NotFound(format!("no product {id} in the search index")))?;
    let together = query::bought_together(db, id.as_str(), limit)?;
    let mut similar = query::similar(db, &product, limit.saturating_add(limit))?;
    // What is already "bought together" is not repeated as "similar".
    similar.retain(|h| !together.iter().any(|t| t.id == h.id));
    similar.truncate(limit as usize);
    Ok((together, similar))
}

/// Recommendations for a customer: what others bought with what they
/// bought; without purchases (or when that gives too few), products like
/// their purchases, then the most popular ones they do not have.
pub fn for_customer(
    db: &Db,
    user_id: &str,
    limit: u32,
) -> Result<(Vec<Hit>, &'static str), ApiError> {
    let mut picks = query::for_customer(db, user_id, limit)?;
    let owned = query::purchased(db, user_id, 20)?;
    let basis = if picks.is_empty() {
        "popular"
    } else {
        "bought_together"
    };
    for id in &owned {
        if picks.len() >= limit as usize {
            break;
        }
        if let Some(product) = query::product(db, id)? {
            for hit in query::similar(db, &product, limit)? {
                if !owned.contains(&hit.id) && !picks.iter().any(|p| p.id == hit.id) {
                    picks.push(hit);
                }
            }
        }
    }
    if picks.len() < limit as usize {
        let mut exclude = owned.clone();
        exclude.extend(picks.iter().map(|p| p.id.clone()));
        picks.extend(query::popular(db, &exclude, limit)?);
    }
    picks.truncate(limit as usize);
    Ok((picks, basis))
}

/// Starts a rebuild, unless one is running; answers the job.
pub fn start_rebuild(db: &Db) -> Result<(Rebuild, bool), ApiError> {
    db.transaction(|db| match store::latest_rebuild(db)? {
        Some(job) if job.state == "running" => Ok((job, false)),
        _ => Ok((store::start_rebuild(db, now_ms())?, true)),
    })
}

/// A product of the catalog's listing, as much as the index needs.
#[derive(Debug, Deserialize)]
struct Listed {
    id: String,
    sku: String,
    name: String,
    #[serde(default)]
    description: String,
    category: String,
    brand: String,
    price: f64,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    featured: bool,
    #[serde(default)]
    initial_stock: Option<i64>,
    version: i64,
    created_at: String,
}

#[derive(Debug, Deserialize)]
struct ListedPage {
    items: Vec<Listed>,
    next_cursor: Option<String>,
}

impl Listed {
    /// The catalog's product as the model holds it; a product already
    /// indexed keeps its stock state (inventory's events own it).
    fn into_product(self, db: &Db) -> Result<Product, ApiError> {
        let id = Id::parse("items[].id", &self.id)?.into_string();
        let in_stock = match query::product(db, &id)? {
            Some(known) => known.in_stock,
            None => self.initial_stock.unwrap_or(1) > 0,
        };
        Ok(Product {
            price_cents: Money::from_decimal(self.price)
                .ok_or_else(|| ApiError::internal(format!("catalog price {}", self.price)))?
                .cents(),
            created_at_ms: parse_rfc3339(&self.created_at).unwrap_or_else(now_ms),
            id,
            sku: self.sku,
            name: self.name,
            brand: self.brand,
            category: self.category,
            description: self.description,
            tags: self.tags,
            featured: self.featured,
            in_stock,
            version: self.version,
        })
    }
}

/// Tick work: reads the next pages of the catalog for a running rebuild,
/// one transaction per page (a crash resumes from the last page stored).
pub fn tick(ctx: &Context) -> LocalBoxFuture<'_, Result<Report, ApiError>> {
    Box::pin(rebuild_pages(ctx))
}

async fn rebuild_pages(ctx: &Context) -> Result<Report, ApiError> {
    let db = ctx.db()?;
    let Some(job) = store::latest_rebuild(db)?.filter(|j| j.state == "running") else {
        return Ok(report(json!({ "rebuild": null })));
    };
    let client = Client::new().timeout(Duration::from_secs(10));
    let mut cursor = job.cursor.clone();
    for _ in 0..PAGES_PER_TICK {
        let url = match &cursor {
            Some(c) => format!("{CATALOG_URL}?limit={CATALOG_PAGE}&cursor={c}"),
            None => format!("{CATALOG_URL}?limit={CATALOG_PAGE}"),
        };
        let read = |status: u16, body: &[u8]| match status {
            200 => serde_json::from_slice::<ListedPage>(body)
                .map_err(|e| format!("unreadable catalog page: {e}")),
            other => Err(format!("the catalog answered {other}")),
        };
        let page = match client.send(ctx, Exchange::get(url), read).await {
            Ok(answer) => answer.value,
            Err(CallError::Failed { last, .. }) => {
                // Left running: the next tick tries this page again.
                return Ok(report(json!({ "rebuild": job.id, "waiting": last })));
            }
            Err(CallError::Unavailable { .. }) => {
                return Ok(report(json!({ "rebuild": job.id, "waiting": "catalog" })));
            }
        };
        let next = page.next_cursor.clone();
        db.transaction(|db| {
            let count = page.items.len() as i64;
            for listed in page.items {
                let product = listed.into_product(db)?;
                store::upsert(db, &product)?;
                store::mark_seen(db, &product.id, job.id)?;
            }
            store::rebuild_progress(db, job.id, next.as_deref(), count)?;
            if next.is_none() {
                store::finish_rebuild(db, job.id, now_ms())?;
            }
            Ok(())
        })?;
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(report(json!({ "rebuild": job.id })))
}
