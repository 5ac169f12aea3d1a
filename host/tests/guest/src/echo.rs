//! `/echo`: the request as the guest sees it.

use std::collections::BTreeMap;

use serde_json::json;
use spin_sdk::http::{Request, Response};

use crate::reply;

/// Answers `{"method", "uri", "headers", "body"}`.
pub fn echo(req: &Request) -> Response {
    let headers: BTreeMap<String, String> = req
        .headers()
        .map(|(name, value)| {
            (
                name.to_ascii_lowercase(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    reply::json(
        200,
        &json!({
            "method": req.method().to_string(),
            "uri": req.uri(),
            "headers": headers,
            "body": String::from_utf8_lossy(req.body()),
        }),
    )
}
