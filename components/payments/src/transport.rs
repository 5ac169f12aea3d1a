//! One outbound HTTP exchange over `wasi:http/outgoing-handler` with a
//! deadline the guest enforces itself: the response and its body are
//! awaited with `wasi:io/poll` against a monotonic-clock timer, so the
//! limit holds whether the host honours request options or not (local
//! service chaining, for one, does not).

use std::time::Duration;

use wasi::clocks::monotonic_clock;
use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme};
use wasi::io::poll::{self, Pollable};
use wasi::io::streams::StreamError;

/// Largest response body read.
const MAX_BODY: usize = 1024 * 1024;

/// A response: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// `POST url` with `headers` and `body`, answered within `timeout` or an
/// error describing what failed (connection, timeout, protocol).
pub fn post(
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<HttpResponse, String> {
    let (scheme, authority, path) = split_url(url)?;
    let timeout_ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    let deadline = monotonic_clock::now().saturating_add(timeout_ns);

    let entries: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    let fields = Fields::from_list(&entries).map_err(|e| format!("request headers: {e:?}"))?;
    let request = OutgoingRequest::new(fields);
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_string()),
    };
    request
        .set_method(&Method::Post)
        .and_then(|()| request.set_scheme(Some(&scheme)))
        .and_then(|()| request.set_authority(Some(authority)))
        .and_then(|()| request.set_path_with_query(Some(path)))
        .map_err(|()| format!("cannot address {url}"))?;
    let outgoing_body = request
        .body()
        .map_err(|()| "request body unavailable".to_string())?;
    let options = RequestOptions::new();
    // Hosts that support them stop the exchange themselves; the deadline
    // below covers those that do not.
    let _ = options.set_connect_timeout(Some(timeout_ns));
    let _ = options.set_first_byte_timeout(Some(timeout_ns));
    let _ = options.set_between_bytes_timeout(Some(timeout_ns));
    let future = outgoing_handler::handle(request, Some(options))
        .map_err(|e| format!("request refused: {e:?}"))?;
    {
        let stream = outgoing_body
            .write()
            .map_err(|()| "request body unwritable".to_string())?;
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("writing the request body: {e:?}"))?;
        }
    }
    OutgoingBody::finish(outgoing_body, None)
        .map_err(|e| format!("finishing the request body: {e:?}"))?;

    let response = {
        let ready = future.subscribe();
        loop {
            if let Some(result) = future.get() {
                break result
                    .map_err(|()| "response already taken".to_string())?
                    .map_err(|e| format!("{e:?}"))?;
            }
            if !wait(&ready, deadline) {
                return Err(format!("no answer within {} ms", timeout.as_millis()));
            }
        }
    };
    let status = response.status();
    let incoming = response
        .consume()
        .map_err(|()| "response body unavailable".to_string())?;
    let stream = incoming
        .stream()
        .map_err(|()| "response body unreadable".to_string())?;
    let mut body = Vec::new();
    loop {
        match stream.read(64 * 1024) {
            Ok(bytes) if bytes.is_empty() => {
                if !wait(&stream.subscribe(), deadline) {
                    return Err(format!(
                        "response body incomplete after {} ms",
                        timeout.as_millis()
                    ));
                }
            }
            Ok(bytes) => {
                body.extend_from_slice(&bytes);
                if body.len() > MAX_BODY {
                    return Err(format!("response body over {MAX_BODY} bytes"));
                }
            }
            Err(StreamError::Closed) => break,
            Err(e) => return Err(format!("reading the response body: {e:?}")),
        }
    }
    Ok(HttpResponse { status, body })
}

/// Blocks until `pollable` is ready (true) or the deadline passes (false).
fn wait(pollable: &Pollable, deadline: u64) -> bool {
    if pollable.ready() {
        return true;
    }
    let timer = monotonic_clock::subscribe_instant(deadline);
    poll::poll(&[pollable, &timer]);
    pollable.ready()
}

/// `scheme://authority/path?query` -> its three parts (path `/` if absent).
fn split_url(url: &str) -> Result<(&str, &str, &str), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not an absolute URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if scheme.is_empty() || authority.is_empty() {
        return Err(format!("{url:?} is not an absolute URL"));
    }
    Ok((scheme, authority, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        assert_eq!(
            split_url("http://sandbox-psp.spin.internal/sandbox/psp/charges"),
            Ok(("http", "sandbox-psp.spin.internal", "/sandbox/psp/charges"))
        );
        assert_eq!(
            split_url("https://psp.example:8443/v1/charges?x=1"),
            Ok(("https", "psp.example:8443", "/v1/charges?x=1"))
        );
        assert_eq!(
            split_url("https://psp.example"),
            Ok(("https", "psp.example", "/"))
        );
        assert!(split_url("psp.example/charges").is_err());
        assert!(split_url("http:///charges").is_err());
    }
}
