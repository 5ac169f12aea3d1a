//! MercadoLibre's error shape, which every answer of the sandbox API's
//! token endpoint and resources takes: `{"message", "error", "status",
//! "cause"}` (a 429 has no `cause`), never our problem+json.

use platform::redis_store::log_warning;
use platform::{ApiError, Response};
use schemars::JsonSchema;
use serde::Serialize;

/// An error as the MercadoLibre API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlError")]
pub struct MlError {
    /// What went wrong, for a person.
    pub message: String,
    /// The kind: `unauthorized`, `not_found`, `forbidden`, `bad_request`,
    /// `validation_error`, `invalid_grant`, `invalid_client`,
    /// `invalid_request`, `unsupported_grant_type`, `too_many_requests`,
    /// `internal_error`, `service_unavailable`.
    pub error: String,
    pub status: u16,
    /// The offending values (validation errors); empty otherwise. A 429
    /// has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Vec<MlCause>>,
    /// Seconds until a refused call may succeed (429's `Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

/// One offending value of a refused write.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlCause")]
pub struct MlCause {
    /// `item.<field>.invalid`.
    pub code: String,
    pub message: String,
    /// The offending fields, as `item.<field>`.
    pub references: Vec<String>,
}

/// How an OAuth token request fails (RFC 6749 section 5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// 400: a parameter is missing, repeated or malformed.
    InvalidRequest(String),
    /// 401: the client's id or secret is wrong.
    InvalidClient,
    /// 400: the code or refresh token is unknown, used, expired, or not
    /// this client's, redirect URI's or verifier's.
    InvalidGrant(String),
    /// 400: not `authorization_code` nor `refresh_token`.
    UnsupportedGrantType,
}

impl MlError {
    fn new(status: u16, error: &str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            error: error.into(),
            status,
            cause: Some(Vec::new()),
            retry_after: None,
        }
    }

    /// 401: no access token, or one unknown or expired.
    pub fn unauthorized() -> Self {
        Self::new(401, "unauthorized", "invalid access token")
    }

    /// 403: the token's user may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message)
    }

    /// 404 of an item.
    pub fn item_not_found(id: &str) -> Self {
        Self::new(
            404,
            "not_found",
            format!("Item with id {} not found", shown(id)),
        )
    }

    /// 404 of a category.
    pub fn category_not_found(id: &str) -> Self {
        Self::new(
            404,
            "not_found",
            format!("Category {} not found", shown(id)),
        )
    }

    /// 404 of a user.
    pub fn user_not_found(id: &str) -> Self {
        Self::new(404, "not_found", format!("User {} not found", shown(id)))
    }

    /// 400: the request cannot be read.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }

    /// 400: values that break the item's rules, each named.
    pub fn validation(causes: Vec<MlCause>) -> Self {
        Self {
            cause: Some(causes),
            ..Self::new(400, "validation_error", "Validation error")
        }
    }

    /// 409: the item cannot change so (a sale of more than is available).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "conflict", message)
    }

    /// 429: exactly MercadoLibre's body, and `Retry-After`.
    pub fn too_many_requests(retry_after: u64) -> Self {
        Self {
            message: "Too Many Requests".into(),
            error: "too_many_requests".into(),
            status: 429,
            cause: None,
            retry_after: Some(retry_after.max(1)),
        }
    }

    /// 500: an injected failure, or one of ours.
    pub fn internal() -> Self {
        Self::new(500, "internal_error", "Internal server error")
    }

    /// 503: an injected outage, or a store out of reach.
    pub fn unavailable() -> Self {
        Self::new(503, "service_unavailable", "Service Unavailable")
    }

    /// The answer.
    pub fn into_response(self) -> Response {
        let mut response = Response::json(self.status, &self);
        if let Some(secs) = self.retry_after {
            response.set_header("retry-after", secs.to_string());
        }
        response
    }
}

impl From<OAuthError> for MlError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::InvalidRequest(why) => Self::new(400, "invalid_request", why),
            OAuthError::InvalidClient => {
                Self::new(401, "invalid_client", "invalid client_id or client_secret")
            }
            OAuthError::InvalidGrant(why) => Self::new(400, "invalid_grant", why),
            OAuthError::UnsupportedGrantType => Self::new(
                400,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            ),
        }
    }
}

/// Our own errors in MercadoLibre's shape: a request that cannot be read
/// is a 400, a failure of ours a 500 (logged, never shown).
impl From<ApiError> for MlError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Internal(inner) => {
                log_warning("sandbox_ml_internal", &format!("{inner:#}"));
                Self::internal()
            }
            ApiError::Unavailable(_) => Self::unavailable(),
            ApiError::BadRequest { detail, .. } | ApiError::Unprocessable { detail, .. } => {
                Self::bad_request(detail)
            }
            e @ (ApiError::PayloadTooLarge { .. } | ApiError::UnsupportedMediaType(_)) => {
                Self::bad_request(e.to_string())
            }
            ApiError::Unauthorized(_) => Self::unauthorized(),
            ApiError::Forbidden(why) => Self::forbidden(why),
            ApiError::NotFound(why) => Self::new(404, "not_found", why),
            ApiError::TooManyRequests { retry_after } => Self::too_many_requests(retry_after),
            other => Self::new(other.status(), "bad_request", other.to_string()),
        }
    }
}

/// An answer of the MercadoLibre API: what it serves, or its error.
pub type MlResult = Result<Response, MlError>;

/// A handler's result as the platform takes it: MercadoLibre's errors are
/// answers, never problems.
pub fn answer(result: MlResult) -> Result<Response, ApiError> {
    Ok(result.unwrap_or_else(MlError::into_response))
}

/// An id from the request as a message shows it: at most 64 characters.
fn shown(id: &str) -> &str {
    match id.char_indices().nth(64) {
        Some((i, _)) => &id[..i],
        None => id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn body(e: MlError) -> (u16, Value, Option<String>) {
        let r = e.into_response();
        let retry = r.header("retry-after").map(str::to_string);
        (
            r.status,
            serde_json::from_slice(&r.body).expect("json"),
            retry,
        )
    }

    #[test]
    fn errors_have_mercadolibres_shape() {
        assert_eq!(
            body(MlError::unauthorized()),
            (
                401,
                json!({"message":"invalid access token","error":"unauthorized","status":401,"cause":[]}),
                None
            )
        );
        assert_eq!(
            body(MlError::item_not_found("MLA999")).1,
            json!({"message":"Item with id MLA999 not found","error":"not_found","status":404,"cause":[]})
        );
        let (status, _, _) = body(MlError::from(OAuthError::InvalidClient));
        assert_eq!(status, 401);
        let (_, grant, _) = body(OAuthError::InvalidGrant("used".into()).into());
        assert_eq!(
            grant,
            json!({"message":"used","error":"invalid_grant","status":400,"cause":[]})
        );
    }

    #[test]
    fn a_429_is_exactly_mercadolibres_body_with_retry_after() {
        let r = MlError::too_many_requests(17).into_response();
        assert_eq!(
            String::from_utf8(r.body.clone()).expect("utf-8"),
            r#"{"message":"Too Many Requests","error":"too_many_requests","status":429}"#
        );
        assert_eq!(r.header("retry-after"), Some("17"));
        assert_eq!(r.status, 429);
    }

    #[test]
    fn our_own_errors_become_400s_and_500s_that_hide_internals() {
        let (status, b, _) = body(ApiError::bad_field("price", "invalid type").into());
        assert_eq!((status, b["error"].as_str()), (400, Some("bad_request")));
        let media = ApiError::UnsupportedMediaType("text/plain".into());
        assert_eq!(body(media.into()).0, 400);
        let (status, b, _) = body(ApiError::internal("password=hunter2").into());
        assert_eq!(status, 500);
        assert!(!b.to_string().contains("hunter2"));
        let long = "M".repeat(500);
        assert_eq!(
            MlError::item_not_found(&long).message.len(),
            "Item with id  not found".len() + 64
        );
    }
}
