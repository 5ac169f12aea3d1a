//! Inventory's SQL. Every change to stock is a conditional update inside a
//! `BEGIN IMMEDIATE` transaction, so stock never goes negative and a unit
//! is never reserved twice, however many requests race. What only
//! customers' holds do (renew, resize, become an order's) is in [`holds`].

use platform::clock::now_ms;
use platform::db::{int, opt_int, opt_text, text, Db};
use platform::events::{Line, LineFailure};
use platform::ApiError;
use serde::Serialize;
use spin_sdk::sqlite3::{QueryResult, Value};

use crate::domain::{self, Status};

pub use schema::MIGRATIONS;

/// One product's stock.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Stock {
    pub product_id: String,
    pub available: i64,
    pub reserved: i64,
    pub sold: i64,
    pub version: i64,
}

/// A reservation and its lines.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ReservationRecord {
    pub id: String,
    /// The order it holds stock for; `null` for a customer's own hold.
    pub order_id: Option<String>,
    #[serde(skip)]
    pub owner_id: Option<String>,
    pub status: Status,
    /// When it lapses unless renewed (milliseconds since the epoch).
    pub expires_at_ms: i64,
    pub lines: Vec<Line>,
}

const STOCK_COLUMNS: &str = "product_id, available, reserved, sold, version";

fn stock_rows(r: &QueryResult) -> Vec<Stock> {
    r.rows
        .iter()
        .filter_map(|row| match row.values.as_slice() {
            [Value::Text(id), Value::Integer(a), Value::Integer(r), Value::Integer(s), Value::Integer(v), ..] => Some(Stock {
                product_id: id.clone(),
                available: *a,
                reserved: *r,
                sold: *s,
                version: *v,
            }),
            _ => None,
        })
        .collect()
}

pub fn get(db: &Db, product_id: &str) -> Result<Option<Stock>, ApiError> {
    let r = db.execute(
        &format!("SELECT {STOCK_COLUMNS} FROM stock WHERE product_id = ? AND deleted = 0"),
        &[text(product_id)],
    )?;
    Ok(stock_rows(&r).into_iter().next())
}

/// A page of stock records ordered by product id, optionally only those at
/// or under `low_threshold`.
pub fn list(
    db: &Db,
    after: Option<&str>,
    limit: u32,
    low_threshold: Option<i64>,
) -> Result<Vec<Stock>, ApiError> {
    let r = db.execute(
        &format!(
            "SELECT {STOCK_COLUMNS} FROM stock WHERE deleted = 0 AND product_id > ? AND (? IS NULL OR available <= ?)
             ORDER BY product_id LIMIT ?"
        ),
        &[
            text(after.unwrap_or("")),
            opt_int(low_threshold),
            opt_int(low_threshold),
            int(i64::from(limit)),
        ],
    )?;
    Ok(stock_rows(&r))
}

/// Creates the stock record of a new product; a repeat changes nothing.
/// Its availability starts as announced: the product's creation says
/// how many there are.
pub fn create(db: &Db, product_id: &str, initial: u32) -> Result<bool, ApiError> {
    db.execute(
        "INSERT INTO stock (product_id, available, in_stock, updated_at_ms) VALUES (?, ?, ?, ?)
         ON CONFLICT (product_id) DO NOTHING",
        &[
            text(product_id),
            int(initial),
            int(i64::from(initial > 0)),
            int(now_ms()),
        ],
    )?;
    Ok(db.changes() == 1)
}

/// Marks a product's stock deleted: it can no longer be reserved.
pub fn delete(db: &Db, product_id: &str) -> Result<(), ApiError> {
    db.execute(
        "UPDATE stock SET deleted = 1, version = version + 1, updated_at_ms = ? WHERE product_id = ?",
        &[int(now_ms()), text(product_id)],
    )?;
    Ok(())
}

/// Sets `available` if the record is still at `expected_version`.
pub fn set_available(
    db: &Db,
    product_id: &str,
    available: i64,
    expected_version: i64,
) -> Result<bool, ApiError> {
    db.execute(
        "UPDATE stock SET available = ?, version = version + 1, updated_at_ms = ?
         WHERE product_id = ? AND version = ? AND deleted = 0",
        &[
            int(available),
            int(now_ms()),
            text(product_id),
            int(expected_version),
        ],
    )?;
    Ok(db.changes() == 1)
}

/// Reserves every line or none. Returns the failures when any line cannot
/// be satisfied (nothing is changed then).
pub fn reserve(
    db: &Db,
    reservation_id: &str,
    order_id: Option<&str>,
    owner_id: Option<&str>,
    lines: &[Line],
    expires_at_ms: i64,
) -> Result<Result<(), Vec<LineFailure>>, ApiError> {
    let mut available = Vec::with_capacity(lines.len());
    for line in lines {
        available.push(
            get(db, &line.product_id)?.map(|s| u32::try_from(s.available).unwrap_or(u32::MAX)),
        );
    }
    if let Err(failures) = domain::plan(lines, &available) {
        return Ok(Err(failures));
    }
    for line in lines {
        take_units(db, line)?;
    }
    insert_reservation(db, reservation_id, order_id, owner_id, lines, expires_at_ms)?;
    Ok(Ok(()))
}

/// Moves a line's units from available to reserved. The guard repeats
/// the plan's check in SQL: a unit is taken only if it is still there.
fn take_units(db: &Db, line: &Line) -> Result<(), ApiError> {
    db.execute(
        "UPDATE stock SET available = available - ?, reserved = reserved + ?, version = version + 1, updated_at_ms = ?
         WHERE product_id = ? AND deleted = 0 AND available >= ?",
        &[int(line.quantity), int(line.quantity), int(now_ms()), text(&line.product_id), int(line.quantity)],
    )?;
    if db.changes() != 1 {
        return Err(ApiError::Conflict(format!(
            "stock of {} changed during the reservation",
            line.product_id
        )));
    }
    Ok(())
}

/// Moves a line's reserved units to sold, or back to available.
fn settle_units(db: &Db, line: &Line, how: Close) -> Result<(), ApiError> {
    let sql = match how {
        Close::Commit => "UPDATE stock SET reserved = reserved - ?, sold = sold + ?, version = version + 1, updated_at_ms = ? WHERE product_id = ? AND reserved >= ?",
        Close::Release => "UPDATE stock SET reserved = reserved - ?, available = available + ?, version = version + 1, updated_at_ms = ? WHERE product_id = ? AND reserved >= ?",
    };
    db.execute(
        sql,
        &[
            int(line.quantity),
            int(line.quantity),
            int(now_ms()),
            text(&line.product_id),
            int(line.quantity),
        ],
    )?;
    if db.changes() != 1 {
        return Err(ApiError::internal(format!(
            "reserved count of {} is inconsistent",
            line.product_id
        )));
    }
    Ok(())
}

/// Writes an active reservation and its lines (the stock they hold is
/// the caller's to have taken).
fn insert_reservation(
    db: &Db,
    reservation_id: &str,
    order_id: Option<&str>,
    owner_id: Option<&str>,
    lines: &[Line],
    expires_at_ms: i64,
) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO reservations (id, order_id, owner_id, status, expires_at_ms, created_at_ms) VALUES (?, ?, ?, 'active', ?, ?)",
        &[text(reservation_id), opt_text(order_id), opt_text(owner_id), int(expires_at_ms), int(now_ms())],
    )?;
    insert_lines(db, reservation_id, lines)
}

fn insert_lines(db: &Db, reservation_id: &str, lines: &[Line]) -> Result<(), ApiError> {
    for line in lines {
        db.execute(
            "INSERT INTO reservation_lines (reservation_id, product_id, quantity) VALUES (?, ?, ?)",
            &[
                text(reservation_id),
                text(&line.product_id),
                int(line.quantity),
            ],
        )?;
    }
    Ok(())
}

fn reservation_where(
    db: &Db,
    clause: &str,
    param: &str,
) -> Result<Option<ReservationRecord>, ApiError> {
    let r = db.execute(
        &format!(
            "SELECT id, order_id, owner_id, status, expires_at_ms FROM reservations WHERE {clause}"
        ),
        &[text(param)],
    )?;
    let Some(row) = r.rows.first() else {
        return Ok(None);
    };
    let (Some(Value::Text(id)), Some(Value::Text(status)), Some(Value::Integer(expires))) =
        (row.values.first(), row.values.get(3), row.values.get(4))
    else {
        return Err(ApiError::internal("malformed reservation row"));
    };
    let as_opt = |v: Option<&Value>| match v {
        Some(Value::Text(s)) => Some(s.clone()),
        _ => None,
    };
    let lines = db.execute(
        "SELECT product_id, quantity FROM reservation_lines WHERE reservation_id = ? ORDER BY product_id",
        &[text(id)],
    )?;
    let lines = lines
        .rows
        .iter()
        .filter_map(|l| match l.values.as_slice() {
            [Value::Text(p), Value::Integer(q)] => Some(Line {
                product_id: p.clone(),
                quantity: u32::try_from(*q).unwrap_or(0),
            }),
            _ => None,
        })
        .collect();
    let status = Status::parse(status)
        .ok_or_else(|| ApiError::internal(format!("reservation {id} has status {status:?}")))?;
    Ok(Some(ReservationRecord {
        id: id.clone(),
        order_id: as_opt(row.values.get(1)),
        owner_id: as_opt(row.values.get(2)),
        status,
        expires_at_ms: *expires,
        lines,
    }))
}

pub fn reservation(db: &Db, id: &str) -> Result<Option<ReservationRecord>, ApiError> {
    reservation_where(db, "id = ?", id)
}

pub fn reservation_for_order(
    db: &Db,
    order_id: &str,
) -> Result<Option<ReservationRecord>, ApiError> {
    reservation_where(db, "order_id = ?", order_id)
}

/// How an active reservation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// Sold: reserved units leave the warehouse.
    Commit,
    /// Released (cancelled or expired): reserved units are available again.
    Release,
}

/// Ends an active reservation; false if it was not active.
pub fn close(
    db: &Db,
    r: &ReservationRecord,
    how: Close,
    reason: Option<&str>,
) -> Result<bool, ApiError> {
    let status = match how {
        Close::Commit => Status::Committed,
        Close::Release => Status::Released,
    };
    db.execute(
        "UPDATE reservations SET status = ?, reason = ? WHERE id = ? AND status = 'active'",
        &[text(status.as_str()), opt_text(reason), text(&r.id)],
    )?;
    if db.changes() != 1 {
        return Ok(false);
    }
    for line in &r.lines {
        settle_units(db, line, how)?;
    }
    Ok(true)
}

/// Active reservations past their expiry.
pub fn expired(db: &Db, now_ms: i64, limit: u32) -> Result<Vec<String>, ApiError> {
    let r = db.execute(
        "SELECT id FROM reservations WHERE status = 'active' AND expires_at_ms <= ? ORDER BY expires_at_ms LIMIT ?",
        &[int(now_ms), int(i64::from(limit))],
    )?;
    Ok(r.rows
        .iter()
        .filter_map(|row| match row.values.first() {
            Some(Value::Text(id)) => Some(id.clone()),
            _ => None,
        })
        .collect())
}

pub mod announced;
pub mod holds;
mod schema;

pub use announced::{
    announced_in_stock, is_mirrored, low_stock_flag, set_announced_in_stock, set_low_stock_flag,
    set_mirrored,
};
pub use holds::holdings;

#[cfg(test)]
mod tests;
