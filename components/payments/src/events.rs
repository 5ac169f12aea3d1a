//! Events in: `payment.requested` charges an order once,
//! `payment.refund_requested` refunds a charge (see `service`). Both call
//! the provider, so each event is handled on its own, outside any
//! transaction until its outcome is recorded.

use platform::inbox::Delivery;
use platform::{ApiError, Context, LocalBoxFuture};

use crate::service;

platform::event_set! {
    /// The commands payments takes.
    pub enum Inbound {
        PaymentRequested,
        RefundRequested,
    }
}

/// Handles one command.
pub fn handle<'d>(
    ctx: &'d Context,
    delivery: Delivery<'d, Inbound>,
) -> LocalBoxFuture<'d, Result<(), ApiError>> {
    Box::pin(async move {
        match &delivery.event {
            Inbound::PaymentRequested(request) => {
                service::charge_order(ctx, &delivery, request).await
            }
            Inbound::RefundRequested(command) => {
                service::refund_order(ctx, &delivery, command).await
            }
        }
    })
}
