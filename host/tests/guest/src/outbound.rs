//! `GET /outbound?url=<percent-encoded url>&method=GET|POST|...`: outbound
//! HTTP through `wasi:http/outgoing-handler`.

use std::collections::BTreeMap;

use serde_json::json;
use spin_sdk::http::{send, Method, Request, Response};

use crate::reply;
use crate::route::query_param;

/// Sends the request and reports what came back.
///
/// A send error answers 502 with the error's Debug text: a host outside the
/// component's `allowed_outbound_hosts` shows up as
/// `Http(ErrorCode::HttpRequestDenied)`, which the host's tests look for.
pub async fn forward(req: &Request) -> Response {
    let Some(url) = query_param(req.query(), "url") else {
        return reply::error_message(400, "query parameter `url` is required");
    };
    let method = query_param(req.query(), "method")
        .map(|m| parse_method(&m))
        .unwrap_or(Method::Get);

    let mut outgoing = Request::builder();
    outgoing.method(method.clone()).uri(url);
    if let Some(value) = req.header("x-test") {
        outgoing.header("x-test", value.clone().into_utf8_lossy());
    }
    // A guest that names a span of its own in its outbound calls, as
    // spinshop's platform does: the host's trace tests send one here.
    if let Some(value) = req.header("x-guest-traceparent") {
        outgoing.header("traceparent", value.clone().into_utf8_lossy());
    }
    if matches!(method, Method::Post | Method::Put | Method::Patch) {
        outgoing.body(req.body().to_vec());
    }

    match send::<_, Response>(outgoing.build()).await {
        Ok(upstream) => {
            let headers: BTreeMap<String, String> = upstream
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
                    "status": upstream.status(),
                    "body": String::from_utf8_lossy(upstream.body()),
                    "headers": headers,
                }),
            )
        }
        Err(e) => reply::error(502, &e),
    }
}

fn parse_method(method: &str) -> Method {
    match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "CONNECT" => Method::Connect,
        other => Method::Other(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse_case_insensitively() {
        assert!(matches!(parse_method("post"), Method::Post));
        assert!(matches!(parse_method("GET"), Method::Get));
        assert!(matches!(parse_method("purge"), Method::Other(m) if m == "PURGE"));
    }
}
