//! The event contract's names: the topics, and for each payload record of
//! `wit/events.wit` its event type, its topic and the field that keys it
//! (the Kafka partition key, so order is kept per aggregate). This table
//! is the only place event types and topics are spelled.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::generated::spinshop::platform::events::*;

/// A Kafka topic of the contract; each has a `.dlq` twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    Catalog,
    InventoryCommands,
    Inventory,
    Orders,
    PaymentsCommands,
    Payments,
    Users,
    Marketplace,
    NotificationsCommands,
}

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; 9] = [
        Topic::Catalog,
        Topic::InventoryCommands,
        Topic::Inventory,
        Topic::Orders,
        Topic::PaymentsCommands,
        Topic::Payments,
        Topic::Users,
        Topic::Marketplace,
        Topic::NotificationsCommands,
    ];

    /// The topic's name in Kafka.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Catalog => "catalog.events",
            Topic::InventoryCommands => "inventory.commands",
            Topic::Inventory => "inventory.events",
            Topic::Orders => "orders.events",
            Topic::PaymentsCommands => "payments.commands",
            Topic::Payments => "payments.events",
            Topic::Users => "users.events",
            Topic::Marketplace => "marketplace.events",
            Topic::NotificationsCommands => "notifications.commands",
        }
    }

    /// The topic named `name`, if the contract has one.
    pub fn parse(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// A payload record of the contract: it knows its event type, its topic
/// and its key.
pub trait Payload: Serialize + DeserializeOwned {
    /// The event type, e.g. `order.created`.
    const TYPE: &'static str;
    /// The topic events of this type travel on.
    const TOPIC: Topic;
    /// The aggregate id the event is keyed by.
    fn key(&self) -> &str;
}

macro_rules! contract {
    ($($payload:ident => $type:literal on $topic:ident by $key:ident;)+) => {
        $(
            impl Payload for $payload {
                const TYPE: &'static str = $type;
                const TOPIC: Topic = Topic::$topic;
                fn key(&self) -> &str {
                    &self.$key
                }
            }
        )+

        /// Every event type of the contract, with its topic.
        pub const EVENT_TYPES: &[(&str, Topic)] = &[$(($type, Topic::$topic)),+];
    };
}

contract! {
    ProductCreated => "catalog.product_created" on Catalog by product_id;
    ProductUpdated => "catalog.product_updated" on Catalog by product_id;
    ProductDeleted => "catalog.product_deleted" on Catalog by product_id;
    ReserveStock => "inventory.reserve" on InventoryCommands by order_id;
    CommitReservation => "inventory.commit" on InventoryCommands by order_id;
    ReleaseReservation => "inventory.release" on InventoryCommands by order_id;
    StockReserved => "inventory.reserved" on Inventory by order_id;
    ReservationFailed => "inventory.reservation_failed" on Inventory by order_id;
    ReservationCommitted => "inventory.committed" on Inventory by order_id;
    ReservationReleased => "inventory.released" on Inventory by order_id;
    LowStock => "inventory.low_stock" on Inventory by product_id;
    StockAvailability => "inventory.availability_changed" on Inventory by product_id;
    LevelChanged => "inventory.level_changed" on Inventory by product_id;
    OrderCreated => "order.created" on Orders by order_id;
    OrderConfirmed => "order.confirmed" on Orders by order_id;
    OrderCancelled => "order.cancelled" on Orders by order_id;
    PaymentRequested => "payment.requested" on PaymentsCommands by order_id;
    RefundRequested => "payment.refund_requested" on PaymentsCommands by order_id;
    PaymentSucceeded => "payment.succeeded" on Payments by order_id;
    PaymentFailed => "payment.failed" on Payments by order_id;
    PaymentRefunded => "payment.refunded" on Payments by order_id;
    UserRegistered => "user.registered" on Users by user_id;
    ItemSynced => "marketplace.item_synced" on Marketplace by item_id;
    NotificationReceived => "marketplace.notification_received" on Marketplace by resource_path;
    ItemLinked => "marketplace.item_linked" on Marketplace by product_id;
    NotificationRequested => "notification.requested" on NotificationsCommands by user_id;
}

impl ReleaseReservation {
    /// A release of the reservation an order holds; `reservation_id` may
    /// not be known yet (the order was cancelled while stock was being
    /// reserved), and inventory finds the reservation by order anyway.
    pub fn for_order(order_id: &str, reservation_id: Option<&str>, reason: &str) -> Self {
        Self {
            order_id: order_id.to_string(),
            reservation_id: reservation_id.unwrap_or_default().to_string(),
            reason: reason.to_string(),
        }
    }

    /// The reservation named, if the sender knew it.
    pub fn reservation(&self) -> Option<&str> {
        Some(self.reservation_id.as_str()).filter(|id| !id.is_empty())
    }
}

impl CommitReservation {
    /// A commit of the reservation an order holds, named if known
    /// (inventory finds it by order).
    pub fn for_order(order_id: &str, reservation_id: Option<&str>) -> Self {
        Self {
            order_id: order_id.to_string(),
            reservation_id: reservation_id.unwrap_or_default().to_string(),
        }
    }
}

/// The topic of the event type `event_type`, if the contract has it.
pub fn topic_of(event_type: &str) -> Option<Topic> {
    EVENT_TYPES
        .iter()
        .find(|(t, _)| *t == event_type)
        .map(|(_, topic)| *topic)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_type_is_spelled_once_on_a_topic_of_its_family() {
        let mut seen = HashSet::new();
        for (t, topic) in EVENT_TYPES {
            assert!(seen.insert(*t), "{t} twice");
            let (prefix, _) = t.split_once('.').expect("dotted");
            assert!(
                topic.as_str().starts_with(prefix),
                "{t} on {}",
                topic.as_str()
            );
        }
        for topic in Topic::ALL {
            assert_eq!(Topic::parse(topic.as_str()), Some(topic));
        }
        assert_eq!(topic_of("order.created"), Some(Topic::Orders));
        assert_eq!(topic_of("order.shipped"), None);
    }

    #[test]
    fn a_release_names_its_reservation_only_when_known() {
        let by_order = ReleaseReservation::for_order("o1", None, "timeout");
        assert_eq!(by_order.reservation(), None);
        assert_eq!(
            serde_json::to_value(&by_order).expect("json"),
            serde_json::json!({"order_id": "o1", "reservation_id": "", "reason": "timeout"})
        );
        let named = ReleaseReservation::for_order("o1", Some("r1"), "timeout");
        assert_eq!(named.reservation(), Some("r1"));
        assert_eq!(named.key(), "o1");
    }
}
