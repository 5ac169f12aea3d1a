//! The public API: the caller's cart (a user's, or a guest's named by its
//! cart token), its lines, and checkout. Every answer carries the cart's
//! `ETag` (its version) and lines priced by the catalog now.

use platform::clock::rfc3339_from_ms;
use platform::conditional::etag;
use platform::domain::{Id, Money, Quantity};
use platform::idempotency::Idempotency;
use platform::{ApiError, Context, Request, Response, Route};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::{self, CURRENCY};
use crate::owner::{self, Owner};
use crate::service::{self, checkout, CartError, CartState, Change, Session, Shortfall};

/// The cart's routes (all in the component's rate-limit group).
pub const ROUTES: &[Route] = &[
    Route::get("/api/cart", platform::handler!(async get)),
    Route::delete("/api/cart", platform::handler!(async clear)),
    Route::post("/api/cart/items", platform::handler!(async add)),
    Route::put("/api/cart/items/:product_id", platform::handler!(async set)),
    Route::delete(
        "/api/cart/items/:product_id",
        platform::handler!(async remove),
    ),
    Route::post("/api/cart/checkout", platform::handler!(async check_out)),
];

/// The body of `POST /api/cart/items`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewItem {
    product_id: String,
    quantity: i64,
}

/// The body of `PUT /api/cart/items/:product_id`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemQuantity {
    quantity: i64,
}

/// The body of `POST /api/cart/checkout` (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckoutRequest {
    #[serde(default)]
    shipping_address: Option<Value>,
}

async fn get(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let ses = Session::open(req, ctx)?;
    let state = service::read(&ses).await?;
    answer(&ses, 200, &state).await
}

async fn clear(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let ses = Session::open(req, ctx)?;
    let state = service::clear(&ses, req.header("if-match")).await?;
    answer(&ses, 200, &state).await
}

async fn add(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let item: NewItem = req.json()?;
    let product = Id::parse("product_id", &item.product_id)?;
    let quantity = Quantity::parse("quantity", item.quantity)?;
    let ses = Session::open(req, ctx)?;
    changed(
        &ses,
        service::change(
            &ses,
            &product,
            Change::Add(quantity),
            req.header("if-match"),
        )
        .await,
    )
    .await
}

async fn set(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let product = req.id("product_id")?;
    let ItemQuantity { quantity } = req.json()?;
    let quantity = Quantity::parse("quantity", quantity)?;
    let ses = Session::open(req, ctx)?;
    changed(
        &ses,
        service::change(
            &ses,
            &product,
            Change::Set(quantity),
            req.header("if-match"),
        )
        .await,
    )
    .await
}

async fn remove(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let product = req.id("product_id")?;
    let ses = Session::open(req, ctx)?;
    changed(
        &ses,
        service::change(&ses, &product, Change::Remove, req.header("if-match")).await,
    )
    .await
}

/// `POST /api/cart/checkout`: a signed-in user's cart becomes an order
/// (202 with it); `Idempotency-Key` is required, and a repeat answers
/// with the same order.
async fn check_out(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let user = ctx.user().map_err(|e| match e {
        ApiError::Unauthorized(_) => ApiError::Unauthorized(
            "sign in to check out; your cart is kept, and joins your own cart when you do".into(),
        ),
        other => other,
    })?;
    let idempotency = Idempotency::required(
        req,
        &user.user_id,
        "a checkout places an order: send an Idempotency-Key so a retry cannot place two",
    )?;
    let CheckoutRequest { shipping_address } = if req.body_is_empty() {
        CheckoutRequest::default()
    } else {
        req.json()?
    };
    let ses = Session::open(req, ctx)?;
    match checkout::checkout(&ses, &idempotency, shipping_address).await {
        Ok(response) => Ok(response),
        Err(e) => refusal(ctx, e),
    }
}

/// The answer to a change of lines: the cart, or why not.
async fn changed(
    ses: &Session<'_>,
    outcome: Result<CartState, CartError>,
) -> Result<Response, ApiError> {
    match outcome {
        Ok(state) => answer(ses, 200, &state).await,
        Err(e) => refusal(ses.ctx, e),
    }
}

/// A refused change: a problem document; not enough stock is a 409 that
/// says, per line, how many can be had.
fn refusal(ctx: &Context, e: CartError) -> Result<Response, ApiError> {
    let lines = match e {
        CartError::Api(e) => return Err(e),
        CartError::NotEnoughStock(lines) => lines,
    };
    let mut problem = json!({
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": "not enough stock: each line says how many can be had; nothing was changed",
        "lines": lines.iter().map(shortfall_json).collect::<Vec<_>>(),
        "request_id": ctx.request_id,
    });
    if let [one] = lines.as_slice() {
        problem["product_id"] = json!(one.product_id);
        problem["requested"] = json!(one.requested);
        problem["available"] = json!(one.available);
    }
    Ok(Response::json(409, &problem).with_header("content-type", "application/problem+json"))
}

fn shortfall_json(s: &Shortfall) -> Value {
    json!({"product_id": s.product_id, "requested": s.requested, "available": s.available})
}

/// The cart as clients see it: each line with the catalog's current
/// name and price (a line whose product the catalog no longer sells has
/// none and costs nothing), totals in integer cents, and how each line's
/// stock is held. Headers: the version as `ETag`; for a guest, the cart
/// token (header and cookie); after a merge, the spent token's cookie
/// removed. Never cached: it is one person's cart.
async fn answer(ses: &Session<'_>, status: u16, state: &CartState) -> Result<Response, ApiError> {
    let products = service::products(ses, &state.cart).await?;
    let priced: Vec<(u32, Option<Money>)> = state
        .cart
        .lines
        .iter()
        .zip(&products)
        .map(|(l, p)| (l.quantity, p.as_ref().map(|p| p.price)))
        .collect();
    let total = domain::total(priced.iter().copied())
        .ok_or_else(|| ApiError::internal("the cart's total overflows"))?;
    let lines: Vec<Value> = state
        .cart
        .lines
        .iter()
        .zip(&products)
        .map(|(line, product)| {
            let price = product.as_ref().map(|p| p.price);
            let line_total = price.and_then(|p| p.times(line.quantity));
            json!({
                "product_id": line.product_id,
                "name": product.as_ref().map(|p| p.name.clone()),
                "quantity": line.quantity,
                "unit_price_cents": price.map(Money::cents),
                "unit_price": price.map(Money::to_json),
                "line_total_cents": line_total.map(Money::cents),
                "for_sale": product.is_some(),
                "held": line.hold.as_ref().is_some_and(|h| h.quantity == line.quantity)
                    && line.unheld.is_none(),
                "hold_id": line.hold.as_ref().map(|h| h.id.clone()),
                "hold_expires_at": line.hold.as_ref().map(|h| rfc3339_from_ms(h.expires_at_ms)),
                "unheld": line.unheld,
            })
        })
        .collect();
    let body = json!({
        "owner": if matches!(ses.owner, Owner::User(_)) { "user" } else { "guest" },
        "version": state.version,
        "lines": lines,
        "line_count": state.cart.lines.len(),
        "units": state.cart.units(),
        "total_cents": total.cents(),
        "total": total.to_json(),
        "currency": CURRENCY,
        "expires_after_idle_secs": ses.ttl_secs(),
    });
    let mut response = Response::json(status, &body)
        .with_header("etag", etag(state.version))
        .with_header("cache-control", "no-store");
    if let Some(token) = &state.token {
        response.set_header(owner::TOKEN_HEADER, token.as_str());
        response.set_header("set-cookie", owner::set_cookie(token, ses.ttl_secs()));
    } else if state.token_spent {
        response.set_header("set-cookie", owner::clear_cookie());
    }
    Ok(response)
}
