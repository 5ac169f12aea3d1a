//! RFC 9457 `application/problem+json` error responses.
//!
//! (This moves to `crates/platform` once that crate exists, as the one
//! error mapping all components share.)

use serde::Serialize;
use spin_sdk::http::{Method, Response};

/// A problem details object with `type` `about:blank`, whose `title` is the
/// status's reason phrase.
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: String,
}

impl Problem {
    /// A problem for `status` explained by `detail`.
    pub fn new(status: u16, detail: impl Into<String>) -> Self {
        Problem {
            kind: "about:blank",
            title: reason_phrase(status),
            status,
            detail: detail.into(),
        }
    }

    /// The response carrying this problem.
    pub fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        Response::builder()
            .status(self.status)
            .header("content-type", "application/problem+json")
            .body(body)
            .build()
    }
}

/// 404 for a path no route serves.
pub fn not_found(path: &str) -> Response {
    Problem::new(404, format!("no route for {path}")).into_response()
}

/// 405 with the `Allow` header listing `allowed`.
pub fn method_not_allowed(method: &Method, allowed: &[&str]) -> Response {
    let allow = allowed.join(", ");
    let mut response = Problem::new(
        405,
        format!("method {method} is not allowed here; allowed: {allow}"),
    )
    .into_response();
    response.set_header("allow", allow);
    response
}

/// 500 for a fault of this component (the detail must not leak secrets).
pub fn internal(detail: impl Into<String>) -> Response {
    Problem::new(500, detail).into_response()
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn problems_serialise_per_rfc_9457() {
        let body = serde_json::to_value(Problem::new(404, "no route for /x")).expect("serialises");
        assert_eq!(
            body,
            json!({"type": "about:blank", "title": "Not Found", "status": 404, "detail": "no route for /x"})
        );
    }

    #[test]
    fn internal_is_500() {
        assert_eq!(*internal("broken").status(), 500);
    }
}
