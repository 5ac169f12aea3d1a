//! What the sandbox answers: MercadoLibre's shapes for the API, and the
//! control's views. The same types give the OpenAPI document its schemas
//! (named `SandboxMl...`, apart from any other component's).

use platform::clock::rfc3339_from_ms;
use platform::domain::Money;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::Control;
use crate::store::catalog::{CategoryRecord, ItemRecord, UserRecord};
use crate::store::notifications::NotificationRecord;

/// A token grant, as MercadoLibre answers `POST /oauth/token`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlToken")]
pub struct TokenGranted {
    /// `APP_USR-...`: the bearer token of the resources, for 6 hours.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lasts (21600).
    pub expires_in: i64,
    /// Always `offline_access read write`.
    pub scope: &'static str,
    pub user_id: i64,
    /// `TG-...`: single use; each refresh answers a new one.
    pub refresh_token: String,
}

/// The body of `POST /oauth/token`, form-encoded (or JSON). It only
/// documents the body: the handler reads the parameters as OAuth does
/// (a form or an object of strings, repeated ones refused).
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "SandboxMlTokenRequest")]
#[allow(dead_code)]
pub struct TokenRequestBody {
    /// `authorization_code` or `refresh_token`.
    pub grant_type: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// `authorization_code`: the code from the redirect.
    pub code: Option<String>,
    /// `authorization_code`: the redirect URI of the authorization request.
    pub redirect_uri: Option<String>,
    /// `authorization_code`: the PKCE verifier, when a challenge was sent.
    pub code_verifier: Option<String>,
    /// `refresh_token`: the refresh token (single use).
    pub refresh_token: Option<String>,
}

/// A user, as `GET /users/me` answers.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlUser")]
pub struct UserView {
    pub id: i64,
    pub nickname: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub country_id: String,
    pub site_id: String,
    pub permalink: String,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            nickname: u.nickname,
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            country_id: u.country_id,
            site_id: u.site_id,
            permalink: u.permalink,
        }
    }
}

/// A seller's items, as `GET /users/{id}/items/search` answers.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlItemSearch")]
pub struct ItemSearch {
    /// The seller's id, as text (as MercadoLibre writes it here).
    pub seller_id: String,
    /// Item ids.
    pub results: Vec<String>,
    pub paging: Paging,
}

/// Where a search page is.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlPaging")]
pub struct Paging {
    pub total: i64,
    pub offset: u32,
    pub limit: u32,
}

/// An item, as `GET /items/{id}` answers.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlItem")]
pub struct ItemView {
    pub id: String,
    pub site_id: String,
    pub title: String,
    pub seller_id: i64,
    pub category_id: String,
    pub price: Money,
    pub currency_id: String,
    pub available_quantity: i64,
    pub sold_quantity: i64,
    /// `active`.
    pub status: String,
    pub permalink: String,
    /// RFC 3339.
    pub last_updated: String,
}

impl From<ItemRecord> for ItemView {
    fn from(i: ItemRecord) -> Self {
        Self {
            id: i.id,
            site_id: i.site_id,
            title: i.title,
            seller_id: i.seller_id,
            category_id: i.category_id,
            price: Money::from_cents(i.price_cents),
            currency_id: i.currency_id,
            available_quantity: i.available_quantity,
            sold_quantity: i.sold_quantity,
            status: i.status,
            permalink: i.permalink,
            last_updated: rfc3339_from_ms(i.last_updated_ms),
        }
    }
}

/// A category, as `GET /categories/{id}` answers.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlCategory")]
pub struct CategoryView {
    pub id: String,
    pub name: String,
    /// From the root down to the category itself.
    pub path_from_root: Vec<CategoryStep>,
    /// Items in the category and the ones below it.
    pub total_items_in_this_category: i64,
}

/// One category on a path from the root.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlCategoryStep")]
pub struct CategoryStep {
    pub id: String,
    pub name: String,
}

impl From<CategoryRecord> for CategoryView {
    fn from(c: CategoryRecord) -> Self {
        Self {
            id: c.id,
            name: c.name,
            path_from_root: c
                .path_from_root
                .into_iter()
                .map(|(id, name)| CategoryStep { id, name })
                .collect(),
            total_items_in_this_category: c.total_items,
        }
    }
}

/// The control: the settings and what the sandbox has counted.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlControl")]
pub struct ControlView {
    #[serde(flatten)]
    pub settings: Control,
    /// The counters.
    pub stats: Counters,
}

/// What the sandbox has counted since it started (its database's life).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlCounters")]
pub struct Counters {
    /// Tokens granted, by grant type.
    pub token_grants: TokenGrants,
    /// Token requests refused with an OAuth error.
    pub refused_grants: i64,
    /// Resource calls served (past the outage, the limit and the injected
    /// failures), whatever their answer.
    pub resource_requests: i64,
    /// Calls answered 429.
    pub rate_limited: i64,
    /// Calls failed on purpose (outage or failure rate).
    pub injected_failures: i64,
    pub notifications: NotificationCounts,
}

/// Tokens granted, by grant type.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlTokenGrants")]
pub struct TokenGrants {
    pub authorization_code: i64,
    pub refresh_token: i64,
}

/// Notifications by state.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlNotificationCounts")]
pub struct NotificationCounts {
    /// Answered 200 by the callback.
    pub delivered: i64,
    /// Waiting for their first or next attempt.
    pub pending: i64,
    /// Given up after 10 attempts.
    pub failed: i64,
}

/// A notification as the control shows it.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlNotification")]
pub struct NotificationView {
    /// MercadoLibre's `_id`, the same on every delivery.
    pub id: String,
    pub resource: String,
    pub user_id: i64,
    pub topic: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    /// The callback's last answer (none when it could not be reached).
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub received: String,
    pub sent: Option<String>,
    pub delivered: Option<String>,
}

impl From<NotificationRecord> for NotificationView {
    fn from(n: NotificationRecord) -> Self {
        Self {
            id: n.id,
            resource: n.resource,
            user_id: n.user_id,
            topic: n.topic,
            status: n.status,
            attempts: n.attempts,
            last_status: n.last_status,
            last_error: n.last_error,
            received: rfc3339_from_ms(n.received_at_ms),
            sent: n.sent_at_ms.map(rfc3339_from_ms),
            delivered: n.delivered_at_ms.map(rfc3339_from_ms),
        }
    }
}

/// Notifications, newest first.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlNotificationList")]
pub struct NotificationList {
    pub items: Vec<NotificationView>,
}

/// The body MercadoLibre POSTs to the callback URL.
#[derive(Debug, Serialize)]
pub struct WebhookBody<'a> {
    #[serde(rename = "_id")]
    pub id: &'a str,
    pub resource: &'a str,
    pub user_id: i64,
    pub topic: &'a str,
    pub application_id: i64,
    pub attempts: i64,
    pub sent: String,
    pub received: String,
}
