//! Notifications' SQL: what is remembered from events (contacts, which
//! user an order belongs to), preferences, and the notifications
//! themselves with their delivery state.

use platform::db::{int, opt_int, opt_text, text, Db, Migration};
use platform::{idempotency, inbox, ApiError};
use spin_sdk::sqlite3::{QueryResult, Value};

use crate::domain::{Channel, Decision, Preferences, Priority, QuietHours, Status};

const SCHEMA: Migration = &[
    "CREATE TABLE contacts (
        user_id TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        name TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL)",
    "CREATE INDEX contacts_email ON contacts (email)",
    "CREATE TABLE orders (
        order_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        total_cents INTEGER,
        currency TEXT NOT NULL DEFAULT '',
        created_at_ms INTEGER NOT NULL)",
    "CREATE TABLE preferences (
        user_id TEXT PRIMARY KEY,
        email INTEGER NOT NULL,
        sms INTEGER NOT NULL,
        push INTEGER NOT NULL,
        quiet_start INTEGER,
        quiet_end INTEGER,
        updated_at_ms INTEGER NOT NULL)",
    "CREATE TABLE notifications (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'push')),
        template TEXT NOT NULL,
        priority TEXT NOT NULL CHECK (priority IN ('high', 'normal', 'low')),
        priority_rank INTEGER NOT NULL,
        subject TEXT,
        body TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('recorded', 'sent', 'failed', 'pending', 'skipped')),
        reason TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_ms INTEGER,
        event_id TEXT,
        event_type TEXT,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL)",
    // History: a user's notifications newest first (ids are UUID v7).
    "CREATE INDEX notifications_user ON notifications (user_id, id)",
    // The tick: due deliveries, high priority first.
    "CREATE INDEX notifications_due ON notifications (priority_rank, next_attempt_at_ms)
     WHERE next_attempt_at_ms IS NOT NULL",
];

/// The schema, in order.
pub const MIGRATIONS: &[Migration] = &[SCHEMA, inbox::MIGRATION, idempotency::MIGRATION];

/// A user's address book entry, from `user.registered`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub user_id: String,
    pub email: String,
    pub name: String,
}

pub fn upsert_contact(db: &Db, c: &Contact, now_ms: i64) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO contacts (user_id, email, name, updated_at_ms) VALUES (?, ?, ?, ?)
         ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, name = excluded.name,
             updated_at_ms = excluded.updated_at_ms",
        &[text(&c.user_id), text(&c.email), text(&c.name), int(now_ms)],
    )?;
    Ok(())
}

pub fn contact(db: &Db, user_id: &str) -> Result<Option<Contact>, ApiError> {
    let r = db.execute(
        "SELECT user_id, email, name FROM contacts WHERE user_id = ?",
        &[text(user_id)],
    )?;
    Ok(contacts(&r).into_iter().next())
}

/// Users whose remembered address is `email` (already normalised).
pub fn contacts_by_email(db: &Db, email: &str) -> Result<Vec<Contact>, ApiError> {
    let r = db.execute(
        "SELECT user_id, email, name FROM contacts WHERE email = ? ORDER BY user_id",
        &[text(email)],
    )?;
    Ok(contacts(&r))
}

fn contacts(r: &QueryResult) -> Vec<Contact> {
    r.rows()
        .filter_map(|row| {
            Some(Contact {
                user_id: row.get::<&str>("user_id")?.to_string(),
                email: row.get::<&str>("email")?.to_string(),
                name: row.get::<&str>("name")?.to_string(),
            })
        })
        .collect()
}

/// What is remembered about an order: whose it is and its total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderInfo {
    pub user_id: String,
    pub total_cents: Option<i64>,
    pub currency: String,
}

/// Remembers an order; a repeat keeps the first record but fills in what
/// it lacked.
pub fn remember_order(
    db: &Db,
    order_id: &str,
    info: &OrderInfo,
    now_ms: i64,
) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO orders (order_id, user_id, total_cents, currency, created_at_ms) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (order_id) DO UPDATE SET
             total_cents = COALESCE(orders.total_cents, excluded.total_cents),
             currency = CASE WHEN orders.currency = '' THEN excluded.currency ELSE orders.currency END",
        &[
            text(order_id),
            text(&info.user_id),
            opt_int(info.total_cents),
            text(&info.currency),
            int(now_ms),
        ],
    )?;
    Ok(())
}

pub fn order(db: &Db, order_id: &str) -> Result<Option<OrderInfo>, ApiError> {
    let r = db.execute(
        "SELECT user_id, total_cents, currency FROM orders WHERE order_id = ?",
        &[text(order_id)],
    )?;
    let info = r.rows().next().and_then(|row| {
        Some(OrderInfo {
            user_id: row.get::<&str>("user_id")?.to_string(),
            total_cents: row.get::<i64>("total_cents"),
            currency: row.get::<&str>("currency").unwrap_or_default().to_string(),
        })
    });
    Ok(info)
}

/// A user's preferences, the defaults if they never set any.
pub fn preferences(db: &Db, user_id: &str) -> Result<Preferences, ApiError> {
    let r = db.execute(
        "SELECT email, sms, push, quiet_start, quiet_end FROM preferences WHERE user_id = ?",
        &[text(user_id)],
    )?;
    let Some(row) = r.rows().next() else {
        return Ok(Preferences::default());
    };
    let flag = |c: &str| row.get::<i64>(c).unwrap_or(0) != 0;
    let quiet_hours = match (row.get::<u16>("quiet_start"), row.get::<u16>("quiet_end")) {
        (Some(start), Some(end)) => Some(QuietHours { start, end }),
        _ => None,
    };
    Ok(Preferences {
        email: flag("email"),
        sms: flag("sms"),
        push: flag("push"),
        quiet_hours,
    })
}

pub fn save_preferences(
    db: &Db,
    user_id: &str,
    p: &Preferences,
    now_ms: i64,
) -> Result<(), ApiError> {
    let quiet = |f: fn(&QuietHours) -> u16| {
        p.quiet_hours
            .as_ref()
            .map_or(Value::Null, |q| int(i64::from(f(q))))
    };
    db.execute(
        "INSERT INTO preferences (user_id, email, sms, push, quiet_start, quiet_end, updated_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, sms = excluded.sms,
             push = excluded.push, quiet_start = excluded.quiet_start,
             quiet_end = excluded.quiet_end, updated_at_ms = excluded.updated_at_ms",
        &[
            text(user_id),
            int(i64::from(p.email)),
            int(i64::from(p.sms)),
            int(i64::from(p.push)),
            quiet(|q| q.start),
            quiet(|q| q.end),
            int(now_ms),
        ],
    )?;
    Ok(())
}

/// A notification as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    pub user_id: String,
    pub channel: String,
    pub template: String,
    pub priority: String,
    pub subject: Option<String>,
    pub body: String,
    pub status: String,
    pub reason: Option<String>,
    pub attempts: i64,
    pub next_attempt_at_ms: Option<i64>,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub created_at_ms: i64,
}

/// A notification about to be stored.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    pub id: String,
    pub user_id: &'a str,
    pub channel: Channel,
    pub template: &'a str,
    pub priority: Priority,
    pub subject: Option<&'a str>,
    pub body: &'a str,
    pub event: Option<(&'a str, &'a str)>,
    pub decision: &'a Decision,
    pub created_at_ms: i64,
}

const COLUMNS: &str = "id, user_id, channel, template, priority, subject, body, status, reason, \
     attempts, next_attempt_at_ms, event_id, event_type, created_at_ms";

pub fn insert(db: &Db, n: &NewNotification<'_>) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO notifications (id, user_id, channel, template, priority, priority_rank,
             subject, body, status, reason, attempts, next_attempt_at_ms, event_id, event_type,
             created_at_ms, updated_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
        &[
            text(&n.id),
            text(n.user_id),
            text(n.channel.as_str()),
            text(n.template),
            text(n.priority.as_str()),
            int(n.priority.rank()),
            opt_text(n.subject),
            text(n.body),
            text(n.decision.status.as_str()),
            opt_text(n.decision.reason.as_deref()),
            opt_int(n.decision.next_attempt_at_ms),
            opt_text(n.event.map(|(id, _)| id)),
            opt_text(n.event.map(|(_, t)| t)),
            int(n.created_at_ms),
            int(n.created_at_ms),
        ],
    )?;
    Ok(())
}

fn notifications(r: &QueryResult) -> Vec<Notification> {
    r.rows()
        .filter_map(|row| {
            let s = |c: &str| row.get::<&str>(c).map(str::to_string);
            Some(Notification {
                id: s("id")?,
                user_id: s("user_id")?,
                channel: s("channel")?,
                template: s("template")?,
                priority: s("priority")?,
                subject: s("subject"),
                body: s("body")?,
                status: s("status")?,
                reason: s("reason"),
                attempts: row.get::<i64>("attempts").unwrap_or(0),
                next_attempt_at_ms: row.get::<i64>("next_attempt_at_ms"),
                event_id: s("event_id"),
                event_type: s("event_type"),
                created_at_ms: row.get::<i64>("created_at_ms").unwrap_or(0),
            })
        })
        .collect()
}

pub fn get(db: &Db, id: &str) -> Result<Option<Notification>, ApiError> {
    let r = db.execute(
        &format!("SELECT {COLUMNS} FROM notifications WHERE id = ?"),
        &[text(id)],
    )?;
    Ok(notifications(&r).into_iter().next())
}

/// A user's notifications, newest first, after the id `before` (a cursor).
pub fn history(
    db: &Db,
    user_id: &str,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<Notification>, ApiError> {
    let r = match before {
        Some(before) => db.execute(
            &format!(
                "SELECT {COLUMNS} FROM notifications WHERE user_id = ? AND id < ?
                 ORDER BY id DESC LIMIT ?"
            ),
            &[text(user_id), text(before), int(i64::from(limit))],
        )?,
        None => db.execute(
            &format!(
                "SELECT {COLUMNS} FROM notifications WHERE user_id = ? ORDER BY id DESC LIMIT ?"
            ),
            &[text(user_id), int(i64::from(limit))],
        )?,
    };
    Ok(notifications(&r))
}

/// Claims up to `limit` due deliveries, high priority first: each is
/// leased until `lease_until_ms` so no other tick or request takes it.
pub fn claim_due(
    db: &Db,
    now_ms: i64,
    lease_until_ms: i64,
    limit: u32,
) -> Result<Vec<Notification>, ApiError> {
    db.transaction(|db| {
        let r = db.execute(
            &format!(
                "SELECT {COLUMNS} FROM notifications
                 WHERE next_attempt_at_ms IS NOT NULL AND next_attempt_at_ms <= ?
                 ORDER BY priority_rank, next_attempt_at_ms LIMIT ?"
            ),
            &[int(now_ms), int(i64::from(limit))],
        )?;
        let due = notifications(&r);
        for n in &due {
            db.execute(
                "UPDATE notifications SET next_attempt_at_ms = ?, updated_at_ms = ? WHERE id = ?",
                &[int(lease_until_ms), int(now_ms), text(&n.id)],
            )?;
        }
        Ok(due)
    })
}

/// Records the outcome of a delivery attempt (or, with `attempted` false,
/// a decision made without one, such as "recorded").
pub fn finish(
    db: &Db,
    id: &str,
    status: Status,
    reason: Option<&str>,
    next_attempt_at_ms: Option<i64>,
    attempted: bool,
    now_ms: i64,
) -> Result<(), ApiError> {
    db.execute(
        "UPDATE notifications SET status = ?, reason = ?, next_attempt_at_ms = ?,
             attempts = attempts + ?, updated_at_ms = ? WHERE id = ?",
        &[
            text(status.as_str()),
            opt_text(reason),
            opt_int(next_attempt_at_ms),
            int(i64::from(attempted)),
            int(now_ms),
            text(id),
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
