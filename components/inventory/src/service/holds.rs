//! Customers' holds: renewing one, changing what it holds, and turning a
//! customer's holds into the reservation of their order. A cart holds
//! each of its lines this way and checks out with the holds it has.

use platform::auth::Principal;
use platform::clock::now_ms;
use platform::db::Db;
use platform::events::LineFailure;
use platform::redis_store::log_warning;
use platform::{ApiError, Context, Id};

use super::{announce, Ask};
use crate::domain::holds::{self, Hold, HoldPolicy, Untransferable};
use crate::domain::{Holdings, Reservation, Status};
use crate::store::{self, ReservationRecord};

/// Holds an `inventory.reserve` command offers for its order.
#[derive(Debug, Clone, Copy)]
pub struct Offered<'a> {
    /// The customer the order is for (orders sets it from the caller).
    pub customer: Option<&'a str>,
    /// The hold ids, as the command carries them.
    pub hold_ids: &'a [String],
}

/// The 409 of a reservation that is not an open hold of the caller's.
fn not_open(r: &ReservationRecord, now: i64) -> Option<ApiError> {
    let why = if let Some(order_id) = &r.order_id {
        format!("holds stock for order {order_id}")
    } else if r.status != Status::Active {
        format!("is already {}", r.status.as_str())
    } else if r.expires_at_ms <= now {
        "has expired".to_string()
    } else {
        return None;
    };
    Some(ApiError::Conflict(format!("reservation {} {why}", r.id)))
}

/// Renews the caller's open hold `r` to last `ttl_seconds` from now (the
/// policy bounds it): 409 when it is no longer an open hold.
pub fn extend(
    db: &Db,
    r: &ReservationRecord,
    ttl_seconds: u32,
) -> Result<ReservationRecord, ApiError> {
    db.transaction(|db| {
        let r = store::reservation(db, &r.id)?
            .ok_or_else(|| ApiError::NotFound(format!("no reservation {}", r.id)))?;
        if let Some(conflict) = not_open(&r, now_ms()) {
            return Err(conflict);
        }
        let expires_at_ms = now_ms() + i64::from(ttl_seconds) * 1000;
        if !store::holds::extend(db, &r.id, expires_at_ms)? {
            return Err(ApiError::Conflict(format!(
                "reservation {} is no longer an open hold",
                r.id
            )));
        }
        Ok(ReservationRecord { expires_at_ms, ..r })
    })
}

/// Gives the caller's open hold `r` the lines of `asked` and renews it,
/// within the policy's caps (the hold's own units do not count against
/// them twice). `Err(failures)` inside: not enough stock, and nothing
/// changed.
pub fn resize(
    db: &Db,
    ctx: &Context,
    principal: &Principal,
    policy: &HoldPolicy,
    r: &ReservationRecord,
    asked: &Reservation,
) -> Result<Result<ReservationRecord, Vec<LineFailure>>, ApiError> {
    db.transaction(|db| {
        let r = store::reservation(db, &r.id)?
            .ok_or_else(|| ApiError::NotFound(format!("no reservation {}", r.id)))?;
        if let Some(conflict) = not_open(&r, now_ms()) {
            return Err(conflict);
        }
        if !principal.is_admin() {
            let held = store::holdings(db, &principal.user_id, now_ms())?;
            let own: u64 = r.lines.iter().map(|l| u64::from(l.quantity)).sum();
            let others = Holdings {
                open: held.open.saturating_sub(1),
                units: held.units.saturating_sub(own),
            };
            policy.admit(others, &asked.lines)?;
        }
        let expires_at_ms = now_ms() + i64::from(asked.ttl_seconds) * 1000;
        if let Err(failures) = store::holds::resize(db, &r, &asked.lines, expires_at_ms)? {
            return Ok(Err(failures));
        }
        for line in r.lines.iter().chain(&asked.lines) {
            announce(db, ctx, None, &line.product_id)?;
        }
        Ok(Ok(ReservationRecord {
            expires_at_ms,
            lines: asked.lines.clone(),
            ..r
        }))
    })
}

/// Makes the holds `offered` the reservation of the order `ask` is for,
/// if they may be (see [`holds::transferable`]): the customer's own,
/// open, tied to no order, and together holding exactly the order's
/// lines. In one transaction (the caller's) the holds close as
/// transferred and the order's reservation takes their place, taking no
/// stock a second time. `None` when they may not: nothing is changed,
/// and the caller reserves the lines as it would without holds.
pub fn transfer_to_order(
    db: &Db,
    order_id: &Id,
    ask: &Ask<'_>,
    offered: &Offered<'_>,
) -> Result<Option<(Id, i64)>, ApiError> {
    let refused = |why: Untransferable| {
        log_warning(
            "holds_not_transferred",
            &format!("order {order_id}: {why:?}; reserving its lines anew"),
        );
        Ok(None)
    };
    let ids = match holds::hold_ids(offered.hold_ids) {
        Ok(ids) => ids,
        Err(why) => return refused(why),
    };
    let mut records = Vec::with_capacity(ids.len());
    for id in &ids {
        match store::reservation(db, id.as_str())? {
            Some(r) => records.push(r),
            None => return refused(Untransferable::Missing),
        }
    }
    let as_holds: Vec<Hold<'_>> = records
        .iter()
        .map(|r| Hold {
            owner_id: r.owner_id.as_deref(),
            order_id: r.order_id.as_deref(),
            status: r.status,
            expires_at_ms: r.expires_at_ms,
            lines: &r.lines,
        })
        .collect();
    if let Err(why) = holds::transferable(offered.customer, &as_holds, ask.lines, now_ms()) {
        return refused(why);
    }
    let reservation_id = Id::generate();
    let expires_at_ms = now_ms() + i64::from(ask.ttl_seconds) * 1000;
    let written = db.transaction(|db| {
        let done = store::holds::transfer(
            db,
            &records,
            reservation_id.as_str(),
            order_id.as_str(),
            ask.lines,
            expires_at_ms,
        )?;
        // Undo the holds closed so far: the transaction is the caller's.
        if done {
            Ok(())
        } else {
            Err(ApiError::Conflict("a hold changed meanwhile".into()))
        }
    });
    match written {
        Ok(()) => Ok(Some((reservation_id, expires_at_ms))),
        Err(ApiError::Conflict(_)) => refused(Untransferable::NotActive),
        Err(e) => Err(e),
    }
}
