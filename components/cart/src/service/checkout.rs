//! Checkout: the user's cart becomes an order, placed through orders as
//! the customer, with the lines' holds offered as the order's
//! reservation. The order request is recorded before it is sent and sent
//! again, unchanged and under a key derived from the caller's, by any
//! retry; the cart is emptied only once orders has answered with the
//! order, and the answer is saved for the caller's key, so a repeated
//! checkout answers with the same order and never places a second one.

use platform::clock::now_ms;
use platform::domain::Id;
use platform::idempotency::Idempotency;
use platform::redis_store::Redis;
use platform::{ApiError, Response};
use serde_json::Value;

use super::{absorb_guest_cart, holds, locked, save, CartError, Session, Shortfall};

/// Writes tried to take the ordered lines out of a cart that others
/// write too (only when a writer's lock lapsed).
const EMPTYING_TRIES: u32 = 3;
use crate::carts::{self, CartKey, Saved};
use crate::domain::{order_draft, orders_idempotency_key, CartLine, OrderDraft, Unheld};
use crate::owner::Owner;
use crate::store::{self, Checkout};
use crate::upstream::orders::{self, Placed};

/// Checks out the signed-in user's cart (see the module). 202 with the
/// order; 409 for an empty cart or lines that cannot be had (with what
/// is available); orders' own refusal as it gave it.
pub async fn checkout(
    ses: &Session<'_>,
    idempotency: &Idempotency,
    shipping_address: Option<Value>,
) -> Result<Response, CartError> {
    let (Owner::User(user), Some(key)) = (&ses.owner, idempotency.key()) else {
        return Err(ApiError::internal("checkout needs a user and a key").into());
    };
    let db = ses.ctx.db()?;
    if let Some(saved) = idempotency.begin(db)? {
        return Ok(saved);
    }
    let redis = ses.ctx.redis()?;
    let cart_key = CartKey::user(user);
    let _lock = locked(redis, &cart_key).await?;
    // Another attempt with the key may have finished while this one waited.
    if let Some(saved) = idempotency.begin(db)? {
        return Ok(saved);
    }
    let pending = match store::checkout(db, user, key)? {
        Some(pending) => pending,
        None => {
            let checkout = prepare(ses, redis, &cart_key, shipping_address).await?;
            store::begin_checkout(db, user, key, &checkout, now_ms())?
        }
    };
    let placed = orders::place(
        ses.ctx,
        ses.authorization,
        &orders_idempotency_key(key),
        &pending.order_request,
    )
    .await?;
    let order = match placed {
        Placed::Order(order) => order,
        Placed::Refused(status, problem) => {
            // No order: a retry may build the request from the cart anew.
            store::end_checkout(db, user, key)?;
            return Ok(Response {
                status,
                headers: vec![("content-type".into(), "application/problem+json".into())],
                body: problem,
            });
        }
    };
    empty_after_order(ses, redis, &cart_key, &pending).await?;
    let order_id = serde_json::from_slice::<Value>(&order)
        .ok()
        .and_then(|o| o["id"].as_str().map(str::to_string))
        .ok_or_else(|| ApiError::internal("orders answered without an order id"))?;
    let response = Response {
        status: 202,
        headers: vec![("content-type".into(), "application/json".into())],
        body: order,
    }
    .with_header("location", format!("/api/orders/{order_id}"));
    Ok(db.transaction(|db| {
        if let Some(saved) = idempotency.begin(db)? {
            return Ok(saved);
        }
        idempotency.finish(db, &response)?;
        store::end_checkout(db, user, key)?;
        Ok(response)
    })?)
}

/// The order request a cart makes: every hold renewed first (so the
/// order finds them open), the cart saved with what inventory said.
async fn prepare(
    ses: &Session<'_>,
    redis: &Redis,
    key: &CartKey,
    shipping_address: Option<Value>,
) -> Result<Checkout, CartError> {
    let mut stored = carts::load(redis, key, ses.ttl_secs())?;
    absorb_guest_cart(ses, redis, key, &mut stored).await?;
    if stored.cart.lines.is_empty() {
        return Err(ApiError::Conflict("the cart is empty; add something first".into()).into());
    }
    holds::hold_lines(ses, &mut stored.cart, true).await?;
    stored.version = save(ses, redis, key, &stored, false)?;
    let draft = order_draft(&stored.cart)
        .map_err(|short| CartError::NotEnoughStock(short.into_iter().map(shortfall).collect()))?;
    let mut request = serde_json::to_value(&draft).map_err(ApiError::internal)?;
    if let Some(address) = shipping_address {
        request["shipping_address"] = address;
    }
    Ok(Checkout {
        order_request: request.to_string(),
        cart_version: stored.version,
    })
}

fn shortfall(line: &CartLine) -> Shortfall {
    let available = match line.unheld {
        Some(Unheld::NotEnoughStock { available }) => available,
        _ => 0,
    };
    Shortfall {
        product_id: line.product_id.clone(),
        requested: line.quantity,
        available,
    }
}

/// Takes what was ordered out of the cart: all of it when the cart is
/// still the version checked out, else (a retry after the cart changed,
/// or a writer whose lock lapsed got in) the ordered products' lines.
/// Holds handed to the order stay; the others of those lines are
/// released, as the order reserves its own.
async fn empty_after_order(
    ses: &Session<'_>,
    redis: &Redis,
    key: &CartKey,
    pending: &Checkout,
) -> Result<(), ApiError> {
    let draft: OrderDraft =
        serde_json::from_str(&pending.order_request).map_err(ApiError::internal)?;
    for _ in 0..EMPTYING_TRIES {
        let mut stored = carts::load(redis, key, ses.ttl_secs())?;
        let ordered: Vec<CartLine> = if stored.version == pending.cart_version {
            stored.cart.lines.drain(..).collect()
        } else {
            draft
                .items
                .iter()
                .filter_map(|item| Id::parse("product_id", &item.product_id).ok())
                .filter_map(|id| stored.cart.remove(&id))
                .collect()
        };
        if ordered.is_empty() {
            return Ok(());
        }
        let written = carts::save(
            redis,
            key,
            stored.version,
            &stored.cart,
            true,
            ses.ttl_secs(),
        )?;
        if let Saved::Written(_) = written {
            let to_release: Vec<String> = ordered
                .into_iter()
                .filter_map(|line| line.hold.map(|h| h.id))
                .filter(|id| !draft.hold_ids.contains(id))
                .collect();
            holds::release(ses, &to_release).await;
            return Ok(());
        }
    }
    Err(ApiError::Conflict(
        "the order is placed, but the cart kept changing; retry with the same key".into(),
    ))
}
