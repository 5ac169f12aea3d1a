//! Tests of `store`.

use super::*;
use crate::domain::saga::{Change, Command};

fn order(id: &str, user: &str, at: i64) -> Order {
    Order {
        id: id.into(),
        user_id: user.into(),
        status: OrderStatus::Pending,
        step: SagaStep::Reserving,
        reason: None,
        reservation_id: None,
        payment_id: None,
        lines: vec![
            PricedLine {
                product_id: "pen".into(),
                quantity: 2,
                unit_price_cents: 150,
            },
            PricedLine {
                product_id: "ink".into(),
                quantity: 1,
                unit_price_cents: 99,
            },
        ],
        total_cents: 399,
        currency: "USD".into(),
        shipping_address: serde_json::json!({"city": "Lisbon"}),
        correlation_id: "req-1".into(),
        created_at_ms: at,
        updated_at_ms: at,
        step_started_at_ms: at,
    }
}

fn placed() -> Db {
    let db = Db::memory(MIGRATIONS).expect("db");
    insert(&db, &order("o1", "ann", 100)).expect("o1");
    insert(&db, &order("o2", "bob", 200)).expect("o2");
    insert(&db, &order("o3", "ann", 300)).expect("o3");
    db
}

fn ids(orders: &[Order]) -> Vec<&str> {
    orders.iter().map(|o| o.id.as_str()).collect()
}

#[test]
fn an_order_reads_back_with_its_lines_in_order() {
    let db = placed();
    assert_eq!(get(&db, "o1").expect("get"), Some(order("o1", "ann", 100)));
    assert_eq!(get(&db, "o9").expect("get"), None);
}

#[test]
fn lists_are_newest_first_per_user_and_status() {
    let db = placed();
    assert_eq!(
        ids(&list(&db, None, None, None, 10).expect("all")),
        ["o3", "o2", "o1"]
    );
    assert_eq!(
        ids(&list(&db, Some("ann"), None, None, 10).expect("ann's")),
        ["o3", "o1"]
    );
    assert_eq!(
        ids(&list(&db, None, None, Some("o3"), 1).expect("page")),
        ["o2"]
    );
    assert!(list(&db, None, Some(OrderStatus::Confirmed), None, 10)
        .expect("none")
        .is_empty());
}

#[test]
fn a_change_applies_once_from_where_it_was_decided() {
    let db = placed();
    let change = Change {
        next: Some((OrderStatus::Pending, SagaStep::Charging)),
        reason: None,
        reservation_id: Some("r1".into()),
        payment_id: None,
        commands: vec![Command::RequestPayment],
        detail: "reserved".into(),
    };
    let from = (OrderStatus::Pending, SagaStep::Reserving);
    let _clock = platform::clock::pin(5_000);
    assert!(apply(&db, "o1", from, &change).expect("apply"));
    assert!(
        !apply(&db, "o1", from, &change).expect("again"),
        "the order moved on"
    );
    let o = get(&db, "o1").expect("get").expect("o1");
    assert_eq!(
        (o.step, o.reservation_id.as_deref(), o.step_started_at_ms),
        (SagaStep::Charging, Some("r1"), 5_000)
    );
    assert_eq!(stalled(&db, 250, 10).expect("stalled"), ["o2".to_string()]);
    append_history(
        &db,
        "o1",
        &HistoryEntry {
            step: SagaStep::Charging,
            status: OrderStatus::Pending,
            at_ms: 5_000,
            event_type: Some("inventory.reserved".into()),
            event_id: Some("e1".into()),
            detail: Some("reserved".into()),
        },
    )
    .expect("history");
    let h = history(&db, "o1").expect("history");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].event_type.as_deref(), Some("inventory.reserved"));
}
