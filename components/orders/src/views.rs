//! What clients see of an order: the types the handlers answer with,
//! which also give the OpenAPI document its schemas.

use platform::clock::rfc3339_from_ms;
use platform::domain::Money;
use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::{OrderStatus, SagaStep};
use crate::store::{HistoryEntry, Order};

/// An order as clients see it: money as integer cents and as a
/// two-decimal number, times in RFC 3339.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OrderView {
    pub id: String,
    pub user_id: String,
    pub status: OrderStatus,
    /// Where its saga is.
    pub step: SagaStep,
    /// Why it was cancelled (`payment_failed: ...`, `out_of_stock`, ...).
    pub reason: Option<String>,
    pub reservation_id: Option<String>,
    pub payment_id: Option<String>,
    pub items: Vec<OrderLine>,
    pub total_cents: i64,
    pub total: Money,
    pub currency: String,
    /// As the client sent it.
    pub shipping_address: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
}

/// A line with the price the catalog gave it when the order was placed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OrderLine {
    pub product_id: String,
    pub quantity: u32,
    pub unit_price_cents: i64,
    pub unit_price: Money,
}

impl From<&Order> for OrderView {
    fn from(o: &Order) -> Self {
        Self {
            id: o.id.clone(),
            user_id: o.user_id.clone(),
            status: o.status,
            step: o.step,
            reason: o.reason.clone(),
            reservation_id: o.reservation_id.clone(),
            payment_id: o.payment_id.clone(),
            items: o
                .lines
                .iter()
                .map(|l| OrderLine {
                    product_id: l.product_id.clone(),
                    quantity: l.quantity,
                    unit_price_cents: l.unit_price_cents,
                    unit_price: Money::from_cents(l.unit_price_cents),
                })
                .collect(),
            total_cents: o.total_cents,
            total: Money::from_cents(o.total_cents),
            currency: o.currency.clone(),
            shipping_address: o.shipping_address.clone(),
            created_at: rfc3339_from_ms(o.created_at_ms),
            updated_at: rfc3339_from_ms(o.updated_at_ms),
        }
    }
}

/// A placed order: its saga has started; `status_url` follows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlacedOrder {
    #[serde(flatten)]
    pub order: OrderView,
    pub status_url: String,
}

/// Where an order's saga is, and every step it took.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OrderProgress {
    pub id: String,
    pub status: OrderStatus,
    pub step: SagaStep,
    pub reason: Option<String>,
    pub history: Vec<StepView>,
}

/// One step of a saga.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StepView {
    pub step: SagaStep,
    pub status: OrderStatus,
    /// RFC 3339.
    pub at: String,
    /// The event that moved it, if one did.
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    pub detail: Option<String>,
}

impl From<&HistoryEntry> for StepView {
    fn from(h: &HistoryEntry) -> Self {
        Self {
            step: h.step,
            status: h.status,
            at: rfc3339_from_ms(h.at_ms),
            event_type: h.event_type.clone(),
            event_id: h.event_id.clone(),
            detail: h.detail.clone(),
        }
    }
}
