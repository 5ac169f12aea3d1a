//! `/internal/*` routes belong to the bridge: they need the `internal_token`
//! variable's value, compared in constant time.

use subtle::ConstantTimeEq;

use crate::problem::ApiError;
use crate::request::Request;

/// Checks the bridge's credential (`Authorization: Bearer <token>`).
pub fn require_internal(req: &Request) -> Result<(), ApiError> {
    let expected = spin_sdk::variables::get("internal_token").unwrap_or_default();
    check_token(req, &expected)
}

/// The pure check, given the configured token.
pub fn check_token(req: &Request, expected: &str) -> Result<(), ApiError> {
    if expected.is_empty() {
        return Err(ApiError::Unavailable(
            "internal routes are not configured (set the internal_token variable)".into(),
        ));
    }
    let presented = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "internal credential required".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Method;

    #[test]
    fn only_the_exact_token_passes() {
        let with = |h: &str| {
            Request::new(
                Method::Get,
                "/internal/outbox",
                &[("authorization", h)],
                b"",
            )
        };
        assert!(check_token(&with("Bearer s3cret"), "s3cret").is_ok());
        assert_eq!(
            check_token(&with("Bearer s3cre"), "s3cret")
                .expect_err("short")
                .status(),
            401
        );
        assert_eq!(
            check_token(&with("s3cret"), "s3cret")
                .expect_err("scheme")
                .status(),
            401
        );
        assert_eq!(
            check_token(&with("Bearer "), "")
                .expect_err("unset")
                .status(),
            503
        );
    }
}
