//! The sandbox provider's SQL: charges, refunds, the failure-injection
//! settings, idempotency keys and a log of every call it was sent.

use platform::clock::now_ms;
use platform::db::{int, opt_text, text, Db, Migration};
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
        &[
            text(id),
            int(c.amount.cents()),
            text(c.currency.as_str()),
            text(c.reference.as_str()),
            int(at),
        ],
    )?;
    Ok(ChargeRecord {
        id: id.to_string(),
        status: "captured".into(),
        amount_cents: c.amount.cents(),
        refunded_cents: 0,
        currency: c.currency.as_str().to_string(),
        reference: c.reference.as_str().to_string(),
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
            "SELECT {CHARGE_COLUMNS} FROM charges WHERE (?1 IS NULL OR reference = ?1)
             ORDER BY created_at_ms DESC, id DESC LIMIT ?2"
        ),
        &[opt_text(reference), int(i64::from(limit))],
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
         WHERE (?1 IS NULL OR reference = ?1) ORDER BY seq DESC LIMIT ?2",
        &[opt_text(reference), int(i64::from(limit))],
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

#[cfg(test)]
mod tests {
    use platform::domain::{Currency, Money, Reference};

    use super::*;

    fn db() -> Db {
        Db::memory(MIGRATIONS).expect("db")
    }

    fn charge(amount: i64, reference: &str) -> Charge {
        Charge {
            amount: Money::from_cents(amount),
            currency: Currency::parse("c", "USD").expect("usd"),
            reference: Reference::parse("r", reference).expect("reference"),
        }
    }

    #[test]
    fn control_starts_calm_and_keeps_what_is_set() {
        let db = db();
        assert_eq!(control(&db).expect("control"), Control::default());
        let set = Control {
            failure_rate: 0.25,
            decline_rate: 1.0,
            latency_ms: 300,
            outage: true,
        };
        set_control(&db, &set).expect("set");
        assert_eq!(control(&db).expect("control"), set);
    }

    #[test]
    fn charges_are_found_by_id_and_reference_newest_first() {
        let db = db();
        let first = insert_charge(&db, "ch-1", &charge(500, "order-1")).expect("insert");
        insert_charge(&db, "ch-2", &charge(700, "order-2")).expect("insert");
        assert_eq!(charge_by_id(&db, "ch-1"), Some(first));
        assert_eq!(charge_by_id(&db, "nope"), None);
        let of_two = charges(&db, Some("order-2"), 10).expect("list");
        assert_eq!(
            of_two.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["ch-2"]
        );
        assert_eq!(charges(&db, None, 10).expect("all").len(), 2);
        assert_eq!(charges(&db, None, 1).expect("one").len(), 1);
    }

    fn charge_by_id(db: &Db, id: &str) -> Option<ChargeRecord> {
        super::charge(db, id).expect("charge")
    }

    #[test]
    fn refunds_never_exceed_the_charge() {
        let db = db();
        let c = insert_charge(&db, "ch-1", &charge(500, "order-1")).expect("insert");
        refund(&db, "re-1", &c, 200).expect("part");
        let c = charge_by_id(&db, "ch-1").expect("charge");
        assert_eq!((c.refunded_cents, c.status.as_str()), (200, "captured"));
        assert_eq!(
            refund(&db, "re-2", &c, 301).expect_err("too much").status(),
            409
        );
        refund(&db, "re-3", &c, 300).expect("rest");
        let c = charge_by_id(&db, "ch-1").expect("charge");
        assert_eq!((c.refunded_cents, c.status.as_str()), (500, "refunded"));
    }

    #[test]
    fn calls_are_logged_oldest_first() {
        let db = db();
        log_call(&db, "charge", "order-1", "k1", 503).expect("log");
        log_call(&db, "charge", "order-1", "k1", 201).expect("log");
        log_call(&db, "refund", "ch-9", "k2", 201).expect("log");
        let calls = calls(&db, Some("order-1"), 10).expect("calls");
        assert_eq!(
            calls.iter().map(|c| c.status).collect::<Vec<_>>(),
            [503, 201]
        );
        assert_eq!(
            super::calls(&db, None, 2).expect("latest two")[1].operation,
            "refund"
        );
    }
}
