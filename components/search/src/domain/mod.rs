//! Search rules, free of storage: what a query may ask (terms, never
//! FTS5 syntax), its filters and sort, how a misspelt term is corrected,
//! and how highlighted text is made safe to show.

mod spelling;

use platform::validate;
use platform::ApiError;
use serde::Serialize;

pub use spelling::{correction, edit_distance};

/// Longest `q`, in characters: longer is a 422, never a slow query.
pub const MAX_QUERY_CHARS: usize = 200;
/// Terms of a query that are searched; more are ignored.
pub const MAX_TERMS: usize = 8;
/// Longest term; the rest of a longer word is ignored.
pub const MAX_TERM_CHARS: usize = 40;
/// Terms at least this long match as prefixes (`headphone` finds
/// `headphones`); shorter ones must match whole.
pub const PREFIX_MIN_CHARS: usize = 3;
/// Deepest result reached by paging: search pages by offset.
pub const MAX_OFFSET: u32 = 1_000;
/// Most suggestions one call returns.
pub const MAX_SUGGESTIONS: u32 = 10;
/// Longest category or brand filter.
const MAX_LABEL: usize = 100;
/// Largest price a filter may name, in cents.
const MAX_PRICE_CENTS: i64 = 100_000_000;

/// Where a highlighted match starts and ends in text read from the index
/// (private-use code points, never in product text after
/// [`plain_text`]); [`marked_html`] turns them into `<mark>` tags.
pub const MARK_OPEN: char = '\u{E000}';
pub const MARK_CLOSE: char = '\u{E001}';

/// The words of a query as the index knows them: runs of letters and
/// digits, lower-cased, at most [`MAX_TERMS`] of at most
/// [`MAX_TERM_CHARS`] characters. Everything else (quotes, `*`, `:`, `^`,
/// `-`, parentheses, `NEAR`'s punctuation) only separates words, so no
/// input can be FTS5 syntax.
pub fn terms(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.chars()
                .take(MAX_TERM_CHARS)
                .collect::<String>()
                .to_lowercase()
        })
        .take(MAX_TERMS)
        .collect()
}

/// One term of an FTS5 query: a string literal (terms hold only letters
/// and digits, so no quote can end it early), matched as a prefix when
/// long enough.
pub fn fts_term(term: &str) -> String {
    if term.chars().count() >= PREFIX_MIN_CHARS {
        format!("\"{term}\"*")
    } else {
        format!("\"{term}\"")
    }
}

/// The FTS5 query for `terms`: every term must match (in any column).
pub fn fts_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| fts_term(t))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// bm25: name counts most, then brand and tags, then description.
    Relevance,
    Price,
    PriceDesc,
    Popularity,
    Newest,
}

impl Sort {
    /// How `?sort=` spells each order (what [`Sort::parse`] reads).
    pub const NAMES: &'static [&'static str] =
        &["relevance", "price", "-price", "popularity", "newest"];

    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("") | Some("relevance") => Ok(Sort::Relevance),
            Some("price") => Ok(Sort::Price),
            Some("-price") => Ok(Sort::PriceDesc),
            Some("popularity") => Ok(Sort::Popularity),
            Some("newest") => Ok(Sort::Newest),
            Some(_) => Err(ApiError::invalid(
                "sort",
                "must be relevance, price, -price, popularity or newest",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::Price => "price",
            Sort::PriceDesc => "-price",
            Sort::Popularity => "popularity",
            Sort::Newest => "newest",
        }
    }
}

/// What a search is narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub category: Option<String>,
    pub brand: Option<String>,
    pub min_price_cents: Option<i64>,
    pub max_price_cents: Option<i64>,
    pub in_stock: Option<bool>,
}

impl Filters {
    /// Reads the filters from query parameters (`param` looks one up).
    pub fn parse(param: &impl Fn(&str) -> Option<String>) -> Result<Self, ApiError> {
        let label = |name: &str| validate::optional_text(name, param(name), MAX_LABEL);
        let price = |name: &str| validate::optional_price(name, param(name), MAX_PRICE_CENTS);
        let in_stock = validate::optional_bool("in_stock", param("in_stock"))?;
        let filters = Self {
            category: label("category")?,
            brand: label("brand")?,
            min_price_cents: price("min_price")?,
            max_price_cents: price("max_price")?,
            in_stock,
        };
        if let (Some(min), Some(max)) = (filters.min_price_cents, filters.max_price_cents) {
            if min > max {
                return Err(ApiError::invalid(
                    "min_price",
                    "must not be greater than max_price",
                ));
            }
        }
        Ok(filters)
    }
}

/// A search as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    /// The query as typed (trimmed), for analytics and the answer.
    pub text: String,
    pub terms: Vec<String>,
    pub filters: Filters,
    pub sort: Sort,
    pub limit: u32,
    pub offset: u32,
    /// The query came from a suggestion the user picked (`from=suggest`).
    pub from_suggestion: bool,
}

impl SearchRequest {
    /// Reads `q` (or `query`, the path's), the filters, `sort`, `limit`
    /// and the offset a cursor carries.
    pub fn parse(
        q: Option<String>,
        param: &impl Fn(&str) -> Option<String>,
        limit: u32,
        offset: u32,
    ) -> Result<Self, ApiError> {
        let text = q.unwrap_or_default();
        let text = text.trim();
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::invalid(
                "q",
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        if offset > MAX_OFFSET {
            return Err(ApiError::invalid(
                "cursor",
                format!("search pages no deeper than {MAX_OFFSET} results"),
            ));
        }
        let from_suggestion = match param("from").as_deref() {
            None | Some("") => false,
            Some("suggest") => true,
            Some(_) => return Err(ApiError::invalid("from", "must be suggest")),
        };
        Ok(Self {
            text: plain_text(text),
            terms: terms(text),
            filters: Filters::parse(param)?,
            sort: Sort::parse(param("sort").as_deref())?,
            limit,
            offset,
            from_suggestion,
        })
    }
}

/// A suggestion request: the typed prefix, as terms.
pub fn suggest_terms(q: &str) -> Result<Vec<String>, ApiError> {
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::invalid(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    Ok(terms(q))
}

/// Text without control characters or highlight markers, for anything a
/// user typed that is echoed back or recorded.
pub fn plain_text(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() && *c != MARK_OPEN && *c != MARK_CLOSE)
        .collect()
}

/// Text from the index with its match markers as `<mark>` tags, and
/// everything else HTML-escaped: safe to put in a page as it is.
pub fn marked_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            MARK_OPEN => out.push_str("<mark>"),
            MARK_CLOSE => out.push_str("</mark>"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
