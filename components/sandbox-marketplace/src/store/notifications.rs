//! MercadoLibre notifications (webhooks): queued in the transaction that
//! changes an item, claimed by the tick for a lease, then delivered,
//! retried later or given up.

use platform::db::{int, opt_int, opt_text, text, Db};
use platform::ApiError;
use spin_sdk::sqlite3::QueryResult;

use super::{int_at, opt_int_at, opt_text_at, text_at};

/// A notification, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRecord {
    /// MercadoLibre's `_id`.
    pub id: String,
    /// `/items/MLA123`.
    pub resource: String,
    pub user_id: i64,
    pub topic: String,
    pub application_id: i64,
    pub received_at_ms: i64,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Deliveries attempted in all (the body's `attempts` of the last).
    pub attempts: i64,
    /// Attempts since it was queued or redelivered (it is given up after
    /// [`crate::webhooks::MAX_TRIES`]).
    pub tries: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub sent_at_ms: Option<i64>,
    pub delivered_at_ms: Option<i64>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The callback answered 200.
    Delivered,
    /// Tried again at this time.
    Retry { at_ms: i64 },
    /// Given up.
    Failed,
}

/// How many notifications are in each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
}

const COLUMNS: &str = "id, resource, user_id, topic, application_id, received_at_ms, status, \
     attempts, tries, last_status, last_error, sent_at_ms, delivered_at_ms";

fn rows(r: &QueryResult) -> Vec<NotificationRecord> {
    r.rows
        .iter()
        .map(|row| {
            let v = &row.values;
            NotificationRecord {
                id: text_at(v, 0),
                resource: text_at(v, 1),
                user_id: int_at(v, 2),
                topic: text_at(v, 3),
                application_id: int_at(v, 4),
                received_at_ms: int_at(v, 5),
                status: text_at(v, 6),
                attempts: int_at(v, 7),
                tries: int_at(v, 8),
                last_status: opt_int_at(v, 9),
                last_error: opt_text_at(v, 10),
                sent_at_ms: opt_int_at(v, 11),
                delivered_at_ms: opt_int_at(v, 12),
            }
        })
        .collect()
}

/// Queues a notification of `topic` about `resource` for its owner, due at
/// once.
pub fn queue(
    db: &Db,
    id: &str,
    resource: &str,
    user_id: i64,
    topic: &str,
    application_id: i64,
    now_ms: i64,
) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO notifications
            (id, resource, user_id, topic, application_id, received_at_ms, status, next_attempt_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
        &[
            text(id),
            text(resource),
            int(user_id),
            text(topic),
            int(application_id),
            int(now_ms),
            int(now_ms),
        ],
    )?;
    Ok(())
}

/// Claims up to `limit` due notifications until `lease_until_ms`, counting
/// the attempt about to be made: a second ticker skips them meanwhile.
pub fn claim_due(
    db: &Db,
    now_ms: i64,
    lease_until_ms: i64,
    limit: u32,
) -> Result<Vec<NotificationRecord>, ApiError> {
    // Most ticks find nothing: they take no write lock to say so.
    let any = db.execute(
        "SELECT 1 FROM notifications WHERE status = 'pending' AND next_attempt_at_ms <= ? LIMIT 1",
        &[int(now_ms)],
    )?;
    if any.rows.is_empty() {
        return Ok(Vec::new());
    }
    db.transaction(|db| {
        let due = rows(&db.execute(
            &format!(
                "SELECT {COLUMNS} FROM notifications
                 WHERE status = 'pending' AND next_attempt_at_ms <= ?
                 ORDER BY next_attempt_at_ms, received_at_ms LIMIT ?"
            ),
            &[int(now_ms), int(limit)],
        )?);
        let mut claimed = Vec::with_capacity(due.len());
        for mut n in due {
            db.execute(
                "UPDATE notifications SET attempts = attempts + 1, tries = tries + 1,
                    sent_at_ms = ?, next_attempt_at_ms = ? WHERE id = ?",
                &[int(now_ms), int(lease_until_ms), text(&n.id)],
            )?;
            n.attempts += 1;
            n.tries += 1;
            n.sent_at_ms = Some(now_ms);
            claimed.push(n);
        }
        Ok(claimed)
    })
}

/// Records how an attempt ended: the callback's status (`None`: no
/// answer) and why it failed.
pub fn finish(
    db: &Db,
    id: &str,
    outcome: &Outcome,
    answered: Option<u16>,
    error: Option<&str>,
    now_ms: i64,
) -> Result<(), ApiError> {
    let (status, next, delivered_at) = match outcome {
        Outcome::Delivered => ("delivered", now_ms, Some(now_ms)),
        Outcome::Retry { at_ms } => ("pending", *at_ms, None),
        Outcome::Failed => ("failed", now_ms, None),
    };
    db.execute(
        "UPDATE notifications SET status = ?, next_attempt_at_ms = ?, last_status = ?,
            last_error = ?, delivered_at_ms = COALESCE(?, delivered_at_ms)
         WHERE id = ?",
        &[
            text(status),
            int(next),
            opt_int(answered),
            opt_text(error),
            opt_int(delivered_at),
            text(id),
        ],
    )?;
    Ok(())
}

/// What a redelivery request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redelivery {
    Queued(NotificationRecord),
    /// It has not been delivered yet (still pending, or given up).
    NotDelivered(String),
    Unknown,
}

/// Queues a delivered notification again, with the same `_id`, due at once.
pub fn redeliver(db: &Db, id: &str, now_ms: i64) -> Result<Redelivery, ApiError> {
    db.execute(
        "UPDATE notifications SET status = 'pending', tries = 0, next_attempt_at_ms = ?
         WHERE id = ? AND status = 'delivered'",
        &[int(now_ms), text(id)],
    )?;
    let changed = db.changes() == 1;
    Ok(match (notification(db, id)?, changed) {
        (Some(n), true) => Redelivery::Queued(n),
        (Some(n), false) => Redelivery::NotDelivered(n.status),
        (None, _) => Redelivery::Unknown,
    })
}

pub fn notification(db: &Db, id: &str) -> Result<Option<NotificationRecord>, ApiError> {
    let r = db.execute(
        &format!("SELECT {COLUMNS} FROM notifications WHERE id = ?"),
        &[text(id)],
    )?;
    Ok(rows(&r).into_iter().next())
}

/// The newest notifications, at most `limit`.
pub fn recent(db: &Db, limit: u32) -> Result<Vec<NotificationRecord>, ApiError> {
    let r = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM notifications ORDER BY received_at_ms DESC, id DESC LIMIT ?"
        ),
        &[int(limit)],
    )?;
    Ok(rows(&r))
}

pub fn counts(db: &Db) -> Result<Counts, ApiError> {
    let r = db.execute(
        "SELECT status, COUNT(*) FROM notifications GROUP BY status",
        &[],
    )?;
    let mut counts = Counts::default();
    for row in &r.rows {
        let n = int_at(&row.values, 1);
        match text_at(&row.values, 0).as_str() {
            "pending" => counts.pending = n,
            "delivered" => counts.delivered = n,
            "failed" => counts.failed = n,
            _ => {}
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory;

    #[test]
    fn a_notification_is_claimed_once_per_lease_and_counts_its_attempts() {
        let db = memory();
        queue(&db, "n-1", "/items/MLA123", 1001, "items", 4242, 1_000).expect("queue");
        assert!(claim_due(&db, 999, 2_000, 10).expect("not yet").is_empty());
        let claimed = claim_due(&db, 1_000, 11_000, 10).expect("claim");
        assert_eq!(claimed.len(), 1);
        assert_eq!((claimed[0].attempts, claimed[0].tries), (1, 1));
        assert!(claim_due(&db, 5_000, 15_000, 10)
            .expect("leased")
            .is_empty());
        finish(
            &db,
            "n-1",
            &Outcome::Retry { at_ms: 6_000 },
            Some(500),
            Some("500"),
            5_000,
        )
        .expect("retry");
        assert!(claim_due(&db, 5_999, 15_000, 10)
            .expect("backing off")
            .is_empty());
        let again = claim_due(&db, 6_000, 16_000, 10).expect("again");
        assert_eq!(again[0].attempts, 2);
        finish(&db, "n-1", &Outcome::Delivered, Some(200), None, 6_001).expect("delivered");
        let n = notification(&db, "n-1").expect("read").expect("known");
        assert_eq!(
            (
                n.status.as_str(),
                n.last_status,
                n.delivered_at_ms,
                n.attempts
            ),
            ("delivered", Some(200), Some(6_001), 2)
        );
        assert_eq!(
            counts(&db).expect("counts"),
            Counts {
                pending: 0,
                delivered: 1,
                failed: 0
            }
        );
    }

    #[test]
    fn only_a_delivered_notification_is_redelivered_with_its_id() {
        let db = memory();
        queue(&db, "n-1", "/items/MLA123", 1001, "items", 4242, 1_000).expect("queue");
        assert_eq!(
            redeliver(&db, "n-1", 2_000).expect("pending"),
            Redelivery::NotDelivered("pending".into())
        );
        assert_eq!(
            redeliver(&db, "n-9", 2_000).expect("unknown"),
            Redelivery::Unknown
        );
        claim_due(&db, 1_000, 3_000, 10).expect("claim");
        finish(&db, "n-1", &Outcome::Delivered, Some(200), None, 1_500).expect("delivered");
        match redeliver(&db, "n-1", 2_000).expect("redeliver") {
            Redelivery::Queued(n) => assert_eq!((n.status.as_str(), n.tries), ("pending", 0)),
            other => panic!("{other:?}"),
        }
        let claimed = claim_due(&db, 2_000, 3_000, 10).expect("claim");
        assert_eq!((claimed[0].id.as_str(), claimed[0].attempts), ("n-1", 2));
        finish(
            &db,
            "n-1",
            &Outcome::Failed,
            None,
            Some("unreachable"),
            2_500,
        )
        .expect("failed");
        assert_eq!(
            counts(&db).expect("counts"),
            Counts {
                pending: 0,
                delivered: 0,
                failed: 1
            }
        );
        assert_eq!(recent(&db, 10).expect("recent").len(), 1);
    }
}
