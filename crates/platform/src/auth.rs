//! Who is calling: bearer access tokens verified locally, the Redis
//! deny-list that makes logout immediate, roles, and password hashing.

pub mod password;
pub mod token;

use serde::{Deserialize, Serialize};

pub use password::{equalize_login_timing, hash_password, needs_rehash, verify_password};
pub use token::{IssuedToken, TokenIssuer, TokenVerifier};

use crate::problem::ApiError;
use crate::redis_store::Redis;

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Admin,
}

impl Role {
    /// The role as tokens and storage spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Admin => "admin",
        }
    }
}

/// The authenticated caller, as its access token describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    /// The token's `jti`, the deny-list key.
    pub token_id: String,
    /// Unix seconds.
    pub expires_at: u64,
}

impl Principal {
    /// Whether the caller has the admin role.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the caller may see data owned by `owner_id` (its own, or any
    /// for an admin).
    pub fn can_access(&self, owner_id: &str) -> bool {
        self.is_admin() || self.user_id == owner_id
    }
}

/// The deny-list key of a token.
pub fn deny_key(jti: &str) -> String {
    format!("auth:deny:{jti}")
}

/// The caller, if the request's `Authorization` header carries a bearer
/// token: no header is `Ok(None)`; a malformed, invalid, expired or revoked
/// token is 401; when Redis cannot say whether the token is revoked, 503
/// (fail closed: a logged-out token must never work again). Handlers ask
/// their [`Context`](crate::Context), which does this once per request.
pub fn authenticate<'r>(
    authorization: Option<&str>,
    redis: impl FnOnce() -> Result<&'r Redis, ApiError>,
) -> Result<Option<Principal>, ApiError> {
    if authorization.is_none() {
        return Ok(None);
    }
    let verifier = TokenVerifier::from_variables()?;
    authenticate_with(authorization, verifier, |key| redis()?.exists(key))
}

/// `authenticate` with the verifier and the deny-list lookup passed in.
pub fn authenticate_with(
    authorization: Option<&str>,
    verifier: &TokenVerifier,
    is_denied: impl FnOnce(&str) -> Result<bool, ApiError>,
) -> Result<Option<Principal>, ApiError> {
    let Some(token) = bearer_token(authorization)? else {
        return Ok(None);
    };
    let principal = verifier.verify(token)?;
    if is_denied(&deny_key(&principal.token_id))? {
        return Err(ApiError::Unauthorized("token revoked".into()));
    }
    Ok(Some(principal))
}

/// The 403 of a customer asking for an admin's route.
pub fn admin_required() -> ApiError {
    ApiError::Forbidden("this action requires the admin role".into())
}

/// Revokes a token until it would have expired anyway (plus the verifier's
/// leeway, during which it would still be accepted).
pub fn deny_token(redis: &Redis, jti: &str, expires_at: u64) -> Result<(), ApiError> {
    redis.set_ex(
        &deny_key(jti),
        b"1",
        deny_ttl(expires_at, crate::clock::now_secs()),
    )
}

/// Seconds a deny-list entry must live; at least 1.
fn deny_ttl(expires_at: u64, now: u64) -> u64 {
    expires_at
        .saturating_add(token::LEEWAY_SECS)
        .saturating_sub(now)
        .max(1)
}

/// The token of `Authorization: Bearer <token>`; `None` without the header.
fn bearer_token(authorization: Option<&str>) -> Result<Option<&str>, ApiError> {
    let Some(value) = authorization else {
        return Ok(None);
    };
    let malformed = || {
        ApiError::Unauthorized("the Authorization header must be `Bearer <access token>`".into())
    };
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(malformed());
    }
    Ok(Some(token))
}

/// The 401 of a request that needs a user and has none.
pub fn missing_credentials() -> ApiError {
    ApiError::Unauthorized("authentication required: send `Authorization: Bearer <token>`".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwt_simple::prelude::Ed25519KeyPair;

    fn setup() -> (TokenIssuer, TokenVerifier) {
        let key = Ed25519KeyPair::generate();
        let pem = key.to_pem();
        let issuer = TokenIssuer::new(&pem, "k1").expect("issuer");
        let verifier =
            TokenVerifier::parse(&format!("k1={}", issuer.public_key_pem())).expect("verifier");
        (issuer, verifier)
    }

    fn with_auth(value: &str) -> Option<&str> {
        Some(value)
    }

    fn never_denied(_: &str) -> Result<bool, ApiError> {
        Ok(false)
    }

    #[test]
    fn no_header_is_anonymous_and_never_touches_redis() {
        let (_, verifier) = setup();
        let got = authenticate_with(None, &verifier, |_| panic!("redis consulted"));
        assert_eq!(got.expect("anonymous"), None);
        assert_eq!(missing_credentials().status(), 401);
    }

    #[test]
    fn a_valid_token_authenticates() {
        let (issuer, verifier) = setup();
        let issued = issuer
            .issue("u1", "u1@x.y", Role::Customer, 60)
            .expect("issue");
        let header = format!("bearer  {}", issued.token);
        let mut asked = String::new();
        let p = authenticate_with(with_auth(&header), &verifier, |key| {
            asked = key.to_string();
            Ok(false)
        })
        .expect("ok")
        .expect("principal");
        assert_eq!(p.user_id, "u1");
        assert_eq!(asked, format!("auth:deny:{}", issued.jti));
        assert!(p.can_access("u1") && !p.can_access("u2"));
        assert!(!p.is_admin());
        assert_eq!(admin_required().status(), 403);
    }

    #[test]
    fn malformed_headers_are_401() {
        let (_, verifier) = setup();
        for value in [
            "",
            "Bearer",
            "Bearer ",
            "Basic dXNlcjpwdw==",
            "Bearer a b",
            "token",
        ] {
            let err =
                authenticate_with(with_auth(value), &verifier, never_denied).expect_err(value);
            assert_eq!(err.status(), 401, "{value:?}");
            assert_eq!(
                err.headers(),
                vec![("www-authenticate", "Bearer".to_string())]
            );
        }
        let err = authenticate_with(with_auth("Bearer x.y.z"), &verifier, never_denied)
            .expect_err("garbage");
        assert_eq!(err.to_string(), "malformed bearer token");
    }

    #[test]
    fn revoked_tokens_are_401_and_redis_down_is_503() {
        let (issuer, verifier) = setup();
        let issued = issuer
            .issue("u1", "u1@x.y", Role::Admin, 60)
            .expect("issue");
        let header = format!("Bearer {}", issued.token);
        let req = with_auth(&header);
        let err = authenticate_with(req, &verifier, |_| Ok(true)).expect_err("revoked");
        assert_eq!(
            (err.status(), err.to_string().as_str()),
            (401, "token revoked")
        );
        let err = authenticate_with(req, &verifier, |_| {
            Err(ApiError::Unavailable("redis down".into()))
        })
        .expect_err("fail closed");
        assert_eq!(err.status(), 503);
    }

    #[test]
    fn deny_entries_outlive_the_token_and_its_leeway() {
        assert_eq!(deny_ttl(1_000, 900), 100 + token::LEEWAY_SECS);
        assert_eq!(deny_ttl(1_000, 1_000 + token::LEEWAY_SECS + 5), 1);
        assert_eq!(deny_ttl(u64::MAX, 0), u64::MAX);
    }

    #[test]
    fn roles_serialise_lowercase() {
        assert_eq!(
            serde_json::to_string(&Role::Admin).expect("json"),
            "\"admin\""
        );
        assert_eq!(
            serde_json::from_str::<Role>("\"customer\"").expect("json"),
            Role::Customer
        );
        assert!(serde_json::from_str::<Role>("\"Admin\"").is_err());
    }
}
