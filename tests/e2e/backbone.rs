//! The event backbone under failure: bridge replicas sharing partitions
//! through Kafka's group protocol, one of them killed; the platform killed
//! and gone for a while in the middle of a saga burst.

use std::time::{Duration, Instant};

use platform::auth::Role;
use serde_json::json;
use spinshop_tests::kafka::read_topic;
use spinshop_tests::{metric_sum, wait_for, EventStack};

use crate::bridge::{assert_inventory_exactly, burst, distinct_ids, UNLIMITED};
use crate::saga::{payments_of, place_at_once, settled, start, stock};

/// Inventory consumes catalog.events, inventory.commands and
/// marketplace.events, three partitions each (kafka-bridge/bridge.toml).
const INVENTORY_PARTITIONS: f64 = 9.0;

async fn inventory_partitions(bridge: &spinshop_tests::Bridge) -> f64 {
    metric_sum(
        &bridge.metrics().await,
        "bridge_partitions_assigned",
        "component=\"inventory\"",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replicas_partitions_move_to_the_survivor_with_nothing_lost_or_doubled() {
    let es = EventStack::start(UNLIMITED, |c| c);
    let mut second = es.replica("replica-1");
    let admin = es.stack.token("admin-1", Role::Admin);
    wait_for!(
        "the two replicas to share inventory's partitions",
        Duration::from_secs(60),
        async {
            let (a, b) = (
                inventory_partitions(&es.bridge).await,
                inventory_partitions(&second).await,
            );
            (a > 0.0 && b > 0.0 && a + b == INVENTORY_PARTITIONS).then_some(())
        }
        .await
    );

    let mut killed_at = None;
    let ids = burst(&es.stack, &admin, 400, 4, 150, || {
        second.kill9();
        killed_at = Some(Instant::now());
    })
    .await;
    let killed_at = killed_at.expect("the burst killed a replica");
    let took_over = wait_for!(
        "the survivor to own every partition",
        Duration::from_secs(60),
        async {
            (inventory_partitions(&es.bridge).await == INVENTORY_PARTITIONS).then(Instant::now)
        }
        .await
    );
    let takeover = took_over.duration_since(killed_at);
    eprintln!("the survivor owned every partition {takeover:?} after the kill");
    // The group notices a vanished member when its session (6 s) expires,
    // then rebalances; well inside this bound on any machine.
    assert!(
        takeover < Duration::from_secs(30),
        "takeover took {takeover:?}"
    );

    assert_inventory_exactly(&es.stack, &admin, &ids, 4).await;
    let brokers = es.brokers();
    let low = wait_for!(
        "a low-stock event per product",
        Duration::from_secs(60),
        async {
            let low = distinct_ids(
                &brokers,
                &es.topic("inventory.events"),
                "inventory.low_stock",
            );
            (low.len() >= ids.len()).then_some(low)
        }
        .await
    );
    assert_eq!(low.len(), ids.len());
    assert!(
        low.values().all(|ids| ids.len() == 1),
        "each product's stock was applied once, so announced once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_outage_dead_letters_nothing_and_every_acknowledged_order_confirms() {
    let mut es = start(&[]);
    let admin = es.stack.token("admin-1", Role::Admin);
    let product = es.stack.create_product(&admin, "Bulk", 1.0, 1000).await;
    es.stack.wait_for_stock(&product).await;
    let users: Vec<String> = (0..5)
        .map(|i| es.stack.token(&format!("outage-{i}"), Role::Customer))
        .collect();

    // Two waves acknowledged, their sagas in flight, then the platform
    // dies for ten seconds; two more waves once it is back. A slow
    // provider keeps charges (deliveries to payments) open when the host
    // dies, so the outage always meets deliveries under way, however fast
    // the rest of the saga is.
    es.stack.set_psp(&admin, &json!({"latency_ms": 1000})).await;
    let mut placed = Vec::new();
    for wave in 0..4 {
        placed.extend(place_at_once(&es.stack, &users, &product, 25).await);
        if wave == 1 {
            es.stack.crash_host();
            tokio::time::sleep(Duration::from_secs(10)).await;
            es.stack.restart_host();
            es.stack.set_psp(&admin, &json!({"latency_ms": 0})).await;
        }
    }

    let stack = &es.stack;
    for (token, id) in &placed {
        let order = settled(stack, token, id).await;
        assert_eq!(order["status"], "CONFIRMED", "{order}");
        assert_eq!(
            payments_of(stack, &admin, id).await.len(),
            1,
            "{id} charged once"
        );
    }
    wait_for!(
        "consistent stock",
        Duration::from_secs(60),
        async { (stock(stack, &product).await == (900, 0, 100)).then_some(()) }.await
    );
    let m = es.bridge.metrics().await;
    assert_eq!(metric_sum(&m, "bridge_dead_lettered_total", ""), 0.0, "{m}");
    assert!(
        metric_sum(&m, "bridge_delivery_unavailable_total", "") > 0.0,
        "the bridge saw the outage and waited it out"
    );
    assert_eq!(metric_sum(&m, "bridge_partitions_waiting", ""), 0.0);
    for topic in [
        "inventory.commands",
        "inventory.events",
        "payments.commands",
        "payments.events",
        "orders.events",
    ] {
        let dead = read_topic(&es.brokers(), &es.topic(&format!("{topic}.dlq")));
        assert!(dead.is_empty(), "{topic}.dlq: {dead:?}");
    }
}
