//! The public API: place an order (priced by the catalog), read it and its
//! saga status, list orders, cancel a pending one. Every route needs a
//! user; a customer sees only their own orders, an admin sees all.

use platform::auth::Principal;
use platform::clock::now_ms;
use platform::db::Db;
use platform::idempotency::Idempotency;
use platform::openapi::{Access, Body, Paging, Param, Reply, IDEMPOTENCY_KEY, LOCATION};
use platform::pagination::{Page, PageRequest};
use platform::{ApiError, Context, Handler, Id, Request, Response, Route, RouteDoc};

use crate::catalog;
use crate::domain::saga::{self, Decision, SagaInput};
use crate::domain::{self, NewOrder, OrderStatus, SagaStep, CURRENCY};
use crate::orchestrator::{self, Cause};
use crate::store::{self, Order};
use crate::views::{OrderProgress, OrderView, PlacedOrder, StepView};

/// `reservation_ttl_secs` when unset or unreadable.
const DEFAULT_RESERVATION_TTL_SECS: u32 = 900;

/// Orders' routes (all in the component's rate-limit group).
pub const ROUTES: &[Route] = &[
    Route::get("/api/orders", Handler::Sync(list)).doc(&RouteDoc {
        summary: "List orders (the caller's; every order for an admin), newest first",
        access: Access::User,
        params: &[Param::one_of(
            "status",
            "orders in this status only",
            OrderStatus::NAMES,
        )],
        page: Some(Paging::STANDARD),
        replies: &[Reply::json::<Page<OrderView>>(200, "A page of orders")],
        ..RouteDoc::BASE
    }),
    Route::post("/api/orders", platform::handler!(async place)).doc(&RouteDoc {
        summary: "Place an order",
        description: "Priced by the catalog now, never by the client. Answered at once with \
            202: the saga then reserves the stock, charges the payment and confirms the order \
            (or cancels it, giving back what it took); `status_url` follows it.",
        access: Access::User,
        params: &[IDEMPOTENCY_KEY],
        body: Some(Body::json::<NewOrder>(
            r#"{"items": [{"product_id": "0198c3a0-7e3c-7d1e-9b2a-5f0c1d2e3f40", "quantity": 2}],
                "shipping_address": {"line1": "1 Main St", "city": "Springfield"}}"#,
        )),
        replies: &[Reply::json::<PlacedOrder>(202, "The order, PENDING").headers(&[LOCATION])],
        errors: &[(
            503,
            "the catalog cannot price the order now, or the token cannot be checked",
        )],
        ..RouteDoc::BASE
    }),
    Route::get("/api/orders/:id", Handler::Sync(get)).doc(&RouteDoc {
        summary: "An order",
        access: Access::User,
        replies: &[Reply::json::<OrderView>(200, "The order")],
        ..RouteDoc::BASE
    }),
    Route::get("/api/orders/:id/status", Handler::Sync(status)).doc(&RouteDoc {
        summary: "Where an order's saga is, and its history",
        access: Access::User,
        replies: &[Reply::json::<OrderProgress>(200, "The saga's progress")],
        ..RouteDoc::BASE
    }),
    Route::post("/api/orders/:id/cancel", Handler::Sync(cancel)).doc(&RouteDoc {
        summary: "Cancel a pending order",
        description: "What the saga took is given back (stock released, payment refunded).",
        access: Access::User,
        replies: &[Reply::json::<OrderView>(200, "The order")],
        errors: &[(
            409,
            "the order can no longer be cancelled, or it changed meanwhile",
        )],
        ..RouteDoc::BASE
    }),
];

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
        let body = PlacedOrder {
            order: OrderView::from(&order),
            status_url: status_url(&order.id),
        };
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
    Ok(Response::json(200, &OrderView::from(&order)))
}

fn status(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let id = req.id("id")?;
    let db = ctx.db()?;
    let order = visible(db, principal, &id)?;
    let history = store::history(db, &order.id)?;
    Ok(Response::json(
        200,
        &OrderProgress {
            id: order.id,
            status: order.status,
            step: order.step,
            reason: order.reason,
            history: history.iter().map(StepView::from).collect(),
        },
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
    Ok(Response::json(200, &page.map(|o| OrderView::from(&o))))
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
    Ok(Response::json(200, &OrderView::from(&order)))
}
