//! The OAuth 2.0 rules of the sandbox's authorization server, free of
//! storage: the client application, what tokens look like (MercadoLibre's
//! `APP_USR-...` and `TG-...`) and how they are stored; what the
//! authorization endpoint accepts ([`authorize`]) and what the token
//! endpoint does ([`token`]).

mod authorize;
mod token;

pub use authorize::{authorize, redirect_to, Authorization, Refusal};
pub use token::{check_binding, token_params, token_request, Grant, TokenRequest};

use platform::clock::rfc3339_from_ms;
use platform::internal::{same_secret, MIN_SECRET_BYTES};
use platform::{random, ApiError};

use crate::domain::UserId;

/// How long an access token lasts: 6 hours.
pub const ACCESS_TOKEN_SECS: i64 = 21_600;
/// How long a refresh token lasts unused: 6 months.
pub const REFRESH_TOKEN_SECS: i64 = 180 * 24 * 3_600;
/// How long an authorization code lasts: 10 minutes.
pub const CODE_SECS: i64 = 600;
/// The scope every grant has.
pub const SCOPE: &str = "offline_access read write";
/// Longest value of a parameter (a state, a URI, a token) taken.
pub const MAX_PARAM_CHARS: usize = 2_048;

/// The one client application the sandbox knows (the `ml_client_*` and
/// `ml_redirect_uri` variables).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub secret: String,
    pub redirect_uri: String,
}

impl Client {
    /// Whether the secret is long enough to guard anything.
    pub fn configured(&self) -> bool {
        self.secret.len() >= MIN_SECRET_BYTES && !self.id.is_empty()
    }

    /// Whether `id` and `secret` are this client's (the secret compared in
    /// constant time).
    pub fn authenticates(&self, id: &str, secret: &str) -> bool {
        self.configured() && id == self.id && same_secret(secret, &self.secret)
    }
}

/// Request parameters, as sent (a query or a form).
pub type Params = Vec<(String, String)>;

/// The one value of `name`: `Ok(None)` when absent, an error when repeated
/// (RFC 6749 section 3.1) or too long.
pub(crate) fn single<'p>(params: &'p Params, name: &str) -> Result<Option<&'p str>, String> {
    let mut values = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
    let first = values.next();
    if values.next().is_some() {
        return Err(format!("{name} is repeated"));
    }
    match first {
        Some(v) if v.chars().count() > MAX_PARAM_CHARS => Err(format!(
            "{name} is longer than {MAX_PARAM_CHARS} characters"
        )),
        Some(v) if v.is_empty() => Ok(None),
        other => Ok(other.map(String::as_str)),
    }
}

/// What a code was issued for, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: Option<String>,
    pub user_id: UserId,
}

/// A new access token: `APP_USR-<client>-<MMDDHH>-<32 hex>-<user>`.
pub fn new_access_token(client_id: &str, user: UserId, now_ms: i64) -> Result<String, ApiError> {
    let stamp = rfc3339_from_ms(now_ms);
    let digits: String = stamp
        .get(5..13)
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    Ok(format!(
        "APP_USR-{client_id}-{digits}-{}-{user}",
        random::hex(16)?
    ))
}

/// A new refresh token or authorization code: `TG-<24 hex>-<user>`.
pub fn new_tg_token(user: UserId) -> Result<String, ApiError> {
    Ok(format!("TG-{}-{user}", random::hex(12)?))
}

/// What is stored of a token or code: see [`platform::auth::stored_hash`].
pub fn token_hash(token: &str) -> String {
    platform::auth::stored_hash(token)
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case).
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= MAX_PARAM_CHARS)
        .then_some(token)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const SECRET: &str = "0123456789abcdef0123456789abcdef";

    pub fn client() -> Client {
        Client {
            id: "4242".into(),
            secret: SECRET.into(),
            redirect_uri: "http://127.0.0.1:3000/api/auth/callback".into(),
        }
    }

    pub fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tokens_look_like_mercadolibres_and_are_stored_hashed() {
        let user = UserId::from_i64(1001).expect("user");
        let access = new_access_token("4242", user, 1_795_337_554_740).expect("token");
        assert!(access.starts_with("APP_USR-4242-112208-"), "{access}");
        assert!(access.ends_with("-1001"));
        let tg = new_tg_token(user).expect("tg");
        assert!(tg.starts_with("TG-") && tg.len() == "TG-".len() + 24 + "-1001".len());
        assert_ne!(new_tg_token(user).expect("tg"), tg);
        assert_eq!(token_hash("abc").len(), 64);
        assert_ne!(token_hash(&tg), tg);
        assert_eq!(bearer(Some("Bearer APP_USR-1")), Some("APP_USR-1"));
        assert_eq!(bearer(Some("bearer  APP_USR-1 ")), Some("APP_USR-1"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }
}
