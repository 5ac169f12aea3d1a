//! The one way components call other services over HTTP: a [`Client`]
//! per dependency gives each attempt a deadline, asks the dependency's
//! circuit breaker first (if it has one) and reports the outcome to it,
//! retries failed attempts of an idempotent request (a safe method, or a
//! POST with an `Idempotency-Key`) with exponential backoff and jitter, and
//! forwards the request id, `traceparent` and idempotency key. The policy
//! is plain async code over a transport, so it is tested natively.

mod transport;

use std::future::Future;
use std::time::Duration;

use crate::breaker::{Admission, Breaker, BreakerConfig};
use crate::context::Context;
use crate::request::Method;

pub use transport::sleep;

/// How often and how patiently a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The delay before the first retry (before jitter); doubled for each
    /// further retry.
    pub base_delay_ms: u64,
    /// No delay is longer than this (before jitter).
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    /// Three attempts, waiting 50-100 ms and then 100-200 ms: short enough
    /// to sit inside one request.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay_ms: 100,
            max_delay_ms: 1_000,
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry):
    /// exponential, capped, with "equal jitter" (a uniform pick in the
    /// upper half) so instances that failed together retry apart.
    pub fn backoff(&self, retry: u32, random: u64) -> Duration {
        let exp = self
            .base_delay_ms
            .saturating_mul(1u64 << retry.saturating_sub(1).min(32));
        let delay = exp.min(self.max_delay_ms);
        let half = delay / 2;
        let jitter = if half == 0 { 0 } else { random % (half + 1) };
        Duration::from_millis(delay - half + jitter)
    }
}

/// What guards a dependency: the circuit breaker, or a stand-in in tests.
pub trait Gate {
    /// Whether a call may go out now.
    fn admit(&self) -> Admission;
    /// How an admitted call went.
    fn record(&self, admission: &Admission, success: bool);
}

impl Gate for Breaker<'_> {
    fn admit(&self) -> Admission {
        Breaker::admit(self)
    }

    fn record(&self, admission: &Admission, success: bool) {
        Breaker::record(self, admission, success);
    }
}

/// Why a call produced no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The breaker refused the first attempt: nothing was sent.
    Unavailable { retry_after_ms: u64 },
    /// Every attempt that went out failed (or the breaker opened between
    /// attempts); `last` says how the last one failed.
    Failed { attempts: u32, last: String },
}

/// An answer and how many attempts it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<T> {
    pub value: T,
    pub attempts: u32,
}

/// A gate that admits every call: for dependencies without a breaker.
#[derive(Debug, Clone, Copy)]
pub struct Unguarded;

impl Gate for Unguarded {
    fn admit(&self) -> Admission {
        Admission::UNGUARDED
    }

    fn record(&self, _: &Admission, _: bool) {}
}

/// Statuses worth another attempt of an idempotent request.
pub fn is_retryable(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

/// One HTTP exchange to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub idempotency_key: Option<String>,
}

impl Exchange {
    /// `GET url`, asking for JSON.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            url: url.into(),
            headers: vec![("accept".into(), "application/json".into())],
            body: Vec::new(),
            idempotency_key: None,
        }
    }

    /// `POST url` with a JSON body.
    pub fn post_json(url: impl Into<String>, body: &serde_json::Value) -> Self {
        Self {
            method: Method::Post,
            url: url.into(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("accept".into(), "application/json".into()),
            ],
            body: body.to_string().into_bytes(),
            idempotency_key: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Sends `Idempotency-Key: key`: the receiver answers a repeat with
    /// its first answer, which makes the request safe to retry.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Whether sending it twice does what sending it once does.
    pub fn is_idempotent(&self) -> bool {
        self.idempotency_key.is_some()
            || matches!(
                self.method,
                Method::Get | Method::Head | Method::Put | Method::Delete | Method::Options
            )
    }
}

/// What a dependency answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A dependency and how it is called.
#[derive(Debug, Clone)]
pub struct Client {
    timeout: Duration,
    retry: RetryPolicy,
    breaker: Option<&'static str>,
    breaker_config: Option<BreakerConfig>,
}

impl Client {
    /// A dependency without a breaker, with the default deadline (5 s per
    /// attempt) and retries.
    pub fn new() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            breaker: None,
            breaker_config: None,
        }
    }

    /// Each attempt must be answered within `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries as `retry` says (`max_attempts: 1`: the caller retries later).
    pub fn retries(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Guards the dependency with the circuit breaker `name`, shared by
    /// every instance (see [`Breaker`]).
    pub fn breaker(mut self, name: &'static str) -> Self {
        self.breaker = Some(name);
        self
    }

    /// Guards the dependency with the breaker `name` configured by
    /// `config` rather than by the `breaker_*` variables.
    pub fn breaker_configured(mut self, name: &'static str, config: BreakerConfig) -> Self {
        self.breaker = Some(name);
        self.breaker_config = Some(config);
        self
    }

    /// The breaker guarding the dependency, if it has one.
    pub fn breaker_for<'r>(&self, ctx: &'r Context) -> Option<Breaker<'r>> {
        self.breaker.map(|name| match self.breaker_config {
            Some(config) => Breaker::new(name, config, ctx.redis_if_up()),
            None => Breaker::open(name, ctx),
        })
    }

    /// Sends `exchange` for the request in `ctx`. `read` turns an answer
    /// into the caller's value: `Ok` for one a healthy dependency gives (a
    /// 2xx, or a 4xx such as a decline: not retried, a success for the
    /// breaker), `Err` for a failure worth retrying ([`is_retryable`]
    /// statuses, a garbled body).
    pub async fn send<T>(
        &self,
        ctx: &Context,
        mut exchange: Exchange,
        read: impl Fn(u16, &[u8]) -> Result<T, String>,
    ) -> Result<Answer<T>, CallError> {
        exchange.headers.extend(ctx.outbound_headers());
        if let Some(key) = &exchange.idempotency_key {
            exchange
                .headers
                .push(("idempotency-key".into(), key.clone()));
        }
        let policy = if exchange.is_idempotent() {
            self.retry
        } else {
            RetryPolicy {
                max_attempts: 1,
                ..self.retry
            }
        };
        let exchange = &exchange;
        let attempt = |_| async {
            let answer = transport::send(exchange, self.timeout).await?;
            read(answer.status, &answer.body)
        };
        match self.breaker_for(ctx) {
            Some(breaker) => call(&breaker, &policy, attempt, sleep).await,
            None => call(&Unguarded, &policy, attempt, sleep).await,
        }
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

/// Calls `attempt` (given its number, from 1) through `gate` until it
/// answers or the policy's attempts are spent, waiting `sleep` between
/// attempts. `attempt` gives `Ok` for a healthy answer and `Err` for a
/// failure worth retrying (recorded as a breaker failure).
pub async fn call<T, A, AF, S, SF>(
    gate: &impl Gate,
    policy: &RetryPolicy,
    mut attempt: A,
    mut sleep: S,
) -> Result<Answer<T>, CallError>
where
    A: FnMut(u32) -> AF,
    AF: Future<Output = Result<T, String>>,
    S: FnMut(Duration) -> SF,
    SF: Future<Output = ()>,
{
    let max = policy.max_attempts.max(1);
    let mut last = String::new();
    for n in 1..=max {
        let admission = gate.admit();
        if !admission.allowed {
            return Err(if n == 1 {
                CallError::Unavailable {
                    retry_after_ms: admission.retry_after_ms,
                }
            } else {
                CallError::Failed {
                    attempts: n - 1,
                    last: format!("{last}; then the circuit opened"),
                }
            });
        }
        match attempt(n).await {
            Ok(value) => {
                gate.record(&admission, true);
                return Ok(Answer { value, attempts: n });
            }
            Err(e) => {
                gate.record(&admission, false);
                last = e;
                if n < max {
                    sleep(policy.backoff(n, random_u64())).await;
                }
            }
        }
    }
    Err(CallError::Failed {
        attempts: max,
        last,
    })
}

fn random_u64() -> u64 {
    getrandom::u64().unwrap_or(0)
}

#[cfg(test)]
mod tests;
