//! Cursor pagination: `?limit=` and `?cursor=`, answered with `next_cursor`.
//! A cursor is the opaque base64 of the last item's sort key.

use base64::Engine as _;

use crate::problem::ApiError;
use crate::request::Request;

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
        let limit = match req.query_param("limit") {
            None => default,
            Some(l) => l
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=max).contains(l))
                .ok_or_else(|| {
                    ApiError::invalid("limit", format!("must be an integer from 1 to {max}"))
                })?,
        };
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
}
