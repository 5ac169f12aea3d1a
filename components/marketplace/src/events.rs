//! Events in: the notifications the webhook accepted (on
//! `marketplace.events`, published by this component) and the levels of
//! linked products (`inventory.level_changed`), each calling MercadoLibre,
//! so each on its own outside any transaction until its outcome is
//! recorded.

use platform::inbox::Delivery;
use platform::{ApiError, Context, LocalBoxFuture};

use crate::service;

platform::event_set! {
    /// What the marketplace acts on.
    pub enum Inbound {
        NotificationReceived,
        LevelChanged,
    }
}

/// Handles one event.
pub fn handle<'d>(
    ctx: &'d Context,
    delivery: Delivery<'d, Inbound>,
) -> LocalBoxFuture<'d, Result<(), ApiError>> {
    Box::pin(async move {
        match &delivery.event {
            Inbound::NotificationReceived(n) => {
                service::process_notification(ctx, &delivery, n).await
            }
            Inbound::LevelChanged(level) => service::push_level(ctx, &delivery, level).await,
        }
    })
}
