//! Order rules, free of storage and of the host: what an order request may
//! hold (prices never come from the client), order statuses and saga steps,
//! money, and the saga's state machine ([`saga`]).

pub mod saga;

use std::collections::HashSet;

use platform::domain::{Id, Money, Quantity};
use platform::validate;
use platform::ApiError;
use schemars::JsonSchema;
use serde::de::{Deserializer, IgnoredAny};
use serde::{Deserialize, Serialize};

/// Most lines in one order.
pub const MAX_LINES: usize = 50;
/// Longest shipping address, as a string or as serialised JSON.
pub const MAX_SHIPPING_ADDRESS: usize = 2_000;
/// The only currency orders are taken in.
pub const CURRENCY: &str = "USD";

/// Where an order is: `PENDING` while the saga runs, then one of the ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    Cancelled,
}

impl OrderStatus {
    /// How `?status=` spells each status (as [`OrderStatus::as_str`] does).
    pub const NAMES: &'static [&'static str] = &["PENDING", "CONFIRMED", "CANCELLED"];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Confirmed => "CONFIRMED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// Reads a stored value or a `?status=` filter (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "PENDING" => Some(Self::Pending),
            "CONFIRMED" => Some(Self::Confirmed),
            "CANCELLED" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// The saga step an order is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SagaStep {
    /// Waiting for inventory to reserve the stock.
    Reserving,
    /// Stock held; waiting for payments to charge.
    Charging,
    Confirmed,
    Cancelled,
}

impl SagaStep {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserving => "reserving",
            Self::Charging => "charging",
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reserving" => Some(Self::Reserving),
            "charging" => Some(Self::Charging),
            "confirmed" => Some(Self::Confirmed),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// Deserialises any value (even `null`) as "present": for fields a client
/// must not send at all.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<()>, D::Error> {
    IgnoredAny::deserialize(d)?;
    Ok(Some(()))
}

/// The body of `POST /api/orders`. The fields a client might try to set
/// but may not (who orders, what it costs) are read only to be refused by
/// name.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub items: Vec<NewLine>,
    #[serde(default)]
    pub shipping_address: Option<serde_json::Value>,
    /// The customer's holds on stock (a cart's) that inventory may turn
    /// into the order's reservation; ids it cannot use are ignored there.
    #[serde(default)]
    pub hold_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(skip)]
    user_id: Option<()>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(skip)]
    price: Option<()>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(skip)]
    unit_price: Option<()>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(skip)]
    unit_price_cents: Option<()>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(skip)]
    total: Option<()>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(skip)]
    total_cents: Option<()>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(skip)]
    status: Option<()>,
}

/// One line of [`NewOrder`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLine {
    pub product_id: String,
    pub quantity: i64,
    #[serde(default, deserialize_with = "present")]
    #[schemars(skip)]
    price: Option<()>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(skip)]
    unit_price: Option<()>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(skip)]
    unit_price_cents: Option<()>,
}

/// A validated line, before it is priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedLine {
    pub product_id: Id,
    pub quantity: Quantity,
}

/// A validated order request.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRequest {
    /// In the client's order; product ids are unique.
    pub lines: Vec<RequestedLine>,
    /// `null`, or the client's string or object.
    pub shipping_address: serde_json::Value,
    /// Holds offered for the order's reservation, each named once.
    pub hold_ids: Vec<Id>,
}

fn refuse(field: &str, what: &str) -> ApiError {
    ApiError::invalid(
        field,
        format!("{what} may not be sent; it is set by the server"),
    )
}

impl NewOrder {
    pub fn validate(self) -> Result<OrderRequest, ApiError> {
        let forbidden = [
            ("user_id", self.user_id, "the ordering user"),
            ("price", self.price, "the price"),
            ("unit_price", self.unit_price, "the price"),
            ("unit_price_cents", self.unit_price_cents, "the price"),
            ("total", self.total, "the total"),
            ("total_cents", self.total_cents, "the total"),
            ("status", self.status, "the status"),
        ];
        if let Some((field, _, what)) = forbidden.iter().find(|(_, p, _)| p.is_some()) {
            return Err(refuse(field, what));
        }
        validate::count("items", &self.items, 1, MAX_LINES)?;
        let mut seen = HashSet::new();
        let mut lines = Vec::with_capacity(self.items.len());
        for (i, line) in self.items.into_iter().enumerate() {
            for (name, sent) in [
                ("price", line.price),
                ("unit_price", line.unit_price),
                ("unit_price_cents", line.unit_price_cents),
            ] {
                if sent.is_some() {
                    return Err(refuse(&format!("items[{i}].{name}"), "the price"));
                }
            }
            let id_field = format!("items[{i}].product_id");
            let product_id = Id::parse(&id_field, &line.product_id)?;
            let quantity = Quantity::parse(&format!("items[{i}].quantity"), line.quantity)?;
            if !seen.insert(product_id.clone()) {
                return Err(ApiError::invalid(
                    id_field,
                    format!("product {product_id} appears more than once; order it on one line"),
                ));
            }
            lines.push(RequestedLine {
                product_id,
                quantity,
            });
        }
        Ok(OrderRequest {
            lines,
            shipping_address: shipping_address(self.shipping_address)?,
            hold_ids: hold_ids(self.hold_ids.unwrap_or_default())?,
        })
    }
}

/// Hold ids: at most one per line an order may have, each an id and
/// named once (inventory checks whose they are and what they hold).
fn hold_ids(ids: Vec<String>) -> Result<Vec<Id>, ApiError> {
    validate::count("hold_ids", &ids, 0, MAX_LINES)?;
    let mut seen = HashSet::new();
    let mut parsed = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let field = format!("hold_ids[{i}]");
        let id = Id::parse(&field, id)?;
        if !seen.insert(id.clone()) {
            return Err(ApiError::invalid(
                field,
                format!("hold {id} is named twice"),
            ));
        }
        parsed.push(id);
    }
    Ok(parsed)
}

fn shipping_address(value: Option<serde_json::Value>) -> Result<serde_json::Value, ApiError> {
    const FIELD: &str = "shipping_address";
    match value {
        None | Some(serde_json::Value::Null) => Ok(serde_json::Value::Null),
        Some(serde_json::Value::String(s)) => {
            let s = validate::required_text(FIELD, &s, MAX_SHIPPING_ADDRESS)?;
            Ok(serde_json::Value::String(s))
        }
        Some(v @ serde_json::Value::Object(_)) => {
            if v.to_string().len() > MAX_SHIPPING_ADDRESS {
                return Err(ApiError::invalid(
                    FIELD,
                    format!("must be at most {MAX_SHIPPING_ADDRESS} bytes of JSON"),
                ));
            }
            Ok(v)
        }
        Some(_) => Err(ApiError::invalid(FIELD, "must be an object or a string")),
    }
}

/// A line with the price the catalog gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub product_id: String,
    pub quantity: u32,
    pub unit_price_cents: i64,
}

/// The order's total, or `None` if it would overflow.
pub fn total(lines: &[PricedLine]) -> Option<Money> {
    lines.iter().try_fold(Money::ZERO, |sum, l| {
        Money::from_cents(l.unit_price_cents)
            .times(l.quantity)
            .and_then(|line| sum.checked_add(line))
    })
}

#[cfg(test)]
mod tests;
