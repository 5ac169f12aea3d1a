//! How lists are asked for: filters, the sorts on offer, and cursors
//! that encode the sort key and id of the last item so pages are stable.

use platform::validate;
use platform::ApiError;
use serde::{Deserialize, Serialize};

use super::{normalise_tag, MAX_LABEL, MAX_PRICE_CENTS, MAX_QUERY};

/// The orders a list can come in; each breaks ties by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sort {
    Name,
    Price,
    PriceDesc,
    Created,
    CreatedDesc,
}

impl Sort {
    /// The default order: newest first.
    pub const DEFAULT: Sort = Sort::CreatedDesc;

    /// How `?sort=` spells each order (what [`Sort::parse`] reads).
    pub const NAMES: &'static [&'static str] = &["name", "price", "-price", "created", "-created"];

    pub fn parse(value: &str) -> Result<Self, ApiError> {
        match value {
            "name" => Ok(Sort::Name),
            "price" => Ok(Sort::Price),
            "-price" => Ok(Sort::PriceDesc),
            "created" => Ok(Sort::Created),
            "-created" => Ok(Sort::CreatedDesc),
            _ => Err(ApiError::invalid(
                "sort",
                "must be one of name, price, -price, created, -created",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Name => "name",
            Sort::Price => "price",
            Sort::PriceDesc => "-price",
            Sort::Created => "created",
            Sort::CreatedDesc => "-created",
        }
    }

    /// The column the order is on (a constant: never from input).
    pub fn column(self) -> &'static str {
        match self {
            Sort::Name => "sort_name",
            Sort::Price | Sort::PriceDesc => "price_cents",
            Sort::Created | Sort::CreatedDesc => "created_at_ms",
        }
    }

    pub fn descending(self) -> bool {
        matches!(self, Sort::PriceDesc | Sort::CreatedDesc)
    }

    /// The key of a product in this order.
    pub fn key_of(self, sort_name: &str, price_cents: i64, created_at_ms: i64) -> SortKey {
        match self {
            Sort::Name => SortKey::Text(sort_name.to_string()),
            Sort::Price | Sort::PriceDesc => SortKey::Int(price_cents),
            Sort::Created | Sort::CreatedDesc => SortKey::Int(created_at_ms),
        }
    }
}

/// A sort key value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortKey {
    Int(i64),
    Text(String),
}

/// Where a page starts: after the item with this key and id, in this sort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub sort: Sort,
    pub key: SortKey,
    pub id: String,
}

impl Cursor {
    /// What the opaque cursor encodes: `[sort, key, id]` as JSON.
    pub fn key(&self) -> String {
        serde_json::json!([self.sort.as_str(), self.key, self.id]).to_string()
    }

    /// Reads what [`platform::pagination::PageRequest`] decoded, for a list
    /// in `sort`: 422 naming `cursor` unless this API issued it for that sort.
    pub fn decode(raw: &str, sort: Sort) -> Result<Self, ApiError> {
        let bad = || ApiError::invalid("cursor", "is not a cursor this API issued");
        let (sort_name, key, id): (String, SortKey, String) =
            serde_json::from_str(raw).map_err(|_| bad())?;
        let cursor_sort = Sort::parse(&sort_name).map_err(|_| bad())?;
        if cursor_sort != sort {
            return Err(ApiError::invalid(
                "cursor",
                format!(
                    "was issued for sort={}, not sort={}",
                    cursor_sort.as_str(),
                    sort.as_str()
                ),
            ));
        }
        let key_fits = matches!(
            (sort, &key),
            (Sort::Name, SortKey::Text(_))
                | (
                    Sort::Price | Sort::PriceDesc | Sort::Created | Sort::CreatedDesc,
                    SortKey::Int(_)
                )
        );
        if !key_fits || id.is_empty() || id.len() > 64 {
            return Err(bad());
        }
        Ok(Self { sort, key, id })
    }
}

/// The filters of `GET /api/catalog`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub category: Option<String>,
    pub brand: Option<String>,
    pub min_price_cents: Option<i64>,
    pub max_price_cents: Option<i64>,
    pub tag: Option<String>,
    /// Lower-case substring of the name.
    pub q: Option<String>,
    pub featured: Option<bool>,
}

impl Filters {
    /// Reads the filters from query parameters (`param` looks one up).
    pub fn parse(param: impl Fn(&str) -> Option<String>) -> Result<Self, ApiError> {
        let text = |name: &str, max: usize| validate::optional_text(name, param(name), max);
        let price = |name: &str| validate::optional_price(name, param(name), MAX_PRICE_CENTS);
        let featured = validate::optional_bool("featured", param("featured"))?;
        let tag = match param("tag") {
            Some(t) if !t.trim().is_empty() => Some(normalise_tag("tag", &t)?),
            _ => None,
        };
        let filters = Self {
            category: text("category", MAX_LABEL)?,
            brand: text("brand", MAX_LABEL)?,
            min_price_cents: price("min_price")?,
            max_price_cents: price("max_price")?,
            tag,
            q: text("q", MAX_QUERY)?.map(|q| q.to_lowercase()),
            featured,
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

    /// A canonical spelling, for cache keys: equal filters, equal strings.
    pub fn canonical(&self) -> String {
        serde_json::json!([
            self.category.as_deref().map(str::to_lowercase),
            self.brand.as_deref().map(str::to_lowercase),
            self.min_price_cents,
            self.max_price_cents,
            self.tag,
            self.q,
            self.featured,
        ])
        .to_string()
    }
}

/// The key names sort by: lower-case, so "apple" and "Apple" sit together.
pub fn sort_name(name: &str) -> String {
    name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: ApiError) -> String {
        e.problem("r")["field"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn sorts_parse_and_name_their_columns() {
        for s in ["name", "price", "-price", "created", "-created"] {
            assert_eq!(Sort::parse(s).expect(s).as_str(), s);
        }
        for bad in ["", "Name", "-name", "price;drop", "id"] {
            assert_eq!(field_of(Sort::parse(bad).expect_err(bad)), "sort");
        }
        assert!(Sort::PriceDesc.descending() && !Sort::Name.descending());
        assert_eq!(Sort::Created.column(), "created_at_ms");
    }

    #[test]
    fn cursors_round_trip_within_their_sort_only() {
        let c = Cursor {
            sort: Sort::Name,
            key: SortKey::Text("pen | \"red\"".into()),
            id: "0189-a".into(),
        };
        let encoded = platform::pagination::encode(&c.key());
        let decode = |s: &str, sort| {
            let raw = base64_decode(s);
            Cursor::decode(&raw, sort)
        };
        assert_eq!(decode(&encoded, Sort::Name).expect("round trip"), c);
        let err = decode(&encoded, Sort::Price).expect_err("other sort");
        assert_eq!(field_of(err), "cursor");
        let price = Cursor {
            sort: Sort::PriceDesc,
            key: SortKey::Int(1999),
            id: "p".into(),
        };
        assert_eq!(
            decode(&platform::pagination::encode(&price.key()), Sort::PriceDesc).expect("price"),
            price
        );
        for (raw, sort) in [
            ("", Sort::Name),
            ("[]", Sort::Name),
            ("[\"name\", 5, \"id\"]", Sort::Name),
            ("[\"price\", \"x\", \"id\"]", Sort::Price),
            ("[\"bogus\", 1, \"id\"]", Sort::Price),
            ("[\"price\", 1, \"\"]", Sort::Price),
        ] {
            assert_eq!(
                field_of(Cursor::decode(raw, sort).expect_err(raw)),
                "cursor"
            );
        }
    }

    fn base64_decode(cursor: &str) -> String {
        let req = platform::Request::new(
            platform::Method::Get,
            &format!("/x?cursor={cursor}"),
            &[],
            b"",
        );
        platform::pagination::PageRequest::from_request(&req, 10, 10)
            .expect("cursor")
            .after
            .expect("after")
    }

    #[test]
    fn filters_parse_and_check_ranges() {
        let q = |pairs: &'static [(&'static str, &'static str)]| {
            Filters::parse(move |name| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_string())
            })
        };
        let f = q(&[
            ("min_price", "5"),
            ("max_price", "19.99"),
            ("tag", " Blue "),
            ("q", "PEN"),
            ("featured", "true"),
        ])
        .expect("valid");
        assert_eq!(
            (f.min_price_cents, f.max_price_cents),
            (Some(500), Some(1999))
        );
        assert_eq!(
            (f.tag.as_deref(), f.q.as_deref(), f.featured),
            (Some("blue"), Some("pen"), Some(true))
        );
        assert_eq!(q(&[]).expect("none"), Filters::default());
        for (pairs, field) in [
            (&[("min_price", "abc")][..], "min_price"),
            (&[("max_price", "1.001")][..], "max_price"),
            (&[("min_price", "-1")][..], "min_price"),
            (&[("min_price", "10"), ("max_price", "5")][..], "min_price"),
            (&[("featured", "yes")][..], "featured"),
        ] {
            assert_eq!(field_of(q(pairs).expect_err(field)), field);
        }
        assert_ne!(
            q(&[("tag", "a")]).expect("a").canonical(),
            q(&[("q", "a")]).expect("a").canonical()
        );
        assert_eq!(
            q(&[("category", "Office")]).expect("a").canonical(),
            q(&[("category", "office")]).expect("a").canonical()
        );
    }
}
