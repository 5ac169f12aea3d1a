//! Conditional requests on versioned records: `ETag` is the quoted version,
//! `If-None-Match` gives 304, and writes need a matching `If-Match`.

use crate::problem::ApiError;
use crate::request::Request;

/// The ETag of a record version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Whether an `If-Match`/`If-None-Match` value names `version` (or `*`).
pub fn etag_matches(header: &str, version: i64) -> bool {
    let tag = etag(version);
    header
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == tag)
}

/// Whether a read may answer 304 Not Modified.
pub fn not_modified(req: &Request, version: i64) -> bool {
    req.header("if-none-match")
        .is_some_and(|h| etag_matches(h, version))
}

/// A write's precondition, given the request's `If-Match`: 428 without
/// one, 412 when it names another version.
pub fn require_if_match(if_match: Option<&str>, version: i64) -> Result<(), ApiError> {
    let header = if_match.ok_or_else(|| {
        ApiError::PreconditionRequired("send If-Match with the record's ETag".into())
    })?;
    if etag_matches(header, version) {
        Ok(())
    } else {
        Err(ApiError::PreconditionFailed(format!(
            "the record is at version {version}; reload it and retry"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Method;

    #[test]
    fn etags_compare_by_version() {
        assert!(etag_matches("\"3\"", 3));
        assert!(etag_matches("W/\"3\", \"4\"", 4));
        assert!(etag_matches("*", 9));
        assert!(!etag_matches("\"3\"", 4));
        assert!(!etag_matches("3", 3));
    }

    #[test]
    fn writes_need_a_matching_if_match() {
        assert_eq!(require_if_match(None, 2).expect_err("none").status(), 428);
        assert_eq!(
            require_if_match(Some("\"1\""), 2)
                .expect_err("stale")
                .status(),
            412
        );
        assert!(require_if_match(Some("\"2\""), 2).is_ok());
        assert!(not_modified(
            &Request::new(Method::Get, "/x", &[("if-none-match", "\"2\"")], b""),
            2
        ));
    }
}
