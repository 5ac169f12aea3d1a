//! What clients see of a cart: the types the handlers answer with, which
//! also give the OpenAPI document its schemas.

use platform::domain::Money;
use platform::problem::Problem;
use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::Unheld;

/// The cart as clients see it: each line with the catalog's current name
/// and price, totals in integer cents, and how each line's stock is held.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CartView {
    /// `user` or `guest`.
    pub owner: &'static str,
    /// The cart's version: its `ETag`.
    pub version: i64,
    pub lines: Vec<CartLineView>,
    pub line_count: usize,
    /// Units over every line.
    pub units: u64,
    pub total_cents: i64,
    pub total: Money,
    pub currency: &'static str,
    /// How long the cart is kept after its last use.
    pub expires_after_idle_secs: u64,
}

/// A line of the cart.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CartLineView {
    pub product_id: String,
    /// `null` when the catalog no longer sells the product.
    pub name: Option<String>,
    pub quantity: u32,
    pub unit_price_cents: Option<i64>,
    pub unit_price: Option<Money>,
    pub line_total_cents: Option<i64>,
    /// Whether the catalog sells the product now.
    pub for_sale: bool,
    /// Whether the line's stock is held for the user (a guest's never is).
    pub held: bool,
    /// The inventory hold that holds it.
    pub hold_id: Option<String>,
    /// RFC 3339.
    pub hold_expires_at: Option<String>,
    /// Why the line holds no stock, when it should.
    pub unheld: Option<Unheld>,
}

/// 409: some line cannot have what was asked; nothing was changed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StockProblem {
    #[serde(flatten)]
    pub problem: Problem,
    /// Each line short of stock, with the most it can have.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<LineShortfall>,
    /// With one line short: its product,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// what was asked for it,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested: Option<u32>,
    /// and the most it can have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<u32>,
}

/// A line short of stock.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LineShortfall {
    pub product_id: String,
    pub requested: u32,
    /// The most the line can have.
    pub available: u32,
}
