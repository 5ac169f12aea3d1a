//! The cart's workflows: whose cart a request is about, reading it (and
//! renewing its holds while it is used), changing its lines with their
//! holds, merging a guest's cart into a user's, and checking out
//! ([`checkout`]). Writers of one cart take turns (a lock per cart), and
//! every write is a compare-and-set of the cart's version.

pub mod checkout;
mod holds;
mod session;

pub use session::{CartState, Session};

use std::time::Duration;

use platform::conditional::require_if_match;
use platform::domain::{Id, Quantity};
use platform::ratelimit::{self, RateLimit};
use platform::redis_store::{log_warning, Redis};
use platform::{ApiError, Context};

use crate::carts::{self, CartKey, Lock, Saved, Stored};
use crate::domain::Cart;
use crate::owner::{GuestToken, Owner};
use crate::upstream::catalog::{self, Product};
use crate::upstream::inventory;

/// A writer's lock lapses after this, should it never be released: longer
/// than the slowest checkout (orders' answer, retried).
const LOCK_LAPSE_MS: u64 = 40_000;
/// How long a writer waits for another writer of the same cart.
const LOCK_TRIES: u32 = 50;
const LOCK_WAIT: Duration = Duration::from_millis(100);
/// New guest carts per client address: a burst, then one every 20 s, so
/// anonymous clients cannot fill the state Redis (`rate_limit_cart_guest`).
const GUEST_CARTS: &str = "20/0.05";

/// Why a change of the cart was refused.
#[derive(Debug)]
pub enum CartError {
    Api(ApiError),
    /// These lines cannot have what was asked: not enough stock.
    NotEnoughStock(Vec<Shortfall>),
}

/// A line that asked for more than can be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    pub product_id: String,
    pub requested: u32,
    /// The most the line can have.
    pub available: u32,
}

impl From<ApiError> for CartError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

/// A cart being changed: its place, as read, under its writer's lock.
struct Working<'r> {
    _lock: Option<Lock<'r>>,
    key: CartKey,
    stored: Stored,
    token: Option<GuestToken>,
    token_spent: bool,
}

impl Working<'_> {
    fn state(&self) -> CartState {
        CartState {
            version: self.stored.version,
            cart: self.stored.cart.clone(),
            token: self.token.clone(),
            token_spent: self.token_spent,
        }
    }
}

/// Waits (briefly) for `key`'s writer lock.
async fn locked<'r>(redis: &'r Redis, key: &CartKey) -> Result<Lock<'r>, ApiError> {
    for _ in 0..LOCK_TRIES {
        if let Some(lock) = carts::try_lock(redis, key, LOCK_LAPSE_MS)? {
            return Ok(lock);
        }
        platform::outbound::sleep(LOCK_WAIT).await;
    }
    Err(ApiError::Conflict(
        "the cart is being changed by another request; retry shortly".into(),
    ))
}

/// The cart, locked for a change. A guest without a cart gets a new one
/// (under a token of our making) when `create`, else `None`. A user's
/// cart first takes in the guest cart the request carried, if any.
async fn open_for_change<'r>(
    ses: &Session<'_>,
    redis: &'r Redis,
    create: bool,
) -> Result<Option<Working<'r>>, ApiError> {
    let ttl = ses.ttl_secs();
    if let Some(key) = ses.key() {
        let lock = locked(redis, &key).await?;
        let mut stored = carts::load(redis, &key, ttl)?;
        let mut token_spent = false;
        if ses.is_user() {
            token_spent = absorb_guest_cart(ses, redis, &key, &mut stored).await?;
        }
        if stored.version > 0 || ses.is_user() {
            let token = match &ses.owner {
                Owner::Guest(token) => token.clone(),
                Owner::User(_) => None,
            };
            return Ok(Some(Working {
                _lock: Some(lock),
                key,
                stored,
                token,
                token_spent,
            }));
        }
    }
    if !create {
        return Ok(None);
    }
    // A new guest cart, under a new token: a token a client brings is
    // never adopted for a new cart.
    ratelimit::admit_with(
        ses.req,
        ses.ctx,
        "cart_guest",
        &RateLimit::own("cart_guest", GUEST_CARTS),
    )?;
    let token = GuestToken::generate()?;
    Ok(Some(Working {
        _lock: None,
        key: CartKey::guest(&token),
        stored: Stored::default(),
        token: Some(token),
        token_spent: false,
    }))
}

/// Merges the guest cart the request carries into the user's cart at
/// `key` (quantities add up, capped), holds its lines and saves it.
/// True when the token is spent (merged now, or its cart is gone).
async fn absorb_guest_cart(
    ses: &Session<'_>,
    redis: &Redis,
    key: &CartKey,
    stored: &mut Stored,
) -> Result<bool, ApiError> {
    let Some(token) = &ses.carried else {
        return Ok(false);
    };
    let Some(guest) = carts::take(redis, &CartKey::guest(token))? else {
        return Ok(true);
    };
    if guest.lines.is_empty() {
        return Ok(true);
    }
    let left_out = stored.cart.merge(guest);
    if !left_out.is_empty() {
        log_warning(
            "cart_merge_full",
            &format!("{} guest lines did not fit", left_out.len()),
        );
    }
    holds::hold_lines(ses, &mut stored.cart, false).await?;
    stored.version = save(ses, redis, key, stored, true)?;
    Ok(true)
}

/// Writes the cart if it is still at the version read; 409 if another
/// writer got there first (its lock having lapsed). Returns the version.
fn save(
    ses: &Session<'_>,
    redis: &Redis,
    key: &CartKey,
    stored: &Stored,
    new_version: bool,
) -> Result<i64, ApiError> {
    match carts::save(
        redis,
        key,
        stored.version,
        &stored.cart,
        new_version,
        ses.ttl_secs(),
    )? {
        Saved::Written(version) => Ok(version),
        Saved::Stale(_) => Err(ApiError::Conflict(
            "the cart changed while this request ran; reload it and retry".into(),
        )),
    }
}

/// The cart as it is. A user's holds are renewed (or made again) on the
/// way, unless another request is changing the cart right now.
pub async fn read(ses: &Session<'_>) -> Result<CartState, ApiError> {
    let Some(key) = ses.key() else {
        return Ok(CartState::default());
    };
    let redis = ses.ctx.redis()?;
    if !ses.is_user() {
        let stored = carts::load(redis, &key, ses.ttl_secs())?;
        let token = (stored.version > 0).then(|| ses.carried.clone()).flatten();
        return Ok(CartState {
            version: stored.version,
            cart: stored.cart,
            token,
            token_spent: false,
        });
    }
    let Some(_lock) = carts::try_lock(redis, &key, LOCK_LAPSE_MS)? else {
        let stored = carts::load(redis, &key, ses.ttl_secs())?;
        return Ok(CartState {
            version: stored.version,
            cart: stored.cart,
            ..CartState::default()
        });
    };
    let mut stored = carts::load(redis, &key, ses.ttl_secs())?;
    let token_spent = absorb_guest_cart(ses, redis, &key, &mut stored).await?;
    let before = stored.cart.clone();
    holds::hold_lines(ses, &mut stored.cart, false).await?;
    if stored.cart != before {
        stored.version = save(ses, redis, &key, &stored, false)?;
    }
    Ok(CartState {
        version: stored.version,
        cart: stored.cart,
        token: None,
        token_spent,
    })
}

/// Each line's product, for the cart's answer.
pub async fn products(ses: &Session<'_>, cart: &Cart) -> Result<Vec<Option<Product>>, ApiError> {
    let ids: Vec<String> = cart.lines.iter().map(|l| l.product_id.clone()).collect();
    catalog::products(ses.ctx, ses.authorization, &ids).await
}

/// What a request asks of one line.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    /// `POST /api/cart/items`: add this many.
    Add(Quantity),
    /// `PUT /api/cart/items/:id`: have this many (the line must exist).
    Set(Quantity),
    /// `DELETE /api/cart/items/:id` (the line must exist).
    Remove,
}

/// Changes `product`'s line (see [`Change`]), its hold with it, and
/// renews the other lines' holds. `If-Match` is checked when given, and
/// required (428) to set or remove a line. A line that would ask for
/// more than can be had is refused with what is available, and the cart
/// stays as it was.
pub async fn change(
    ses: &Session<'_>,
    product: &Id,
    change: Change,
    if_match: Option<&str>,
) -> Result<CartState, CartError> {
    let redis = ses.ctx.redis()?;
    let create = matches!(change, Change::Add(_));
    let Some(mut w) = open_for_change(ses, redis, create).await? else {
        // A guest without a cart: nothing to set or remove.
        require_if_match(if_match, 0)?;
        return Err(no_line(product).into());
    };
    if if_match.is_some() || !create {
        require_if_match(if_match, w.stored.version)?;
    }
    let released = match change {
        Change::Add(quantity) => {
            let wanted = w.stored.cart.after_adding(product, quantity)?;
            holds::hold_target(ses, &mut w.stored.cart, product, wanted).await?;
            None
        }
        Change::Set(quantity) => {
            if w.stored.cart.line(product).is_none() {
                return Err(no_line(product).into());
            }
            holds::hold_target(ses, &mut w.stored.cart, product, quantity).await?;
            None
        }
        Change::Remove => match w.stored.cart.remove(product) {
            Some(line) => line.hold,
            None => return Err(no_line(product).into()),
        },
    };
    if ses.is_user() {
        holds::hold_lines(ses, &mut w.stored.cart, false).await?;
    }
    w.stored.version = save(ses, redis, &w.key, &w.stored, true)?;
    // After the cart no longer names it: a failure leaves a hold that
    // lapses on its own, never a line without its stock.
    if let Some(hold) = released {
        holds::release(ses, &[hold.id]).await;
    }
    Ok(w.state())
}

fn no_line(product: &Id) -> ApiError {
    ApiError::NotFound(format!("the cart has no line of product {product}"))
}

/// Empties the cart (`If-Match` checked when given) and releases its
/// holds.
pub async fn clear(ses: &Session<'_>, if_match: Option<&str>) -> Result<CartState, ApiError> {
    let redis = ses.ctx.redis()?;
    let Some(mut w) = open_for_change(ses, redis, false).await? else {
        if let Some(tag) = if_match {
            require_if_match(Some(tag), 0)?;
        }
        return Ok(CartState::default());
    };
    if if_match.is_some() {
        require_if_match(if_match, w.stored.version)?;
    }
    let holds: Vec<String> = w
        .stored
        .cart
        .lines
        .drain(..)
        .filter_map(|l| l.hold.map(|h| h.id))
        .collect();
    w.stored.version = save(ses, redis, &w.key, &w.stored, true)?;
    holds::release(ses, &holds).await;
    Ok(w.state())
}

/// Tick work: forgets checkouts that were never retried to their end.
pub fn tick(ctx: &Context) -> Result<platform::Report, ApiError> {
    let cutoff = platform::clock::now_ms()
        .saturating_sub(platform::idempotency::RETENTION_SECS.saturating_mul(1000));
    let purged = crate::store::purge_checkouts(ctx.db()?, cutoff)?;
    Ok(platform::component::report(
        serde_json::json!({ "checkouts_purged": purged }),
    ))
}

/// Units of a guest's line that can be had; the shortfall if fewer than
/// `wanted`.
async fn check_available(ses: &Session<'_>, product: &Id, wanted: u32) -> Result<(), CartError> {
    match inventory::available(ses.ctx, product.as_str()).await? {
        None => Err(not_stocked(product).into()),
        Some(available) if available < wanted => Err(CartError::NotEnoughStock(vec![Shortfall {
            product_id: product.to_string(),
            requested: wanted,
            available,
        }])),
        Some(_) => Ok(()),
    }
}

fn not_stocked(product: &Id) -> ApiError {
    ApiError::invalid(
        "product_id",
        format!("product {product} is not stocked; it cannot go in a cart"),
    )
}
