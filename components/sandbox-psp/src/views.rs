//! What the sandbox provider answers: the types its handlers answer
//! with, which also give the OpenAPI document its schemas.

use platform::clock::rfc3339_from_ms;
use schemars::JsonSchema;
use serde::Serialize;

use crate::store::{CallRecord, ChargeRecord};

/// A charge as the provider shows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChargeView {
    pub id: String,
    /// `succeeded`, `partially_refunded` or `refunded`.
    pub status: String,
    pub amount_cents: i64,
    pub refunded_cents: i64,
    pub currency: String,
    /// The merchant's reference (an order id).
    pub reference: String,
    pub created_at: String,
}

impl From<&ChargeRecord> for ChargeView {
    fn from(c: &ChargeRecord) -> Self {
        Self {
            id: c.id.clone(),
            status: c.status.clone(),
            amount_cents: c.amount_cents,
            refunded_cents: c.refunded_cents,
            currency: c.currency.clone(),
            reference: c.reference.clone(),
            created_at: rfc3339_from_ms(c.created_at_ms),
        }
    }
}

/// A charge just captured.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChargeCreated {
    pub id: String,
    pub status: String,
    pub amount_cents: i64,
    pub currency: String,
    pub reference: String,
}

/// A refund just made.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RefundCreated {
    pub id: String,
    pub charge_id: String,
    /// Always `refunded`.
    pub status: &'static str,
    pub amount_cents: i64,
}

/// 402: the card was declined (an injected decline).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Declined {
    /// Always `declined`.
    pub status: &'static str,
    /// Always `card_declined`.
    pub reason: &'static str,
}

/// Charges, newest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChargeList {
    pub items: Vec<ChargeView>,
}

/// Calls the sandbox was sent, newest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CallList {
    pub items: Vec<CallView>,
}

/// One call the sandbox was sent, whatever became of it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CallView {
    /// `charge` or `refund`.
    pub operation: String,
    pub reference: String,
    pub idempotency_key: String,
    /// The status it was answered with.
    pub status: i64,
    pub at: String,
}

impl From<&CallRecord> for CallView {
    fn from(c: &CallRecord) -> Self {
        Self {
            operation: c.operation.clone(),
            reference: c.reference.clone(),
            idempotency_key: c.idempotency_key.clone(),
            status: c.status,
            at: rfc3339_from_ms(c.at_ms),
        }
    }
}
