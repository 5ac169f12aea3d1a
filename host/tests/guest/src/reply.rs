//! Response helpers: JSON, plain text and the `{"error": ...}` body.

use std::fmt::Debug;

use serde::Serialize;
use spin_sdk::http::Response;

/// A JSON response.
pub fn json(status: u16, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(bytes)
            .build(),
        Err(e) => error(500, &e),
    }
}

/// A `text/plain` response.
pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(body.into())
        .build()
}

/// A response with an empty body (e.g. 204).
pub fn empty(status: u16) -> Response {
    Response::builder().status(status).build()
}

/// `{"error": "<Debug of the error>"}`: tests match on the host's variant names.
pub fn error(status: u16, err: &impl Debug) -> Response {
    error_message(status, &format!("{err:?}"))
}

/// `{"error": message}`.
pub fn error_message(status: u16, message: &str) -> Response {
    json(status, &serde_json::json!({ "error": message }))
}
