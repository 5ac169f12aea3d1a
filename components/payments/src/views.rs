//! What clients see of payments: the types the handlers answer with,
//! which also give the OpenAPI document its schemas.

use platform::clock::rfc3339_from_ms;
use platform::domain::Money;
use platform::problem::Problem;
use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::Status;
use crate::store::Payment;

/// A payment as clients see it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PaymentView {
    pub id: String,
    /// The order it pays; `null` for an admin's direct charge.
    pub order_id: Option<String>,
    pub user_id: String,
    pub amount_cents: i64,
    pub amount: Money,
    pub currency: String,
    pub status: Status,
    /// Why it failed (`declined`, `provider_error`, `provider_unavailable`, ...).
    pub reason: Option<String>,
    /// The provider's charge id.
    pub provider_ref: Option<String>,
    /// The merchant reference sent to the provider (the order id).
    pub reference: String,
    pub refund_ref: Option<String>,
    pub refund_reason: Option<String>,
    /// Calls made to the provider.
    pub attempts: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Payment> for PaymentView {
    fn from(p: &Payment) -> Self {
        Self {
            id: p.id.clone(),
            order_id: p.order_id.clone(),
            user_id: p.user_id.clone(),
            amount_cents: p.amount_cents,
            amount: Money::from_cents(p.amount_cents),
            currency: p.currency.clone(),
            status: p.status,
            reason: p.reason.clone(),
            provider_ref: p.provider_ref.clone(),
            reference: p.reference.clone(),
            refund_ref: p.refund_ref.clone(),
            refund_reason: p.refund_reason.clone(),
            attempts: p.attempts,
            created_at: rfc3339_from_ms(p.created_at_ms),
            updated_at: rfc3339_from_ms(p.updated_at_ms),
        }
    }
}

/// A direct charge that failed: the problem, and the failed payment
/// recorded for it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChargeProblem {
    #[serde(flatten)]
    pub problem: Problem,
    pub reason: Option<String>,
    pub payment_id: String,
}

/// The payment provider's health as the circuit breaker sees it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProviderHealth {
    /// `ok` while the breaker is closed, else `degraded`.
    pub status: &'static str,
    pub breaker: BreakerView,
    /// The provider's address (admins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// The breaker's state and settings.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BreakerView {
    /// `closed`, `open`, `half_open`, or `unknown` when its store is unreachable.
    pub state: &'static str,
    /// Failures within the window.
    pub failures: Option<u32>,
    pub threshold: u32,
    pub window_secs: u32,
    pub open_secs: u32,
    pub half_open_probes: u32,
    /// RFC 3339, while open.
    pub opened_at: Option<String>,
    /// When a probe will be let through (RFC 3339), while open.
    pub probe_at: Option<String>,
    /// Why the state is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
}
