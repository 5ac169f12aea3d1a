//! Payments' SQL: one row per payment (at most one per order), plus the
//! outbox, the processed-events inbox and saved idempotent responses.

use platform::clock::now_ms;
use platform::db::{int, opt_text, text, Db, Migration};
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
    let r = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM payments
             WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR order_id = ?2) AND (?3 IS NULL OR id < ?3)
             ORDER BY id DESC LIMIT ?4"
        ),
        &[
            opt_text(user_id),
            opt_text(order_id),
            opt_text(before_id),
            int(i64::from(limit)),
        ],
    )?;
    rows(&r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(user: &str, amount: i64) -> ChargeSpec {
        ChargeSpec {
            user_id: user.into(),
            amount_cents: amount,
            currency: "USD".into(),
            reference: "ref".into(),
        }
    }

    fn record(
        db: &Db,
        id: &str,
        order: Option<&str>,
        user: &str,
        outcome: Result<&str, FailureReason>,
    ) -> Payment {
        insert(
            db,
            &NewPayment {
                id,
                order_id: order,
                spec: &spec(user, 1_000),
                outcome,
                attempts: 2,
            },
        )
        .expect("insert")
    }

    #[test]
    fn payments_record_their_outcome_once_per_order() {
        let db = Db::memory(MIGRATIONS).expect("db");
        let ok = record(&db, "pay-1", Some("o1"), "ann", Ok("ch_1"));
        assert_eq!(
            (ok.status, ok.provider_ref.as_deref(), ok.attempts),
            (Status::Succeeded, Some("ch_1"), 2)
        );
        let failed = record(
            &db,
            "pay-2",
            Some("o2"),
            "ann",
            Err(FailureReason::Declined),
        );
        assert_eq!(
            (failed.status, failed.reason.as_deref()),
            (Status::Failed, Some("declined"))
        );
        assert_eq!(by_order(&db, "o1").expect("read"), Some(ok));
        let again = insert(
            &db,
            &NewPayment {
                id: "pay-3",
                order_id: Some("o1"),
                spec: &spec("ann", 1),
                outcome: Ok("ch_2"),
                attempts: 1,
            },
        );
        assert!(again.is_err(), "one payment per order");
    }

    #[test]
    fn a_refund_marks_a_succeeded_payment_once() {
        let db = Db::memory(MIGRATIONS).expect("db");
        record(&db, "pay-1", Some("o1"), "ann", Ok("ch_1"));
        assert!(mark_refunded(&db, "pay-1", "re_1", "order_cancelled").expect("refund"));
        assert!(!mark_refunded(&db, "pay-1", "re_2", "again").expect("twice"));
        let p = get(&db, "pay-1").expect("read").expect("payment");
        assert_eq!(
            (
                p.status,
                p.refund_ref.as_deref(),
                p.refund_reason.as_deref()
            ),
            (Status::Refunded, Some("re_1"), Some("order_cancelled"))
        );
    }

    #[test]
    fn lists_are_newest_first_by_user_and_order() {
        let db = Db::memory(MIGRATIONS).expect("db");
        record(&db, "pay-1", Some("o1"), "ann", Ok("ch_1"));
        record(&db, "pay-2", None, "bob", Ok("ch_2"));
        record(&db, "pay-3", Some("o3"), "ann", Ok("ch_3"));
        let ids = |v: Vec<Payment>| v.into_iter().map(|p| p.id).collect::<Vec<_>>();
        assert_eq!(
            ids(list(&db, None, None, None, 10).expect("all")),
            ["pay-3", "pay-2", "pay-1"]
        );
        assert_eq!(
            ids(list(&db, Some("ann"), None, None, 10).expect("ann")),
            ["pay-3", "pay-1"]
        );
        assert_eq!(
            ids(list(&db, None, Some("o1"), None, 10).expect("o1")),
            ["pay-1"]
        );
        assert_eq!(
            ids(list(&db, None, None, Some("pay-3"), 1).expect("page")),
            ["pay-2"]
        );
    }
}
