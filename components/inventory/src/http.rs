//! The public HTTP API: stock levels and reservations.

use platform::auth::Principal;
use platform::clock::now_ms;
use platform::events::LineFailure;
use platform::openapi::{
    Access, Body, Paging, Param, Reply, ETAG, IF_MATCH, IF_NONE_MATCH, LOCATION,
};
use platform::pagination::{Page, PageRequest};
use platform::problem::Problem;
use platform::{ApiError, Context, Handler, Request, Response, Route, RouteDoc};

use crate::domain::holds::Extension;
use crate::domain::{self, HoldPolicy, ReservationRequest, Status, StockUpdate};
use crate::service::{self, Ask};
use crate::store::{self, ReservationRecord, Stock};
use crate::views::{ReservationCreated, ShortageProblem};

/// Inventory's routes (all in the component's rate-limit group).
pub const ROUTES: &[Route] = &[
    Route::get("/api/inventory", Handler::Sync(list)).doc(&RouteDoc {
        summary: "List stock levels",
        access: Access::Admin,
        params: &[Param::query::<bool>(
            "low_stock",
            "`true`: only products at or under the low-stock threshold",
        )],
        page: Some(Paging { default: 50, max: 200 }),
        replies: &[Reply::json::<Page<Stock>>(200, "A page of stock levels")],
        ..RouteDoc::BASE
    }),
    Route::post("/api/inventory/reservations", Handler::Sync(reserve)).doc(&RouteDoc {
        summary: "Hold stock for the caller",
        description: "A customer's hold lasts 15 minutes at most, and a customer's holds are \
            capped in units and in number (`hold_max_*`); admins are not capped.",
        access: Access::User,
        body: Some(Body::json::<ReservationRequest>(
            r#"{"lines": [{"product_id": "0198c3a0-7e3c-7d1e-9b2a-5f0c1d2e3f40", "quantity": 2}], "ttl_seconds": 600}"#,
        )),
        replies: &[
            Reply::json::<ReservationCreated<'static>>(201, "The hold").headers(&[LOCATION]),
            Reply::problem::<ShortageProblem<'static>>(
                409,
                "Not enough stock for some line (each says how many it could have), or a \
                 hold cap is reached (`limit` and `max` name it); nothing was reserved",
            ),
        ],
        ..RouteDoc::BASE
    }),
    Route::get(
        "/api/inventory/reservations/:reservation_id",
        Handler::Sync(get_reservation),
    )
    .doc(&RouteDoc {
        summary: "A reservation (the caller's own hold, or any for an admin)",
        access: Access::User,
        replies: &[Reply::json::<ReservationRecord>(200, "The reservation")],
        ..RouteDoc::BASE
    }),
    Route::put(
        "/api/inventory/reservations/:reservation_id",
        Handler::Sync(resize_hold),
    )
    .doc(&RouteDoc {
        summary: "Change what the caller's open hold holds, and renew it",
        description: "In one step: the hold's own units count as available to it.",
        access: Access::User,
        body: Some(Body::json::<ReservationRequest>(
            r#"{"lines": [{"product_id": "0198c3a0-7e3c-7d1e-9b2a-5f0c1d2e3f40", "quantity": 3}]}"#,
        )),
        replies: &[
            Reply::json::<ReservationRecord>(200, "The hold, changed"),
            Reply::problem::<ShortageProblem<'static>>(
                409,
                "Not enough stock for some line, a hold cap is reached, or the hold is no \
                 longer open; the hold is as it was",
            ),
        ],
        ..RouteDoc::BASE
    }),
    Route::delete(
        "/api/inventory/reservations/:reservation_id",
        Handler::Sync(cancel_reservation),
    )
    .doc(&RouteDoc {
        summary: "Release a hold",
        access: Access::User,
        replies: &[Reply::empty(204, "Released: its stock is available again")],
        errors: &[(409, "the reservation is an order's (cancel the order), or not active")],
        ..RouteDoc::BASE
    }),
    Route::post(
        "/api/inventory/reservations/:reservation_id/extend",
        Handler::Sync(extend_hold),
    )
    .doc(&RouteDoc {
        summary: "Renew the caller's open hold",
        access: Access::User,
        body: Some(Body::json::<Extension>(r#"{"ttl_seconds": 900}"#).optional()),
        replies: &[Reply::json::<ReservationRecord>(200, "The hold, renewed")],
        errors: &[(409, "the hold is no longer open")],
        ..RouteDoc::BASE
    }),
    Route::get("/api/inventory/:product_id", Handler::Sync(get)).doc(&RouteDoc {
        summary: "A product's stock",
        params: &[IF_NONE_MATCH],
        replies: &[
            Reply::json::<Stock>(200, "Its stock").headers(&[ETAG]),
            Reply::empty(304, "Unchanged since the ETag sent").headers(&[ETAG]),
        ],
        ..RouteDoc::BASE
    }),
    Route::put("/api/inventory/:product_id", Handler::Sync(update)).doc(&RouteDoc {
        summary: "Set a product's available stock, or move it",
        access: Access::Admin,
        params: &[IF_MATCH],
        body: Some(Body::json::<StockUpdate>(r#"{"delta": 5}"#)),
        replies: &[Reply::json::<Stock>(200, "Its stock").headers(&[ETAG])],
        ..RouteDoc::BASE
    }),
];

fn list(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let page = PageRequest::from_request(req, 50, 200)?;
    let low = match req.query_param("low_stock").as_deref() {
        None | Some("false") => None,
        Some("true") => Some(service::low_stock_threshold()),
        Some(_) => return Err(ApiError::invalid("low_stock", "must be true or false")),
    };
    let rows = store::list(ctx.db()?, page.after.as_deref(), page.fetch(), low)?;
    let page = page.page(rows, |s| s.product_id.clone());
    Ok(Response::json(200, &page))
}

fn not_stocked(id: &str) -> ApiError {
    ApiError::NotFound(format!("no stock record for product {id}"))
}

fn get(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let id = req.id("product_id")?;
    let stock = store::get(ctx.db()?, id.as_str())?.ok_or_else(|| not_stocked(id.as_str()))?;
    let etag = domain::etag(stock.version);
    if platform::conditional::not_modified(req, stock.version) {
        return Ok(Response::empty(304).with_header("etag", etag));
    }
    Ok(Response::json(200, &stock).with_header("etag", etag))
}

fn update(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let id = req.id("product_id")?;
    let update: StockUpdate = req.json()?;
    let stock = service::update_stock(ctx.db()?, ctx, &id, &update, req.header("if-match"))?;
    Ok(Response::json(200, &stock).with_header("etag", domain::etag(stock.version)))
}

/// The customer-hold policy from the component's variables.
fn hold_policy() -> HoldPolicy {
    HoldPolicy::from(|name| spin_sdk::variables::get(name).ok())
}

/// `POST /api/inventory/reservations`: a hold on stock for the caller,
/// within the hold policy (admins are not capped).
fn reserve(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let policy = hold_policy();
    let reservation = req.json::<ReservationRequest>()?.validate(&policy)?;
    let db = ctx.db()?;
    let ask = Ask {
        order_id: None,
        owner_id: Some(&principal.user_id),
        lines: &reservation.lines,
        ttl_seconds: reservation.ttl_seconds,
    };
    // One transaction: the caps are checked against what the caller holds
    // under the same write lock that takes the stock, so racing holds of
    // one customer cannot both slip under a cap.
    let outcome = db.transaction(|db| {
        if !principal.is_admin() {
            let held = store::holdings(db, &principal.user_id, now_ms())?;
            policy.admit(held, &reservation.lines)?;
        }
        service::reserve(db, ctx, None, &ask)
    })?;
    match outcome {
        Ok((id, expires_at_ms)) => Ok(Response::json(
            201,
            &ReservationCreated {
                reservation_id: id.to_string(),
                status: Status::Active,
                expires_at_ms,
                lines: &reservation.lines,
            },
        )
        .with_header("location", format!("/api/inventory/reservations/{id}"))),
        Err(failures) => Ok(shortage(ctx, &failures)),
    }
}

/// The 409 of a reservation some line of which cannot be had: each
/// failing line says how many units it could have.
fn shortage(ctx: &Context, failures: &[LineFailure]) -> Response {
    let problem = Problem::new(
        409,
        "not enough stock for every line; nothing was reserved",
        &ctx.request_id,
    );
    Response::json(409, &ShortageProblem { problem, failures })
        .with_header("content-type", "application/problem+json")
}

/// The reservation if `principal` may see it (its owner, or an admin);
/// anyone else gets the 404 of a reservation that does not exist.
fn visible(ctx: &Context, principal: &Principal, id: &str) -> Result<ReservationRecord, ApiError> {
    match store::reservation(ctx.db()?, id)? {
        Some(r)
            if r.owner_id
                .as_deref()
                .is_some_and(|o| principal.can_access(o))
                || principal.is_admin() =>
        {
            Ok(r)
        }
        _ => Err(ApiError::NotFound(format!("no reservation {id}"))),
    }
}

fn get_reservation(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let id = req.id("reservation_id")?;
    Ok(Response::json(200, &visible(ctx, principal, id.as_str())?))
}

fn cancel_reservation(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let id = req.id("reservation_id")?;
    ctx.db()?.transaction(|db| {
        let r = visible(ctx, principal, id.as_str())?;
        if let Some(order_id) = &r.order_id {
            // The saga owns an order's stock: cancelling the order is what
            // gives it back.
            return Err(ApiError::Conflict(format!(
                "reservation {id} holds stock for order {order_id}; cancel the order instead"
            )));
        }
        if r.status != Status::Active {
            return Err(ApiError::Conflict(format!(
                "reservation {id} is already {}",
                r.status.as_str()
            )));
        }
        service::release(db, ctx, None, &r, "cancelled")
    })?;
    Ok(Response::empty(204))
}

/// The caller's own hold `id` (admins included: a hold is its owner's
/// to renew or resize); anyone else gets the 404 of no such reservation.
fn own_hold(ctx: &Context, principal: &Principal, id: &str) -> Result<ReservationRecord, ApiError> {
    match store::reservation(ctx.db()?, id)? {
        Some(r) if r.owner_id.as_deref() == Some(principal.user_id.as_str()) => Ok(r),
        _ => Err(ApiError::NotFound(format!("no reservation {id}"))),
    }
}

/// `POST /api/inventory/reservations/:id/extend`: the owner renews an
/// open hold to last `ttl_seconds` (at most, and by default, the
/// policy's longest hold) from now; 409 once it is no longer open.
fn extend_hold(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let id = req.id("reservation_id")?;
    let extension = if req.body_is_empty() {
        Extension::default()
    } else {
        req.json::<Extension>()?
    };
    let ttl = extension.ttl(&hold_policy())?;
    let hold = own_hold(ctx, principal, id.as_str())?;
    let renewed = service::holds::extend(ctx.db()?, &hold, ttl)?;
    Ok(Response::json(200, &renewed))
}

/// `PUT /api/inventory/reservations/:id` (`{lines, ttl_seconds}`): the
/// owner changes what an open hold holds, in one step (its own units
/// count as available to it), and renews it; a 409 with the failing
/// lines when there is not enough, and the hold stays as it was.
fn resize_hold(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let id = req.id("reservation_id")?;
    let policy = hold_policy();
    let asked = req.json::<ReservationRequest>()?.validate(&policy)?;
    let hold = own_hold(ctx, principal, id.as_str())?;
    match service::holds::resize(ctx.db()?, ctx, principal, &policy, &hold, &asked)? {
        Ok(resized) => Ok(Response::json(200, &resized)),
        Err(failures) => Ok(shortage(ctx, &failures)),
    }
}
