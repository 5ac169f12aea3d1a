//! What clients see of search: the types the handlers answer with, which
//! also give the OpenAPI document its schemas.

use platform::clock::rfc3339_from_ms;
use platform::domain::Money;
use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::marked_html;
use crate::service::{Correction, Suggestion};
use crate::store::query::Hit;
use crate::store::Rebuild;

/// A product found, as clients see it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HitView {
    pub id: String,
    pub name: String,
    pub brand: String,
    pub category: String,
    pub tags: Vec<String>,
    pub price: Money,
    pub price_cents: i64,
    pub in_stock: bool,
    /// Units sold in confirmed orders.
    pub popularity: i64,
    /// The name with the matched words in `<mark>`, as escaped HTML (when
    /// there was a query).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_html: Option<String>,
    /// A passage of the description with the matched words marked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet_html: Option<String>,
}

impl From<&Hit> for HitView {
    fn from(h: &Hit) -> Self {
        Self {
            id: h.id.clone(),
            name: h.name.clone(),
            brand: h.brand.clone(),
            category: h.category.clone(),
            tags: h.tags.clone(),
            price: Money::from_cents(h.price_cents),
            price_cents: h.price_cents,
            in_stock: h.in_stock,
            popularity: h.popularity,
            name_html: h.name_marked.as_deref().map(marked_html),
            snippet_html: h.snippet_marked.as_deref().map(marked_html),
        }
    }
}

/// The hits of a list of them.
pub fn hits(list: &[Hit]) -> Vec<HitView> {
    list.iter().map(HitView::from).collect()
}

/// A search's answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchResults {
    /// The query as read (trimmed, plain text).
    pub query: String,
    pub sort: &'static str,
    /// Matches in all, across pages.
    pub total: i64,
    pub items: Vec<HitView>,
    pub next_cursor: Option<String>,
    /// Counts per category and brand over every match.
    pub facets: Facets,
    /// Misspelt words searched as others.
    pub corrections: Vec<Correction>,
}

/// Counts per category and per brand.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Facets {
    pub category: Vec<FacetCount>,
    pub brand: Vec<FacetCount>,
}

/// A facet's value and how many matches have it (`count` first, as
/// clients have always had it).
#[derive(Debug, Serialize, JsonSchema)]
pub struct FacetCount {
    pub count: i64,
    pub value: String,
}

/// The counts of `(value, count)` pairs.
pub fn counts(values: &[(String, i64)]) -> Vec<FacetCount> {
    values
        .iter()
        .map(|(value, count)| FacetCount {
            count: *count,
            value: value.clone(),
        })
        .collect()
}

/// Completions of what has been typed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Suggestions {
    pub query: String,
    pub suggestions: Vec<Suggestion>,
}

/// Recommendations: for a product, or for the caller.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Recommendations {
    /// `?product_id=`: what is bought with it, and what is like it.
    ForProduct {
        product_id: String,
        bought_together: Vec<HitView>,
        similar: Vec<HitView>,
    },
    /// `?for=me`: from the caller's own purchases.
    ForCustomer {
        /// Always `me`.
        #[serde(rename = "for")]
        for_whom: &'static str,
        /// `purchases`, or `popular` for someone who has bought nothing.
        basis: &'static str,
        items: Vec<HitView>,
    },
}

/// A rebuild of the index from the catalog.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RebuildView {
    pub id: i64,
    /// `running`, `done` or `failed`.
    pub state: String,
    pub indexed: i64,
    pub removed: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
}

impl From<&Rebuild> for RebuildView {
    fn from(job: &Rebuild) -> Self {
        Self {
            id: job.id,
            state: job.state.clone(),
            indexed: job.indexed,
            removed: job.removed,
            started_at: rfc3339_from_ms(job.started_at_ms),
            finished_at: job.finished_at_ms.map(rfc3339_from_ms),
        }
    }
}
