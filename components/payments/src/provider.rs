//! The payment provider's API as payments uses it: charges and refunds,
//! each an idempotent POST (the provider dedupes on `Idempotency-Key`)
//! sent through the platform's outbound client, guarded by the `psp`
//! circuit breaker and retried with backoff.

use std::time::Duration;

use platform::breaker::Breaker;
use platform::outbound::{Answer, CallError, Client, Exchange};
use platform::{ApiError, Context};
use serde_json::json;

use crate::domain::{self, ChargeAnswer, ChargeSpec, FailureReason, RefundAnswer};

/// The breaker every instance shares for the provider.
pub const BREAKER: &str = "psp";
const DEFAULT_URL: &str = "http://sandbox-psp.spin.internal/sandbox/psp";
const DEFAULT_TIMEOUT_MS: u64 = 3_000;

/// The provider, configured from variables.
#[derive(Debug)]
pub struct Provider {
    base_url: String,
    api_key: String,
    client: Client,
}

/// How a charge ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Succeeded {
        charge_id: String,
        attempts: u32,
    },
    Failed {
        reason: FailureReason,
        attempts: u32,
    },
}

impl Provider {
    pub fn from_variables() -> Self {
        let var = |name: &str| spin_sdk::variables::get(name).ok();
        let timeout_ms = var("psp_timeout_ms")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_TIMEOUT_MS)
            .clamp(100, 60_000);
        Self {
            base_url: base_url(var("psp_url")),
            api_key: var("psp_api_key").unwrap_or_default(),
            client: Client::new()
                .timeout(Duration::from_millis(timeout_ms))
                .breaker(BREAKER),
        }
    }

    pub fn url(&self) -> &str {
        &self.base_url
    }

    /// The provider's circuit breaker, on the request's Redis.
    pub fn breaker<'r>(&self, ctx: &'r Context) -> Breaker<'r> {
        Breaker::open(BREAKER, ctx)
    }

    /// Charges `spec` under the provider idempotency key `key`.
    pub async fn charge(&self, ctx: &Context, key: &str, spec: &ChargeSpec) -> ChargeOutcome {
        let body = json!({
            "amount_cents": spec.amount_cents,
            "currency": spec.currency,
            "reference": spec.reference,
        });
        let result = self
            .post(ctx, "/charges", key, &body, domain::charge_answer)
            .await;
        match result {
            Ok(Answer {
                value: ChargeAnswer::Captured { charge_id },
                attempts,
            }) => ChargeOutcome::Succeeded {
                charge_id,
                attempts,
            },
            Ok(Answer {
                value: ChargeAnswer::Declined,
                attempts,
            }) => ChargeOutcome::Failed {
                reason: FailureReason::Declined,
                attempts,
            },
            Ok(Answer {
                value: ChargeAnswer::Rejected { status },
                attempts,
            }) => {
                log(
                    "psp_charge_rejected",
                    &format!("{key}: the provider answered {status}"),
                );
                ChargeOutcome::Failed {
                    reason: FailureReason::ProviderError,
                    attempts,
                }
            }
            Err(CallError::Unavailable { .. }) => ChargeOutcome::Failed {
                reason: FailureReason::ProviderUnavailable,
                attempts: 0,
            },
            Err(CallError::Failed { attempts, last }) => {
                log("psp_charge_failed", &format!("{key}: {last}"));
                ChargeOutcome::Failed {
                    reason: FailureReason::ProviderError,
                    attempts,
                }
            }
        }
    }

    /// Refunds the whole of charge `charge_id` under key `key`; returns
    /// the provider's refund id. 503 while the provider cannot be reached
    /// (a retry later is safe), 409 when it refuses.
    pub async fn refund(
        &self,
        ctx: &Context,
        key: &str,
        charge_id: &str,
    ) -> Result<String, ApiError> {
        let path = format!("/charges/{charge_id}/refunds");
        match self
            .post(ctx, &path, key, &json!({}), domain::refund_answer)
            .await
        {
            Ok(Answer {
                value: RefundAnswer::Refunded { refund_id },
                ..
            }) => Ok(refund_id),
            Ok(Answer {
                value: RefundAnswer::Rejected { status },
                ..
            }) => Err(ApiError::Conflict(format!(
                "the payment provider refused the refund ({status})"
            ))),
            Err(CallError::Unavailable { retry_after_ms }) => Err(ApiError::Unavailable(format!(
                "the payment provider is unavailable (circuit open for about {} s more); retry later",
                retry_after_ms.div_ceil(1000)
            ))),
            Err(CallError::Failed { last, .. }) => {
                log("psp_refund_failed", &format!("{key}: {last}"));
                Err(ApiError::Unavailable(
                    "the payment provider failed to answer; retry later".into(),
                ))
            }
        }
    }

    /// POSTs `body` to `path` with the idempotency key `key`; `read`
    /// turns an answer into a result (`Err`: a failure worth retrying).
    async fn post<T>(
        &self,
        ctx: &Context,
        path: &str,
        key: &str,
        body: &serde_json::Value,
        read: impl Fn(u16, &[u8]) -> Result<T, String>,
    ) -> Result<Answer<T>, CallError> {
        let mut exchange =
            Exchange::post_json(format!("{}{path}", self.base_url), body).idempotency_key(key);
        if !self.api_key.is_empty() {
            exchange = exchange.header("authorization", format!("Bearer {}", self.api_key));
        }
        self.client.send(ctx, exchange, read).await
    }
}

/// The base URL without a trailing slash; the sandbox when unset.
fn base_url(configured: Option<String>) -> String {
    let url = configured
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .unwrap_or_default();
    if url.is_empty() {
        DEFAULT_URL.to_string()
    } else {
        url
    }
}

fn log(event: &str, detail: &str) {
    platform::redis_store::log_warning(event, detail);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_url_loses_its_trailing_slash_and_defaults_to_the_sandbox() {
        assert_eq!(
            base_url(Some("https://psp.example/v1/".into())),
            "https://psp.example/v1"
        );
        assert_eq!(base_url(Some("  ".into())), DEFAULT_URL);
        assert_eq!(base_url(None), DEFAULT_URL);
    }
}
