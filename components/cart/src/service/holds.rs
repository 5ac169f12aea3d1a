//! A user's cart lines hold their stock through inventory, one hold per
//! line, made, resized and renewed as the customer (so within the hold
//! policy) while the cart is in use, and released when a line goes. A
//! hold that lapsed (its cart idle past the hold's lifetime) is noticed
//! when its renewal is refused, and made again if the stock is still
//! there; otherwise the line says why it holds nothing. A guest's cart
//! holds nothing (holds are a user's): its lines are checked against
//! what is available, and held once the cart is a user's.

use futures::stream::{self, StreamExt};
use platform::clock::now_ms;
use platform::domain::{Id, Quantity};
use platform::redis_store::log_warning;
use platform::ApiError;

use super::{check_available, not_stocked, CartError, Session, Shortfall};
use crate::domain::{hold_work, Cart, CartLine, Hold, HoldWork, Unheld};
use crate::upstream::inventory::{self, HoldAnswer};

/// Hold calls in flight at once.
const CONCURRENCY: usize = 8;

/// What inventory answered for one line, and whether its old hold is gone.
type Asked = Result<(HoldAnswer, bool), ApiError>;

/// What to ask inventory for one line.
#[derive(Debug, Clone)]
enum Task {
    Create,
    Resize(String),
    Renew(String),
}

/// Brings every line's hold in step with the line: makes, resizes and
/// renews holds (all of them when `renew_all`), and records on each line
/// what inventory said. Does nothing for a guest's cart.
pub async fn hold_lines(
    ses: &Session<'_>,
    cart: &mut Cart,
    renew_all: bool,
) -> Result<(), ApiError> {
    if !ses.is_user() {
        return Ok(());
    }
    let now = now_ms();
    let tasks: Vec<(usize, Task, String, u32)> = cart
        .lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let task = match hold_work(line, now, renew_all) {
                HoldWork::Ready => return None,
                HoldWork::Create => Task::Create,
                HoldWork::Resize(hold) => Task::Resize(hold.id.clone()),
                HoldWork::Renew(hold) => Task::Renew(hold.id.clone()),
            };
            Some((i, task, line.product_id.clone(), line.quantity))
        })
        .collect();
    let answers: Vec<(usize, Asked)> = stream::iter(tasks)
        .map(|(i, task, product, quantity)| async move {
            (i, ask(ses, &task, &product, quantity).await)
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    for (i, answer) in answers {
        let (answer, gone) = answer?;
        if let Some(line) = cart.lines.get_mut(i) {
            record(line, answer, gone, now)?;
        }
    }
    Ok(())
}

/// Asks inventory to do `task` for a line; a hold that is no longer open
/// is made anew. The flag says the old hold is gone.
async fn ask(ses: &Session<'_>, task: &Task, product: &str, quantity: u32) -> Asked {
    let (ctx, auth) = (ses.ctx, ses.authorization);
    let answer = match task {
        Task::Create => return Ok((inventory::hold(ctx, auth, product, quantity).await?, false)),
        Task::Resize(id) => inventory::resize(ctx, auth, id, product, quantity).await?,
        Task::Renew(id) => inventory::extend(ctx, auth, id, product, quantity).await?,
    };
    if answer == HoldAnswer::Gone {
        return Ok((inventory::hold(ctx, auth, product, quantity).await?, true));
    }
    Ok((answer, false))
}

/// Records on `line` what inventory answered at `now`. A refused resize
/// leaves the old hold (and its units) in place; the line says why it
/// does not hold its quantity.
fn record(line: &mut CartLine, answer: HoldAnswer, gone: bool, now: i64) -> Result<(), ApiError> {
    if gone {
        line.hold = None;
    }
    line.unheld = match answer {
        HoldAnswer::Held {
            id,
            quantity,
            expires_at_ms,
        } => {
            line.hold = Some(Hold {
                id,
                quantity,
                expires_at_ms,
                renewed_at_ms: now,
            });
            None
        }
        HoldAnswer::Short { available } => Some(Unheld::NotEnoughStock { available }),
        HoldAnswer::Limit { limit, max } => Some(Unheld::HoldLimit { limit, max }),
        HoldAnswer::NotStocked => Some(Unheld::NotStocked),
        HoldAnswer::Gone => {
            line.hold = None;
            None
        }
        HoldAnswer::Refused(401) => {
            return Err(ApiError::Unauthorized(
                "inventory did not accept your credentials".into(),
            ))
        }
        HoldAnswer::Refused(status) => {
            return Err(ApiError::internal(format!(
                "inventory refused a hold with {status}"
            )))
        }
    };
    Ok(())
}

/// Gives `product`'s line `wanted` units, held (a user's) or checked
/// against what is available (a guest's). Refused, with the cart as it
/// was, when the stock or the customer's hold limits do not allow it.
pub async fn hold_target(
    ses: &Session<'_>,
    cart: &mut Cart,
    product: &Id,
    wanted: Quantity,
) -> Result<(), CartError> {
    if !ses.is_user() {
        check_available(ses, product, wanted.get()).await?;
        cart.put(product, wanted);
        return Ok(());
    }
    let mut line = cart.line(product).cloned().unwrap_or(CartLine {
        product_id: product.to_string(),
        quantity: wanted.get(),
        hold: None,
        unheld: None,
    });
    line.quantity = wanted.get();
    let mut one = Cart { lines: vec![line] };
    hold_lines(ses, &mut one, false).await?;
    let Some(line) = one.lines.pop() else {
        return Err(ApiError::internal("the line vanished").into());
    };
    match &line.unheld {
        None => {}
        Some(Unheld::NotEnoughStock { available }) => {
            return Err(CartError::NotEnoughStock(vec![Shortfall {
                product_id: product.to_string(),
                requested: wanted.get(),
                available: *available,
            }]))
        }
        Some(Unheld::HoldLimit { limit, max }) => return Err(limit_reached(limit, *max).into()),
        Some(Unheld::NotStocked) => return Err(not_stocked(product).into()),
    }
    cart.put(product, wanted);
    if let Some(mine) = cart
        .lines
        .iter_mut()
        .find(|l| l.product_id == line.product_id)
    {
        *mine = line;
    }
    Ok(())
}

/// The 409 of a hold over the customer's limits, naming the limit.
fn limit_reached(limit: &str, max: u64) -> ApiError {
    let limit = match limit {
        "hold_max_units_per_user" => "hold_max_units_per_user",
        "hold_max_open_per_user" => "hold_max_open_per_user",
        _ => "hold_limit",
    };
    ApiError::LimitReached {
        limit,
        max,
        detail: format!(
            "your cart would hold more than one customer may ({limit}: {max}); \
             take something out first"
        ),
    }
}

/// Releases holds, best effort: one that cannot be released now lapses
/// on its own within the hold's lifetime.
pub async fn release(ses: &Session<'_>, hold_ids: &[String]) {
    let results: Vec<Result<(), ApiError>> = stream::iter(hold_ids)
        .map(|id| inventory::release(ses.ctx, ses.authorization, id))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for e in results.into_iter().filter_map(Result::err) {
        log_warning("cart_hold_not_released", &e.to_string());
    }
}
