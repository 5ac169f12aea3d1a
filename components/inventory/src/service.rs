//! Inventory's workflows, for HTTP handlers and event handlers alike:
//! reserving (all lines or none), committing and releasing reservations,
//! setting stock, expiring reservations on tick, and announcing low stock
//! and running out (or coming back) once per transition. Each runs in a
//! transaction (a savepoint of the caller's, when one is open) and
//! publishes what it did through the outbox. Customers' holds have
//! workflows of their own ([`holds`]).

use platform::clock::{now_ms, rfc3339_from_ms};
use platform::component::report;
use platform::db::Db;
use platform::events::{
    Envelope, LevelChanged, Line, LineFailure, LowStock, ReservationCommitted, ReservationFailed,
    ReservationReleased, StockAvailability, StockReserved,
};
use platform::{outbox, ApiError, Context, Id, Report};
use serde_json::json;

use crate::domain::{self, Status, StockUpdate};
use crate::store::{self, Close, ReservationRecord, Stock};

pub mod holds;

/// Reservations expired per tick, at most (the next tick takes the rest).
const EXPIRY_BATCH: u32 = 200;

/// Low stock is announced at or under this many available units.
pub fn low_stock_threshold() -> i64 {
    spin_sdk::variables::get("low_stock_threshold")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(domain::DEFAULT_LOW_STOCK)
}

/// What a reservation asks for.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub order_id: Option<&'a Id>,
    pub owner_id: Option<&'a str>,
    pub lines: &'a [Line],
    pub ttl_seconds: u32,
}

/// A reservation made, or why not.
pub type Reserved = Result<(Id, i64), Vec<LineFailure>>;

/// Reserves every line or none. For an order, the outcome is published
/// (`inventory.reserved` or `inventory.reservation_failed`), caused by
/// `cause` when a command asked.
pub fn reserve(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    ask: &Ask<'_>,
) -> Result<Reserved, ApiError> {
    db.transaction(|db| {
        let id = Id::generate();
        let expires_at_ms = now_ms() + i64::from(ask.ttl_seconds) * 1000;
        let outcome = store::reserve(
            db,
            id.as_str(),
            ask.order_id.map(Id::as_str),
            ask.owner_id,
            ask.lines,
            expires_at_ms,
        )?;
        if outcome.is_ok() {
            for line in ask.lines {
                announce(db, ctx, cause, &line.product_id)?;
            }
        } else {
            ctx.count(
                "inventory_operations_total",
                &[("operation", "reserve"), ("status", "failed")],
            );
        }
        let outcome = outcome.map(|()| (id, expires_at_ms));
        if let Some(order_id) = ask.order_id {
            publish_outcome(db, ctx, cause, order_id.as_str(), ask.lines, &outcome)?;
        }
        Ok(outcome)
    })
}

/// The reservation of a command: made once per order; a repeated command
/// answers again with what it came to, if the reservation still holds.
/// When the command names holds of the customer's that cover exactly the
/// order's lines, they become the order's reservation (see
/// [`holds::transfer_to_order`]); otherwise they are left alone and the
/// lines are reserved anew.
pub fn reserve_for_order(
    db: &Db,
    ctx: &Context,
    cause: &Envelope,
    ask: &Ask<'_>,
    offered: Option<&holds::Offered<'_>>,
) -> Result<(), ApiError> {
    let Some(order_id) = ask.order_id else {
        return Err(ApiError::invalid("payload.order_id", "is required"));
    };
    match store::reservation_for_order(db, order_id.as_str())? {
        Some(existing) if existing.status == Status::Active => publish_outcome(
            db,
            ctx,
            Some(cause),
            order_id.as_str(),
            &existing.lines,
            &Ok((Id::parse("id", &existing.id)?, existing.expires_at_ms)),
        ),
        Some(_) => Ok(()),
        None => {
            let transferred = match offered {
                Some(offered) => holds::transfer_to_order(db, order_id, ask, offered)?,
                None => None,
            };
            match transferred {
                Some(made) => publish_outcome(
                    db,
                    ctx,
                    Some(cause),
                    order_id.as_str(),
                    ask.lines,
                    &Ok(made),
                ),
                None => reserve(db, ctx, Some(cause), ask).map(|_| ()),
            }
        }
    }
}

fn publish_outcome(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    order_id: &str,
    lines: &[Line],
    outcome: &Reserved,
) -> Result<(), ApiError> {
    match outcome {
        Ok((reservation_id, expires_at_ms)) => outbox::publish(
            db,
            ctx,
            &StockReserved {
                order_id: order_id.to_string(),
                reservation_id: reservation_id.to_string(),
                lines: lines.to_vec(),
                expires_at: rfc3339_from_ms(*expires_at_ms),
            },
            cause,
        ),
        Err(failures) => outbox::publish(
            db,
            ctx,
            &ReservationFailed {
                order_id: order_id.to_string(),
                failures: failures.clone(),
            },
            cause,
        ),
    }
    .map(|_| ())
}

/// Sells the reservation the saga names for its order; nothing to do for
/// one already committed (a repeat) or released (too late). Only the
/// reservation made for this order by its `inventory.reserve` command can
/// be sold for it: a reservation of another order, or a customer's hold,
/// is refused (422, dead-lettered) and changes nothing.
pub fn commit_order(
    db: &Db,
    ctx: &Context,
    cause: &Envelope,
    order_id: &Id,
    reservation_id: &Id,
) -> Result<(), ApiError> {
    db.transaction(|db| {
        let Some(r) = store::reservation(db, reservation_id.as_str())? else {
            return Err(ApiError::invalid(
                "payload.reservation_id",
                format!("no reservation {reservation_id}"),
            ));
        };
        if r.order_id.as_deref() != Some(order_id.as_str()) {
            return Err(ApiError::invalid(
                "payload.reservation_id",
                format!("reservation {reservation_id} was not made for order {order_id}"),
            ));
        }
        if r.status != Status::Active {
            return Ok(());
        }
        store::close(db, &r, Close::Commit, None)?;
        let committed = ReservationCommitted {
            order_id: order_id.to_string(),
            reservation_id: r.id.clone(),
            reason: None,
        };
        outbox::publish(db, ctx, &committed, Some(cause))?;
        Ok(())
    })
}

/// Releases an order's active reservation, if it still has one.
pub fn release_order(
    db: &Db,
    ctx: &Context,
    cause: &Envelope,
    order_id: &Id,
    reason: &str,
) -> Result<(), ApiError> {
    db.transaction(
        |db| match store::reservation_for_order(db, order_id.as_str())? {
            Some(r) if r.status == Status::Active => release(db, ctx, Some(cause), &r, reason),
            _ => Ok(()),
        },
    )
}

/// Releases an active reservation and says so (for an order's).
pub fn release(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    r: &ReservationRecord,
    reason: &str,
) -> Result<(), ApiError> {
    db.transaction(|db| {
        if !store::close(db, r, Close::Release, Some(reason))? {
            return Ok(());
        }
        for line in &r.lines {
            announce(db, ctx, cause, &line.product_id)?;
        }
        if let Some(order_id) = &r.order_id {
            let released = ReservationReleased {
                order_id: order_id.clone(),
                reservation_id: r.id.clone(),
                reason: Some(reason.to_string()),
            };
            outbox::publish(db, ctx, &released, cause)?;
        }
        Ok(())
    })
}

/// Starts stocking a new product.
pub fn add_product(
    db: &Db,
    ctx: &Context,
    cause: &Envelope,
    product_id: &Id,
    stock: u32,
) -> Result<(), ApiError> {
    db.transaction(|db| {
        store::create(db, product_id.as_str(), stock)?;
        announce(db, ctx, Some(cause), product_id.as_str())
    })
}

/// Sets a product's available stock if it is at the version `if_match`
/// names (428 without one, 412 when stale).
pub fn update_stock(
    db: &Db,
    ctx: &Context,
    product_id: &Id,
    update: &StockUpdate,
    if_match: Option<&str>,
) -> Result<Stock, ApiError> {
    let id = product_id.as_str();
    db.transaction(|db| {
        let current = store::get(db, id)?
            .ok_or_else(|| ApiError::NotFound(format!("no stock record for product {id}")))?;
        platform::conditional::require_if_match(if_match, current.version)?;
        let next = update.apply(current.available)?;
        if !store::set_available(db, id, next, current.version)? {
            return Err(ApiError::PreconditionFailed(
                "the stock record changed; reload it and retry".into(),
            ));
        }
        announce(db, ctx, None, id)?;
        store::get(db, id)?.ok_or_else(|| ApiError::internal("stock record vanished"))
    })
}

/// Applies a change MercadoLibre made to the item a product is linked to.
/// Which side wins when both changed: neither. Changes, not figures, are
/// exchanged: MercadoLibre's move since the last figure both sides agreed
/// on (`change`) is added to `available`, so a sale here and a sale there
/// in the same moment both count; reservations in flight are untouched.
/// Stock never goes below zero (MercadoLibre is then told 0). Returns
/// whether the level moved.
pub fn follow_marketplace(
    db: &Db,
    ctx: &Context,
    cause: &Envelope,
    product_id: &str,
    change: i64,
) -> Result<bool, ApiError> {
    let Some(current) = store::get(db, product_id)? else {
        return Ok(false);
    };
    let next = current.available.saturating_add(change).max(0);
    if change == 0 || next == current.available {
        return Ok(false);
    }
    if !store::set_available(db, product_id, next, current.version)? {
        return Err(ApiError::internal(
            "stock record changed under its transaction",
        ));
    }
    ctx.count(
        "inventory_operations_total",
        &[("operation", "marketplace_sync"), ("status", "success")],
    );
    announce(db, ctx, Some(cause), product_id)?;
    Ok(true)
}

/// Starts or stops mirroring a product's level (it was linked to a
/// MercadoLibre item, or unlinked); a start announces the level at once.
pub fn mirror(
    db: &Db,
    ctx: &Context,
    cause: &Envelope,
    product_id: &str,
    linked: bool,
) -> Result<(), ApiError> {
    store::set_mirrored(db, product_id, linked)?;
    if linked {
        announce_level(db, ctx, Some(cause), product_id)?;
    }
    Ok(())
}

/// Announces `inventory.level_changed` for a mirrored product.
fn announce_level(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    product_id: &str,
) -> Result<(), ApiError> {
    if !store::is_mirrored(db, product_id)? {
        return Ok(());
    }
    let Some(stock) = store::get(db, product_id)? else {
        return Ok(());
    };
    let level = LevelChanged {
        product_id: product_id.to_string(),
        available: stock.available,
    };
    outbox::publish(db, ctx, &level, cause).map(|_| ())
}

/// Tick work: releases reservations past their expiry, each in its own
/// transaction (a reservation cancelled meanwhile is left alone).
pub fn expire(ctx: &Context) -> Result<Report, ApiError> {
    let db = ctx.db()?;
    let mut released = 0;
    for id in store::expired(db, now_ms(), EXPIRY_BATCH)? {
        db.transaction(|db| {
            if let Some(r) = store::reservation(db, &id)? {
                if r.status == Status::Active && r.expires_at_ms <= now_ms() {
                    release(db, ctx, None, &r, "expired")?;
                    released += 1;
                }
            }
            Ok(())
        })?;
    }
    Ok(report(json!({ "released": released })))
}

/// Announces what a change to a product's stock made true: low stock,
/// running out or coming back, each once per transition. Call in the
/// transaction of the change.
pub fn announce(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    product_id: &str,
) -> Result<(), ApiError> {
    announce_low_stock(db, ctx, cause, product_id)?;
    announce_availability(db, ctx, cause, product_id)?;
    announce_level(db, ctx, cause, product_id)
}

/// Announces `inventory.availability_changed` when the product has just
/// run out or just come back (search shows what can be bought).
pub fn announce_availability(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    product_id: &str,
) -> Result<(), ApiError> {
    let Some(stock) = store::get(db, product_id)? else {
        return Ok(());
    };
    let announced = store::announced_in_stock(db, product_id)?;
    if let Some(in_stock) = domain::availability_change(stock.available, announced) {
        let change = StockAvailability {
            product_id: product_id.to_string(),
            available: u32::try_from(stock.available).unwrap_or(u32::MAX),
            in_stock,
        };
        outbox::publish(db, ctx, &change, cause)?;
        store::set_announced_in_stock(db, product_id, in_stock)?;
    }
    Ok(())
}

/// Announces low stock once per dip under the threshold.
fn announce_low_stock(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    product_id: &str,
) -> Result<(), ApiError> {
    let threshold = low_stock_threshold();
    let Some(stock) = store::get(db, product_id)? else {
        return Ok(());
    };
    let announced = store::low_stock_flag(db, product_id)?;
    if domain::should_announce_low_stock(stock.available, threshold, announced) {
        let low = LowStock {
            product_id: product_id.to_string(),
            available: u32::try_from(stock.available).unwrap_or(0),
            threshold: u32::try_from(threshold).unwrap_or(0),
        };
        outbox::publish(db, ctx, &low, cause)?;
        store::set_low_stock_flag(db, product_id, true)?;
    } else if stock.available > threshold && announced {
        store::set_low_stock_flag(db, product_id, false)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
