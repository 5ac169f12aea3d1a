//! Shared secrets presented as bearer tokens: the bridge's credential for
//! `/internal/*` routes (the `internal_token` variable), and API keys such
//! as the sandbox provider's. Compared in constant time; a configured
//! secret shorter than [`MIN_SECRET_BYTES`] is refused outright, so a
//! guessable value never guards anything.

use subtle::ConstantTimeEq;

use crate::problem::ApiError;
use crate::request::Request;

/// The shortest secret accepted: 32 bytes (e.g. `openssl rand -hex 16`).
pub const MIN_SECRET_BYTES: usize = 32;

/// Checks the bridge's credential (`Authorization: Bearer <token>`).
pub fn require_internal(req: &Request) -> Result<(), ApiError> {
    let expected = spin_sdk::variables::get("internal_token").unwrap_or_default();
    check_token(req, &expected)
}

/// The bridge's credential check, given the configured token.
pub fn check_token(req: &Request, expected: &str) -> Result<(), ApiError> {
    check_secret(req, expected, "internal_token")
}

/// Whether `req` carries `Authorization: Bearer <expected>`: 401 when it
/// does not, 503 when the secret (the variable `variable`) is unset or
/// too short, since then nobody may pass.
pub fn check_secret(req: &Request, expected: &str, variable: &str) -> Result<(), ApiError> {
    if expected.len() < MIN_SECRET_BYTES {
        return Err(ApiError::Unavailable(format!(
            "this route is not configured: the {variable} variable must hold a secret of \
             at least {MIN_SECRET_BYTES} bytes"
        )));
    }
    let presented = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    if same_secret(presented, expected) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(format!(
            "a valid credential ({variable}) is required"
        )))
    }
}

/// Whether `presented` is `expected`, in time that does not depend on
/// where they differ.
pub fn same_secret(presented: &str, expected: &str) -> bool {
    bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Method;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

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
        assert!(check_token(&with(&format!("Bearer {SECRET}")), SECRET).is_ok());
        let short_by_one = &SECRET[..31];
        assert_eq!(
            check_token(&with(&format!("Bearer {short_by_one}")), SECRET)
                .expect_err("short")
                .status(),
            401
        );
        assert_eq!(
            check_token(&with(SECRET), SECRET)
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

    #[test]
    fn a_short_secret_guards_nothing() {
        let weak = "s3cret";
        let req = Request::new(
            Method::Get,
            "/internal/outbox",
            &[("authorization", "Bearer s3cret")],
            b"",
        );
        let e = check_token(&req, weak).expect_err("too short to trust");
        assert_eq!(e.status(), 503);
        assert!(e.to_string().contains("at least 32 bytes"), "{e}");
    }
}
