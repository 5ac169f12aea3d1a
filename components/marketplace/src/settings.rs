//! Where MercadoLibre is and how the integration behaves, from variables:
//! the sandbox locally, the real API in production.

use platform::breaker::BreakerConfig;
use platform::ApiError;

/// The breaker guarding MercadoLibre, shared by every instance.
pub const BREAKER: &str = "mercadolibre";

fn var(name: &str) -> Option<String> {
    spin_sdk::variables::get(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn number(name: &str, default: u64, max: u64) -> u64 {
    var(name)
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|v| (1..=max).contains(v))
        .unwrap_or(default)
}

/// The application's registration at MercadoLibre and its addresses.
#[derive(Debug, Clone)]
pub struct App {
    /// `ml_api_base_url`: `https://api.mercadolibre.com`.
    pub api_base: String,
    /// `ml_auth_url`: `https://auth.mercadolibre.com.ar/authorization`.
    pub auth_url: String,
    /// `ml_client_id`: the application's id (also `application_id` in
    /// notifications).
    pub client_id: String,
    /// `ml_client_secret`.
    pub client_secret: String,
    /// `ml_redirect_uri`: our `/api/auth/callback` as registered.
    pub redirect_uri: String,
}

impl App {
    pub fn from_variables() -> Result<Self, ApiError> {
        let need = |name: &str| {
            var(name).ok_or_else(|| {
                ApiError::Unavailable(format!(
                    "the marketplace is not configured: the {name} variable is unset"
                ))
            })
        };
        Ok(Self {
            api_base: need("ml_api_base_url")?.trim_end_matches('/').to_string(),
            auth_url: need("ml_auth_url")?,
            client_id: need("ml_client_id")?,
            client_secret: need("ml_client_secret")?,
            redirect_uri: need("ml_redirect_uri")?,
        })
    }
}

/// How long each kind of resource is cached (seed 000: items 60 s, user
/// information 300 s); each reads only its own variable (a request needs
/// one).
#[derive(Debug, Clone, Copy)]
pub struct Ttls;

impl Ttls {
    pub fn items() -> u64 {
        number("ml_cache_ttl_items_secs", 60, 86_400)
    }

    pub fn users() -> u64 {
        number("ml_cache_ttl_users_secs", 300, 86_400)
    }

    pub fn categories() -> u64 {
        number("ml_cache_ttl_categories_secs", 3_600, 86_400)
    }
}

/// Access tokens are refreshed this long before they expire.
pub fn refresh_margin_ms() -> i64 {
    i64::try_from(number("ml_refresh_margin_secs", 600, 3 * 3600)).unwrap_or(600) * 1000
}

/// The breaker's settings: seed 000's 5 failures and 30 s before a probe,
/// unless the `ml_breaker_*` variables say otherwise.
pub fn breaker() -> BreakerConfig {
    BreakerConfig::from_variables_prefixed(
        "ml_breaker",
        BreakerConfig {
            failure_threshold: 5,
            window_secs: 60,
            open_secs: 30,
            half_open_probes: 1,
        },
    )
}

/// Requests the whole application may send MercadoLibre (seed 000:
/// 10,000 a minute), as a rate-limit spec.
pub const APP_LIMIT: &str = "10000/166.67";
/// Requests one user may send through the proxy (seed 000: 1,000 an hour).
pub const USER_LIMIT: &str = "1000/0.2778";
