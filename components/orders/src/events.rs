//! The bridge's routes: inventory's and payments' answers drive the saga
//! (`POST /internal/orders/events`), and ticks compensate steps that waited
//! too long (`POST /internal/orders/tick`).

use platform::db::{now_ms, Db};
use platform::events::{Event, PaymentFailed, PaymentSucceeded, ReservationFailed, StockReserved};
use platform::{inbox, ApiError, Context, Method, Request, Response};
use serde_json::json;

use crate::domain::saga::{self, Decision, SagaInput};
use crate::orchestrator::{self, Cause};
use crate::store;

/// Orders compensated per tick, at most (the next tick takes the rest).
const TIMEOUT_BATCH: u32 = 200;
/// `saga_step_timeout_secs` when unset or unreadable.
const DEFAULT_STEP_TIMEOUT_SECS: u64 = 60;

/// `POST /internal/orders/events`.
pub fn deliver(req: &Request, ctx: &Context, db: &Db) -> Result<Response, ApiError> {
    if req.method != Method::Post {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    inbox::deliver_each(req, |event| {
        inbox::process_once(db, event, |db| apply(db, ctx, event))
    })
}

/// The saga input an event carries, with its order id; `None` for event
/// types the saga does not act on.
fn saga_input(event: &Event) -> Result<Option<(String, SagaInput)>, ApiError> {
    Ok(Some(match event.0.type_.as_str() {
        "inventory.reserved" => {
            let p: StockReserved = event.payload()?;
            (
                p.order_id,
                SagaInput::StockReserved {
                    reservation_id: p.reservation_id,
                },
            )
        }
        "inventory.reservation_failed" => {
            let p: ReservationFailed = event.payload()?;
            let mut product_ids: Vec<String> = p
                .failures
                .iter()
                .map(|f| {
                    if f.product_id.is_empty() {
                        f.reason.clone()
                    } else {
                        f.product_id.clone()
                    }
                })
                .collect();
            product_ids.dedup();
            (p.order_id, SagaInput::ReservationFailed { product_ids })
        }
        "payment.succeeded" => {
            let p: PaymentSucceeded = event.payload()?;
            (
                p.order_id,
                SagaInput::PaymentSucceeded {
                    payment_id: p.payment_id,
                },
            )
        }
        "payment.failed" => {
            let p: PaymentFailed = event.payload()?;
            (p.order_id, SagaInput::PaymentFailed { reason: p.reason })
        }
        // inventory.committed, inventory.released, inventory.low_stock,
        // payment.refunded, ...: nothing for the saga to do.
        _ => return Ok(None),
    }))
}

fn apply(db: &Db, ctx: &Context, event: &Event) -> Result<(), ApiError> {
    let Some((order_id, input)) = saga_input(event)? else {
        return Ok(());
    };
    // An answer about an order we do not have is not ours; acknowledge it.
    let Some(order) = store::get(db, &order_id)? else {
        return Ok(());
    };
    match saga::decide(&order.saga_state(), &input) {
        Decision::Apply(change) => {
            if orchestrator::carry_out(db, ctx, &order, &change, Cause::event(&event.0))? {
                Ok(())
            } else {
                // Cannot happen under BEGIN IMMEDIATE; if it does, let the
                // bridge redeliver and decide again on the fresh state.
                Err(ApiError::Unavailable(format!(
                    "order {order_id} changed while handling {}",
                    event.0.type_
                )))
            }
        }
        Decision::Ignore | Decision::Refuse(_) => Ok(()),
    }
}

/// How long a saga step may wait for its answer.
fn step_timeout_secs() -> u64 {
    spin_sdk::variables::get("saga_step_timeout_secs")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&secs: &u64| secs > 0)
        .unwrap_or(DEFAULT_STEP_TIMEOUT_SECS)
}

/// `POST /internal/orders/tick`: compensates pending orders whose step
/// timed out, and forgets idempotent responses past their retention.
pub fn tick(req: &Request, ctx: &Context, db: &Db) -> Result<Response, ApiError> {
    if req.method != Method::Post {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    let timeout = step_timeout_secs();
    let limit_ms = i64::try_from(timeout.saturating_mul(1000)).unwrap_or(i64::MAX);
    let candidates = store::stalled(db, now_ms().saturating_sub(limit_ms), TIMEOUT_BATCH)?;
    let mut timed_out = 0u32;
    for id in &candidates {
        // One transaction per order: re-read, so an answer that arrived
        // meanwhile wins over the timeout.
        let compensated = db.transaction(|db| {
            let Some(order) = store::get(db, id)? else {
                return Ok(false);
            };
            if !saga::timed_out(order.step_started_at_ms, now_ms(), timeout) {
                return Ok(false);
            }
            match saga::decide(&order.saga_state(), &SagaInput::StepTimedOut) {
                Decision::Apply(change) => orchestrator::carry_out(
                    db,
                    ctx,
                    &order,
                    &change,
                    Cause::continuing(&order.correlation_id),
                ),
                Decision::Ignore | Decision::Refuse(_) => Ok(false),
            }
        })?;
        timed_out += u32::from(compensated);
    }
    let purged = platform::idempotency::purge_expired(db)?;
    Ok(Response::json(
        200,
        &json!({ "timed_out": timed_out, "idempotency_keys_purged": purged }),
    ))
}
