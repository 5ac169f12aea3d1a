//! Who is calling: bearer access tokens verified locally, the revoked
//! sessions that make logout immediate, roles, and password hashing.
//!
//! A revoked session is recorded by `users` in its database (the source
//! of truth) and in Redis, where every component looks it up on each
//! authenticated request. Redis is a copy that can be lost (a flush, a
//! restart without persistence), so `users` also sets
//! [`REVOCATIONS_LOADED`] once the copy is complete; a component that
//! finds that marker missing cannot tell a valid token from a revoked one
//! and answers 503 until `users` has restored the copy (on its next
//! tick or request).

pub mod password;
pub mod token;

use serde::{Deserialize, Serialize};

pub use password::{equalize_login_timing, hash_password, needs_rehash, verify_password};
pub use token::{IssuedToken, TokenIssuer, TokenVerifier};

use crate::problem::ApiError;
use crate::redis_store::Redis;

/// What is stored of a random bearer secret (a refresh token, an OAuth
/// code or token): its SHA-256, hex. Such a secret carries enough random
/// bits that a fast hash is enough (no salt, no argon2); a leaked table
/// cannot be replayed.
pub fn stored_hash(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// The token's `jti`.
    pub token_id: String,
    /// The session (login) the token belongs to; revoking it revokes
    /// every token of that login.
    pub session_id: String,
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

/// The Redis key that marks session `session_id` revoked.
pub fn revoked_key(session_id: &str) -> String {
    format!("auth:revoked:{session_id}")
}

/// Present in Redis while its copy of the revoked sessions is complete.
pub const REVOCATIONS_LOADED: &str = "auth:revocations:loaded";

/// What Redis says about a token's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLookup {
    /// The copy of revoked sessions is complete ([`REVOCATIONS_LOADED`]).
    pub loaded: bool,
    /// The session is revoked.
    pub revoked: bool,
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
    authenticate_with(authorization, verifier, |session| {
        lookup_session(redis()?, session)
    })
}

/// One round trip: whether the revocation copy is loaded, and whether
/// `session_id` is in it.
pub fn lookup_session(redis: &Redis, session_id: &str) -> Result<SessionLookup, ApiError> {
    let reply = redis.execute(
        "MGET",
        vec![
            crate::redis_store::bin(REVOCATIONS_LOADED),
            crate::redis_store::bin(revoked_key(session_id)),
        ],
    )?;
    let present = |i: usize| {
        matches!(
            reply.get(i),
            Some(spin_sdk::redis::RedisResult::Binary(_) | spin_sdk::redis::RedisResult::Status(_))
        )
    };
    Ok(SessionLookup {
        loaded: present(0),
        revoked: present(1),
    })
}

/// `authenticate` with the verifier and the session lookup passed in.
pub fn authenticate_with(
    authorization: Option<&str>,
    verifier: &TokenVerifier,
    lookup: impl FnOnce(&str) -> Result<SessionLookup, ApiError>,
) -> Result<Option<Principal>, ApiError> {
    let Some(token) = bearer_token(authorization)? else {
        return Ok(None);
    };
    let principal = verifier.verify(token)?;
    let session = lookup(&principal.session_id)?;
    if session.revoked {
        return Err(ApiError::Unauthorized("token revoked".into()));
    }
    if !session.loaded {
        return Err(ApiError::Unavailable(
            "the list of revoked sessions is being restored; retry in a few seconds".into(),
        ));
    }
    Ok(Some(principal))
}

/// The 403 of a customer asking for an admin's route.
pub fn admin_required() -> ApiError {
    ApiError::Forbidden("this action requires the admin role".into())
}

/// Seconds a revoked session must stay in Redis: until the last access
/// token it may have been issued has expired, plus the verifier's leeway,
/// during which it would still be accepted. At least 1.
pub fn revocation_ttl(access_ttl_secs: u64) -> u64 {
    access_ttl_secs.saturating_add(token::LEEWAY_SECS).max(1)
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
    #[test]
    fn a_stored_hash_is_sha_256_hex() {
        assert_eq!(
            super::stored_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

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

    fn never_denied(_: &str) -> Result<SessionLookup, ApiError> {
        Ok(SessionLookup {
            loaded: true,
            revoked: false,
        })
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
        let p = authenticate_with(with_auth(&header), &verifier, |session| {
            asked = session.to_string();
            never_denied(session)
        })
        .expect("ok")
        .expect("principal");
        assert_eq!(p.user_id, "u1");
        assert_eq!(asked, p.session_id);
        assert_eq!(revoked_key(&asked), format!("auth:revoked:{asked}"));
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
    fn revoked_sessions_are_401_and_an_unknown_revocation_state_is_503() {
        let (issuer, verifier) = setup();
        let issued = issuer
            .issue_in_session("u1", "u1@x.y", Role::Admin, "s-1", 60)
            .expect("issue");
        let header = format!("Bearer {}", issued.token);
        let req = with_auth(&header);
        let lookup = |loaded, revoked| move |_: &str| Ok(SessionLookup { loaded, revoked });
        let err = authenticate_with(req, &verifier, lookup(true, true)).expect_err("revoked");
        assert_eq!(
            (err.status(), err.to_string().as_str()),
            (401, "token revoked")
        );
        // Redis lost its copy of the revoked sessions (a flush): nobody can
        // tell, so nobody passes until users restores it.
        let err = authenticate_with(req, &verifier, lookup(false, false)).expect_err("unknown");
        assert_eq!(err.status(), 503);
        let err = authenticate_with(req, &verifier, |_| {
            Err(ApiError::Unavailable("redis down".into()))
        })
        .expect_err("fail closed");
        assert_eq!(err.status(), 503);
        let p = authenticate_with(req, &verifier, lookup(true, false))
            .expect("valid")
            .expect("principal");
        assert_eq!(p.session_id, "s-1");
    }

    #[test]
    fn revocations_outlive_the_last_token_and_its_leeway() {
        assert_eq!(revocation_ttl(900), 900 + token::LEEWAY_SECS);
        assert_eq!(revocation_ttl(u64::MAX), u64::MAX);
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
