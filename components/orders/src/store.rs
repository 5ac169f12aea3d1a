//! Orders' SQL: orders, their lines and saga history. A saga transition is
//! an `UPDATE ... WHERE status = ? AND step = ?` inside the caller's
//! transaction, so it applies once however many copies of its cause race.

use platform::clock::now_ms;
use platform::db::{int, opt_text, text, Db, Migration};
use platform::{idempotency, inbox, outbox, ApiError};
use spin_sdk::sqlite3::{RowResult, Value};

use crate::domain::saga::{Change, SagaState};
use crate::domain::{OrderStatus, PricedLine, SagaStep};

const SCHEMA: Migration = &[
    "CREATE TABLE orders (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'CANCELLED')),
        step TEXT NOT NULL CHECK (step IN ('reserving', 'charging', 'confirmed', 'cancelled')),
        reason TEXT,
        reservation_id TEXT,
        payment_id TEXT,
        total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
        currency TEXT NOT NULL,
        shipping_address TEXT,
        correlation_id TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        step_started_at_ms INTEGER NOT NULL)",
    "CREATE INDEX orders_by_user ON orders (user_id, id)",
    "CREATE INDEX orders_by_status ON orders (status, id)",
    "CREATE INDEX orders_pending_steps ON orders (step_started_at_ms) WHERE status = 'PENDING'",
    "CREATE TABLE order_lines (
        order_id TEXT NOT NULL REFERENCES orders (id),
        line_no INTEGER NOT NULL,
        product_id TEXT NOT NULL,
        quantity INTEGER NOT NULL CHECK (quantity > 0),
        unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
        PRIMARY KEY (order_id, line_no))",
    "CREATE TABLE order_history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id TEXT NOT NULL REFERENCES orders (id),
        step TEXT NOT NULL,
        status TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        event_type TEXT,
        event_id TEXT,
        detail TEXT)",
    "CREATE INDEX order_history_by_order ON order_history (order_id, seq)",
];

/// The schema, in order.
pub const MIGRATIONS: &[Migration] = &[
    SCHEMA,
    outbox::MIGRATION,
    inbox::MIGRATION,
    idempotency::MIGRATION,
];

/// An order as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub id: String,
    pub user_id: String,
    pub status: OrderStatus,
    pub step: SagaStep,
    pub reason: Option<String>,
    pub reservation_id: Option<String>,
    pub payment_id: Option<String>,
    pub lines: Vec<PricedLine>,
    pub total_cents: i64,
    pub currency: String,
    pub shipping_address: serde_json::Value,
    /// The request id of the order's creation: events the saga emits on
    /// its own (timeouts) keep it.
    pub correlation_id: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub step_started_at_ms: i64,
}

impl Order {
    pub fn saga_state(&self) -> SagaState {
        SagaState {
            status: self.status,
            step: self.step,
            reservation_id: self.reservation_id.clone(),
            payment_id: self.payment_id.clone(),
        }
    }
}

/// One row of an order's saga history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub step: SagaStep,
    pub status: OrderStatus,
    pub at_ms: i64,
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    pub detail: Option<String>,
}

const COLUMNS: &str =
    "id, user_id, status, step, reason, reservation_id, payment_id, total_cents, \
     currency, shipping_address, correlation_id, created_at_ms, updated_at_ms, step_started_at_ms";

fn opt_string(row: &RowResult, i: usize) -> Option<String> {
    row.get::<&str>(i).map(str::to_string)
}

fn order_of(row: &RowResult) -> Option<Order> {
    Some(Order {
        id: opt_string(row, 0)?,
        user_id: opt_string(row, 1)?,
        status: OrderStatus::parse(row.get::<&str>(2)?)?,
        step: SagaStep::parse(row.get::<&str>(3)?)?,
        reason: opt_string(row, 4),
        reservation_id: opt_string(row, 5),
        payment_id: opt_string(row, 6),
        lines: Vec::new(),
        total_cents: row.get::<i64>(7)?,
        currency: opt_string(row, 8)?,
        shipping_address: row
            .get::<&str>(9)
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(serde_json::Value::Null),
        correlation_id: opt_string(row, 10)?,
        created_at_ms: row.get::<i64>(11)?,
        updated_at_ms: row.get::<i64>(12)?,
        step_started_at_ms: row.get::<i64>(13)?,
    })
}

fn orders_of(db: &Db, rows: &[RowResult]) -> Result<Vec<Order>, ApiError> {
    let mut orders = Vec::with_capacity(rows.len());
    for row in rows {
        let mut order = order_of(row).ok_or_else(|| ApiError::internal("malformed order row"))?;
        order.lines = lines(db, &order.id)?;
        orders.push(order);
    }
    Ok(orders)
}

fn lines(db: &Db, order_id: &str) -> Result<Vec<PricedLine>, ApiError> {
    let r = db.execute(
        "SELECT product_id, quantity, unit_price_cents FROM order_lines WHERE order_id = ? ORDER BY line_no",
        &[text(order_id)],
    )?;
    r.rows
        .iter()
        .map(|row| {
            Some(PricedLine {
                product_id: opt_string(row, 0)?,
                quantity: u32::try_from(row.get::<i64>(1)?).ok()?,
                unit_price_cents: row.get::<i64>(2)?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ApiError::internal("malformed order line row"))
}

/// Inserts a new order and its lines.
pub fn insert(db: &Db, o: &Order) -> Result<(), ApiError> {
    let address = if o.shipping_address.is_null() {
        Value::Null
    } else {
        text(o.shipping_address.to_string())
    };
    db.execute(
        &format!(
            "INSERT INTO orders ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        &[
            text(&o.id),
            text(&o.user_id),
            text(o.status.as_str()),
            text(o.step.as_str()),
            opt_text(o.reason.as_deref()),
            opt_text(o.reservation_id.as_deref()),
            opt_text(o.payment_id.as_deref()),
            int(o.total_cents),
            text(&o.currency),
            address,
            text(&o.correlation_id),
            int(o.created_at_ms),
            int(o.updated_at_ms),
            int(o.step_started_at_ms),
        ],
    )?;
    for (i, line) in o.lines.iter().enumerate() {
        db.execute(
            "INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price_cents) VALUES (?, ?, ?, ?, ?)",
            &[
                text(&o.id),
                int(i64::try_from(i).unwrap_or(i64::MAX)),
                text(&line.product_id),
                int(line.quantity),
                int(line.unit_price_cents),
            ],
        )?;
    }
    Ok(())
}

pub fn get(db: &Db, id: &str) -> Result<Option<Order>, ApiError> {
    let r = db.execute(
        &format!("SELECT {COLUMNS} FROM orders WHERE id = ?"),
        &[text(id)],
    )?;
    Ok(orders_of(db, &r.rows)?.into_iter().next())
}

/// A page of orders, newest first (ids are UUID v7, so they sort by
/// creation), optionally only one user's and only in one status.
pub fn list(
    db: &Db,
    user_id: Option<&str>,
    status: Option<OrderStatus>,
    before_id: Option<&str>,
    limit: u32,
) -> Result<Vec<Order>, ApiError> {
    let r = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM orders
             WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR id < ?3)
             ORDER BY id DESC LIMIT ?4"
        ),
        &[
            opt_text(user_id),
            opt_text(status.map(OrderStatus::as_str)),
            opt_text(before_id),
            int(limit),
        ],
    )?;
    orders_of(db, &r.rows)
}

/// Applies a saga change to an order still at `from`; false (and nothing
/// changed) if the order has moved on meanwhile.
pub fn apply(
    db: &Db,
    id: &str,
    from: (OrderStatus, SagaStep),
    change: &Change,
) -> Result<bool, ApiError> {
    let now = now_ms();
    let (status, step) = change.next.unwrap_or(from);
    let step_changed = step != from.1;
    db.execute(
        "UPDATE orders SET status = ?, step = ?, reason = COALESCE(?, reason),
             reservation_id = COALESCE(?, reservation_id), payment_id = COALESCE(?, payment_id),
             updated_at_ms = ?, step_started_at_ms = CASE WHEN ? THEN ? ELSE step_started_at_ms END
         WHERE id = ? AND status = ? AND step = ?",
        &[
            text(status.as_str()),
            text(step.as_str()),
            opt_text(change.reason.as_deref()),
            opt_text(change.reservation_id.as_deref()),
            opt_text(change.payment_id.as_deref()),
            int(now),
            int(i64::from(step_changed)),
            int(now),
            text(id),
            text(from.0.as_str()),
            text(from.1.as_str()),
        ],
    )?;
    Ok(db.changes() == 1)
}

/// Appends a row to an order's saga history.
pub fn append_history(db: &Db, order_id: &str, entry: &HistoryEntry) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO order_history (order_id, step, status, at_ms, event_type, event_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
        &[
            text(order_id),
            text(entry.step.as_str()),
            text(entry.status.as_str()),
            int(entry.at_ms),
            opt_text(entry.event_type.as_deref()),
            opt_text(entry.event_id.as_deref()),
            opt_text(entry.detail.as_deref()),
        ],
    )?;
    Ok(())
}

/// An order's saga history, oldest first.
pub fn history(db: &Db, order_id: &str) -> Result<Vec<HistoryEntry>, ApiError> {
    let r = db.execute(
        "SELECT step, status, at_ms, event_type, event_id, detail FROM order_history WHERE order_id = ? ORDER BY seq",
        &[text(order_id)],
    )?;
    r.rows
        .iter()
        .map(|row| {
            Some(HistoryEntry {
                step: SagaStep::parse(row.get::<&str>(0)?)?,
                status: OrderStatus::parse(row.get::<&str>(1)?)?,
                at_ms: row.get::<i64>(2)?,
                event_type: opt_string(row, 3),
                event_id: opt_string(row, 4),
                detail: opt_string(row, 5),
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ApiError::internal("malformed history row"))
}

/// Pending orders whose current step started at or before `started_before_ms`.
pub fn stalled(db: &Db, started_before_ms: i64, limit: u32) -> Result<Vec<String>, ApiError> {
    let r = db.execute(
        "SELECT id FROM orders WHERE status = 'PENDING' AND step_started_at_ms < ?
         ORDER BY step_started_at_ms LIMIT ?",
        &[int(started_before_ms), int(limit)],
    )?;
    Ok(r.rows.iter().filter_map(|row| opt_string(row, 0)).collect())
}

#[cfg(test)]
mod tests;
