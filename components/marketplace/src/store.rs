//! The marketplace's SQL: linked MercadoLibre accounts (tokens sealed, see
//! `sealed`), the notifications received (deduplicated by MercadoLibre's
//! `_id`), and which catalog product each item stands for.

use platform::clock::now_ms;
use platform::db::{int, text, Db, Migration};
use platform::{inbox, outbox, ApiError};
use spin_sdk::sqlite3::QueryResult;

const SCHEMA: Migration = &[
    "CREATE TABLE accounts (
        ml_user_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL UNIQUE,
        nickname TEXT NOT NULL,
        access_token TEXT NOT NULL,
        refresh_token TEXT NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'reauthorization_required')),
        version INTEGER NOT NULL,
        linked_at_ms INTEGER NOT NULL,
        refreshed_at_ms INTEGER)",
    "CREATE TABLE notifications (
        id TEXT PRIMARY KEY,
        topic TEXT NOT NULL,
        resource TEXT NOT NULL,
        ml_user_id TEXT NOT NULL,
        received_at_ms INTEGER NOT NULL,
        processed_at_ms INTEGER,
        outcome TEXT)",
    "CREATE TABLE product_links (
        item_id TEXT PRIMARY KEY,
        product_id TEXT NOT NULL UNIQUE,
        ml_user_id TEXT NOT NULL,
        synced_quantity INTEGER,
        linked_at_ms INTEGER NOT NULL)",
];

pub const MIGRATIONS: &[Migration] = &[SCHEMA, outbox::MIGRATION, inbox::MIGRATION];

/// Whether a link's tokens still work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    Active,
    /// MercadoLibre refused the refresh token: the person must authorise
    /// again.
    ReauthorizationRequired,
}

impl LinkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkStatus::Active => "active",
            LinkStatus::ReauthorizationRequired => "reauthorization_required",
        }
    }
}

/// A linked account, tokens still sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub ml_user_id: String,
    pub user_id: String,
    pub nickname: String,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at_ms: i64,
    pub status: LinkStatus,
    pub version: i64,
    pub linked_at_ms: i64,
    pub refreshed_at_ms: Option<i64>,
}

const ACCOUNT_COLUMNS: &str = "ml_user_id, user_id, nickname, access_token, refresh_token, \
     expires_at_ms, status, version, linked_at_ms, refreshed_at_ms";

fn accounts(r: &QueryResult) -> Result<Vec<Account>, ApiError> {
    r.rows
        .iter()
        .map(|row| {
            let s = |i: usize| row.get::<&str>(i).unwrap_or_default().to_string();
            let n = |i: usize| row.get::<i64>(i).unwrap_or_default();
            Ok(Account {
                ml_user_id: s(0),
                user_id: s(1),
                nickname: s(2),
                access_token: s(3),
                refresh_token: s(4),
                expires_at_ms: n(5),
                status: if row.get::<&str>(6) == Some("active") {
                    LinkStatus::Active
                } else {
                    LinkStatus::ReauthorizationRequired
                },
                version: n(7),
                linked_at_ms: n(8),
                refreshed_at_ms: row.get::<i64>(9),
            })
        })
        .collect()
}

fn account_where(db: &Db, clause: &str, param: &str) -> Result<Option<Account>, ApiError> {
    let r = db.execute(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {clause}"),
        &[text(param)],
    )?;
    Ok(accounts(&r)?.into_iter().next())
}

pub fn account(db: &Db, ml_user_id: &str) -> Result<Option<Account>, ApiError> {
    account_where(db, "ml_user_id = ?", ml_user_id)
}

pub fn account_of_user(db: &Db, user_id: &str) -> Result<Option<Account>, ApiError> {
    account_where(db, "user_id = ?", user_id)
}

/// Every linked account, by MercadoLibre id.
pub fn all_accounts(db: &Db, limit: u32) -> Result<Vec<Account>, ApiError> {
    let r = db.execute(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY ml_user_id LIMIT ?"),
        &[int(i64::from(limit))],
    )?;
    accounts(&r)
}

/// Active accounts whose access token expires before `before_ms`.
pub fn due_for_refresh(db: &Db, before_ms: i64, limit: u32) -> Result<Vec<Account>, ApiError> {
    let r = db.execute(
        &format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE status = 'active' AND expires_at_ms < ? \
             ORDER BY expires_at_ms LIMIT ?"
        ),
        &[int(before_ms), int(i64::from(limit))],
    )?;
    accounts(&r)
}

/// Links (or links again, with new tokens) `ml_user_id` to `user_id`.
/// `false` when the MercadoLibre account is linked to another user, or
/// the user to another MercadoLibre account.
pub fn link(db: &Db, account: &Account) -> Result<bool, ApiError> {
    if account_of_user(db, &account.user_id)?.is_some_and(|a| a.ml_user_id != account.ml_user_id) {
        return Ok(false);
    }
    db.execute(
        "INSERT INTO accounts (ml_user_id, user_id, nickname, access_token, refresh_token,
             expires_at_ms, status, version, linked_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, 'active', 1, ?)
         ON CONFLICT (ml_user_id) DO UPDATE SET nickname = excluded.nickname,
             access_token = excluded.access_token, refresh_token = excluded.refresh_token,
             expires_at_ms = excluded.expires_at_ms, status = 'active', version = version + 1
         WHERE accounts.user_id = excluded.user_id",
        &[
            text(&account.ml_user_id),
            text(&account.user_id),
            text(&account.nickname),
            text(&account.access_token),
            text(&account.refresh_token),
            int(account.expires_at_ms),
            int(account.linked_at_ms),
        ],
    )?;
    Ok(db.changes() == 1)
}

/// Stores refreshed tokens if nobody else did since `version`.
pub fn store_refreshed(
    db: &Db,
    ml_user_id: &str,
    version: i64,
    access: &str,
    refresh: &str,
    expires_at_ms: i64,
) -> Result<bool, ApiError> {
    db.execute(
        "UPDATE accounts SET access_token = ?, refresh_token = ?, expires_at_ms = ?,
             refreshed_at_ms = ?, version = version + 1
         WHERE ml_user_id = ? AND version = ?",
        &[
            text(access),
            text(refresh),
            int(expires_at_ms),
            int(now_ms()),
            text(ml_user_id),
            int(version),
        ],
    )?;
    Ok(db.changes() == 1)
}

/// Marks the link as needing the person to authorise again.
pub fn require_reauthorization(db: &Db, ml_user_id: &str) -> Result<(), ApiError> {
    db.execute(
        "UPDATE accounts SET status = 'reauthorization_required', version = version + 1
         WHERE ml_user_id = ?",
        &[text(ml_user_id)],
    )?;
    Ok(())
}

/// Forgets a user's link and its tokens; `false` when there was none.
pub fn unlink(db: &Db, user_id: &str) -> Result<bool, ApiError> {
    db.execute("DELETE FROM accounts WHERE user_id = ?", &[text(user_id)])?;
    Ok(db.changes() == 1)
}

/// Records a notification; `false` when its `_id` was seen before.
pub fn record_notification(
    db: &Db,
    id: &str,
    topic: &str,
    resource: &str,
    ml_user_id: &str,
) -> Result<bool, ApiError> {
    db.execute(
        "INSERT INTO notifications (id, topic, resource, ml_user_id, received_at_ms)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        &[
            text(id),
            text(topic),
            text(resource),
            text(ml_user_id),
            int(now_ms()),
        ],
    )?;
    Ok(db.changes() == 1)
}

/// Records what processing a notification came to.
pub fn notification_processed(db: &Db, id: &str, outcome: &str) -> Result<(), ApiError> {
    db.execute(
        "UPDATE notifications SET processed_at_ms = ?, outcome = ? WHERE id = ?",
        &[int(now_ms()), text(outcome), text(id)],
    )?;
    Ok(())
}

/// Notifications by outcome (`pending` for those not processed yet).
pub fn notification_counts(db: &Db) -> Result<Vec<(String, i64)>, ApiError> {
    let r = db.execute(
        "SELECT COALESCE(outcome, 'pending'), COUNT(*) FROM notifications GROUP BY 1 ORDER BY 1",
        &[],
    )?;
    Ok(r.rows
        .iter()
        .map(|row| {
            (
                row.get::<&str>(0).unwrap_or_default().to_string(),
                row.get::<i64>(1).unwrap_or_default(),
            )
        })
        .collect())
}

/// A catalog product standing for a MercadoLibre item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductLink {
    pub item_id: String,
    pub product_id: String,
    /// The seller whose token changes the item.
    pub ml_user_id: String,
    /// The last quantity both sides agreed on (`None` before the first).
    pub synced_quantity: Option<i64>,
}

fn product_link_where(db: &Db, clause: &str, param: &str) -> Result<Option<ProductLink>, ApiError> {
    let r = db.execute(
        &format!(
            "SELECT item_id, product_id, ml_user_id, synced_quantity FROM product_links WHERE {clause}"
        ),
        &[text(param)],
    )?;
    Ok(r.rows.first().map(|row| ProductLink {
        item_id: row.get::<&str>(0).unwrap_or_default().to_string(),
        product_id: row.get::<&str>(1).unwrap_or_default().to_string(),
        ml_user_id: row.get::<&str>(2).unwrap_or_default().to_string(),
        synced_quantity: row.get::<i64>(3),
    }))
}

/// The link of an item.
pub fn link_of_item(db: &Db, item_id: &str) -> Result<Option<ProductLink>, ApiError> {
    product_link_where(db, "item_id = ?", item_id)
}

/// The link of a product.
pub fn link_of_product(db: &Db, product_id: &str) -> Result<Option<ProductLink>, ApiError> {
    product_link_where(db, "product_id = ?", product_id)
}

/// The catalog product an item stands for.
pub fn product_of(db: &Db, item_id: &str) -> Result<Option<String>, ApiError> {
    Ok(link_of_item(db, item_id)?.map(|l| l.product_id))
}

/// Links `item_id` (sold by `ml_user_id`) to `product_id`, replacing the
/// item's earlier link; `false` when the product is linked to another item.
pub fn link_product(
    db: &Db,
    item_id: &str,
    product_id: &str,
    ml_user_id: &str,
) -> Result<bool, ApiError> {
    let taken = db.execute(
        "SELECT 1 FROM product_links WHERE product_id = ? AND item_id != ?",
        &[text(product_id), text(item_id)],
    )?;
    if !taken.rows.is_empty() {
        return Ok(false);
    }
    db.execute(
        "INSERT INTO product_links (item_id, product_id, ml_user_id, linked_at_ms)
         VALUES (?, ?, ?, ?)
         ON CONFLICT (item_id) DO UPDATE SET product_id = excluded.product_id,
             ml_user_id = excluded.ml_user_id, synced_quantity = NULL,
             linked_at_ms = excluded.linked_at_ms",
        &[
            text(item_id),
            text(product_id),
            text(ml_user_id),
            int(now_ms()),
        ],
    )?;
    Ok(true)
}

/// Removes an item's link; the product it stood for, if it had one.
pub fn unlink_product(db: &Db, item_id: &str) -> Result<Option<String>, ApiError> {
    let product = product_of(db, item_id)?;
    db.execute(
        "DELETE FROM product_links WHERE item_id = ?",
        &[text(item_id)],
    )?;
    Ok(product)
}

/// Records `quantity` as the figure both sides now agree on.
pub fn set_synced(db: &Db, item_id: &str, quantity: i64) -> Result<(), ApiError> {
    db.execute(
        "UPDATE product_links SET synced_quantity = ? WHERE item_id = ?",
        &[int(quantity), text(item_id)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
