//! The public API: place an order (priced by the catalog), read it and its
//! saga status, list orders, cancel a pending one. Every route needs a
//! user; a customer sees only their own orders, an admin sees all.

use platform::auth::{self, Principal};
use platform::db::{now_ms, Db};
use platform::events::{new_id, rfc3339_from_ms};
use platform::idempotency::{self, Lookup};
use platform::pagination::{self, PageRequest};
use platform::validate::cents_to_json;
use platform::{ratelimit, ApiError, Context, Method, Request, Response};
use serde_json::{json, Value};

use crate::domain::saga::{self, Decision, SagaInput};
use crate::domain::{self, NewOrder, OrderStatus, SagaStep, CURRENCY};
use crate::orchestrator::{self, Cause};
use crate::store::{self, Order};
use crate::{catalog, DATABASE};

/// The rate-limit group of every public route.
const GROUP: &str = "orders";
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;
/// `reservation_ttl_secs` when unset or unreadable.
const DEFAULT_RESERVATION_TTL_SECS: u32 = 900;

pub async fn route(req: &Request, ctx: &Context, segments: &[&str]) -> Result<Response, ApiError> {
    // `limited` wraps a synchronous handler; creating an order awaits the
    // catalog, so the limiter is used as a gate: it adds the rate-limit
    // headers to the context (they go on any answer) or refuses with 429.
    ratelimit::limited(req, ctx, GROUP, || Ok(Response::empty(204)))?;
    match (req.method, segments) {
        (Method::Post, ["api", "orders"]) => create(req, ctx).await,
        (Method::Get, ["api", "orders"]) => list(req),
        (_, ["api", "orders"]) => Err(ApiError::MethodNotAllowed { allow: "GET, POST" }),
        (Method::Get, ["api", "orders", id]) => get(req, id),
        (_, ["api", "orders", _]) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        (Method::Get, ["api", "orders", id, "status"]) => status(req, id),
        (_, ["api", "orders", _, "status"]) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        (Method::Post, ["api", "orders", id, "cancel"]) => cancel(req, ctx, id),
        (_, ["api", "orders", _, "cancel"]) => Err(ApiError::MethodNotAllowed { allow: "POST" }),
        _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
    }
}

fn open_db() -> Result<Db, ApiError> {
    Db::open(DATABASE, store::MIGRATIONS)
}

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
            "unit_price": cents_to_json(l.unit_price_cents),
        })).collect::<Vec<_>>(),
        "total_cents": o.total_cents,
        "total": cents_to_json(o.total_cents),
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

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no order {id}"))
}

/// The order if the caller may see it; anyone else gets the same 404 as
/// for an order that does not exist, so ids reveal nothing.
fn visible(db: &Db, principal: &Principal, id: &str) -> Result<Order, ApiError> {
    match store::get(db, id)? {
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

/// What a saved response under the request's `Idempotency-Key` says.
fn replay(
    db: &Db,
    user: &str,
    key: Option<&str>,
    hash: &str,
) -> Result<Option<Response>, ApiError> {
    let Some(key) = key else {
        return Ok(None);
    };
    match idempotency::lookup(db.connection(), user, key, hash)? {
        Lookup::Replay(saved) => Ok(Some(saved)),
        Lookup::Mismatch => Err(idempotency::mismatch_error()),
        Lookup::New => Ok(None),
    }
}

async fn create(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let user = auth::require_user(req)?;
    let key = idempotency::key_from(req)?;
    let hash = idempotency::request_hash(req);
    let db = open_db()?;
    // A retry of a placed order is answered without asking the catalog.
    if let Some(saved) = replay(&db, &user.user_id, key.as_deref(), &hash)? {
        return Ok(saved);
    }
    let request = req.json::<NewOrder>()?.validate()?;
    let lines = catalog::price(ctx, req.header("authorization"), &request.lines).await?;
    let total_cents = domain::total_cents(&lines)
        .ok_or_else(|| ApiError::invalid("items", "the order's total is too large"))?;
    let now = now_ms();
    let order = Order {
        id: new_id(),
        user_id: user.user_id.clone(),
        status: OrderStatus::Pending,
        step: SagaStep::Reserving,
        reason: None,
        reservation_id: None,
        payment_id: None,
        lines,
        total_cents,
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
        if let Some(saved) = replay(db, &user.user_id, key.as_deref(), &hash)? {
            return Ok(saved);
        }
        orchestrator::start(db, ctx, &order, ttl)?;
        let mut body = order_json(&order);
        body["status_url"] = json!(status_url(&order.id));
        let response =
            Response::json(202, &body).with_header("location", format!("/api/orders/{}", order.id));
        if let Some(key) = &key {
            idempotency::store(db.connection(), &user.user_id, key, &hash, &response)?;
        }
        Ok(response)
    })
}

fn get(req: &Request, id: &str) -> Result<Response, ApiError> {
    let principal = auth::require_user(req)?;
    let id = domain::order_id(id)?;
    let order = visible(&open_db()?, &principal, &id)?;
    Ok(Response::json(200, &order_json(&order)))
}

fn status(req: &Request, id: &str) -> Result<Response, ApiError> {
    let principal = auth::require_user(req)?;
    let id = domain::order_id(id)?;
    let db = open_db()?;
    let order = visible(&db, &principal, &id)?;
    let history: Vec<Value> = store::history(&db, &id)?
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

fn list(req: &Request) -> Result<Response, ApiError> {
    let principal = auth::require_user(req)?;
    let page = PageRequest::from_request(req, DEFAULT_LIMIT, MAX_LIMIT)?;
    let status = match req.query_param("status") {
        None => None,
        Some(s) => Some(OrderStatus::parse(&s).ok_or_else(|| {
            ApiError::invalid("status", "must be PENDING, CONFIRMED or CANCELLED")
        })?),
    };
    let owner = (!principal.is_admin()).then_some(principal.user_id.as_str());
    let mut orders = store::list(
        &open_db()?,
        owner,
        status,
        page.after.as_deref(),
        page.limit + 1,
    )?;
    let more = orders.len() > page.limit as usize;
    orders.truncate(page.limit as usize);
    let next_cursor = more
        .then(|| orders.last())
        .flatten()
        .map(|o| pagination::encode(&o.id));
    Ok(Response::json(
        200,
        &json!({
            "items": orders.iter().map(order_json).collect::<Vec<_>>(),
            "next_cursor": next_cursor,
        }),
    ))
}

fn cancel(req: &Request, ctx: &Context, id: &str) -> Result<Response, ApiError> {
    let principal = auth::require_user(req)?;
    let id = domain::order_id(id)?;
    let db = open_db()?;
    let order = db.transaction(|db| {
        let order = visible(db, &principal, &id)?;
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
        store::get(db, &id)?.ok_or_else(|| not_found(&id))
    })?;
    Ok(Response::json(200, &order_json(&order)))
}
