//! Inventory rules, free of storage: what a reservation request may ask
//! for, whether a set of stock levels can satisfy it (all lines or none),
//! and when stock counts as low or out. Customers' holds have rules of
//! their own ([`holds`]).

pub mod holds;

use std::collections::BTreeMap;

use platform::domain::{Id, Quantity};
use platform::events::{Line, LineFailure};
use platform::validate;
use platform::ApiError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use holds::{HoldPolicy, Holdings};

/// Most lines in one reservation.
pub const MAX_LINES: usize = 50;
/// Reservation lifetime bounds, seconds. A saga's reservation lives as
/// long as orders asks, within these; a customer's hold is bounded by the
/// much shorter [`HoldPolicy::max_ttl_secs`].
pub const MIN_TTL: u32 = 10;
pub const MAX_TTL: u32 = 86_400;
/// Largest stock level an admin may set.
pub const MAX_STOCK: i64 = 10_000_000;
/// Low stock is announced at or under this many units unless the
/// `low_stock_threshold` variable says otherwise.
pub const DEFAULT_LOW_STOCK: i64 = 5;

/// Where a reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "ReservationStatus")]
pub enum Status {
    /// Holding stock until it expires.
    Active,
    /// Sold: its units left the warehouse.
    Committed,
    /// Given back (cancelled or expired).
    Released,
    /// A customer's hold that became an order's reservation: its units
    /// are that reservation's now, so closing it gave nothing back.
    Transferred,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Committed => "committed",
            Status::Released => "released",
            Status::Transferred => "transferred",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Status::Active),
            "committed" => Some(Status::Committed),
            "released" => Some(Status::Released),
            "transferred" => Some(Status::Transferred),
            _ => None,
        }
    }
}

/// The body of `POST /api/inventory/reservations`: a customer's hold on
/// stock. It names no order: only the saga's `inventory.reserve` command
/// ties a reservation to an order.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationRequest {
    pub lines: Vec<LineRequest>,
    #[serde(default)]
    pub ttl_seconds: Option<u32>,
}

/// A product and how many of it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    pub product_id: String,
    pub quantity: u32,
}

/// A validated reservation: lines merged per product, sorted by id so
/// concurrent reservations touch rows in the same order.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    pub lines: Vec<Line>,
    pub ttl_seconds: u32,
}

impl ReservationRequest {
    /// A hold within `policy`'s lifetime (its longest when none is asked).
    pub fn validate(self, policy: &HoldPolicy) -> Result<Reservation, ApiError> {
        let lines = validate_lines(
            "",
            self.lines
                .into_iter()
                .map(|l| (l.product_id, l.quantity))
                .collect(),
        )?;
        let ttl_seconds = validate::range(
            "ttl_seconds",
            self.ttl_seconds.unwrap_or(policy.max_ttl_secs),
            MIN_TTL,
            policy.max_ttl_secs,
        )?;
        Ok(Reservation { lines, ttl_seconds })
    }
}

/// Validates and merges `(product_id, quantity)` pairs; errors name the
/// field under `prefix` (`payload.` for a command).
pub fn validate_lines(prefix: &str, lines: Vec<(String, u32)>) -> Result<Vec<Line>, ApiError> {
    validate::count(&format!("{prefix}lines"), &lines, 1, MAX_LINES)?;
    let mut merged: BTreeMap<Id, Quantity> = BTreeMap::new();
    for (i, (id, quantity)) in lines.into_iter().enumerate() {
        let id = Id::parse(&format!("{prefix}lines[{i}].product_id"), &id)?;
        let field = format!("{prefix}lines[{i}].quantity");
        let quantity = Quantity::parse(&field, i64::from(quantity))?;
        let total = match merged.get(&id) {
            Some(sum) => sum.checked_add(quantity).ok_or_else(|| {
                ApiError::invalid(
                    field,
                    format!(
                        "at most {} units of one product",
                        platform::domain::MAX_QUANTITY
                    ),
                )
            })?,
            None => quantity,
        };
        merged.insert(id, total);
    }
    Ok(merged
        .into_iter()
        .map(|(product_id, quantity)| Line {
            product_id: product_id.into_string(),
            quantity: quantity.get(),
        })
        .collect())
}

/// Stock of one product as storage reports it (`None`: no such product).
pub type Available = Option<u32>;

/// Whether every line can be reserved; if not, why each failing line fails.
pub fn plan(lines: &[Line], available: &[Available]) -> Result<(), Vec<LineFailure>> {
    let failures: Vec<LineFailure> = lines
        .iter()
        .zip(available)
        .filter_map(|(line, avail)| match avail {
            None => Some(LineFailure {
                product_id: line.product_id.clone(),
                requested: line.quantity,
                available: 0,
                reason: "unknown_product".into(),
            }),
            Some(a) if *a < line.quantity => Some(LineFailure {
                product_id: line.product_id.clone(),
                requested: line.quantity,
                available: *a,
                reason: "insufficient_stock".into(),
            }),
            Some(_) => None,
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

/// Whether to announce low stock now: at or under the threshold and not
/// announced since it was last above it.
pub fn should_announce_low_stock(available: i64, threshold: i64, already_announced: bool) -> bool {
    available <= threshold && !already_announced
}

/// Whether a product's availability changed since it was last announced:
/// `Some(in_stock)` when it ran out (`false`) or came back (`true`),
/// `None` while it stays on the side it was, however its level moves.
pub fn availability_change(available: i64, announced_in_stock: bool) -> Option<bool> {
    let in_stock = available > 0;
    (in_stock != announced_in_stock).then_some(in_stock)
}

/// The body of `PUT /api/inventory/:product_id`: set `available`, or move
/// it by `delta`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StockUpdate {
    #[serde(default)]
    pub available: Option<i64>,
    #[serde(default)]
    pub delta: Option<i64>,
}

impl StockUpdate {
    /// The new available level given the current one.
    pub fn apply(&self, current: i64) -> Result<i64, ApiError> {
        let next = match (self.available, self.delta) {
            (Some(a), None) => a,
            (None, Some(d)) => {
                validate::range("delta", d, -MAX_STOCK, MAX_STOCK)?;
                current + d
            }
            _ => {
                return Err(ApiError::invalid(
                    "available",
                    "give exactly one of `available` and `delta`",
                ))
            }
        };
        if next < 0 {
            return Err(ApiError::invalid(
                if self.delta.is_some() {
                    "delta"
                } else {
                    "available"
                },
                format!("stock cannot go below zero (would be {next})"),
            ));
        }
        validate::range("available", next, 0, MAX_STOCK)
    }
}

pub use platform::conditional::etag;

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, q: u32) -> (String, u32) {
        (id.to_string(), q)
    }

    fn validate_lines(lines: Vec<(String, u32)>) -> Result<Vec<Line>, ApiError> {
        super::validate_lines("", lines)
    }

    #[test]
    fn lines_are_validated_merged_and_sorted() {
        let lines = validate_lines(vec![line("b", 2), line("A", 1), line("b", 3)]).expect("valid");
        assert_eq!(
            lines,
            vec![
                Line {
                    product_id: "a".into(),
                    quantity: 1
                },
                Line {
                    product_id: "b".into(),
                    quantity: 5
                }
            ]
        );
        assert_eq!(
            validate_lines(vec![]).expect_err("empty").problem("r")["field"],
            "lines"
        );
        let e = validate_lines(vec![line("a", 1), line("b", 0)]).expect_err("zero");
        assert_eq!(e.problem("r")["field"], "lines[1].quantity");
        assert!(validate_lines(vec![line("a b", 1)]).is_err());
        assert!(validate_lines(vec![line(&"x".repeat(65), 1)]).is_err());
        assert!(validate_lines(vec![line("a", 600), line("a", 600)]).is_err());
        assert!(validate_lines((0..51).map(|i| line(&format!("p{i}"), 1)).collect()).is_err());
        let e = super::validate_lines("payload.", vec![line("a", 0)]).expect_err("command");
        assert_eq!(e.problem("r")["field"], "payload.lines[0].quantity");
        for s in [
            Status::Active,
            Status::Committed,
            Status::Released,
            Status::Transferred,
        ] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn a_plan_is_all_or_nothing_with_a_reason_per_line() {
        let lines = validate_lines(vec![line("a", 2), line("b", 1), line("c", 1)]).expect("valid");
        assert!(plan(&lines, &[Some(2), Some(1), Some(9)]).is_ok());
        let failures = plan(&lines, &[Some(1), Some(1), None]).expect_err("fails");
        assert_eq!(failures.len(), 2);
        assert_eq!(
            (
                failures[0].product_id.as_str(),
                failures[0].reason.as_str(),
                failures[0].available
            ),
            ("a", "insufficient_stock", 1)
        );
        assert_eq!(
            (failures[1].product_id.as_str(), failures[1].reason.as_str()),
            ("c", "unknown_product")
        );
    }

    #[test]
    fn stock_updates_never_go_negative() {
        let set = |a| StockUpdate {
            available: Some(a),
            delta: None,
        };
        let by = |d| StockUpdate {
            available: None,
            delta: Some(d),
        };
        assert_eq!(set(7).apply(3).expect("set"), 7);
        assert_eq!(by(-3).apply(3).expect("to zero"), 0);
        assert_eq!(
            by(-4).apply(3).expect_err("negative").problem("r")["field"],
            "delta"
        );
        assert!(set(-1).apply(3).is_err());
        assert!(set(MAX_STOCK + 1).apply(0).is_err());
        assert!(StockUpdate {
            available: Some(1),
            delta: Some(1)
        }
        .apply(0)
        .is_err());
        assert!(StockUpdate {
            available: None,
            delta: None
        }
        .apply(0)
        .is_err());
    }

    #[test]
    fn low_stock_is_announced_once_per_dip() {
        assert!(should_announce_low_stock(5, 5, false));
        assert!(!should_announce_low_stock(5, 5, true));
        assert!(!should_announce_low_stock(6, 5, false));
    }

    #[test]
    fn availability_changes_only_on_running_out_and_coming_back() {
        assert_eq!(availability_change(0, true), Some(false));
        assert_eq!(availability_change(3, false), Some(true));
        assert_eq!(availability_change(3, true), None);
        assert_eq!(availability_change(1, true), None);
        assert_eq!(availability_change(0, false), None);
    }
}
