//! The two ways an item changes, each with its notification queued in the
//! same transaction: its seller's update (`PUT /items/{id}`) and a sale
//! on MercadoLibre (the control's simulated one). Notifications are for
//! the application `application_id` (see [`webhooks::application_id`]).

use platform::db::Db;
use platform::ApiError;

use crate::domain::{ItemChange, ItemId};
use crate::store::catalog::{self, ItemRecord, SaleOutcome};
use crate::webhooks;

/// Applies a seller's change; `None` for an unknown item.
pub fn update(
    db: &Db,
    id: &ItemId,
    change: &ItemChange,
    application_id: i64,
    now_ms: i64,
) -> Result<Option<ItemRecord>, ApiError> {
    db.transaction(|db| {
        let Some(item) = catalog::update_item(db, id, change, now_ms)? else {
            return Ok(None);
        };
        webhooks::queue_item(db, &item, application_id, now_ms)?;
        Ok(Some(item))
    })
}

/// Sells `quantity` units.
pub fn sell(
    db: &Db,
    id: &ItemId,
    quantity: i64,
    application_id: i64,
    now_ms: i64,
) -> Result<SaleOutcome, ApiError> {
    db.transaction(|db| {
        let outcome = catalog::sell(db, id, quantity, now_ms)?;
        if let SaleOutcome::Sold(item) = &outcome {
            webhooks::queue_item(db, item, application_id, now_ms)?;
        }
        Ok(outcome)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SiteId;
    use crate::store::{memory, notifications};

    #[test]
    fn every_change_queues_a_notification_for_the_items_owner() {
        let db = memory();
        let id = SiteId::parse("MLA201").expect("id");
        let change = ItemChange {
            available_quantity: Some(7),
            ..ItemChange::default()
        };
        assert!(update(&db, &id, &change, 4242, 1_000)
            .expect("update")
            .is_some());
        assert!(matches!(
            sell(&db, &id, 2, 4242, 2_000).expect("sell"),
            SaleOutcome::Sold(item) if item.available_quantity == 5
        ));
        assert_eq!(
            sell(&db, &id, 6, 4242, 3_000).expect("too many"),
            SaleOutcome::NotEnough { available: 5 }
        );
        let unknown = SiteId::parse("MLA9").expect("id");
        assert_eq!(
            update(&db, &unknown, &change, 4242, 4_000).expect("unknown"),
            None
        );
        let queued = notifications::recent(&db, 10).expect("recent");
        assert_eq!(queued.len(), 2, "one per change that happened");
        assert!(queued.iter().all(|n| n.resource == "/items/MLA201"
            && n.user_id == 1002
            && n.topic == "items"
            && n.application_id == 4242));
    }
}
