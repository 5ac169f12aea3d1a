//! Customers' holds on stock: how long they last and how much one
//! customer may hold ([`HoldPolicy`]), how they are renewed, and when a
//! customer's holds may become the reservation of their order
//! ([`transferable`]) instead of the order reserving its stock anew.

use std::collections::{BTreeMap, BTreeSet};

use platform::domain::Id;
use platform::events::Line;
use platform::validate;
use platform::ApiError;
use serde::Deserialize;

use super::{Status, MAX_LINES, MAX_TTL, MIN_TTL};

/// How much stock one customer may hold outside an order, so that nobody
/// can sit on a product's whole stock: a short lifetime, and caps on the
/// units and on the reservations open at once. Admins are not bound by
/// the caps (they hold stock for the shop, not for themselves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldPolicy {
    /// Longest lifetime of a hold, seconds (`hold_max_ttl_secs`).
    pub max_ttl_secs: u32,
    /// Units one customer may hold at once (`hold_max_units_per_user`).
    pub max_units: u32,
    /// Holds one customer may have open at once (`hold_max_open_per_user`).
    pub max_open: u32,
}

impl Default for HoldPolicy {
    /// 15 minutes, 100 units, 50 holds. A cart holds each of its lines as
    /// one hold and renews them while it is in use, and a cart has at most
    /// 50 lines (the most one order takes), so 50 open holds let any cart
    /// hold all its lines; 100 units is a large household basket, still a
    /// small share of a product's stock, and an idle cart's holds lapse
    /// within 15 minutes.
    fn default() -> Self {
        Self {
            max_ttl_secs: 900,
            max_units: 100,
            max_open: 50,
        }
    }
}

impl HoldPolicy {
    /// The policy from variables read by `read`, each falling back to its
    /// default when unset or not a number in range.
    pub fn from(read: impl Fn(&str) -> Option<String>) -> Self {
        let d = Self::default();
        let num = |name: &str, default: u32, min: u32, max: u32| {
            read(name)
                .and_then(|v| v.trim().parse::<u32>().ok())
                .filter(|v| (min..=max).contains(v))
                .unwrap_or(default)
        };
        Self {
            max_ttl_secs: num("hold_max_ttl_secs", d.max_ttl_secs, MIN_TTL, MAX_TTL),
            max_units: num(
                "hold_max_units_per_user",
                d.max_units,
                1,
                platform::domain::MAX_QUANTITY,
            ),
            max_open: num("hold_max_open_per_user", d.max_open, 1, 1_000),
        }
    }

    /// Whether a customer who already holds `held` may add a hold of
    /// `lines`: a 409 naming the limit it would pass, if not.
    pub fn admit(&self, held: Holdings, lines: &[Line]) -> Result<(), ApiError> {
        if held.open >= self.max_open {
            return Err(ApiError::LimitReached {
                limit: "hold_max_open_per_user",
                max: u64::from(self.max_open),
                detail: format!(
                    "you already hold {} reservations, the most one customer may have open; \
                     release one or let it expire",
                    held.open
                ),
            });
        }
        let asked: u64 = lines.iter().map(|l| u64::from(l.quantity)).sum();
        if held.units + asked > u64::from(self.max_units) {
            return Err(ApiError::LimitReached {
                limit: "hold_max_units_per_user",
                max: u64::from(self.max_units),
                detail: format!(
                    "holding {asked} more units would make {}; one customer may hold at most {}",
                    held.units + asked,
                    self.max_units
                ),
            });
        }
        Ok(())
    }
}

/// What one customer holds right now: open holds and their units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holdings {
    pub open: u32,
    pub units: u64,
}

/// The body of `POST /api/inventory/reservations/:id/extend` (optional):
/// how long from now the hold should last, at most the policy's longest
/// lifetime (which is also the default).
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    #[serde(default)]
    pub ttl_seconds: Option<u32>,
}

impl Extension {
    /// The hold's new lifetime from now, in seconds.
    pub fn ttl(&self, policy: &HoldPolicy) -> Result<u32, ApiError> {
        validate::range(
            "ttl_seconds",
            self.ttl_seconds.unwrap_or(policy.max_ttl_secs),
            MIN_TTL,
            policy.max_ttl_secs,
        )
    }
}

/// A hold as the transfer rule sees it.
#[derive(Debug, Clone, Copy)]
pub struct Hold<'a> {
    pub owner_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
    pub status: Status,
    pub expires_at_ms: i64,
    pub lines: &'a [Line],
}

/// Why holds named by an order cannot become its reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untransferable {
    /// The ids are malformed, repeated, too many, or none.
    BadIds,
    /// The command names no customer to own them.
    NoCustomer,
    /// Some id names no reservation.
    Missing,
    /// Some hold is another customer's (or nobody's).
    NotOwned,
    /// Some reservation already belongs to an order.
    TiedToOrder,
    /// Some hold is no longer holding stock (released, sold, transferred,
    /// or past its expiry).
    NotActive,
    /// Together they hold other products or quantities than the order's.
    LinesDiffer,
}

/// The hold ids an order names: each an id, none twice, at most one per
/// order line. A repeated id would count one hold's units twice.
pub fn hold_ids(ids: &[String]) -> Result<Vec<Id>, Untransferable> {
    if ids.is_empty() || ids.len() > MAX_LINES {
        return Err(Untransferable::BadIds);
    }
    let parsed: BTreeSet<Id> = ids
        .iter()
        .map(|id| Id::parse("hold_ids", id).map_err(|_| Untransferable::BadIds))
        .collect::<Result<_, _>>()?;
    if parsed.len() != ids.len() {
        return Err(Untransferable::BadIds);
    }
    Ok(parsed.into_iter().collect())
}

/// Whether `holds` may become the reservation of an order of `lines`
/// (validated and merged) placed by `customer`: every hold the
/// customer's own, tied to no order, still holding stock at `now_ms`,
/// and together holding exactly the order's products and quantities,
/// so the order is sold no more units than it has and no one else's.
pub fn transferable(
    customer: Option<&str>,
    holds: &[Hold<'_>],
    lines: &[Line],
    now_ms: i64,
) -> Result<(), Untransferable> {
    let customer = customer.ok_or(Untransferable::NoCustomer)?;
    let mut held: BTreeMap<&str, u64> = BTreeMap::new();
    for hold in holds {
        if hold.owner_id != Some(customer) {
            return Err(Untransferable::NotOwned);
        }
        if hold.order_id.is_some() {
            return Err(Untransferable::TiedToOrder);
        }
        if hold.status != Status::Active || hold.expires_at_ms <= now_ms {
            return Err(Untransferable::NotActive);
        }
        for line in hold.lines {
            *held.entry(line.product_id.as_str()).or_default() += u64::from(line.quantity);
        }
    }
    let wanted: BTreeMap<&str, u64> = lines
        .iter()
        .map(|l| (l.product_id.as_str(), u64::from(l.quantity)))
        .collect();
    if held == wanted {
        Ok(())
    } else {
        Err(Untransferable::LinesDiffer)
    }
}

#[cfg(test)]
mod tests;
