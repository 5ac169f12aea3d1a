//! Cart rules, free of storage and of the host: what a cart holds and how
//! its lines change, how a guest's cart merges into a user's, when a
//! line's hold on stock needs work, what a cart costs, and what it orders
//! at checkout.

use platform::domain::{Id, Money, Quantity, MAX_QUANTITY};
use platform::ApiError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Most lines in one cart: the most one order takes, so that any cart can
/// be checked out as one order.
pub const MAX_LINES: usize = 50;
/// Most units of one product in a cart: the most one order line takes.
pub const MAX_LINE_QUANTITY: u32 = MAX_QUANTITY;
/// The currency of catalog prices (and of orders).
pub const CURRENCY: &str = "USD";

/// A cart as it is stored: its lines, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    #[serde(default)]
    pub lines: Vec<CartLine>,
}

/// One product in a cart, and how its stock is held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    /// A product id as [`Id::parse`] left it.
    pub product_id: String,
    pub quantity: u32,
    /// The inventory hold keeping the line's stock (users' carts only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
    /// Why the line holds no stock, when a hold was asked for and refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unheld: Option<Unheld>,
}

/// An inventory hold as the cart last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: String,
    /// The units it holds (the line's quantity when it was last changed).
    pub quantity: u32,
    pub expires_at_ms: i64,
    /// When it was made or last renewed: its lifetime is the time between.
    pub renewed_at_ms: i64,
}

/// Why a line holds no stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unheld {
    /// Not enough in stock: the line could have at most `available`.
    NotEnoughStock { available: u32 },
    /// The customer already holds as much as one customer may.
    HoldLimit { limit: String, max: u64 },
    /// Inventory does not stock the product (any more).
    NotStocked,
}

impl Cart {
    /// The line of `product`, if the cart has one.
    pub fn line(&self, product: &Id) -> Option<&CartLine> {
        self.lines.iter().find(|l| l.product_id == product.as_str())
    }

    /// The quantity a line of `product` would have after adding
    /// `quantity`: 422 naming `quantity` past the most one line takes,
    /// 409 naming `cart_max_lines` when a new line would not fit.
    pub fn after_adding(&self, product: &Id, quantity: Quantity) -> Result<Quantity, ApiError> {
        match self.line(product) {
            Some(line) => {
                let sum = line.quantity.saturating_add(quantity.get());
                if sum > MAX_LINE_QUANTITY {
                    return Err(ApiError::invalid(
                        "quantity",
                        format!(
                            "a cart takes at most {MAX_LINE_QUANTITY} units of one product \
                             (it has {} of {product})",
                            line.quantity
                        ),
                    ));
                }
                Quantity::parse("quantity", i64::from(sum))
            }
            None if self.lines.len() >= MAX_LINES => Err(ApiError::LimitReached {
                limit: "cart_max_lines",
                max: MAX_LINES as u64,
                detail: format!("a cart has at most {MAX_LINES} lines; remove one first"),
            }),
            None => Ok(quantity),
        }
    }

    /// Gives `product` a line of `quantity` (a new one at the end if it
    /// had none), keeping what the cart knows of its hold.
    pub fn put(&mut self, product: &Id, quantity: Quantity) {
        match self
            .lines
            .iter_mut()
            .find(|l| l.product_id == product.as_str())
        {
            Some(line) => line.quantity = quantity.get(),
            None => self.lines.push(CartLine {
                product_id: product.as_str().to_string(),
                quantity: quantity.get(),
                hold: None,
                unheld: None,
            }),
        }
    }

    /// Takes `product`'s line out of the cart.
    pub fn remove(&mut self, product: &Id) -> Option<CartLine> {
        let at = self
            .lines
            .iter()
            .position(|l| l.product_id == product.as_str())?;
        Some(self.lines.remove(at))
    }

    /// Adds a guest's cart to this one: quantities of a product add up
    /// (to at most [`MAX_LINE_QUANTITY`]), new products follow this
    /// cart's lines while there is room; holds are not carried (a
    /// guest's cart has none). Returns the lines that did not fit.
    pub fn merge(&mut self, guest: Cart) -> Vec<CartLine> {
        let mut left_out = Vec::new();
        for line in guest.lines {
            let room = self.lines.len() < MAX_LINES;
            match self
                .lines
                .iter_mut()
                .find(|l| l.product_id == line.product_id)
            {
                Some(mine) => {
                    mine.quantity = mine
                        .quantity
                        .saturating_add(line.quantity)
                        .min(MAX_LINE_QUANTITY);
                }
                None if room => self.lines.push(CartLine {
                    hold: None,
                    unheld: None,
                    ..line
                }),
                None => left_out.push(line),
            }
        }
        left_out
    }

    /// Units in the cart.
    pub fn units(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.quantity)).sum()
    }
}

/// What a line's hold needs, in a user's cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldWork<'a> {
    /// It holds the line's quantity, with time to spare.
    Ready,
    /// It has none: make one.
    Create,
    /// It holds another quantity: change it (which also renews it).
    Resize(&'a Hold),
    /// Half its lifetime is gone (or all of it): renew it while the cart
    /// is in use, so an active cart keeps its stock.
    Renew(&'a Hold),
}

/// What `line`'s hold needs at `now_ms`; `renew_all` renews every hold
/// (at checkout, so the order finds them open).
pub fn hold_work(line: &CartLine, now_ms: i64, renew_all: bool) -> HoldWork<'_> {
    let Some(hold) = &line.hold else {
        return HoldWork::Create;
    };
    if hold.quantity != line.quantity {
        return HoldWork::Resize(hold);
    }
    let lifetime = hold.expires_at_ms.saturating_sub(hold.renewed_at_ms);
    let left = hold.expires_at_ms.saturating_sub(now_ms);
    if renew_all || left <= lifetime / 2 {
        HoldWork::Renew(hold)
    } else {
        HoldWork::Ready
    }
}

/// The cost of lines of `(quantity, unit price)`; lines without a price
/// (no longer sold) cost nothing. `None` if the sum would overflow.
pub fn total(lines: impl IntoIterator<Item = (u32, Option<Money>)>) -> Option<Money> {
    lines
        .into_iter()
        .try_fold(Money::ZERO, |sum, (quantity, price)| match price {
            Some(price) => sum.checked_add(price.times(quantity)?),
            None => Some(sum),
        })
}

/// What a checkout orders: every line, and the lines' holds when they
/// hold exactly the lines (inventory only takes holds that cover an
/// order exactly; otherwise the order reserves its stock itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDraft {
    pub items: Vec<DraftLine>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hold_ids: Vec<String>,
}

/// One line of an [`OrderDraft`], as `POST /api/orders` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftLine {
    pub product_id: String,
    pub quantity: u32,
}

/// The order a cart becomes: refused (with the lines at fault) when the
/// cart is empty or some line cannot be had; a line over the customer's
/// hold limit can still be ordered, and the order reserves its stock.
pub fn order_draft(cart: &Cart) -> Result<OrderDraft, Vec<&CartLine>> {
    let short: Vec<&CartLine> = cart
        .lines
        .iter()
        .filter(|l| {
            matches!(
                l.unheld,
                Some(Unheld::NotEnoughStock { .. } | Unheld::NotStocked)
            )
        })
        .collect();
    if cart.lines.is_empty() || !short.is_empty() {
        return Err(short);
    }
    let items = cart
        .lines
        .iter()
        .map(|l| DraftLine {
            product_id: l.product_id.clone(),
            quantity: l.quantity,
        })
        .collect();
    let holds: Option<Vec<String>> = cart
        .lines
        .iter()
        .map(|l| match &l.hold {
            Some(h) if h.quantity == l.quantity => Some(h.id.clone()),
            _ => None,
        })
        .collect();
    Ok(OrderDraft {
        items,
        hold_ids: holds.unwrap_or_default(),
    })
}

/// The `Idempotency-Key` a checkout sends orders: derived from the
/// caller's key, so a retried checkout places the same order, and in a
/// namespace of its own, so it never meets a key the client used on
/// `POST /api/orders` directly.
pub fn orders_idempotency_key(checkout_key: &str) -> String {
    let digest = Sha256::digest(checkout_key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("cart-checkout-{hex}")
}

#[cfg(test)]
mod tests;
