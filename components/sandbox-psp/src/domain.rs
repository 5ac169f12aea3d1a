//! The sandbox provider's rules, free of storage: what a charge or refund
//! may ask for, the failure-injection settings and how one call's fate is
//! drawn from them.

use platform::domain::{Currency, Money, Reference};
use platform::validate;
use platform::ApiError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Largest charge, in minor units.
pub const MAX_AMOUNT_CENTS: i64 = 100_000_000;
/// Longest injected latency.
pub const MAX_LATENCY_MS: u32 = 10_000;

/// The body of `POST /sandbox/psp/charges`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargeRequest {
    pub amount_cents: i64,
    pub currency: String,
    pub reference: String,
}

/// A charge request that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub amount: Money,
    pub currency: Currency,
    pub reference: Reference,
}

impl ChargeRequest {
    pub fn validate(self) -> Result<Charge, ApiError> {
        Ok(Charge {
            amount: Money::parse_cents("amount_cents", self.amount_cents, 1, MAX_AMOUNT_CENTS)?,
            currency: Currency::parse("currency", &self.currency)?,
            reference: Reference::parse("reference", &self.reference)?,
        })
    }
}

/// The optional body of `POST /sandbox/psp/charges/:id/refunds`: without
/// an amount, whatever is left of the charge is refunded.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    #[serde(default)]
    pub amount_cents: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

impl RefundRequest {
    /// The amount to refund of a charge with `remaining` cents left:
    /// 409 when nothing is left, 422 for more than is left.
    pub fn amount(&self, remaining: i64) -> Result<i64, ApiError> {
        if let Some(reason) = &self.reason {
            validate::length("reason", reason, 0, 200)?;
        }
        if remaining <= 0 {
            return Err(ApiError::Conflict(
                "the charge is already fully refunded".into(),
            ));
        }
        match self.amount_cents {
            None => Ok(remaining),
            Some(a) => validate::range("amount_cents", a, 1, remaining),
        }
    }
}

/// Failure injection: read on every call, changed by an admin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
pub struct Control {
    /// Share of calls answered 503.
    pub failure_rate: f64,
    /// Share of charges answered 402 declined.
    pub decline_rate: f64,
    /// Delay before every charge and refund answer.
    pub latency_ms: u32,
    /// Every charge and refund answered 503.
    pub outage: bool,
}

impl Default for Control {
    fn default() -> Self {
        Self {
            failure_rate: 0.0,
            decline_rate: 0.0,
            latency_ms: 0,
            outage: false,
        }
    }
}

/// The body of `PUT /sandbox/psp/control`: any subset of the settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlPatch {
    #[serde(default)]
    pub failure_rate: Option<f64>,
    #[serde(default)]
    pub decline_rate: Option<f64>,
    #[serde(default)]
    pub latency_ms: Option<u32>,
    #[serde(default)]
    pub outage: Option<bool>,
}

impl ControlPatch {
    /// The settings after this change; 422 naming a value out of range.
    pub fn apply(&self, current: Control) -> Result<Control, ApiError> {
        let rate = |field: &str, v: Option<f64>, old: f64| match v {
            None => Ok(old),
            Some(r) if r.is_finite() && (0.0..=1.0).contains(&r) => Ok(r),
            Some(_) => Err(ApiError::invalid(field, "must be a number from 0 to 1")),
        };
        Ok(Control {
            failure_rate: rate("failure_rate", self.failure_rate, current.failure_rate)?,
            decline_rate: rate("decline_rate", self.decline_rate, current.decline_rate)?,
            latency_ms: match self.latency_ms {
                None => current.latency_ms,
                Some(l) => validate::range("latency_ms", l, 0, MAX_LATENCY_MS)?,
            },
            outage: self.outage.unwrap_or(current.outage),
        })
    }
}

/// What happens to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Served normally.
    Serve,
    /// 503: an outage or an injected failure.
    Unavailable,
    /// 402: the charge is declined.
    Declined,
}

/// Which operation a call is: only charges can be declined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Charge,
    Refund,
}

/// Draws a call's fate from the settings and two uniform numbers in
/// `[0, 1)`. Decided before anything is written: a failed call charges
/// nothing.
pub fn fate(control: &Control, op: Operation, fail_draw: f64, decline_draw: f64) -> Fate {
    if control.outage || fail_draw < control.failure_rate {
        Fate::Unavailable
    } else if op == Operation::Charge && decline_draw < control.decline_rate {
        Fate::Declined
    } else {
        Fate::Serve
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(amount: i64, currency: &str, reference: &str) -> Result<Charge, ApiError> {
        ChargeRequest {
            amount_cents: amount,
            currency: currency.into(),
            reference: reference.into(),
        }
        .validate()
    }

    #[test]
    fn charges_are_bounded_and_name_the_bad_field() {
        let c = charge(2500, " usd", "order-1").expect("valid");
        assert_eq!((c.amount.cents(), c.currency.as_str()), (2500, "USD"));
        assert!(charge(MAX_AMOUNT_CENTS, "EUR", "r").is_ok());
        for (amount, cur, reference, field) in [
            (0, "USD", "r", "amount_cents"),
            (-5, "USD", "r", "amount_cents"),
            (MAX_AMOUNT_CENTS + 1, "USD", "r", "amount_cents"),
            (1, "US", "r", "currency"),
            (1, "U5D", "r", "currency"),
            (1, "USD", "", "reference"),
            (1, "USD", "has space", "reference"),
            (1, "USD", &"r".repeat(129), "reference"),
        ] {
            let err = charge(amount, cur, reference).expect_err(field);
            assert_eq!(err.status(), 422);
            assert_eq!(err.problem("r")["field"], field);
        }
    }

    #[test]
    fn refunds_take_what_is_left_unless_told_less() {
        let full = RefundRequest::default();
        assert_eq!(full.amount(900).expect("full"), 900);
        let part = RefundRequest {
            amount_cents: Some(300),
            reason: None,
        };
        assert_eq!(part.amount(900).expect("part"), 300);
        assert_eq!(part.amount(200).expect_err("too much").status(), 422);
        assert_eq!(full.amount(0).expect_err("nothing left").status(), 409);
    }

    #[test]
    fn control_changes_only_what_is_sent_and_checks_ranges() {
        let start = Control::default();
        let patch = ControlPatch {
            outage: Some(true),
            ..ControlPatch::default()
        };
        let c = patch.apply(start).expect("outage");
        assert!(c.outage);
        assert_eq!(c.failure_rate, 0.0);
        let c = ControlPatch {
            failure_rate: Some(0.5),
            latency_ms: Some(MAX_LATENCY_MS),
            ..ControlPatch::default()
        }
        .apply(c)
        .expect("rates");
        assert_eq!(
            (c.failure_rate, c.latency_ms, c.outage),
            (0.5, 10_000, true)
        );
        for (patch, field) in [
            (
                ControlPatch {
                    failure_rate: Some(1.5),
                    ..ControlPatch::default()
                },
                "failure_rate",
            ),
            (
                ControlPatch {
                    decline_rate: Some(-0.1),
                    ..ControlPatch::default()
                },
                "decline_rate",
            ),
            (
                ControlPatch {
                    decline_rate: Some(f64::NAN),
                    ..ControlPatch::default()
                },
                "decline_rate",
            ),
            (
                ControlPatch {
                    latency_ms: Some(MAX_LATENCY_MS + 1),
                    ..ControlPatch::default()
                },
                "latency_ms",
            ),
        ] {
            let err = patch.apply(start).expect_err(field);
            assert_eq!(err.problem("r")["field"], field);
        }
    }

    #[test]
    fn fates_follow_the_settings() {
        let calm = Control::default();
        assert_eq!(fate(&calm, Operation::Charge, 0.0, 0.0), Fate::Serve);
        let outage = Control {
            outage: true,
            ..calm
        };
        assert_eq!(
            fate(&outage, Operation::Refund, 0.99, 0.99),
            Fate::Unavailable
        );
        let flaky = Control {
            failure_rate: 0.3,
            decline_rate: 0.5,
            ..calm
        };
        assert_eq!(
            fate(&flaky, Operation::Charge, 0.29, 0.9),
            Fate::Unavailable
        );
        assert_eq!(fate(&flaky, Operation::Charge, 0.3, 0.49), Fate::Declined);
        assert_eq!(
            fate(&flaky, Operation::Refund, 0.3, 0.0),
            Fate::Serve,
            "refunds are never declined"
        );
        assert_eq!(fate(&flaky, Operation::Charge, 0.3, 0.5), Fate::Serve);
        let always = Control {
            decline_rate: 1.0,
            ..calm
        };
        assert_eq!(
            fate(&always, Operation::Charge, 0.5, 0.999_999),
            Fate::Declined
        );
    }
}
