//! Payment rules, free of storage and transport: what a payment may be,
//! the reasons one fails, and how the provider's answers are read.

use platform::domain::{Currency, Id, Money, Reference};
use platform::events::PaymentRequested;
use platform::outbound::is_retryable;
use platform::validate;
use platform::ApiError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Largest charge, in minor units (the provider's limit).
pub const MAX_AMOUNT_CENTS: i64 = 100_000_000;

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "PaymentStatus")]
pub enum Status {
    Succeeded,
    Failed,
    Refunded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "succeeded" => Some(Status::Succeeded),
            "failed" => Some(Status::Failed),
            "refunded" => Some(Status::Refunded),
            _ => None,
        }
    }
}

/// Why a payment failed (the `reason` of `payment.failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// The provider declined the charge (402).
    Declined,
    /// The provider failed (5xx, timeout, connection error) on every
    /// attempt, or refused the request as malformed.
    ProviderError,
    /// The circuit breaker is open: the provider was not called.
    ProviderUnavailable,
    /// The request itself was unusable (amount or currency).
    InvalidRequest,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Declined => "declined",
            FailureReason::ProviderError => "provider_error",
            FailureReason::ProviderUnavailable => "provider_unavailable",
            FailureReason::InvalidRequest => "invalid_request",
        }
    }
}

/// An amount a charge may be: 1 cent to the provider's limit.
pub fn amount(field: &str, cents: i64) -> Result<i64, ApiError> {
    Money::parse_cents(field, cents, 1, MAX_AMOUNT_CENTS).map(Money::cents)
}

/// A charge ready to send: who pays how much, under which reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeSpec {
    pub user_id: String,
    pub amount_cents: i64,
    pub currency: String,
    pub reference: String,
}

/// A `payment.requested` command, checked. Its order and user ids must be
/// usable (422 otherwise: the bridge dead-letters it); a bad amount or
/// currency is the payment's failure, answered with `payment.failed`.
pub fn requested(p: &PaymentRequested) -> Result<(Id, Result<ChargeSpec, ApiError>), ApiError> {
    let order_id = Id::parse("payload.order_id", &p.order_id)?;
    let user_id = Id::parse("payload.user_id", &p.user_id)?;
    let spec = amount("payload.amount_cents", p.amount_cents).and_then(|amount_cents| {
        Ok(ChargeSpec {
            user_id: user_id.into_string(),
            amount_cents,
            currency: Currency::parse("payload.currency", &p.currency)?
                .as_str()
                .to_string(),
            reference: order_id.to_string(),
        })
    });
    Ok((order_id, spec))
}

/// The body of `POST /api/payments` (an admin's direct charge).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectCharge {
    pub user_id: String,
    pub amount_cents: i64,
    pub currency: String,
    pub reference: String,
}

impl DirectCharge {
    pub fn validate(self) -> Result<ChargeSpec, ApiError> {
        let reference = Reference::parse("reference", &self.reference)?;
        Ok(ChargeSpec {
            user_id: Id::parse("user_id", &self.user_id)?.into_string(),
            amount_cents: amount("amount_cents", self.amount_cents)?,
            currency: Currency::parse("currency", &self.currency)?
                .as_str()
                .to_string(),
            reference: reference.as_str().to_string(),
        })
    }
}

/// The optional body of `POST /api/payments/:id/refund`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    #[serde(default)]
    pub reason: Option<String>,
}

impl RefundBody {
    pub fn reason(&self) -> Result<String, ApiError> {
        match &self.reason {
            None => Ok("admin_refund".into()),
            Some(r) => validate::required_text("reason", r, 200),
        }
    }
}

/// What the provider said to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeAnswer {
    /// Captured: the provider's charge id.
    Captured { charge_id: String },
    /// 402.
    Declined,
    /// Another 4xx: the request was refused as it stands (our bug, or a
    /// key reused with another body); retrying cannot help.
    Rejected { status: u16 },
}

/// What the provider said to a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundAnswer {
    Refunded { refund_id: String },
    Rejected { status: u16 },
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// The `id` of a 2xx answer's JSON body.
fn created_id(body: &[u8]) -> Option<String> {
    let created: Created = serde_json::from_slice(body).ok()?;
    (!created.id.is_empty() && created.id.len() <= 128).then_some(created.id)
}

/// Reads a charge answer: `Err` (worth a retry) for a failure, including a
/// 2xx the provider garbled.
pub fn charge_answer(status: u16, body: &[u8]) -> Result<ChargeAnswer, String> {
    match status {
        200..=299 => created_id(body)
            .map(|charge_id| ChargeAnswer::Captured { charge_id })
            .ok_or_else(|| format!("the provider answered {status} without a charge id")),
        402 => Ok(ChargeAnswer::Declined),
        s if is_retryable(s) => Err(format!("the provider answered {s}")),
        s => Ok(ChargeAnswer::Rejected { status: s }),
    }
}

/// Reads a refund answer, like [`charge_answer`].
pub fn refund_answer(status: u16, body: &[u8]) -> Result<RefundAnswer, String> {
    match status {
        200..=299 => created_id(body)
            .map(|refund_id| RefundAnswer::Refunded { refund_id })
            .ok_or_else(|| format!("the provider answered {status} without a refund id")),
        s if is_retryable(s) => Err(format!("the provider answered {s}")),
        s => Ok(RefundAnswer::Rejected { status: s }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(order: &str, user: &str, amount: i64, currency: &str) -> PaymentRequested {
        PaymentRequested {
            order_id: order.into(),
            user_id: user.into(),
            amount_cents: amount,
            currency: currency.into(),
        }
    }

    #[test]
    fn a_request_needs_usable_ids_and_fails_on_a_bad_amount() {
        let (order, spec) = requested(&request("o-1", "u-1", 2500, "usd")).expect("ids");
        let spec = spec.expect("valid");
        assert_eq!(order.as_str(), "o-1");
        assert_eq!(
            (
                spec.amount_cents,
                spec.currency.as_str(),
                spec.reference.as_str()
            ),
            (2500, "USD", "o-1")
        );
        let err = requested(&request("o 1", "u-1", 1, "USD")).expect_err("order id");
        assert_eq!(err.problem("r")["field"], "payload.order_id");
        let err = requested(&request("o-1", "", 1, "USD")).expect_err("user id");
        assert_eq!(err.problem("r")["field"], "payload.user_id");
        for (amount, currency, field) in [
            (0, "USD", "payload.amount_cents"),
            (MAX_AMOUNT_CENTS + 1, "USD", "payload.amount_cents"),
            (100, "dollars", "payload.currency"),
        ] {
            let (_, spec) = requested(&request("o-1", "u-1", amount, currency)).expect("ids");
            assert_eq!(spec.expect_err(field).problem("r")["field"], field);
        }
    }

    #[test]
    fn direct_charges_name_the_bad_field() {
        let ok = DirectCharge {
            user_id: "u-1".into(),
            amount_cents: 995,
            currency: "eur".into(),
            reference: " inv-7 ".into(),
        }
        .validate()
        .expect("valid");
        assert_eq!(
            (ok.currency.as_str(), ok.reference.as_str()),
            ("EUR", "inv-7")
        );
        for (user, amount, currency, reference, field) in [
            ("u 1", 1, "EUR", "r", "user_id"),
            ("u", -1, "EUR", "r", "amount_cents"),
            ("u", 1, "EU", "r", "currency"),
            ("u", 1, "EUR", "", "reference"),
            ("u", 1, "EUR", "a b", "reference"),
        ] {
            let err = DirectCharge {
                user_id: user.into(),
                amount_cents: amount,
                currency: currency.into(),
                reference: reference.into(),
            }
            .validate()
            .expect_err(field);
            assert_eq!(err.status(), 422);
            assert_eq!(err.problem("r")["field"], field);
        }
    }

    #[test]
    fn charge_answers_decide_retry_and_outcome() {
        assert_eq!(
            charge_answer(201, br#"{"id":"ch_1","status":"captured"}"#),
            Ok(ChargeAnswer::Captured {
                charge_id: "ch_1".into()
            })
        );
        assert_eq!(charge_answer(402, b"{}"), Ok(ChargeAnswer::Declined));
        assert_eq!(
            charge_answer(422, b"{}"),
            Ok(ChargeAnswer::Rejected { status: 422 })
        );
        for status in [500, 502, 503, 504, 408, 429] {
            assert!(charge_answer(status, b"{}").is_err(), "{status} is retried");
        }
        assert!(
            charge_answer(201, b"not json").is_err(),
            "a garbled success is retried"
        );
        assert!(charge_answer(200, br#"{"id":""}"#).is_err());
    }

    #[test]
    fn refund_answers_are_never_declines() {
        assert_eq!(
            refund_answer(201, br#"{"id":"re_1","charge_id":"ch_1"}"#),
            Ok(RefundAnswer::Refunded {
                refund_id: "re_1".into()
            })
        );
        assert_eq!(
            refund_answer(402, b"{}"),
            Ok(RefundAnswer::Rejected { status: 402 })
        );
        assert!(refund_answer(503, b"{}").is_err());
    }

    #[test]
    fn statuses_and_reasons_have_their_wire_names() {
        for s in [Status::Succeeded, Status::Failed, Status::Refunded] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("pending"), None);
        assert_eq!(
            FailureReason::ProviderUnavailable.as_str(),
            "provider_unavailable"
        );
        assert_eq!(
            RefundBody::default().reason().expect("default"),
            "admin_refund"
        );
        let blank = RefundBody {
            reason: Some("  ".into()),
        };
        assert_eq!(blank.reason().expect_err("blank").status(), 422);
    }
}
