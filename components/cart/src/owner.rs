//! Whose cart a request is about: a signed-in user's, or a guest's named
//! by a cart token that the cart issues (256 random bits, sent back as
//! `X-Cart-Token` and in an HttpOnly cookie). A token is never taken
//! from a client for a new cart, so nobody can plant a token they know
//! in someone else's browser and read what that person puts in the cart.

use platform::{ApiError, Request};
use sha2::{Digest, Sha256};

/// The response and request header carrying a guest's cart token.
pub const TOKEN_HEADER: &str = "x-cart-token";
/// The cookie carrying it, for browsers.
pub const TOKEN_COOKIE: &str = "cart_token";
/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;

/// A guest's cart token: 64 lower-case hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct GuestToken(String);

impl std::fmt::Debug for GuestToken {
    // A token is a credential: it is not logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuestToken(..)")
    }
}

impl GuestToken {
    /// A new token from the system's random source.
    pub fn generate() -> Result<Self, ApiError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("random: {e}")))?;
        Ok(Self(hex(&bytes)))
    }

    /// The token in `value`, if it has a token's shape.
    pub fn parse(value: &str) -> Option<Self> {
        let v = value.trim();
        (v.len() == TOKEN_BYTES * 2
            && v.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Self(v.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the cart is stored under: a digest, so Redis's keys do not
    /// hold the credential itself.
    pub fn digest(&self) -> String {
        hex(&Sha256::digest(self.0.as_bytes()))
    }
}

/// Who owns the cart of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    User(String),
    /// A guest, with the token their request carried (if it had one).
    Guest(Option<GuestToken>),
}

/// The cart token a request carries: `X-Cart-Token` (400 naming it when
/// malformed), else the `cart_token` cookie (ignored when malformed: a
/// browser's stale cookie must not lock a shopper out).
pub fn carried_token(req: &Request) -> Result<Option<GuestToken>, ApiError> {
    if let Some(header) = req.header(TOKEN_HEADER) {
        return GuestToken::parse(header).map(Some).ok_or_else(|| {
            ApiError::bad_field(
                "X-Cart-Token",
                "must be the cart token this service issued (64 hex digits)",
            )
        });
    }
    Ok(req
        .header("cookie")
        .and_then(|cookies| cookie(cookies, TOKEN_COOKIE))
        .and_then(GuestToken::parse))
}

/// The value of cookie `name` in a `Cookie` header.
fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"'))
    })
}

/// `Set-Cookie` for a guest's token: HttpOnly (scripts cannot read it),
/// SameSite=Lax (other sites' requests do not carry it), only to the
/// cart's own routes, for as long as the cart is kept.
pub fn set_cookie(token: &GuestToken, max_age_secs: u64) -> String {
    format!(
        "{TOKEN_COOKIE}={}; Path=/api/cart; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax",
        token.as_str()
    )
}

/// `Set-Cookie` that removes the token (its cart became a user's).
pub fn clear_cookie() -> String {
    format!("{TOKEN_COOKIE}=; Path=/api/cart; Max-Age=0; HttpOnly; SameSite=Lax")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::Method;

    fn req(headers: &[(&str, &str)]) -> Request {
        Request::new(Method::Get, "/api/cart", headers, b"")
    }

    #[test]
    fn tokens_are_random_well_formed_and_stored_as_digests() {
        let a = GuestToken::generate().expect("token");
        let b = GuestToken::generate().expect("token");
        assert_ne!(a, b);
        assert_eq!(GuestToken::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.digest().len(), 64);
        assert_ne!(a.digest(), a.as_str());
        assert_eq!(format!("{a:?}"), "GuestToken(..)");
        for bad in ["", "abc", &"A".repeat(64), &"g".repeat(64), &"a".repeat(65)] {
            assert_eq!(GuestToken::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_header_wins_and_must_be_valid_a_stale_cookie_is_ignored() {
        let token = "ab".repeat(32);
        let other = "cd".repeat(32);
        let cookie = format!("theme=dark; cart_token={other}");
        let got = carried_token(&req(&[("x-cart-token", &token), ("cookie", &cookie)]));
        assert_eq!(got.expect("ok").map(|t| t.0), Some(token.clone()));
        let got = carried_token(&req(&[("cookie", &cookie)])).expect("ok");
        assert_eq!(got.map(|t| t.0), Some(other));
        let bad = carried_token(&req(&[("x-cart-token", "nope")])).expect_err("400");
        assert_eq!(
            (bad.status(), bad.problem("r")["field"].clone()),
            (400, serde_json::json!("X-Cart-Token"))
        );
        assert_eq!(
            carried_token(&req(&[("cookie", "cart_token=junk")])).expect("ignored"),
            None
        );
        assert_eq!(carried_token(&req(&[])).expect("none"), None);
    }

    #[test]
    fn the_cookie_is_http_only_lax_and_scoped_to_the_cart() {
        let token = GuestToken("ab".repeat(32));
        let set = set_cookie(&token, 60);
        for part in ["HttpOnly", "SameSite=Lax", "Path=/api/cart", "Max-Age=60"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(clear_cookie().contains("Max-Age=0"));
    }
}
