//! Events in: catalog events create and retire stock records;
//! `inventory.reserve|commit|release` commands run the saga's stock steps
//! (see `service`); `marketplace.item_linked|item_synced` mirror a product
//! linked to a MercadoLibre item.

use platform::db::Db;
use platform::inbox::Delivered;
use platform::{ApiError, Context, Id};

use crate::service::holds::Offered;
use crate::{domain, service, store};

platform::event_set! {
    /// What inventory acts on.
    pub enum Inbound {
        ProductCreated,
        ProductDeleted,
        ReserveStock,
        CommitReservation,
        ReleaseReservation,
        ItemSynced,
        ItemLinked,
    }
}

/// Applies one event inside the inbox's transaction. A command naming no
/// usable order or lines is a 422 (dead-lettered): orders never sends one,
/// and the saga's step timeout cancels the order it stalls.
pub fn apply(db: &Db, ctx: &Context, delivered: Delivered<'_, Inbound>) -> Result<(), ApiError> {
    let cause = delivered.envelope;
    match delivered.event {
        Inbound::ProductCreated(p) => {
            let id = Id::parse("payload.product_id", &p.product_id)?;
            service::add_product(db, ctx, cause, &id, p.stock)
        }
        Inbound::ProductDeleted(p) => {
            store::delete(db, Id::parse("payload.product_id", &p.product_id)?.as_str())
        }
        Inbound::ReserveStock(cmd) => {
            let order_id = Id::parse("payload.order_id", &cmd.order_id)?;
            let lines = domain::validate_lines(
                "payload.",
                cmd.lines
                    .into_iter()
                    .map(|l| (l.product_id, l.quantity))
                    .collect(),
            )?;
            let ask = service::Ask {
                order_id: Some(&order_id),
                owner_id: None,
                lines: &lines,
                ttl_seconds: cmd.ttl_seconds.clamp(domain::MIN_TTL, domain::MAX_TTL),
            };
            // Holds are an offer: whatever they are, the order's lines are
            // reserved one way or the other.
            let offered = cmd.hold_ids.as_deref().map(|hold_ids| Offered {
                customer: cmd.user_id.as_deref(),
                hold_ids,
            });
            service::reserve_for_order(db, ctx, cause, &ask, offered.as_ref())
        }
        Inbound::CommitReservation(cmd) => {
            let order_id = Id::parse("payload.order_id", &cmd.order_id)?;
            let reservation_id = Id::parse("payload.reservation_id", &cmd.reservation_id)?;
            service::commit_order(db, ctx, cause, &order_id, &reservation_id)
        }
        Inbound::ReleaseReservation(cmd) => {
            let order_id = Id::parse("payload.order_id", &cmd.order_id)?;
            service::release_order(db, ctx, cause, &order_id, &cmd.reason)
        }
        // Items not linked to a product are the marketplace's business.
        Inbound::ItemSynced(item) => match item.product_id.as_deref() {
            Some(product) => {
                let id = Id::parse("payload.product_id", product)?;
                service::follow_marketplace(db, ctx, cause, id.as_str(), item.change).map(|_| ())
            }
            None => Ok(()),
        },
        Inbound::ItemLinked(link) => {
            let id = Id::parse("payload.product_id", &link.product_id)?;
            service::mirror(db, ctx, cause, id.as_str(), link.linked)
        }
    }
}
