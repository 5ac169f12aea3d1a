//! One outbound HTTP exchange over `wasi:http/outgoing-handler`, with a
//! deadline the guest enforces itself: the exchange (response and body)
//! races a monotonic-clock timer, so the limit holds whether the host
//! honours request options or not (local service chaining, for one, does
//! not). Only the component build calls these; native tests drive the
//! policy in the parent module with a stand-in transport.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures::future::{select, Either};
use futures::StreamExt;
use spin_executor::CancelOnDropToken;
use wasi::clocks::monotonic_clock;

use super::{Exchange, HttpAnswer};

/// Largest response body read.
const MAX_BODY: usize = 1024 * 1024;

/// Sends `exchange`, answered within `timeout` or an error saying what
/// failed (connection, timeout, protocol).
pub async fn send(exchange: &Exchange, timeout: Duration) -> Result<HttpAnswer, String> {
    let work = Box::pin(round_trip(exchange));
    match select(work, Box::pin(sleep(timeout))).await {
        Either::Left((answer, _)) => answer,
        // Dropping the exchange cancels the request in the host.
        Either::Right(((), _)) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

async fn round_trip(exchange: &Exchange) -> Result<HttpAnswer, String> {
    let method = match exchange.method {
        crate::Method::Get => spin_sdk::http::Method::Get,
        crate::Method::Head => spin_sdk::http::Method::Head,
        crate::Method::Put => spin_sdk::http::Method::Put,
        crate::Method::Patch => spin_sdk::http::Method::Patch,
        crate::Method::Delete => spin_sdk::http::Method::Delete,
        crate::Method::Options => spin_sdk::http::Method::Options,
        crate::Method::Post | crate::Method::Other => spin_sdk::http::Method::Post,
    };
    let mut request = spin_sdk::http::Request::builder();
    request.method(method).uri(exchange.url.as_str());
    for (name, value) in &exchange.headers {
        request.header(name.as_str(), value.as_str());
    }
    request.body(exchange.body.clone());
    let response: spin_sdk::http::IncomingResponse = spin_sdk::http::send(request.build())
        .await
        .map_err(|e| format!("unreachable: {e}"))?;
    let status = response.status();
    let mut stream = response.take_body_stream();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("reading the response body: {e:?}"))?;
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Err(format!("response body over {MAX_BODY} bytes"));
        }
    }
    Ok(HttpAnswer { status, body })
}

/// Waits `duration` of monotonic time without blocking other futures of
/// the request.
pub fn sleep(duration: Duration) -> Sleep {
    let ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    Sleep {
        until: monotonic_clock::now().saturating_add(ns),
        token: None,
    }
}

/// The future of [`sleep`].
pub struct Sleep {
    until: u64,
    token: Option<CancelOnDropToken>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        if monotonic_clock::now() >= self.until {
            return Poll::Ready(());
        }
        let timer = monotonic_clock::subscribe_instant(self.until);
        let token = spin_executor::push_waker_and_get_token(timer, cx.waker().clone());
        self.token = Some(token.into());
        Poll::Pending
    }
}
