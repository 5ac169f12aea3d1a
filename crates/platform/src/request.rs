//! The request a handler sees: method, path, query, headers and a body read
//! with a size limit (a body over the limit is never held in memory).

use serde::de::DeserializeOwned;
use spin_sdk::http::IncomingRequest;

use crate::domain::Id;
use crate::problem::ApiError;

/// Default limit of a request body.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// How much of an oversized body is read and thrown away so the client,
/// still sending, receives the 413 rather than a reset connection.
pub const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Other,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other => "OTHER",
        }
    }
}

/// An incoming request, fully read.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub query: String,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body was longer than the limit and was not read.
    pub body_too_large: bool,
    pub body_limit: usize,
    /// The path's parameters, as the route that matched names them.
    params: crate::router::Params,
}

impl Request {
    /// Builds a request (tests and internal callers).
    pub fn new(
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Self {
            method,
            path: path.to_string(),
            query: query.to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_string()))
                .collect(),
            body: body.to_vec(),
            body_too_large: false,
            body_limit: DEFAULT_BODY_LIMIT,
            params: Vec::new(),
        }
    }

    /// Reads an incoming request, stopping once the body passes `limit`.
    pub async fn read(incoming: IncomingRequest, limit: usize) -> Self {
        use futures::StreamExt;
        use spin_sdk::http::Method as M;
        let method = match incoming.method() {
            M::Get => Method::Get,
            M::Head => Method::Head,
            M::Post => Method::Post,
            M::Put => Method::Put,
            M::Patch => Method::Patch,
            M::Delete => Method::Delete,
            M::Options => Method::Options,
            _ => Method::Other,
        };
        let path_and_query = incoming.path_with_query().unwrap_or_else(|| "/".into());
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (path_and_query, String::new()),
        };
        let headers = incoming
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        let mut too_large = false;
        let mut stream = incoming.into_body_stream();
        let mut drained = 0usize;
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { break };
            if too_large {
                drained += chunk.len();
                if drained > DRAIN_LIMIT {
                    break;
                }
            } else if body.len() + chunk.len() > limit {
                too_large = true;
                drained = body.len() + chunk.len();
                body = Vec::new();
            } else {
                body.extend_from_slice(&chunk);
            }
        }
        Self {
            method,
            path,
            query,
            headers,
            body,
            body_too_large: too_large,
            body_limit: limit,
            params: Vec::new(),
        }
    }

    /// A header's value (names are case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client sent `Cache-Control: no-cache`: it wants the
    /// origin's current answer, not a cached copy.
    pub fn no_cache(&self) -> bool {
        self.header("cache-control").is_some_and(|v| {
            v.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-cache"))
        })
    }

    /// A decoded query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Sets the path's parameters (the router does, for the route it chose).
    pub fn set_params(&mut self, params: crate::router::Params) {
        self.params = params;
    }

    /// The path parameter `name` (empty if the route has none so named).
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The path parameter `name` as an id: 422 naming `name` unless it is one.
    pub fn id(&self, name: &str) -> Result<Id, ApiError> {
        Id::parse(name, self.param(name))
    }

    /// A query parameter as an id, if given: 422 naming it unless it is one.
    pub fn query_id(&self, name: &str) -> Result<Option<Id>, ApiError> {
        self.query_param(name)
            .map(|v| Id::parse(name, &v))
            .transpose()
    }

    /// Whether the body is absent (empty or only white space).
    pub fn body_is_empty(&self) -> bool {
        !self.body_too_large && self.body.iter().all(u8::is_ascii_whitespace)
    }

    /// Path segments without empty ones: `/api/catalog/42` -> `["api", "catalog", "42"]`.
    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }

    /// The body as `T`: 413 when too large, 415 when not JSON, 400 naming
    /// the field for malformed JSON, wrong types or unknown fields.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body_too_large {
            return Err(ApiError::PayloadTooLarge {
                limit: self.body_limit,
            });
        }
        if let Some(ct) = self.header("content-type") {
            let ct = ct.to_ascii_lowercase();
            if !(ct.starts_with("application/json")
                || (ct.starts_with("application/") && ct.contains("+json")))
            {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "expected an application/json body, got {ct}"
                )));
            }
        }
        match self.body.iter().find(|b| !b.is_ascii_whitespace()) {
            None => {
                return Err(ApiError::BadRequest {
                    detail: "a JSON body is required".into(),
                    field: None,
                })
            }
            // serde would read an array as a struct's fields in order.
            Some(b) if *b != b'{' => {
                return Err(ApiError::BadRequest {
                    detail: "the body must be a JSON object".into(),
                    field: None,
                })
            }
            Some(_) => {}
        }
        let de = &mut serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let field = (path != ".").then_some(path);
            ApiError::BadRequest {
                detail: format!("invalid JSON body: {inner}"),
                field,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        product_id: String,
        quantity: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Order {
        items: Vec<Line>,
    }

    fn post(body: &str) -> Request {
        Request::new(
            Method::Post,
            "/x?a=1&b=two%20words",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    #[test]
    fn no_cache_is_one_directive_among_others() {
        let with = |value: &str| {
            Request::new(Method::Get, "/x", &[("Cache-Control", value)], b"").no_cache()
        };
        assert!(with("no-cache"));
        assert!(with("max-age=0, No-Cache"));
        assert!(!with("no-cache-please"));
        assert!(!post("{}").no_cache());
    }

    #[test]
    fn json_errors_name_the_field() {
        let err = post(r#"{"items":[{"product_id":"p","quantity":-1}]}"#)
            .json::<Order>()
            .expect_err("negative");
        assert_eq!(err.status(), 400);
        assert_eq!(err.problem("r")["field"], "items[0].quantity");
        let err = post(r#"{"items":[], "user_id": "x"}"#)
            .json::<Order>()
            .expect_err("unknown");
        assert!(err.to_string().contains("user_id"), "{err}");
        assert_eq!(
            post("{not json")
                .json::<Order>()
                .expect_err("syntax")
                .status(),
            400
        );
        assert_eq!(post("").json::<Order>().expect_err("empty").status(), 400);
        let array = post(r#"[[{"product_id":"p","quantity":1}]]"#).json::<Order>();
        assert_eq!(
            array.expect_err("array").status(),
            400,
            "positional arrays are not objects"
        );
        let mut big = post("{}");
        big.body_too_large = true;
        assert_eq!(big.json::<Order>().expect_err("big").status(), 413);
        let text = Request::new(Method::Post, "/", &[("content-type", "text/plain")], b"{}");
        assert_eq!(text.json::<Order>().expect_err("media").status(), 415);
    }

    #[test]
    fn query_and_segments() {
        let r = post("{}");
        assert_eq!(r.query_param("b").as_deref(), Some("two words"));
        assert_eq!(r.query_param("c"), None);
        assert_eq!(r.header("CONTENT-TYPE"), Some("application/json"));
        let r = Request::new(Method::Get, "/api/catalog/42/", &[], b"");
        assert_eq!(r.segments(), vec!["api", "catalog", "42"]);
    }
}
