//! The authorization code flow with PKCE (RFC 7636, S256; see
//! `platform::pkce`): a start makes a `state` and a verifier, keeps them in Redis for ten minutes, and gives
//! the authorization URL; the callback takes them back exactly once.

use platform::redis_store::Redis;
use platform::ApiError;
use serde::{Deserialize, Serialize};
use spin_sdk::redis::{RedisParameter, RedisResult};

use crate::settings::App;

/// How long a started authorization may take.
pub const STATE_TTL_SECS: u64 = 600;

/// What a start leaves for its callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub verifier: String,
    /// The signed-in user who asked to link; `None` to sign in.
    pub user_id: Option<String>,
}

/// The URL the person is sent to.
pub fn authorization_url(app: &App, state: &str, challenge: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", &app.redirect_uri)
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let sep = if app.auth_url.contains('?') { '&' } else { '?' };
    format!("{}{sep}{query}", app.auth_url)
}

fn key(state: &str) -> String {
    format!("ml:oauth:{state}")
}

/// Keeps a start's secrets under its state.
pub fn remember(redis: &Redis, state: &str, pending: &Pending) -> Result<(), ApiError> {
    let value = serde_json::to_vec(pending).map_err(ApiError::internal)?;
    redis.set_ex(&key(state), &value, STATE_TTL_SECS)
}

/// Takes a start's secrets back: once only (`GETDEL`), so a replayed
/// callback finds nothing.
pub fn take(redis: &Redis, state: &str) -> Result<Option<Pending>, ApiError> {
    let reply = redis.execute(
        "GETDEL",
        vec![RedisParameter::Binary(key(state).into_bytes())],
    )?;
    Ok(match reply.first() {
        Some(RedisResult::Binary(bytes)) => serde_json::from_slice(bytes).ok(),
        Some(RedisResult::Status(s)) => serde_json::from_str(s).ok(),
        _ => None,
    })
}

/// Whether a presented state can be one we made (before asking Redis).
pub fn plausible_state(state: &str) -> bool {
    (16..=128).contains(&state.len())
        && state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_long_and_fresh() {
        // How `oauth/start` makes a state.
        let a = platform::random::hex(24).expect("a");
        assert_eq!(a.len(), 48);
        assert_ne!(a, platform::random::hex(24).expect("b"));
        assert!(plausible_state(&a));
        assert!(!plausible_state("short"));
        assert!(!plausible_state(&format!("{a}'; DROP")));
    }

    #[test]
    fn the_url_carries_the_challenge_and_encodes_the_redirect() {
        let app = App {
            api_base: "https://api.mercadolibre.com".into(),
            auth_url: "https://auth.mercadolibre.com.ar/authorization".into(),
            client_id: "123".into(),
            client_secret: "s".into(),
            redirect_uri: "https://shop.example/api/auth/callback".into(),
        };
        let url = authorization_url(&app, "st", "ch");
        assert_eq!(
            url,
            "https://auth.mercadolibre.com.ar/authorization?response_type=code&client_id=123\
             &redirect_uri=https%3A%2F%2Fshop.example%2Fapi%2Fauth%2Fcallback&state=st\
             &code_challenge=ch&code_challenge_method=S256"
        );
    }
}
