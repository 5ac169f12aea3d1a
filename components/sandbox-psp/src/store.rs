//! The sandbox provider's SQL: charges, refunds, the failure-injection
//! settings, idempotency keys and a log of every call it was sent.

use platform::db::{int, now_ms, text, Db, Migration};
use platform::{idempotency, ApiError};
use serde::Serialize;
use spin_sdk::sqlite3::{QueryResult, Value};

use crate::domain::{Charge, Control};

const SCHEMA: Migration = &[
    "CREATE TABLE control (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        failure_rate REAL NOT NULL,
        decline_rate REAL NOT NULL,
        latency_ms INTEGER NOT NULL,
        outage INTEGER NOT NULL)",
    "INSERT INTO control (id, failure_rate, decline_rate, latency_ms, outage) VALUES (1, 0, 0, 0, 0)",
    "CREATE TABLE charges (
        id TEXT PRIMARY KEY,
        amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
        currency TEXT NOT NULL,
        reference TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('captured', 'refunded')),
        refunded_cents INTEGER NOT NULL DEFAULT 0,
        created_at_ms INTEGER NOT NULL)",
    "CREATE INDEX charges_reference ON charges (reference)",
    "CREATE TABLE refunds (
        id TEXT PRIMARY KEY,
        charge_id TEXT NOT NULL REFERENCES charges (id),
        amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
        created_at_ms INTEGER NOT NULL)",
    "CREATE TABLE calls (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        operation TEXT NOT NULL,
        reference TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        status INTEGER NOT NULL,
        at_ms INTEGER NOT NULL)",
    "CREATE INDEX calls_reference ON calls (reference)",
    idempotency::SCHEMA,
    idempotency::SCHEMA_INDEX,
];

/// The schema, in order.
pub const MIGRATIONS: &[Migration] = &[SCHEMA];

/// A charge as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChargeRecord {
    pub id: String,
    pub status: String,
    pub amount_cents: i64,
    pub refunded_cents: i64,
    pub currency: String,
    pub reference: String,
    pub created_at_ms: i64,
}

/// One call the sandbox was sent, whatever became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    pub operation: String,
    pub reference: String,
    pub idempotency_key: String,
    pub status: i64,
    pub at_ms: i64,
}

pub fn control(db: &Db) -> Result<Control, ApiError> {
    let r = db.execute(
        "SELECT failure_rate, decline_rate, latency_ms, outage FROM control WHERE id = 1",
        &[],
    )?;
    let Some(row) = r.rows.first() else {
        return Ok(Control::default());
    };
    let real = |i: usize| match row.values.get(i) {
        Some(Value::Real(f)) => *f,
        Some(Value::Integer(n)) => *n as f64,
        _ => 0.0,
    };
    let integer = |i: usize| match row.values.get(i) {
        Some(Value::Integer(n)) => *n,
        _ => 0,
    };
    Ok(Control {
        failure_rate: real(0),
        decline_rate: real(1),
        latency_ms: u32::try_from(integer(2)).unwrap_or(0),
        outage: integer(3) != 0,
    })
}

pub fn set_control(db: &Db, c: &Control) -> Result<(), ApiError> {
    db.execute(
        "UPDATE control SET failure_rate = ?, decline_rate = ?, latency_ms = ?, outage = ? WHERE id = 1",
        &[
            Value::Real(c.failure_rate),
            Value::Real(c.decline_rate),
            int(c.latency_ms),
            int(i64::from(c.outage)),
        ],
    )?;
    Ok(())
}

const CHARGE_COLUMNS: &str =
    "id, status, amount_cents, refunded_cents, currency, reference, created_at_ms";

fn charge_rows(r: &QueryResult) -> Vec<ChargeRecord> {
    r.rows
        .iter()
        .filter_map(|row| match row.values.as_slice() {
            [Value::Text(id), Value::Text(status), Value::Integer(amount), Value::Integer(refunded), Value::Text(currency), Value::Text(reference), Value::Integer(at)] => {
                Some(ChargeRecord {
                    id: id.clone(),
                    status: status.clone(),
                    amount_cents: *amount,
                    refunded_cents: *refunded,
                    currency: currency.clone(),
                    reference: reference.clone(),
                    created_at_ms: *at,
                })
            }
            _ => None,
        })
        .collect()
}

pub fn insert_charge(db: &Db, id: &str, c: &Charge) -> Result<ChargeRecord, ApiError> {
    let at = now_ms();
    db.execute(
        "INSERT INTO charges (id, amount_cents, currency, reference, status, created_at_ms) VALUES (?, ?, ?, ?, 'captured', ?)",
        &[text(id), int(c.amount_cents), text(&c.currency), text(&c.reference), int(at)],
    )?;
    Ok(ChargeRecord {
        id: id.to_string(),
        status: "captured".into(),
        amount_cents: c.amount_cents,
        refunded_cents: 0,
        currency: c.currency.clone(),
        reference: c.reference.clone(),
        created_at_ms: at,
    })
}

pub fn charge(db: &Db, id: &str) -> Result<Option<ChargeRecord>, ApiError> {
    let r = db.execute(
        &format!("SELECT {CHARGE_COLUMNS} FROM charges WHERE id = ?"),
        &[text(id)],
    )?;
    Ok(charge_rows(&r).into_iter().next())
}

/// The newest charges, optionally of one reference.
pub fn charges(
    db: &Db,
    reference: Option<&str>,
    limit: u32,
) -> Result<Vec<ChargeRecord>, ApiError> {
    let r = db.execute(
        &format!(
            "SELECT {CHARGE_COLUMNS} FROM charges WHERE (? IS NULL OR reference = ?)
             ORDER BY created_at_ms DESC, id DESC LIMIT ?"
        ),
        &[
            reference.map_or(Value::Null, text),
            reference.map_or(Value::Null, text),
            int(i64::from(limit)),
        ],
    )?;
    Ok(charge_rows(&r))
}

/// Records a refund of `amount` against a charge with that much left;
/// the charge becomes `refunded` once nothing is left.
pub fn refund(db: &Db, id: &str, charge: &ChargeRecord, amount: i64) -> Result<(), ApiError> {
    db.execute(
        "UPDATE charges SET refunded_cents = refunded_cents + ?,
            status = CASE WHEN refunded_cents + ? >= amount_cents THEN 'refunded' ELSE status END
         WHERE id = ? AND refunded_cents + ? <= amount_cents",
        &[int(amount), int(amount), text(&charge.id), int(amount)],
    )?;
    if db.changes() != 1 {
        return Err(ApiError::Conflict(
            "the charge changed during the refund".into(),
        ));
    }
    db.execute(
        "INSERT INTO refunds (id, charge_id, amount_cents, created_at_ms) VALUES (?, ?, ?, ?)",
        &[text(id), text(&charge.id), int(amount), int(now_ms())],
    )?;
    Ok(())
}

/// Logs a call and what it was answered.
pub fn log_call(
    db: &Db,
    operation: &str,
    reference: &str,
    key: &str,
    status: u16,
) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO calls (operation, reference, idempotency_key, status, at_ms) VALUES (?, ?, ?, ?, ?)",
        &[text(operation), text(reference), text(key), int(status), int(now_ms())],
    )?;
    Ok(())
}

/// The calls logged, oldest first, optionally of one reference.
pub fn calls(db: &Db, reference: Option<&str>, limit: u32) -> Result<Vec<CallRecord>, ApiError> {
    let r = db.execute(
        "SELECT operation, reference, idempotency_key, status, at_ms FROM calls
         WHERE (? IS NULL OR reference = ?) ORDER BY seq DESC LIMIT ?",
        &[
            reference.map_or(Value::Null, text),
            reference.map_or(Value::Null, text),
            int(i64::from(limit)),
        ],
    )?;
    let mut calls: Vec<CallRecord> = r
        .rows
        .iter()
        .filter_map(|row| match row.values.as_slice() {
            [Value::Text(op), Value::Text(reference), Value::Text(key), Value::Integer(status), Value::Integer(at)] => {
                Some(CallRecord {
                    operation: op.clone(),
                    reference: reference.clone(),
                    idempotency_key: key.clone(),
                    status: *status,
                    at_ms: *at,
                })
            }
            _ => None,
        })
        .collect();
    calls.reverse();
    Ok(calls)
}
