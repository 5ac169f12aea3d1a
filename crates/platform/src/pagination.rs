//! Cursor pagination: `?limit=` and `?cursor=`, answered with `next_cursor`.
//! A cursor is the opaque base64 of the last item's sort key.
//!
//! A list asks storage for [`PageRequest::fetch`] rows (one more than the
//! page holds, to learn whether another page follows) and turns them into
//! a [`Page`] with [`PageRequest::page`].

use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::problem::ApiError;
use crate::request::Request;

/// The page size of a listing that asks for none.
pub const DEFAULT_PAGE: u32 = 20;
/// The largest page a listing serves unless it says otherwise.
pub const MAX_PAGE: u32 = 100;

/// A page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    /// The sort key after which the page starts.
    pub after: Option<String>,
}

impl PageRequest {
    /// Reads `limit` (1..=max, default `default`) and `cursor`.
    pub fn from_request(req: &Request, default: u32, max: u32) -> Result<Self, ApiError> {
        let limit = limit(req, default, max)?;
        let after =
            match req.query_param("cursor") {
                None => None,
                Some(c) if c.is_empty() => None,
                Some(c) => Some(decode(&c).ok_or_else(|| {
                    ApiError::invalid("cursor", "is not a cursor this API issued")
                })?),
            };
        Ok(Self { limit, after })
    }

    /// Reads `limit` and `cursor` with the platform's page sizes
    /// ([`DEFAULT_PAGE`], at most [`MAX_PAGE`]).
    pub fn standard(req: &Request) -> Result<Self, ApiError> {
        Self::from_request(req, DEFAULT_PAGE, MAX_PAGE)
    }
}

impl PageRequest {
    /// How many rows to ask storage for: one more than the page holds.
    pub fn fetch(&self) -> u32 {
        self.limit.saturating_add(1)
    }

    /// The page of `rows` (fetched with [`PageRequest::fetch`]): at most
    /// `limit` items, and a cursor after the last of them if more rows
    /// followed. `sort_key` is what the cursor encodes.
    pub fn page<T>(&self, mut rows: Vec<T>, sort_key: impl Fn(&T) -> String) -> Page<T> {
        let limit = self.limit as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last().map(|last| encode(&sort_key(last)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// A page of a list as clients get it: `{"items": [...], "next_cursor": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "{T}Page")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts (`?cursor=`); `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The same page with each item shown as `show` does.
    pub fn map<U>(self, show: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(show).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// The `?limit=` parameter: from 1 to `max`, `default` when absent; 422
/// naming it otherwise.
pub fn limit(req: &Request, default: u32, max: u32) -> Result<u32, ApiError> {
    match req.query_param("limit") {
        None => Ok(default),
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| {
                ApiError::invalid("limit", format!("must be an integer from 1 to {max}"))
            }),
    }
}

/// The cursor for a sort key.
pub fn encode(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes())
}

fn decode(cursor: &str) -> Option<String> {
    if cursor.len() > 512 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Method;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_422() {
        let c = encode("2026-01-01|p42");
        let req = Request::new(Method::Get, &format!("/x?limit=5&cursor={c}"), &[], b"");
        let page = PageRequest::from_request(&req, 20, 100).expect("valid");
        assert_eq!(
            page,
            PageRequest {
                limit: 5,
                after: Some("2026-01-01|p42".into())
            }
        );
        for q in ["limit=0", "limit=101", "limit=x", "cursor=%%%"] {
            let req = Request::new(Method::Get, &format!("/x?{q}"), &[], b"");
            assert_eq!(
                PageRequest::from_request(&req, 20, 100)
                    .expect_err(q)
                    .status(),
                422,
                "{q}"
            );
        }
    }

    #[test]
    fn a_page_holds_the_limit_and_says_where_the_next_starts() {
        let page = PageRequest {
            limit: 2,
            after: None,
        };
        assert_eq!(page.fetch(), 3);
        let full = page.page(vec!["a", "b", "c"], |s| format!("key-{s}"));
        assert_eq!(full.items, ["a", "b"]);
        let cursor = full.next_cursor.clone().expect("more follows");
        let next = Request::new(Method::Get, &format!("/x?cursor={cursor}"), &[], b"");
        assert_eq!(
            PageRequest::from_request(&next, 2, 10)
                .expect("ours")
                .after
                .as_deref(),
            Some("key-b")
        );
        let last = page.page(vec!["d"], |s| s.to_string());
        assert_eq!((last.items.len(), last.next_cursor), (1, None));
        assert_eq!(
            serde_json::to_value(full.map(str::len)).expect("json"),
            serde_json::json!({"items": [1, 1], "next_cursor": cursor})
        );
    }
}
