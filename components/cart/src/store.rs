//! The cart's SQLite: what it keeps besides the carts themselves (which
//! live in Redis). A checkout records the exact order request it sends
//! before sending it, so that a retry after a failure anywhere sends the
//! same request with the same key and orders answers with the same
//! order, whatever happened to the cart since; and the saved answers of
//! `Idempotency-Key` (the platform's table).

use platform::db::{first_i64, int, text, Db, Migration};
use platform::{idempotency, ApiError};
use spin_sdk::sqlite3::Value;

const CHECKOUTS: Migration = &["CREATE TABLE checkouts (
        user_id TEXT NOT NULL,
        key TEXT NOT NULL,
        order_request TEXT NOT NULL,
        cart_version INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, key))"];

/// The schema, in order.
pub const MIGRATIONS: &[Migration] = &[idempotency::MIGRATION, CHECKOUTS];

/// A checkout under way: the order request it sends, and the version of
/// the cart it was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub order_request: String,
    pub cart_version: i64,
}

/// The checkout `user` started with `key`, if one is under way.
pub fn checkout(db: &Db, user: &str, key: &str) -> Result<Option<Checkout>, ApiError> {
    let r = db.execute(
        "SELECT order_request, cart_version FROM checkouts WHERE user_id = ? AND key = ?",
        &[text(user), text(key)],
    )?;
    Ok(match r.rows.first().map(|row| row.values.as_slice()) {
        Some([Value::Text(order_request), Value::Integer(cart_version)]) => Some(Checkout {
            order_request: order_request.clone(),
            cart_version: *cart_version,
        }),
        _ => None,
    })
}

/// Records `checkout` for `user` and `key` unless one is recorded
/// already; returns the one that stands (the first).
pub fn begin_checkout(
    db: &Db,
    user: &str,
    key: &str,
    checkout: &Checkout,
    now_ms: i64,
) -> Result<Checkout, ApiError> {
    db.execute(
        "INSERT INTO checkouts (user_id, key, order_request, cart_version, created_at_ms)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, key) DO NOTHING",
        &[
            text(user),
            text(key),
            text(&checkout.order_request),
            int(checkout.cart_version),
            int(now_ms),
        ],
    )?;
    self::checkout(db, user, key)?.ok_or_else(|| ApiError::internal("checkout vanished"))
}

/// Forgets a checkout: it placed its order (whose answer is saved for the
/// key), or orders refused it (a retry may build the request anew).
pub fn end_checkout(db: &Db, user: &str, key: &str) -> Result<(), ApiError> {
    db.execute(
        "DELETE FROM checkouts WHERE user_id = ? AND key = ?",
        &[text(user), text(key)],
    )?;
    Ok(())
}

/// Forgets checkouts started before `before_ms` (a client that never
/// retried); returns how many.
pub fn purge_checkouts(db: &Db, before_ms: i64) -> Result<u64, ApiError> {
    db.execute(
        "DELETE FROM checkouts WHERE created_at_ms < ?",
        &[int(before_ms)],
    )?;
    Ok(db.changes())
}

/// Checkouts under way (a metric).
pub fn checkouts_under_way(db: &Db) -> Result<i64, ApiError> {
    Ok(first_i64(&db.execute("SELECT COUNT(*) FROM checkouts", &[])?).unwrap_or(0))
}

#[cfg(test)]
mod tests;
