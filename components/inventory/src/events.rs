//! Events in and out: catalog events create and retire stock records;
//! `inventory.reserve|commit|release` commands run the saga's stock steps;
//! ticks release expired reservations.

use platform::db::{now_ms, Db};
use platform::events::{
    topics, CommitReservation, Envelope, Event, Line, LineFailure, LowStock, ProductCreated,
    ProductDeleted, ReleaseReservation, ReservationClosed, ReservationFailed, ReserveStock,
    StockReserved,
};
use platform::inbox;
use platform::{outbox, ApiError, Context, Method, Request, Response};
use serde_json::json;

use crate::domain;
use crate::store::{self, Close, ReservationRecord};

/// Reservations expired per tick, at most (the next tick takes the rest).
const EXPIRY_BATCH: u32 = 200;

/// `POST /internal/events`.
pub fn deliver(req: &Request, ctx: &Context, db: &Db) -> Result<Response, ApiError> {
    if req.method != Method::Post {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    inbox::deliver_each(req, |event| {
        inbox::process_once(db, event, |db| apply(db, ctx, event))
    })
}

fn apply(db: &Db, ctx: &Context, event: &Event) -> Result<(), ApiError> {
    let cause = Some(&event.0);
    match event.0.type_.as_str() {
        "catalog.product_created" => {
            let p: ProductCreated = event.payload()?;
            let id = domain::product_id("payload.product_id", &p.product_id)?;
            store::create(db, &id, p.stock)?;
            low_stock_check(db, ctx, cause, &id, threshold())
        }
        "catalog.product_deleted" => {
            let p: ProductDeleted = event.payload()?;
            store::delete(
                db,
                &domain::product_id("payload.product_id", &p.product_id)?,
            )
        }
        "inventory.reserve" => {
            let cmd: ReserveStock = event.payload()?;
            reserve_for_order(db, ctx, &event.0, cmd)
        }
        "inventory.commit" => {
            let cmd: CommitReservation = event.payload()?;
            match store::reservation_for_order(db, &cmd.order_id)? {
                Some(r) if r.status == "active" => {
                    store::close(db, &r, Close::Commit, None)?;
                    emit_closed(db, ctx, cause, "inventory.committed", &r, None)
                }
                // Already committed (a repeat) or released (too late): nothing to do.
                _ => Ok(()),
            }
        }
        "inventory.release" => {
            let cmd: ReleaseReservation = event.payload()?;
            match store::reservation_for_order(db, &cmd.order_id)? {
                Some(r) if r.status == "active" => {
                    release_reservation(db, ctx, cause, &r, &cmd.reason)
                }
                _ => Ok(()),
            }
        }
        // Other events on subscribed topics are not ours to act on.
        _ => Ok(()),
    }
}

fn reserve_for_order(
    db: &Db,
    ctx: &Context,
    cause: &Envelope,
    cmd: ReserveStock,
) -> Result<(), ApiError> {
    let order_id = domain::product_id("payload.order_id", &cmd.order_id)?;
    if let Some(existing) = store::reservation_for_order(db, &order_id)? {
        // A repeated command (e.g. a saga retry): answer with what happened.
        if existing.status == "active" {
            return emit_reservation_outcome(
                db,
                ctx,
                Some(cause),
                &order_id,
                &existing.id,
                &existing.lines,
                existing.expires_at_ms,
                &Ok(()),
            );
        }
        return Ok(());
    }
    let lines = match domain::validate_lines(
        cmd.lines
            .into_iter()
            .map(|l| (l.product_id, l.quantity))
            .collect(),
    ) {
        Ok(lines) => lines,
        Err(e) => {
            let failure = LineFailure {
                product_id: String::new(),
                requested: 0,
                available: 0,
                reason: format!("invalid_request: {e}"),
            };
            return emit_reservation_outcome(
                db,
                ctx,
                Some(cause),
                &order_id,
                "",
                &[],
                0,
                &Err(vec![failure]),
            );
        }
    };
    let ttl = cmd.ttl_seconds.clamp(domain::MIN_TTL, domain::MAX_TTL);
    let id = platform::events::new_id();
    let expires_at_ms = now_ms() + i64::from(ttl) * 1000;
    let outcome = store::reserve(db, &id, Some(&order_id), None, &lines, expires_at_ms)?;
    if outcome.is_ok() {
        for line in &lines {
            low_stock_check(db, ctx, Some(cause), &line.product_id, threshold())?;
        }
    }
    emit_reservation_outcome(
        db,
        ctx,
        Some(cause),
        &order_id,
        &id,
        &lines,
        expires_at_ms,
        &outcome,
    )
}

/// Writes `inventory.reserved` or `inventory.reservation_failed`.
#[allow(clippy::too_many_arguments)]
pub fn emit_reservation_outcome(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    order_id: &str,
    reservation_id: &str,
    lines: &[Line],
    expires_at_ms: i64,
    outcome: &Result<(), Vec<LineFailure>>,
) -> Result<(), ApiError> {
    let event = match outcome {
        Ok(()) => Event::new(
            "inventory.reserved",
            topics::INVENTORY,
            order_id,
            &StockReserved {
                order_id: order_id.to_string(),
                reservation_id: reservation_id.to_string(),
                lines: lines.to_vec(),
                expires_at: platform::events::rfc3339_from_ms(expires_at_ms),
            },
            ctx,
            cause,
        )?,
        Err(failures) => Event::new(
            "inventory.reservation_failed",
            topics::INVENTORY,
            order_id,
            &ReservationFailed {
                order_id: order_id.to_string(),
                failures: failures.clone(),
            },
            ctx,
            cause,
        )?,
    };
    outbox::append(db, &event)
}

fn emit_closed(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    kind: &str,
    r: &ReservationRecord,
    reason: Option<&str>,
) -> Result<(), ApiError> {
    let Some(order_id) = &r.order_id else {
        return Ok(());
    };
    let event = Event::new(
        kind,
        topics::INVENTORY,
        order_id,
        &ReservationClosed {
            order_id: order_id.clone(),
            reservation_id: r.id.clone(),
            reason: reason.map(str::to_string),
        },
        ctx,
        cause,
    )?;
    outbox::append(db, &event)
}

/// Releases an active reservation and says so.
pub fn release_reservation(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    r: &ReservationRecord,
    reason: &str,
) -> Result<(), ApiError> {
    if store::close(db, r, Close::Release, Some(reason))? {
        for line in &r.lines {
            low_stock_check(db, ctx, cause, &line.product_id, threshold())?;
        }
        emit_closed(db, ctx, cause, "inventory.released", r, Some(reason))?;
    }
    Ok(())
}

/// Announces low stock once per dip under the threshold.
pub fn low_stock_check(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    product_id: &str,
    threshold: i64,
) -> Result<(), ApiError> {
    let Some(stock) = store::get(db, product_id)? else {
        return Ok(());
    };
    let announced = store::low_stock_flag(db, product_id)?;
    if domain::should_announce_low_stock(stock.available, threshold, announced) {
        let event = Event::new(
            "inventory.low_stock",
            topics::INVENTORY,
            product_id,
            &LowStock {
                product_id: product_id.to_string(),
                available: u32::try_from(stock.available).unwrap_or(0),
                threshold: u32::try_from(threshold).unwrap_or(0),
            },
            ctx,
            cause,
        )?;
        outbox::append(db, &event)?;
        store::set_low_stock_flag(db, product_id, true)?;
    } else if stock.available > threshold && announced {
        store::set_low_stock_flag(db, product_id, false)?;
    }
    Ok(())
}

fn threshold() -> i64 {
    spin_sdk::variables::get("low_stock_threshold")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

/// `POST /internal/tick`: releases reservations past their expiry.
pub fn tick(req: &Request, ctx: &Context, db: &Db) -> Result<Response, ApiError> {
    if req.method != Method::Post {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    let ids = store::expired(db, now_ms(), EXPIRY_BATCH)?;
    let mut released = 0;
    for id in &ids {
        db.transaction(|db| {
            if let Some(r) = store::reservation(db, id)? {
                if r.status == "active" && r.expires_at_ms <= now_ms() {
                    release_reservation(db, ctx, None, &r, "expired")?;
                    released += 1;
                }
            }
            Ok(())
        })?;
    }
    Ok(Response::json(200, &json!({ "released": released })))
}
