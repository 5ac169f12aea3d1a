//! Events through the real plumbing: component outboxes -> kafka-bridge ->
//! Apache Kafka -> kafka-bridge -> component event routes,
//! including the bridge or the broker dying mid-burst and a subscriber that
//! fails.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use platform::auth::Role;
use serde_json::{json, Value};
use spinshop_tests::kafka::{produce, read_topic};
use spinshop_tests::{
    client, envelope, fast_retries, metric_sum, wait_for, EventStack, Kafka, Stack,
};

/// Rate limits out of the way: these tests measure the plumbing.
pub(crate) const UNLIMITED: &[(&str, &str)] = &[("rate_limit_default", "1000000/1000000")];

/// Every stock record: product id -> available.
async fn inventory(stack: &Stack, admin: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = stack.url("/api/inventory?limit=200");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = client()
            .get(url)
            .bearer_auth(admin)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        for item in page["items"].as_array().expect("items") {
            out.insert(
                item["product_id"].as_str().expect("id").to_string(),
                item["available"].as_i64().expect("available"),
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

async fn outbox_len(stack: &Stack, component: &str) -> usize {
    let v: Value = client()
        .get(stack.url(&format!("/internal/{component}/outbox?limit=500")))
        .bearer_auth(&stack.internal_token)
        .send()
        .await
        .expect("outbox")
        .json()
        .await
        .expect("json");
    v["events"].as_array().map_or(0, Vec::len)
}

/// Distinct event ids per (type, key) on a topic.
pub(crate) fn distinct_ids(
    brokers: &str,
    topic: &str,
    event_type: &str,
) -> HashMap<String, HashSet<String>> {
    let mut out: HashMap<String, HashSet<String>> = HashMap::new();
    for r in read_topic(brokers, topic) {
        if r.payload["type"] == event_type {
            out.entry(r.payload["key"].as_str().unwrap_or_default().to_string())
                .or_default()
                .insert(r.payload["id"].as_str().unwrap_or_default().to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_reaches_inventory_through_kafka_and_the_bridge_stops_cleanly() {
    let mut es = EventStack::start(UNLIMITED, |c| c);
    let admin = es.stack.token("admin-1", Role::Admin);
    let started = Instant::now();
    let id = es.stack.create_product(&admin, "Lamp", 2.5, 7).await;
    let stock = es.stack.wait_for_stock(&id).await;
    eprintln!("catalog -> inventory in {:?}", started.elapsed());
    assert_eq!(stock["available"], 7);
    assert_eq!(stock["reserved"], 0);

    // The event on Kafka is the catalog's envelope, keyed by the product.
    let on_topic = read_topic(&es.brokers(), &es.topic("catalog.events"));
    let created: Vec<_> = on_topic
        .iter()
        .filter(|r| r.payload["type"] == "catalog.product_created")
        .collect();
    assert_eq!(created.len(), 1, "{on_topic:?}");
    assert_eq!(created[0].key.as_deref(), Some(id.as_str()));
    assert_eq!(created[0].payload["key"], id.as_str());
    assert!(created[0].headers.contains_key("traceparent"));

    // Idle: the outbox is drained and every offset committed.
    wait_for!(
        "an empty outbox",
        Duration::from_secs(10),
        async { (outbox_len(&es.stack, "catalog").await == 0).then_some(()) }.await
    );
    let metrics = wait_for!(
        "zero consumer lag",
        Duration::from_secs(20),
        async {
            let m = es.bridge.metrics().await;
            let lag_series = m
                .lines()
                .filter(|l| l.starts_with("bridge_consumer_lag{") && l.contains("catalog.events"))
                .count();
            (lag_series > 0 && metric_sum(&m, "bridge_consumer_lag", "") == 0.0).then_some(m)
        }
        .await
    );
    assert_eq!(
        metric_sum(
            &metrics,
            "bridge_delivered_total",
            &format!(
                "topic=\"{}\",component=\"inventory\"",
                es.topic("catalog.events")
            )
        ),
        1.0
    );
    assert!(metric_sum(&metrics, "bridge_relay_latency_seconds_count", "") >= 1.0);
    assert!(metric_sum(&metrics, "bridge_ticks_total", "component=\"inventory\"") >= 1.0);
    let health = client()
        .get(es.bridge.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);

    // SIGTERM: the bridge finishes and exits by itself, successfully.
    let status = es.bridge.terminate().expect("was running");
    assert!(
        status.success(),
        "bridge exit: {status:?}\n{}",
        es.bridge.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_delivered_twice_changes_state_once() {
    let es = EventStack::start(UNLIMITED, |c| c);
    let admin = es.stack.token("admin-1", Role::Admin);
    let id = es.stack.create_product(&admin, "Mug", 2.5, 10).await;
    let brokers = es.brokers();
    es.stack.wait_for_stock(&id).await;

    // The same reserve command (same event id) reaches Kafka twice, as after
    // a producer that crashed before its ack.
    let command = envelope(
        "inventory.reserve",
        "inventory.commands",
        "order-1",
        json!({"order_id": "order-1", "lines": [{"product_id": id, "quantity": 3}], "ttl_seconds": 600}),
    );
    produce(
        &brokers,
        &es.topic("inventory.commands"),
        "order-1",
        &command,
    )
    .await;
    produce(
        &brokers,
        &es.topic("inventory.commands"),
        "order-1",
        &command,
    )
    .await;

    wait_for!(
        "both deliveries",
        Duration::from_secs(30),
        async {
            let m = es.bridge.metrics().await;
            (metric_sum(
                &m,
                "bridge_delivered_total",
                &format!(
                    "topic=\"{}\",component=\"inventory\"",
                    es.topic("inventory.commands")
                ),
            ) >= 2.0)
                .then_some(())
        }
        .await
    );
    let stock: Value = client()
        .get(es.stack.url(&format!("/api/inventory/{id}")))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (stock["available"].as_i64(), stock["reserved"].as_i64()),
        (Some(7), Some(3))
    );

    // One inventory.reserved (one event id) for the order, however many copies travel.
    let reserved = wait_for!(
        "inventory.reserved on Kafka",
        Duration::from_secs(20),
        async {
            let ids = distinct_ids(
                &brokers,
                &es.topic("inventory.events"),
                "inventory.reserved",
            );
            ids.get("order-1").cloned()
        }
        .await
    );
    assert_eq!(reserved.len(), 1, "{reserved:?}");
}

/// Creates `n` products with `stock` units, 8 at a time; `interrupt` runs once `at` of them exist.
pub(crate) async fn burst(
    stack: &Stack,
    admin: &str,
    n: usize,
    stock: u32,
    at: usize,
    interrupt: impl FnOnce(),
) -> Vec<String> {
    let clients = 8;
    let mut created = Vec::with_capacity(n);
    let mut interrupt = Some(interrupt);
    let mut next = 0;
    while next < n {
        let names: Vec<String> = (next..(next + clients).min(n))
            .map(|i| format!("Burst {i}"))
            .collect();
        next += names.len();
        let made = futures::future::join_all(
            names
                .iter()
                .map(|name| stack.create_product(admin, name, 2.5, stock)),
        )
        .await;
        created.extend(made);
        if next >= at {
            if let Some(f) = interrupt.take() {
                f();
            }
        }
    }
    created
}

/// Waits until inventory holds exactly `ids`, each with `stock` available.
pub(crate) async fn assert_inventory_exactly(
    stack: &Stack,
    admin: &str,
    ids: &[String],
    stock: i64,
) {
    let wanted: HashSet<&String> = ids.iter().collect();
    let seen = wait_for!(
        "every product in inventory",
        Duration::from_secs(180),
        async {
            let inv = inventory(stack, admin).await;
            (inv.len() >= ids.len()).then_some(inv)
        }
        .await
    );
    assert_eq!(seen.len(), ids.len(), "no stray or doubled stock records");
    for (id, available) in &seen {
        assert!(wanted.contains(id), "unknown stock record {id}");
        assert_eq!(*available, stock, "stock of {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_bridge_mid_burst_loses_nothing_and_applies_nothing_twice() {
    let mut es = EventStack::start(UNLIMITED, |c| c);
    let admin = es.stack.token("admin-1", Role::Admin);
    let bridge = &mut es.bridge;
    let ids = burst(&es.stack, &admin, 500, 4, 150, || {
        bridge.kill9();
        std::thread::sleep(Duration::from_millis(300));
        bridge.restart();
    })
    .await;
    assert_eq!(ids.len(), 500);
    assert_inventory_exactly(&es.stack, &admin, &ids, 4).await;

    // Every product's creation is on Kafka once as an event (it may travel
    // twice after the kill; it is one event id), and inventory announced
    // each product's low stock once.
    let brokers = es.brokers();
    let created = distinct_ids(
        &brokers,
        &es.topic("catalog.events"),
        "catalog.product_created",
    );
    assert_eq!(created.len(), 500);
    assert!(created.values().all(|ids| ids.len() == 1));
    let low = wait_for!(
        "a low-stock event per product",
        Duration::from_secs(60),
        async {
            let low = distinct_ids(
                &brokers,
                &es.topic("inventory.events"),
                "inventory.low_stock",
            );
            (low.len() >= 500).then_some(low)
        }
        .await
    );
    assert_eq!(low.len(), 500);
    assert!(
        low.values().all(|ids| ids.len() == 1),
        "one announcement each"
    );
    wait_for!(
        "drained outboxes",
        Duration::from_secs(20),
        async {
            (outbox_len(&es.stack, "catalog").await == 0
                && outbox_len(&es.stack, "inventory").await == 0)
                .then_some(())
        }
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_the_broker_mid_burst_loses_nothing() {
    // A broker of its own: the shared one must not go down under others.
    let mut broker = Kafka::start();
    let es = EventStack::start_on(&broker.bootstrap(), UNLIMITED, |c| c);
    let admin = es.stack.token("admin-1", Role::Admin);
    let ids = burst(&es.stack, &admin, 300, 9, 100, || broker.restart()).await;
    assert_inventory_exactly(&es.stack, &admin, &ids, 9).await;
    let created = distinct_ids(
        &es.brokers(),
        &es.topic("catalog.events"),
        "catalog.product_created",
    );
    assert_eq!(created.len(), 300);
}

/// A subscriber stand-in that answers 500 to any event whose body contains
/// `poison`, 200 to the rest, and records what it got.
struct Subscriber {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<(u16, String)>>>,
    /// Once set, poison is accepted too (the cause was fixed).
    healed: Arc<AtomicBool>,
}

impl Subscriber {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let healed = Arc::new(AtomicBool::new(false));
        let log = seen.clone();
        let cured = healed.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let log = log.clone();
                let cured = cured.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut length = 0;
                        loop {
                            let mut h = String::new();
                            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                                return;
                            }
                            if h == "\r\n" {
                                break;
                            }
                            if let Some((k, v)) = h.split_once(':') {
                                if k.eq_ignore_ascii_case("content-length") {
                                    length = v.trim().parse().unwrap_or(0);
                                }
                            }
                        }
                        let mut body = vec![0; length];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        let body = String::from_utf8_lossy(&body).into_owned();
                        let status = if body.contains("poison") && !cured.load(Ordering::SeqCst) {
                            500
                        } else {
                            200
                        };
                        log.lock().expect("lock").push((status, body));
                        let reply = if status == 500 {
                            "{\"detail\":\"cannot handle this one\"}"
                        } else {
                            "{}"
                        };
                        let head = if status == 500 {
                            "500 Internal Server Error"
                        } else {
                            "200 OK"
                        };
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {head}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
                            reply.len()
                        );
                    }
                });
            }
        });
        Self { addr, seen, healed }
    }

    /// Bodies it answered with `status`.
    fn answered(&self, status: u16, containing: &str) -> usize {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|(s, b)| *s == status && b.contains(containing))
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_subscriber_is_retried_then_dead_lettered_without_blocking_the_partition() {
    let subscriber = Subscriber::start();
    let url = format!("http://{}/events", subscriber.addr);
    let es = EventStack::start(UNLIMITED, |c| {
        // One partition, so the later event queues behind the failing one.
        let c = fast_retries(c).replace("partitions = 3", "partitions = 1");
        format!("{c}\n[[subscription]]\ntopic = \"users.events\"\ncomponent = \"mailer\"\nurl = \"{url}\"\n")
    });
    for email in ["poison@example.com", "fine@example.com"] {
        let r = client()
            .post(es.stack.url("/api/auth/register"))
            .json(&json!({"email": email, "password": "a long enough secret", "name": "N"}))
            .send()
            .await
            .expect("register");
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    }

    let brokers = es.brokers();
    let dead = wait_for!(
        "the poison event on users.events.dlq",
        Duration::from_secs(60),
        async {
            let records = read_topic(&brokers, &es.topic("users.events.dlq"));
            (!records.is_empty()).then_some(records)
        }
        .await
    );
    assert_eq!(dead.len(), 1, "{dead:?}");
    let d = &dead[0];
    assert!(d.payload["payload"]
        .as_str()
        .unwrap_or_default()
        .contains("poison@example.com"));
    assert_eq!(d.headers["dlq-status"], "500");
    assert_eq!(d.headers["dlq-attempts"], "3");
    assert_eq!(d.headers["dlq-reason"], "retries_exhausted");
    assert_eq!(d.headers["dlq-error"], "cannot handle this one");
    assert_eq!(d.headers["dlq-source-topic"], es.topic("users.events"));

    // The partition moved on: the next event was delivered.
    wait_for!(
        "the later event",
        Duration::from_secs(30),
        async {
            subscriber
                .seen
                .lock()
                .expect("lock")
                .iter()
                .any(|(s, b)| *s == 200 && b.contains("fine@example.com"))
                .then_some(())
        }
        .await
    );
    let poison_attempts = subscriber
        .seen
        .lock()
        .expect("lock")
        .iter()
        .filter(|(_, b)| b.contains("poison"))
        .count();
    assert_eq!(poison_attempts, 3, "tried max_attempts times, no more");
    let m = es.bridge.metrics().await;
    assert_eq!(
        metric_sum(&m, "bridge_delivery_retries_total", "component=\"mailer\""),
        2.0
    );
    assert_eq!(
        metric_sum(&m, "bridge_dead_lettered_total", "component=\"mailer\""),
        1.0
    );

    // The cause is fixed: a replay re-publishes the dead letter to its
    // source topic, the subscriber takes it, and a second replay finds
    // nothing more to re-publish.
    subscriber.healed.store(true, Ordering::SeqCst);
    let first = es.bridge.replay(&["--component", "mailer"]);
    assert!(
        first.contains("re-published 1 dead letter(s) of mailer"),
        "{first}"
    );
    wait_for!(
        "the replayed event accepted",
        Duration::from_secs(30),
        (subscriber.answered(200, "poison@example.com") == 1).then_some(())
    );
    let second = es.bridge.replay(&["--component", "mailer"]);
    assert!(second.contains("re-published 0 dead letter(s)"), "{second}");
    let replayed: Vec<_> = read_topic(&brokers, &es.topic("users.events"))
        .into_iter()
        .filter(|r| r.headers.contains_key("replayed-from"))
        .collect();
    assert_eq!(replayed.len(), 1, "re-published once: {replayed:?}");
    assert!(!replayed[0].headers.contains_key("dlq-reason"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_event_in_a_batch_is_dead_lettered_alone() {
    let mut es = EventStack::start(UNLIMITED, |c| c);
    let brokers = es.brokers();
    // With the bridge down, three events queue up on one partition (one
    // key), so the restarted bridge takes them in one batch.
    es.bridge.kill9();
    let product = |id: &str| {
        json!({"product_id": id, "sku": format!("SKU-{id}"), "name": "Pen", "category": "office",
               "brand": "Acme", "price_cents": 199, "stock": 3, "tags": [], "featured": false})
    };
    let first = envelope(
        "catalog.product_created",
        "catalog.events",
        "same-key",
        product("batch-a"),
    );
    let poison = envelope(
        "catalog.product_created",
        "catalog.events",
        "same-key",
        json!({"product_id": 42}),
    );
    let last = envelope(
        "catalog.product_created",
        "catalog.events",
        "same-key",
        product("batch-b"),
    );
    for e in [&first, &poison, &last] {
        produce(&brokers, &es.topic("catalog.events"), "same-key", e).await;
    }
    es.bridge.restart();

    let admin = es.stack.token("admin-1", Role::Admin);
    let stocked = wait_for!(
        "both good events applied",
        Duration::from_secs(30),
        async {
            let inv = inventory(&es.stack, &admin).await;
            (inv.len() >= 2).then_some(inv)
        }
        .await
    );
    assert_eq!(
        stocked.into_iter().collect::<Vec<_>>(),
        [("batch-a".to_string(), 3), ("batch-b".to_string(), 3)]
    );
    // Every subscriber of the topic judges the event for itself (search
    // refuses it too): inventory's dead letter is the one it alone made.
    let dead = wait_for!(
        "inventory's dead letter on the dead-letter topic",
        Duration::from_secs(30),
        async {
            let records: Vec<_> = read_topic(&brokers, &es.topic("catalog.events.dlq"))
                .into_iter()
                .filter(|r| r.headers.get("dlq-component").map(String::as_str) == Some("inventory"))
                .collect();
            (!records.is_empty()).then_some(records)
        }
        .await
    );
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].payload["id"], poison["id"]);
    assert_eq!(dead[0].headers["dlq-reason"], "rejected");
    assert_eq!(dead[0].headers["dlq-component"], "inventory");
}
