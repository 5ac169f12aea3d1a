//! What clients send and see: the types the handlers read and answer
//! with, which also give the OpenAPI document its schemas.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The answer to `POST /api/auth/oauth/start`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuthorizationStart {
    /// Send the person here; MercadoLibre sends them back to
    /// `/api/auth/callback` with `code` and `state`.
    pub authorization_url: String,
    pub state: String,
    /// Seconds the authorization may take.
    pub expires_in: u64,
    /// `link` (a signed-in user links an account) or `sign_in`.
    pub mode: &'static str,
}

/// The body of `POST /api/auth/callback` (the same fields as the GET's query).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackBody {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set by MercadoLibre when the person refused.
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A linked MercadoLibre account as its owner (or an admin) sees it: never
/// a token.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LinkView {
    pub ml_user_id: String,
    pub nickname: String,
    pub user_id: String,
    /// `active`, or `reauthorization_required` when MercadoLibre refused
    /// the refresh token (start the authorization again).
    pub status: &'static str,
    /// When the access token expires (RFC 3339).
    pub access_expires_at: String,
    /// When it will be refreshed at the latest (RFC 3339).
    pub refresh_due_at: String,
    pub linked_at: String,
    pub refreshed_at: Option<String>,
}

/// The answer to a callback that linked an account.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Linked {
    pub linked: LinkView,
}

/// The answer to a callback that signed someone in: our own tokens (as
/// `POST /api/auth/login` answers them) and the linked account.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SignedIn {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub refresh_token: String,
    /// The local account (created on the first sign-in).
    pub user: serde_json::Value,
    pub linked: LinkView,
    /// Whether the local account was created by this sign-in.
    pub created: bool,
}

/// The body of `PUT /api/ml/items/:id`: what to change on MercadoLibre.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemUpdate {
    /// Units MercadoLibre may sell (0 to 999,999).
    pub available_quantity: Option<u32>,
    /// The price in the item's currency, above 0.
    pub price: Option<f64>,
    /// 1 to 60 characters.
    pub title: Option<String>,
}

/// The body of `PUT /api/ml/items/:id/link`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductLink {
    /// The catalog product the item stands for.
    pub product_id: String,
}

/// An item's link to a catalog product.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProductLinkView {
    pub item_id: String,
    pub product_id: String,
    /// The seller whose token changes the item.
    pub ml_user_id: String,
    /// The last quantity both sides agreed on; `null` until the product's
    /// stock was first pushed.
    pub synced_quantity: Option<i64>,
}

impl From<crate::store::ProductLink> for ProductLinkView {
    fn from(l: crate::store::ProductLink) -> Self {
        Self {
            item_id: l.item_id,
            product_id: l.product_id,
            ml_user_id: l.ml_user_id,
            synced_quantity: l.synced_quantity,
        }
    }
}

/// A MercadoLibre notification, as MercadoLibre POSTs it.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Notification {
    #[serde(rename = "_id")]
    pub id: String,
    /// The changed resource, e.g. `/items/MLA123`.
    pub resource: String,
    /// The seller's MercadoLibre id.
    pub user_id: u64,
    /// `items`, `orders_v2`, `questions`, ...
    pub topic: String,
    pub application_id: u64,
    pub attempts: u32,
    pub sent: String,
    pub received: String,
}

/// The answer to a notification.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NotificationAck {
    pub received: bool,
    /// It had been received before (same `_id`): nothing more is done.
    pub duplicate: bool,
}

/// The breaker guarding MercadoLibre.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "MercadoLibreBreaker")]
pub struct BreakerView {
    /// `CLOSED`, `OPEN` or `HALF_OPEN` (`UNKNOWN` without Redis).
    pub state: String,
    /// Failures within the window.
    pub failures: Option<u32>,
    pub threshold: u32,
    pub open_secs: u32,
    pub opened_at: Option<String>,
    /// When the next call is let through as a probe (RFC 3339).
    pub next_probe_at: Option<String>,
}

/// Cache effectiveness of the proxy.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CacheView {
    pub hits: u64,
    pub misses: u64,
    /// hits / (hits + misses); `null` before any read.
    pub hit_ratio: Option<f64>,
}

/// `GET /api/ml/health`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    /// `ok`, or `degraded` while the breaker is not closed or a back-off
    /// window is open.
    pub status: &'static str,
    pub breaker: BreakerView,
    /// Seconds left of the back-off MercadoLibre's 429 asked for.
    pub backoff_remaining_secs: Option<u64>,
    pub cache: CacheView,
    /// Every linked account's token status (admins only; no secrets).
    pub accounts: Option<Vec<LinkView>>,
}
