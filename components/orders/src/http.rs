//! The public API: place an order (priced by the catalog), read it and its
//! saga status, list orders, cancel a pending one. Every route needs a
//! user; a customer sees only their own orders, an admin sees all.

use platform::auth::Principal;
use platform::clock::{now_ms, rfc3339_from_ms};
use platform::db::Db;
use platform::domain::Money;
use platform::idempotency::Idempotency;
use platform::pagination::PageRequest;
use platform::{ApiError, Context, Handler, Id, Request, Response, Route};
use serde_json::{json, Value};

use crate::catalog;
use crate::domain::saga::{self, Decision, SagaInput};
use crate::domain::{self, NewOrder, OrderStatus, SagaStep, CURRENCY};
use crate::orchestrator::{self, Cause};
use crate::store::{self, Order};

/// `reservation_ttl_secs` when unset or unreadable.
const DEFAULT_RESERVATION_TTL_SECS: u32 = 900;

/// Orders' routes (all in the component's rate-limit group).
pub const ROUTES: &[Route] = &[
    Route::get("/api/orders", Handler::Sync(list)),
    Route::post("/api/orders", platform::handler!(async place)),
    Route::get("/api/orders/:id", Handler::Sync(get)),
    Route::get("/api/orders/:id/status", Handler::Sync(status)),
    Route::post("/api/orders/:id/cancel", Handler::Sync(cancel)),
];

/// An order as clients see it: money as integer cents and as a
/// two-decimal number, times in RFC 3339.
pub fn order_json(o: &Order) -> Value {
    json!({
        "id": o.id,
        "user_id": o.user_id,
        "status": o.status.as_str(),
        "step": o.step.as_str(),
        "items": o.lines.iter().map(|l| json!({
            "product_id": l.product_id,
            "quantity": l.quantity,
            "unit_price_cents": l.unit_price_cents,
            "unit_price": Money::from_cents(l.unit_price_cents).to_json(),
        })).collect::<Vec<_>>(),
        "total_cents": o.total_cents,
        "total": Money::from_cents(o.total_cents).to_json(),
        "currency": o.currency,
        "reason": o.reason,
        "reservation_id": o.reservation_id,
        "payment_id": o.payment_id,
        "shipping_address": o.shipping_address,
        "created_at": rfc3339_from_ms(o.created_at_ms),
        "updated_at": rfc3339_from_ms(o.updated_at_ms),
    })
}

fn status_url(id: &str) -> String {
    format!("/api/orders/{id}/status")
}

fn not_found(id: &Id) -> ApiError {
    ApiError::NotFound(format!("no order {id}"))
}

/// The order if the caller may see it; anyone else gets the same 404 as
/// for an order that does not exist, so ids reveal nothing.
fn visible(db: &Db, principal: &Principal, id: &Id) -> Result<Order, ApiError> {
    match store::get(db, id.as_str())? {
        Some(order) if principal.can_access(&order.user_id) => Ok(order),
        _ => Err(not_found(id)),
    }
}

fn reservation_ttl_secs() -> u32 {
    spin_sdk::variables::get("reservation_ttl_secs")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&secs: &u32| secs > 0)
        .unwrap_or(DEFAULT_RESERVATION_TTL_SECS)
}

/// `POST /api/orders`: 202 with the order, whose saga has started.
async fn place(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let idempotency = Idempotency::of(req, &user.user_id)?;
    let db = ctx.db()?;
    // A retry of a placed order is answered without asking the catalog.
    if let Some(saved) = idempotency.begin(db)? {
        return Ok(saved);
    }
    let request = req.json::<NewOrder>()?.validate()?;
    let lines = catalog::price(ctx, req.header("authorization"), &request.lines).await?;
    let total = domain::total(&lines)
        .ok_or_else(|| ApiError::invalid("items", "the order's total is too large"))?;
    let now = now_ms();
    let order = Order {
        id: Id::generate().into_string(),
        user_id: user.user_id.clone(),
        status: OrderStatus::Pending,
        step: SagaStep::Reserving,
        reason: None,
        reservation_id: None,
        payment_id: None,
        lines,
        total_cents: total.cents(),
        currency: CURRENCY.into(),
        shipping_address: request.shipping_address,
        correlation_id: ctx.request_id.clone(),
        created_at_ms: now,
        updated_at_ms: now,
        step_started_at_ms: now,
    };
    let ttl = reservation_ttl_secs();
    db.transaction(|db| {
        // Checked again under the write lock: a concurrent retry with the
        // same key may have placed the order while the catalog answered.
        if let Some(saved) = idempotency.begin(db)? {
            return Ok(saved);
        }
        orchestrator::start(db, ctx, &order, ttl, &request.hold_ids)?;
        let mut body = order_json(&order);
        body["status_url"] = json!(status_url(&order.id));
        let response =
            Response::json(202, &body).with_header("location", format!("/api/orders/{}", order.id));
        idempotency.finish(db, &response)?;
        Ok(response)
    })
}

fn get(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let id = req.id("id")?;
    let order = visible(ctx.db()?, principal, &id)?;
    Ok(Response::json(200, &order_json(&order)))
}

fn status(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let id = req.id("id")?;
    let db = ctx.db()?;
    let order = visible(db, principal, &id)?;
    let history: Vec<Value> = store::history(db, &order.id)?
        .iter()
        .map(|h| {
            json!({
                "step": h.step.as_str(),
                "status": h.status.as_str(),
                "at": rfc3339_from_ms(h.at_ms),
                "event_type": h.event_type,
                "event_id": h.event_id,
                "detail": h.detail,
            })
        })
        .collect();
    Ok(Response::json(
        200,
        &json!({
            "id": order.id,
            "status": order.status.as_str(),
            "step": order.step.as_str(),
            "reason": order.reason,
            "history": history,
        }),
    ))
}

fn list(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let page = PageRequest::standard(req)?;
    let status = match req.query_param("status") {
        None => None,
        Some(s) => Some(OrderStatus::parse(&s).ok_or_else(|| {
            ApiError::invalid("status", "must be PENDING, CONFIRMED or CANCELLED")
        })?),
    };
    let owner = (!principal.is_admin()).then_some(principal.user_id.as_str());
    let orders = store::list(
        ctx.db()?,
        owner,
        status,
        page.after.as_deref(),
        page.fetch(),
    )?;
    let page = page.page(orders, |o| o.id.clone());
    Ok(Response::json(200, &page.map(|o| order_json(&o))))
}

fn cancel(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let id = req.id("id")?;
    let order = ctx.db()?.transaction(|db| {
        let order = visible(db, principal, &id)?;
        match saga::decide(&order.saga_state(), &SagaInput::CancelRequested) {
            Decision::Apply(change) => {
                if !orchestrator::carry_out(db, ctx, &order, &change, Cause::request())? {
                    return Err(ApiError::Conflict(format!(
                        "order {id} changed meanwhile; reload it and retry"
                    )));
                }
            }
            Decision::Refuse(why) => return Err(ApiError::Conflict(why)),
            Decision::Ignore => {}
        }
        store::get(db, &order.id)?.ok_or_else(|| not_found(&id))
    })?;
    Ok(Response::json(200, &order_json(&order)))
}
