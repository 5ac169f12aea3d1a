//! SQL of customers' holds: what one customer holds, renewing a hold,
//! changing its lines, and turning a customer's holds into an order's
//! reservation. Each runs inside the caller's transaction.

use platform::db::{int, text, Db};
use platform::events::{Line, LineFailure};
use platform::ApiError;
use spin_sdk::sqlite3::Value;

use super::{
    get, insert_lines, insert_reservation, settle_units, take_units, Close, ReservationRecord,
};
use crate::domain::{self, Holdings};

/// What `owner_id` holds outside orders right now: active holds not yet
/// past their expiry (the tick releases those), and their units.
pub fn holdings(db: &Db, owner_id: &str, now_ms: i64) -> Result<Holdings, ApiError> {
    let r = db.execute(
        "SELECT COUNT(DISTINCT r.id), COALESCE(SUM(l.quantity), 0)
         FROM reservations r JOIN reservation_lines l ON l.reservation_id = r.id
         WHERE r.owner_id = ? AND r.status = 'active' AND r.order_id IS NULL AND r.expires_at_ms > ?",
        &[text(owner_id), int(now_ms)],
    )?;
    match r.rows.first().map(|row| row.values.as_slice()) {
        Some([Value::Integer(open), Value::Integer(units)]) => Ok(Holdings {
            open: u32::try_from(*open).unwrap_or(u32::MAX),
            units: u64::try_from(*units).unwrap_or(0),
        }),
        _ => Err(ApiError::internal("malformed holdings row")),
    }
}

/// Renews an open hold to expire at `expires_at_ms`; false if it is not
/// an open hold (released, sold, transferred, or an order's).
pub fn extend(db: &Db, hold_id: &str, expires_at_ms: i64) -> Result<bool, ApiError> {
    db.execute(
        "UPDATE reservations SET expires_at_ms = ?
         WHERE id = ? AND status = 'active' AND order_id IS NULL",
        &[int(expires_at_ms), text(hold_id)],
    )?;
    Ok(db.changes() == 1)
}

/// Gives an open hold `lines` instead of its own, expiring at
/// `expires_at_ms`. Its own units count as available to it, so a hold
/// can grow by what is left plus what it has. When a line cannot be had,
/// nothing changes and each failing line says how many it could hold.
pub fn resize(
    db: &Db,
    hold: &ReservationRecord,
    lines: &[Line],
    expires_at_ms: i64,
) -> Result<Result<(), Vec<LineFailure>>, ApiError> {
    let own = |product_id: &str| -> u32 {
        hold.lines
            .iter()
            .filter(|l| l.product_id == product_id)
            .map(|l| l.quantity)
            .sum()
    };
    let mut available = Vec::with_capacity(lines.len());
    for line in lines {
        available.push(get(db, &line.product_id)?.map(|s| {
            u32::try_from(s.available)
                .unwrap_or(u32::MAX)
                .saturating_add(own(&line.product_id))
        }));
    }
    if let Err(failures) = domain::plan(lines, &available) {
        return Ok(Err(failures));
    }
    for line in &hold.lines {
        settle_units(db, line, Close::Release)?;
    }
    for line in lines {
        take_units(db, line)?;
    }
    db.execute(
        "DELETE FROM reservation_lines WHERE reservation_id = ?",
        &[text(&hold.id)],
    )?;
    insert_lines(db, &hold.id, lines)?;
    if !extend(db, &hold.id, expires_at_ms)? {
        return Err(ApiError::Conflict(format!(
            "reservation {} is no longer an open hold",
            hold.id
        )));
    }
    Ok(Ok(()))
}

/// Closes `holds` as transferred to order `order_id` and writes the
/// order's reservation `reservation_id` of `lines` in their place,
/// taking no stock: the holds' units are the reservation's now. False
/// when some hold is no longer an open hold; the caller's savepoint then
/// undoes what was written.
pub fn transfer(
    db: &Db,
    holds: &[ReservationRecord],
    reservation_id: &str,
    order_id: &str,
    lines: &[Line],
    expires_at_ms: i64,
) -> Result<bool, ApiError> {
    let reason = format!("order {order_id}");
    for hold in holds {
        db.execute(
            "UPDATE reservations SET status = 'transferred', reason = ?
             WHERE id = ? AND status = 'active' AND order_id IS NULL",
            &[text(&reason), text(&hold.id)],
        )?;
        if db.changes() != 1 {
            return Ok(false);
        }
    }
    insert_reservation(
        db,
        reservation_id,
        Some(order_id),
        None,
        lines,
        expires_at_ms,
    )?;
    Ok(true)
}
