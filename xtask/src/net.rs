//! HTTP for set-up requests, readiness checks and the benchmarks' own
//! calls: blocking requests through reqwest, plus the harness's loopback
//! helpers.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context as _, Result};

pub use spinshop_testkit::paths::loopback;

/// A loopback port nobody listens on right now (the kernel's choice).
pub fn free_port() -> Result<u16> {
    Ok(spinshop_testkit::free_port())
}

/// An HTTP response: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text, shortened for messages.
    pub fn body_text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(500) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_owned(),
        }
    }
}

fn client() -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(1))
            .build()
            .unwrap_or_else(|_| reqwest::blocking::Client::new())
    })
}

/// `GET path` on `addr`.
pub fn get(addr: SocketAddr, path: &str) -> Result<Response> {
    request(addr, "GET", path, None)
}

/// One request; a body is sent as `application/json`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<Response> {
    request_with_headers(addr, method, path, &[], body)
}

/// [`request`] with further headers, e.g. `("Authorization", "Bearer …")`.
pub fn request_with_headers(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response> {
    let url = format!("http://{addr}{path}");
    let method_value = reqwest::Method::from_bytes(method.as_bytes())
        .with_context(|| format!("bad method {method:?}"))?;
    let mut builder = client().request(method_value, &url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    if let Some(body) = body {
        builder = builder
            .header("content-type", "application/json")
            .body(body.to_vec());
    }
    let response = builder.send().with_context(|| format!("{method} {url}"))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .with_context(|| format!("{method} {url}: reading the body"))?
        .to_vec();
    Ok(Response { status, body })
}
