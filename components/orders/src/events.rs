//! Events in: inventory's and payments' answers drive the saga (see
//! `orchestrator`).

use platform::db::Db;
use platform::inbox::Delivered;
use platform::{ApiError, Context};

use crate::domain::saga::SagaInput;
use crate::orchestrator;

platform::event_set! {
    /// The answers the saga acts on; the rest of inventory's and payments'
    /// events (committed, released, low stock, refunded) change nothing
    /// here.
    pub enum Inbound {
        StockReserved,
        ReservationFailed,
        PaymentSucceeded,
        PaymentFailed,
    }
}

/// Applies one answer inside the inbox's transaction.
pub fn apply(db: &Db, ctx: &Context, delivered: Delivered<'_, Inbound>) -> Result<(), ApiError> {
    let (order_id, input) = match delivered.event {
        Inbound::StockReserved(p) => (
            p.order_id,
            SagaInput::StockReserved {
                reservation_id: p.reservation_id,
                lines: p
                    .lines
                    .into_iter()
                    .map(|l| (l.product_id, l.quantity))
                    .collect(),
            },
        ),
        Inbound::ReservationFailed(p) => {
            let mut product_ids: Vec<String> =
                p.failures.into_iter().map(|f| f.product_id).collect();
            product_ids.dedup();
            (p.order_id, SagaInput::ReservationFailed { product_ids })
        }
        Inbound::PaymentSucceeded(p) => (
            p.order_id,
            SagaInput::PaymentSucceeded {
                payment_id: p.payment_id,
            },
        ),
        Inbound::PaymentFailed(p) => (p.order_id, SagaInput::PaymentFailed { reason: p.reason }),
    };
    orchestrator::answer(db, ctx, delivered.envelope, &order_id, input)
}
