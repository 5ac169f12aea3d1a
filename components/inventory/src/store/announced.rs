//! What inventory last announced about each product's stock, so each
//! announcement (low stock, out of stock and back) is made once per
//! transition.

use platform::db::{int, text, Db};
use platform::ApiError;

/// Whether low stock was announced since the product was last above the
/// threshold.
pub fn low_stock_flag(db: &Db, product_id: &str) -> Result<bool, ApiError> {
    let r = db.execute(
        "SELECT low_stock_announced FROM stock WHERE product_id = ?",
        &[text(product_id)],
    )?;
    Ok(platform::db::first_i64(&r).unwrap_or(0) != 0)
}

/// Records that low stock was announced (or that stock recovered).
pub fn set_low_stock_flag(db: &Db, product_id: &str, announced: bool) -> Result<(), ApiError> {
    db.execute(
        "UPDATE stock SET low_stock_announced = ? WHERE product_id = ?",
        &[int(i64::from(announced)), text(product_id)],
    )?;
    Ok(())
}

/// Whether the product was last announced as in stock.
pub fn announced_in_stock(db: &Db, product_id: &str) -> Result<bool, ApiError> {
    let r = db.execute(
        "SELECT in_stock FROM stock WHERE product_id = ?",
        &[text(product_id)],
    )?;
    Ok(platform::db::first_i64(&r).unwrap_or(1) != 0)
}

/// Records which side of zero the product's availability was announced on.
pub fn set_announced_in_stock(db: &Db, product_id: &str, in_stock: bool) -> Result<(), ApiError> {
    db.execute(
        "UPDATE stock SET in_stock = ? WHERE product_id = ?",
        &[int(i64::from(in_stock)), text(product_id)],
    )?;
    Ok(())
}

/// Whether the product's level is announced on every change.
pub fn is_mirrored(db: &Db, product_id: &str) -> Result<bool, ApiError> {
    let r = db.execute(
        "SELECT 1 FROM mirrored WHERE product_id = ?",
        &[text(product_id)],
    )?;
    Ok(!r.rows.is_empty())
}

/// Starts (or stops) announcing the product's level on every change.
pub fn set_mirrored(db: &Db, product_id: &str, mirrored: bool) -> Result<(), ApiError> {
    if mirrored {
        db.execute(
            "INSERT INTO mirrored (product_id) VALUES (?) ON CONFLICT DO NOTHING",
            &[text(product_id)],
        )?;
    } else {
        db.execute(
            "DELETE FROM mirrored WHERE product_id = ?",
            &[text(product_id)],
        )?;
    }
    Ok(())
}
