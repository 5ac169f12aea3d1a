//! The public HTTP API: stock levels and reservations.

use platform::auth::{self, Principal, Role};
use platform::db::{now_ms, Db};
use platform::pagination::{self, PageRequest};
use platform::{ApiError, Context, Method, Request, Response};
use serde_json::json;

use crate::domain::{self, ReservationRequest, StockUpdate};
use crate::events::{emit_reservation_outcome, low_stock_check, release_reservation};
use crate::store::{self, Stock};
use crate::DATABASE;

pub fn route(req: &Request, ctx: &Context, segments: &[&str]) -> Result<Response, ApiError> {
    platform::ratelimit::limited(req, ctx, "inventory", || dispatch(req, ctx, segments))
}

fn dispatch(req: &Request, ctx: &Context, segments: &[&str]) -> Result<Response, ApiError> {
    match (req.method, segments) {
        (Method::Get, ["api", "inventory"]) => list(req),
        (_, ["api", "inventory"]) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        (Method::Post, ["api", "inventory", "reservations"]) => reserve(req, ctx),
        (_, ["api", "inventory", "reservations"]) => {
            Err(ApiError::MethodNotAllowed { allow: "POST" })
        }
        (Method::Get, ["api", "inventory", "reservations", id]) => get_reservation(req, id),
        (Method::Delete, ["api", "inventory", "reservations", id]) => {
            cancel_reservation(req, ctx, id)
        }
        (_, ["api", "inventory", "reservations", _]) => Err(ApiError::MethodNotAllowed {
            allow: "GET, DELETE",
        }),
        (Method::Get, ["api", "inventory", id]) => get(req, id),
        (Method::Put, ["api", "inventory", id]) => update(req, ctx, id),
        (_, ["api", "inventory", _]) => Err(ApiError::MethodNotAllowed { allow: "GET, PUT" }),
        _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
    }
}

fn stock_json(s: &Stock) -> serde_json::Value {
    json!({
        "product_id": s.product_id,
        "available": s.available,
        "reserved": s.reserved,
        "sold": s.sold,
        "version": s.version,
    })
}

fn low_stock_threshold() -> i64 {
    spin_sdk::variables::get("low_stock_threshold")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

fn list(req: &Request) -> Result<Response, ApiError> {
    auth::require_admin(req)?;
    let page = PageRequest::from_request(req, 50, 200)?;
    let low = match req.query_param("low_stock").as_deref() {
        None | Some("false") => None,
        Some("true") => Some(low_stock_threshold()),
        Some(_) => return Err(ApiError::invalid("low_stock", "must be true or false")),
    };
    let db = Db::open(DATABASE, store::MIGRATIONS)?;
    let items = store::list(&db, page.after.as_deref(), page.limit + 1, low)?;
    let more = items.len() > page.limit as usize;
    let items: Vec<_> = items.into_iter().take(page.limit as usize).collect();
    let next = if more {
        items.last().map(|s| pagination::encode(&s.product_id))
    } else {
        None
    };
    Ok(Response::json(
        200,
        &json!({
            "items": items.iter().map(stock_json).collect::<Vec<_>>(),
            "next_cursor": next,
        }),
    ))
}

fn get(req: &Request, id: &str) -> Result<Response, ApiError> {
    let id = domain::product_id("product_id", id)?;
    let db = Db::open(DATABASE, store::MIGRATIONS)?;
    let stock = store::get(&db, &id)?
        .ok_or_else(|| ApiError::NotFound(format!("no stock record for product {id}")))?;
    let etag = domain::etag(stock.version);
    if platform::conditional::not_modified(req, stock.version) {
        return Ok(Response::empty(304).with_header("etag", etag));
    }
    Ok(Response::json(200, &stock_json(&stock)).with_header("etag", etag))
}

fn update(req: &Request, ctx: &Context, id: &str) -> Result<Response, ApiError> {
    auth::require_admin(req)?;
    let id = domain::product_id("product_id", id)?;
    let update: StockUpdate = req.json()?;
    let db = Db::open(DATABASE, store::MIGRATIONS)?;
    let stock = db.transaction(|db| {
        let current = store::get(db, &id)?
            .ok_or_else(|| ApiError::NotFound(format!("no stock record for product {id}")))?;
        platform::conditional::require_if_match(req, current.version)?;
        let next = update.apply(current.available)?;
        if !store::set_available(db, &id, next, current.version)? {
            return Err(ApiError::PreconditionFailed(
                "the stock record changed; reload it and retry".into(),
            ));
        }
        low_stock_check(db, ctx, None, &id, low_stock_threshold())?;
        store::get(db, &id)?.ok_or_else(|| ApiError::internal("stock record vanished"))
    })?;
    Ok(Response::json(200, &stock_json(&stock)).with_header("etag", domain::etag(stock.version)))
}

fn reserve(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = auth::require_user(req)?;
    let body: ReservationRequest = req.json()?;
    let (reservation, order_id) = body.validate()?;
    let db = Db::open(DATABASE, store::MIGRATIONS)?;
    let id = uuid_v7();
    let expires_at_ms = now_ms() + i64::from(reservation.ttl_seconds) * 1000;
    let outcome = db.transaction(|db| {
        if let Some(order) = &order_id {
            if store::reservation_for_order(db, order)?.is_some() {
                return Err(ApiError::Conflict(format!(
                    "order {order} already has a reservation"
                )));
            }
        }
        let outcome = store::reserve(
            db,
            &id,
            order_id.as_deref(),
            Some(&principal.user_id),
            &reservation.lines,
            expires_at_ms,
        )?;
        if outcome.is_ok() {
            for line in &reservation.lines {
                low_stock_check(db, ctx, None, &line.product_id, low_stock_threshold())?;
            }
        }
        if let Some(order) = &order_id {
            emit_reservation_outcome(
                db,
                ctx,
                None,
                order,
                &id,
                &reservation.lines,
                expires_at_ms,
                &outcome,
            )?;
        }
        Ok(outcome)
    })?;
    match outcome {
        Ok(()) => Ok(Response::json(
            201,
            &json!({
                "reservation_id": id,
                "order_id": order_id,
                "status": "active",
                "expires_at_ms": expires_at_ms,
                "lines": reservation.lines,
            }),
        )
        .with_header("location", format!("/api/inventory/reservations/{id}"))),
        Err(failures) => Ok(Response::json(
            409,
            &json!({
                "type": "about:blank",
                "title": "Conflict",
                "status": 409,
                "detail": "not enough stock for every line; nothing was reserved",
                "failures": failures,
                "request_id": ctx.request_id,
            }),
        )
        .with_header("content-type", "application/problem+json")),
    }
}

fn visible(principal: &Principal, owner: Option<&str>) -> bool {
    principal.role == Role::Admin || owner == Some(principal.user_id.as_str())
}

fn get_reservation(req: &Request, id: &str) -> Result<Response, ApiError> {
    let principal = auth::require_user(req)?;
    let id = domain::product_id("reservation_id", id)?;
    let db = Db::open(DATABASE, store::MIGRATIONS)?;
    match store::reservation(&db, &id)? {
        Some(r) if visible(&principal, r.owner_id.as_deref()) => Ok(Response::json(200, &r)),
        _ => Err(ApiError::NotFound(format!("no reservation {id}"))),
    }
}

fn cancel_reservation(req: &Request, ctx: &Context, id: &str) -> Result<Response, ApiError> {
    let principal = auth::require_user(req)?;
    let id = domain::product_id("reservation_id", id)?;
    let db = Db::open(DATABASE, store::MIGRATIONS)?;
    db.transaction(|db| match store::reservation(db, &id)? {
        Some(r) if visible(&principal, r.owner_id.as_deref()) => {
            if r.status != "active" {
                return Err(ApiError::Conflict(format!(
                    "reservation {id} is already {}",
                    r.status
                )));
            }
            release_reservation(db, ctx, None, &r, "cancelled")?;
            Ok(())
        }
        _ => Err(ApiError::NotFound(format!("no reservation {id}"))),
    })?;
    Ok(Response::empty(204))
}

fn uuid_v7() -> String {
    platform::events::new_id()
}
