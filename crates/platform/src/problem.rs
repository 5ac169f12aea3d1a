//! The one error type of every component, and its RFC 9457
//! `application/problem+json` rendering. Server errors are logged with the
//! request id and never leak their internals to the client.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;

/// An error a handler returns; each variant is one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read (malformed JSON, wrong types).
    #[error("{detail}")]
    BadRequest {
        detail: String,
        field: Option<String>,
    },
    /// 401: no or invalid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 405, with the methods that are allowed.
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    /// 409: conflicts with the current state (duplicate, wrong state).
    #[error("{0}")]
    Conflict(String),
    /// 409: the request would take the caller past a configured limit
    /// (`limit` names it, `max` is its value); the problem document says
    /// both, so a client can tell which limit it met.
    #[error("{detail}")]
    LimitReached {
        limit: &'static str,
        max: u64,
        detail: String,
    },
    /// 412: `If-Match` did not match.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 428: a conditional request was required.
    #[error("{0}")]
    PreconditionRequired(String),
    /// 413.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed but invalid values.
    #[error("{detail}")]
    Unprocessable {
        detail: String,
        field: Option<String>,
    },
    /// 429, with seconds until a retry may succeed.
    #[error("too many requests")]
    TooManyRequests { retry_after: u64 },
    /// 503: a dependency is down.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// 400 naming the offending field.
    pub fn bad_field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            detail: detail.into(),
            field: Some(field.into()),
        }
    }

    /// 422 naming the offending field.
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Unprocessable {
            detail: detail.into(),
            field: Some(field.into()),
        }
    }

    /// 500 from anything displayable.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(anyhow::anyhow!("{e}"))
    }

    /// The HTTP status of the error.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest { .. } => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::Conflict(_) | Self::LimitReached { .. } => 409,
            Self::PreconditionFailed(_) => 412,
            Self::PayloadTooLarge { .. } => 413,
            Self::UnsupportedMediaType(_) => 415,
            Self::Unprocessable { .. } => 422,
            Self::PreconditionRequired(_) => 428,
            Self::TooManyRequests { .. } => 429,
            Self::Unavailable(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    /// The problem document; `request_id` ties a 500 to its log line.
    pub fn problem(&self, request_id: &str) -> serde_json::Value {
        serde_json::to_value(self.problem_document(request_id)).unwrap_or_else(|_| json!({}))
    }

    /// The problem document as its type, which also gives the OpenAPI
    /// document its schema.
    pub fn problem_document(&self, request_id: &str) -> Problem {
        let detail = match self {
            Self::Internal(_) => {
                "an unexpected error occurred; quote the request id when reporting it".to_string()
            }
            other => other.to_string(),
        };
        let mut problem = Problem::new(self.status(), detail, request_id);
        if let Self::BadRequest { field: Some(f), .. }
        | Self::Unprocessable { field: Some(f), .. } = self
        {
            problem.field = Some(f.clone());
        }
        if let Self::LimitReached { limit, max, .. } = self {
            problem.limit = Some((*limit).to_string());
            problem.max = Some(*max);
        }
        problem
    }

    /// Extra headers the status needs (`Allow`, `Retry-After`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::MethodNotAllowed { allow } => vec![("allow", allow.clone())],
            Self::TooManyRequests { retry_after } => vec![("retry-after", retry_after.to_string())],
            Self::Unauthorized(_) => vec![("www-authenticate", "Bearer".to_string())],
            _ => Vec::new(),
        }
    }
}

/// An RFC 9457 problem document (`application/problem+json`): what every
/// error answer of every component is, and the base of the few that add
/// members of their own (flattened into them).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// The request's id (also the `x-request-id` header), to find its log line.
    pub request_id: String,
    /// The offending field of the request (400, 422), as a path such as
    /// `items[0].quantity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The configured limit the request met (409).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// That limit's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
}

impl Problem {
    /// The problem of `status` saying `detail`, for the request `request_id`.
    pub fn new(status: u16, detail: impl Into<String>, request_id: &str) -> Self {
        Self {
            kind: "about:blank".into(),
            title: title_of(status).into(),
            status,
            detail: detail.into(),
            request_id: request_id.into(),
            field: None,
            limit: None,
            max: None,
        }
    }
}

/// The reason phrase of an error status.
pub fn title_of(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// Converts a storage error into a 500 with context.
pub trait OrInternal<T> {
    /// The error as a 500 that says what failed.
    fn or_500(self, what: &str) -> Result<T, ApiError>;
}

impl<T, E: std::fmt::Debug> OrInternal<T> for Result<T, E> {
    fn or_500(self, what: &str) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::Internal(anyhow::anyhow!("{what}: {e:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_the_field_and_hide_internals() {
        let p = ApiError::invalid("items[0].quantity", "must be between 1 and 100").problem("r1");
        assert_eq!(p["status"], 422);
        assert_eq!(p["field"], "items[0].quantity");
        assert_eq!(p["request_id"], "r1");
        let p = ApiError::Internal(anyhow::anyhow!("password=hunter2 in SQL")).problem("r2");
        assert_eq!(p["status"], 500);
        assert!(!p.to_string().contains("hunter2"));
        let p = ApiError::LimitReached {
            limit: "hold_max_units_per_user",
            max: 50,
            detail: "too many units held".into(),
        }
        .problem("r3");
        assert_eq!(
            (&p["status"], &p["limit"], &p["max"]),
            (&json!(409), &json!("hold_max_units_per_user"), &json!(50))
        );
        assert_eq!(
            ApiError::TooManyRequests { retry_after: 3 }.headers(),
            vec![("retry-after", "3".to_string())]
        );
    }
}
