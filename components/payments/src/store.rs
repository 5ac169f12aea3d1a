//! Payments' SQL: one row per payment (at most one per order), plus the
//! outbox, the processed-events inbox and saved idempotent responses.

use platform::db::{int, now_ms, opt_text, text, Db, Migration};
use platform::{idempotency, inbox, outbox, ApiError};
use spin_sdk::sqlite3::{QueryResult, Value};

use crate::domain::{ChargeSpec, FailureReason, Status};

const SCHEMA: Migration = &[
    "CREATE TABLE payments (
        id TEXT PRIMARY KEY,
        order_id TEXT UNIQUE,
        user_id TEXT NOT NULL,
        amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
        currency TEXT NOT NULL,
        reference TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed', 'refunded')),
        reason TEXT,
        provider_ref TEXT,
        refund_ref TEXT,
        refund_reason TEXT,
        attempts INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL)",
    "CREATE INDEX payments_user ON payments (user_id, id)",
    idempotency::SCHEMA,
    idempotency::SCHEMA_INDEX,
];

/// The schema, in order.
pub const MIGRATIONS: &[Migration] = &[SCHEMA, outbox::MIGRATION, inbox::MIGRATION];

/// A payment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: String,
    /// The order it pays; `None` for an admin's direct charge.
    pub order_id: Option<String>,
    pub user_id: String,
    pub amount_cents: i64,
    pub currency: String,
    pub reference: String,
    pub status: Status,
    pub reason: Option<String>,
    pub provider_ref: Option<String>,
    pub refund_ref: Option<String>,
    pub refund_reason: Option<String>,
    pub attempts: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A payment about to be recorded.
#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    pub id: &'a str,
    pub order_id: Option<&'a str>,
    pub spec: &'a ChargeSpec,
    pub outcome: Result<&'a str, FailureReason>,
    pub attempts: u32,
}

const COLUMNS: &str = "id, order_id, user_id, amount_cents, currency, reference, status, reason, \
     provider_ref, refund_ref, refund_reason, attempts, created_at_ms, updated_at_ms";

fn rows(r: &QueryResult) -> Result<Vec<Payment>, ApiError> {
    r.rows
        .iter()
        .map(|row| {
            let v = &row.values;
            let s = |i: usize| match v.get(i) {
                Some(Value::Text(s)) => Some(s.clone()),
                _ => None,
            };
            let n = |i: usize| match v.get(i) {
                Some(Value::Integer(n)) => Some(*n),
                _ => None,
            };
            let malformed = || ApiError::internal("malformed payment row");
            Ok(Payment {
                id: s(0).ok_or_else(malformed)?,
                order_id: s(1),
                user_id: s(2).ok_or_else(malformed)?,
                amount_cents: n(3).ok_or_else(malformed)?,
                currency: s(4).ok_or_else(malformed)?,
                reference: s(5).ok_or_else(malformed)?,
                status: s(6)
                    .and_then(|st| Status::parse(&st))
                    .ok_or_else(malformed)?,
                reason: s(7),
                provider_ref: s(8),
                refund_ref: s(9),
                refund_reason: s(10),
                attempts: n(11).unwrap_or(0),
                created_at_ms: n(12).ok_or_else(malformed)?,
                updated_at_ms: n(13).ok_or_else(malformed)?,
            })
        })
        .collect()
}

fn one(db: &Db, clause: &str, param: &str) -> Result<Option<Payment>, ApiError> {
    let r = db.execute(
        &format!("SELECT {COLUMNS} FROM payments WHERE {clause}"),
        &[text(param)],
    )?;
    Ok(rows(&r)?.into_iter().next())
}

pub fn get(db: &Db, id: &str) -> Result<Option<Payment>, ApiError> {
    one(db, "id = ?", id)
}

pub fn by_order(db: &Db, order_id: &str) -> Result<Option<Payment>, ApiError> {
    one(db, "order_id = ?", order_id)
}

/// Records a payment and returns it as stored.
pub fn insert(db: &Db, p: &NewPayment<'_>) -> Result<Payment, ApiError> {
    let at = now_ms();
    let (status, reason, provider_ref) = match p.outcome {
        Ok(charge_id) => (Status::Succeeded, None, Some(charge_id)),
        Err(reason) => (Status::Failed, Some(reason.as_str()), None),
    };
    db.execute(
        &format!("INSERT INTO payments ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)"),
        &[
            text(p.id),
            opt_text(p.order_id),
            text(&p.spec.user_id),
            int(p.spec.amount_cents),
            text(&p.spec.currency),
            text(&p.spec.reference),
            text(status.as_str()),
            opt_text(reason),
            opt_text(provider_ref),
            int(p.attempts),
            int(at),
            int(at),
        ],
    )?;
    get(db, p.id)?.ok_or_else(|| ApiError::internal("payment vanished after insert"))
}

/// Marks a succeeded payment refunded; false if it no longer was
/// succeeded (a concurrent refund got there first).
pub fn mark_refunded(db: &Db, id: &str, refund_ref: &str, reason: &str) -> Result<bool, ApiError> {
    db.execute(
        "UPDATE payments SET status = 'refunded', refund_ref = ?, refund_reason = ?, updated_at_ms = ?
         WHERE id = ? AND status = 'succeeded'",
        &[text(refund_ref), text(reason), int(now_ms()), text(id)],
    )?;
    Ok(db.changes() == 1)
}

/// A page of payments, newest first (ids are UUID v7), optionally of one
/// user and one order, after the cursor id.
pub fn list(
    db: &Db,
    user_id: Option<&str>,
    order_id: Option<&str>,
    before_id: Option<&str>,
    limit: u32,
) -> Result<Vec<Payment>, ApiError> {
    let param = |v: Option<&str>| v.map_or(Value::Null, text);
    let r = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM payments
             WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR order_id = ?2) AND (?3 IS NULL OR id < ?3)
             ORDER BY id DESC LIMIT ?4"
        ),
        &[param(user_id), param(order_id), param(before_id), int(i64::from(limit))],
    )?;
    rows(&r)
}

/// Whether an event id is already in `processed_events`.
pub fn processed(db: &Db, event_id: &str) -> Result<bool, ApiError> {
    let r = db.execute(
        "SELECT 1 FROM processed_events WHERE id = ?",
        &[text(event_id)],
    )?;
    Ok(!r.rows.is_empty())
}
