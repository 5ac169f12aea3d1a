//! Calls to MercadoLibre, all through the platform's outbound client: the
//! breaker `mercadolibre` (seed 000: 5 failures, 30 s), retries with
//! backoff and jitter for reads only, the application's own limit toward
//! MercadoLibre, and a back-off window after MercadoLibre answers 429 (no
//! request goes out until it ends). Every call is counted in
//! `ml_api_requests_total{endpoint,status}`.

use platform::outbound::{CallError, Client, Exchange, RetryPolicy};
use platform::ratelimit::{self, RateLimit};
use platform::redis_store::Redis;
use platform::request::Method;
use platform::{ApiError, Context};
use serde_json::Value;
use spin_sdk::redis::RedisParameter;

use crate::settings::{self, App, BREAKER};

/// Where the back-off window after an upstream 429 is kept.
const BACKOFF_KEY: &str = "ml:backoff";
/// How long to back off when MercadoLibre gives no `Retry-After`.
pub const DEFAULT_BACKOFF_SECS: u64 = 30;

/// MercadoLibre's answer to one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// How one call went, for the answer and the metric.
fn outcome_label(result: &Result<Answer, CallError>) -> String {
    match result {
        Ok(a) => a.status.to_string(),
        Err(CallError::Unavailable { .. }) => "circuit_open".into(),
        Err(CallError::Failed { .. }) => "error".into(),
    }
}

/// The MercadoLibre API as configured.
#[derive(Debug, Clone)]
pub struct Ml {
    pub app: App,
}

impl Ml {
    pub fn from_variables() -> Result<Self, ApiError> {
        Ok(Self {
            app: App::from_variables()?,
        })
    }

    fn client(method: Method) -> Client {
        let client = Client::new()
            .timeout(std::time::Duration::from_secs(5))
            .breaker_configured(BREAKER, settings::breaker());
        if method == Method::Get {
            client.retries(RetryPolicy {
                max_attempts: 3,
                base_delay_ms: 100,
                max_delay_ms: 1_000,
            })
        } else {
            // A write is never repeated blindly: the caller decides.
            client.retries(RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            })
        }
    }

    /// Sends `exchange` for `endpoint` (a path template such as
    /// `/items/:id`, the metric's label). Answers any status MercadoLibre
    /// gave but a 5xx; errors: 503 when it cannot be reached (breaker
    /// open, back-off window, failures), 429 when the application's own
    /// limit is spent.
    pub async fn call(
        &self,
        ctx: &Context,
        endpoint: &'static str,
        exchange: Exchange,
    ) -> Result<Answer, ApiError> {
        let redis = ctx.redis_if_up();
        if let Some(wait) = redis.and_then(backoff_remaining_secs) {
            ctx.count(
                "ml_api_requests_total",
                &[("endpoint", endpoint), ("status", "backoff")],
            );
            ctx.add_response_header("retry-after", wait.to_string());
            return Err(ApiError::Unavailable(format!(
                "MercadoLibre asked us to slow down; no request goes out for {wait} s"
            )));
        }
        let app_limit = RateLimit::own("ml_app", settings::APP_LIMIT);
        let decision = ratelimit::check(redis, "application", "ml_app", &app_limit);
        if !decision.allowed {
            ctx.count(
                "ml_api_requests_total",
                &[("endpoint", endpoint), ("status", "app_limited")],
            );
            return Err(decision.into_error());
        }
        let method = exchange.method;
        let result = Self::client(method)
            .send(ctx, exchange, |status, body| {
                if status >= 500 {
                    return Err(format!("MercadoLibre answered {status}"));
                }
                let body = if body.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(body)
                        .map_err(|e| format!("MercadoLibre's answer is not JSON: {e}"))?
                };
                Ok(Answer { status, body })
            })
            .await
            .map(|a| a.value);
        ctx.count(
            "ml_api_requests_total",
            &[("endpoint", endpoint), ("status", &outcome_label(&result))],
        );
        match result {
            Ok(answer) if answer.status == 429 => {
                let secs = DEFAULT_BACKOFF_SECS;
                if let Some(redis) = redis {
                    start_backoff(redis, secs);
                }
                ctx.add_response_header("retry-after", secs.to_string());
                Err(ApiError::Unavailable(format!(
                    "MercadoLibre is limiting our requests; backing off for {secs} s"
                )))
            }
            Ok(answer) => Ok(answer),
            Err(CallError::Unavailable { retry_after_ms }) => {
                ctx.add_response_header("retry-after", retry_after_ms.div_ceil(1000).to_string());
                Err(ApiError::Unavailable(
                    "MercadoLibre is unavailable (the circuit breaker is open)".into(),
                ))
            }
            Err(CallError::Failed { attempts, last }) => Err(ApiError::Unavailable(format!(
                "MercadoLibre failed after {attempts} attempt(s): {last}"
            ))),
        }
    }

    /// `GET <path>` with `token` (if any).
    pub async fn get(
        &self,
        ctx: &Context,
        endpoint: &'static str,
        path: &str,
        token: Option<&str>,
    ) -> Result<Answer, ApiError> {
        let mut exchange = Exchange::get(format!("{}{path}", self.app.api_base));
        if let Some(token) = token {
            exchange = exchange.header("authorization", format!("Bearer {token}"));
        }
        self.call(ctx, endpoint, exchange).await
    }

    /// `PUT <path>` with a JSON body and `token`.
    pub async fn put(
        &self,
        ctx: &Context,
        endpoint: &'static str,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Result<Answer, ApiError> {
        let mut exchange = Exchange::post_json(format!("{}{path}", self.app.api_base), body)
            .header("authorization", format!("Bearer {token}"));
        exchange.method = Method::Put;
        self.call(ctx, endpoint, exchange).await
    }

    /// `POST /oauth/token` with a form body (never retried: a refresh
    /// token is single-use, and a code too).
    pub async fn token(&self, ctx: &Context, form: &[(&str, &str)]) -> Result<Answer, ApiError> {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form {
            body.append_pair(k, v);
        }
        let exchange = Exchange {
            method: Method::Post,
            url: format!("{}/oauth/token", self.app.api_base),
            headers: vec![
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("accept".into(), "application/json".into()),
            ],
            body: body.finish().into_bytes(),
            idempotency_key: None,
        };
        self.call(ctx, "/oauth/token", exchange).await
    }
}

/// Seconds left of the back-off window, if one is open.
pub fn backoff_remaining_secs(redis: &Redis) -> Option<u64> {
    let reply = redis
        .execute("PTTL", vec![RedisParameter::Binary(BACKOFF_KEY.into())])
        .ok()?;
    let ms = platform::redis_store::reply_int(reply.first()?)?;
    (ms > 0).then(|| u64::try_from(ms).unwrap_or(0).div_ceil(1000))
}

fn start_backoff(redis: &Redis, secs: u64) {
    let _ = redis.set_ex(BACKOFF_KEY, b"1", secs);
}

/// MercadoLibre's error message, if its body has one.
pub fn message(body: &Value) -> String {
    body.get("message")
        .and_then(Value::as_str)
        .or_else(|| body.get("error").and_then(Value::as_str))
        .unwrap_or("no message")
        .chars()
        .take(300)
        .collect()
}

/// A MercadoLibre 4xx as our problem.
pub fn client_error(answer: &Answer) -> ApiError {
    let detail = format!("MercadoLibre: {}", message(&answer.body));
    match answer.status {
        401 => ApiError::Conflict(format!(
            "{detail}; the MercadoLibre link needs authorising again (POST /api/auth/oauth/start)"
        )),
        403 => ApiError::Forbidden(detail),
        404 => ApiError::NotFound(detail),
        _ => ApiError::BadRequest {
            detail,
            field: None,
        },
    }
}
