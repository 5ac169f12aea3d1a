//! Relay in: one consumer group per subscribed component; every event is
//! POSTed to the component's event route and its offset is stored only
//! after a 2xx (or once the event is safely on the `.dlq` topic). Stored
//! offsets are committed by the bridge, never automatically ahead of the
//! work. Each partition has its own worker, so order holds per partition
//! (and so per key) while partitions run concurrently.
//!
//! Replicas share a component's partitions through Kafka's group protocol:
//! cooperative-sticky assignment (a rebalance moves only the partitions
//! that must move) and static membership (a replica restarted under the
//! same `instance` name gets its partitions back without a rebalance). A
//! replica that dies for good loses its partitions to the others once the
//! group's session times out. Before partitions are revoked, what was
//! delivered is committed; a worker whose partition was revoked stops at
//! once, and anything in flight is delivered again by the new owner, which
//! components take as the duplicate it is.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use futures::StreamExt as _;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{Header, Headers as _, Message as _, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientContext, Offset};
use serde_json::Value;
use spinshop_otlp::Tracer;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::backoff::Backoff;
use crate::config::{dlq_topic, Config, DeliveryPolicy, Subscription};
use crate::metrics::Metrics;
use crate::platform::{Attempt, Platform};
use crate::traces::Delivery;
use crate::{kafka, log};

/// Messages a partition worker may have queued.
const WORKER_QUEUE: usize = 256;
/// How often stored offsets are committed.
const COMMIT_EVERY: Duration = Duration::from_millis(200);
/// How often consumer lag is measured.
const LAG_EVERY: Duration = Duration::from_secs(2);
/// How often a partition waiting out an outage says so in the log.
const OUTAGE_LOG_EVERY: Duration = Duration::from_secs(10);

/// A partition of a topic.
type Slot = (String, i32);

/// Sees the group's rebalances: marks revoked partitions so that their
/// workers stop, and commits what was delivered before handing them over.
pub struct GroupContext {
    component: String,
    revoked: Mutex<HashSet<Slot>>,
    metrics: Arc<Metrics>,
}

impl GroupContext {
    fn is_revoked(&self, slot: &Slot) -> bool {
        self.revoked.lock().is_ok_and(|r| r.contains(slot))
    }
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let slots: Vec<Slot> = tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect();
            if let Ok(mut revoked) = self.revoked.lock() {
                revoked.extend(slots.iter().cloned());
            }
            // Hand over what is done: the next owner starts after it.
            if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
                if e.rdkafka_error_code() != Some(rdkafka::types::RDKafkaErrorCode::NoOffset) {
                    log::warn(
                        "commit before revocation failed",
                        &[("component", &self.component), ("error", &e.to_string())],
                    );
                }
            }
            self.count_rebalance("revoked", slots.len());
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let slots: Vec<Slot> = tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect();
            if let Ok(mut revoked) = self.revoked.lock() {
                for slot in &slots {
                    revoked.remove(slot);
                }
            }
            self.count_rebalance("assigned", slots.len());
        }
    }
}

impl GroupContext {
    fn count_rebalance(&self, kind: &str, partitions: usize) {
        let component = self.component.as_str();
        self.metrics.count(
            "bridge_rebalances_total",
            &[("component", component), ("kind", kind)],
            1.0,
        );
        let delta = if kind == "assigned" { 1.0 } else { -1.0 } * partitions as f64;
        self.metrics.add(
            "bridge_partitions_assigned",
            &[("component", component)],
            delta,
        );
        // The series exists, at 0, from the first assignment on: a panel
        // or alert over it has data before any outage.
        self.metrics.add(
            "bridge_partitions_waiting",
            &[("component", component)],
            0.0,
        );
        log::info(
            "partitions changed hands",
            &[
                ("component", component),
                ("kind", kind),
                ("partitions", &partitions.to_string()),
            ],
        );
    }
}

type GroupConsumer = StreamConsumer<GroupContext>;

/// What a partition worker needs.
struct Shared {
    component: String,
    /// Per Kafka topic: where its events go, and how many may share a request.
    urls: HashMap<String, (String, usize)>,
    consumer: Arc<GroupConsumer>,
    producer: FutureProducer,
    platform: Platform,
    policy: DeliveryPolicy,
    metrics: Arc<Metrics>,
    stored: AtomicBool,
    /// The consumer group, for the delivery spans.
    group: String,
    tracer: Tracer,
}

/// The consumer for one component: a member of its group, under this
/// replica's static name.
fn consumer(config: &Config, component: &str, metrics: Arc<Metrics>) -> Result<GroupConsumer> {
    let group = config.group_of(component);
    let instance = config.instance_name();
    let client_id = format!("kafka-bridge.{component}");
    kafka::client(
        config,
        &[
            ("group.id", &group),
            ("group.instance.id", &instance),
            ("client.id", &client_id),
            ("partition.assignment.strategy", "cooperative-sticky"),
            // Kafka's lowest default bound: a vanished replica's partitions
            // move to the others after this long.
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "1500"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
            // The broker answers a fetch as soon as there is data; this is
            // only how long an empty fetch waits, so it costs no latency.
            ("fetch.wait.max.ms", "100"),
            ("topic.metadata.refresh.interval.ms", "10000"),
        ],
        Some(&config.consumer),
    )
    .create_with_context(GroupContext {
        component: component.to_string(),
        revoked: Mutex::new(HashSet::new()),
        metrics,
    })
    .with_context(|| format!("creating the Kafka consumer for {component}"))
}

/// Where a consumer's events go, and what it reports through.
pub struct Outlets {
    pub platform: Platform,
    /// For dead letters.
    pub producer: FutureProducer,
    pub metrics: Arc<Metrics>,
    pub tracer: Tracer,
}

/// Consumes `subscriptions` for `component` until `stop`, then finishes the
/// event in hand in each partition, commits and returns.
pub async fn run(
    config: Arc<Config>,
    component: String,
    subscriptions: Vec<Subscription>,
    outlets: Outlets,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let Outlets {
        platform,
        producer,
        metrics,
        tracer,
    } = outlets;
    let consumer = Arc::new(consumer(&config, &component, metrics.clone())?);
    let topics: Vec<String> = subscriptions
        .iter()
        .map(|s| config.kafka_topic(&s.topic))
        .collect();
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&names)
        .with_context(|| format!("subscribing {component} to {topics:?}"))?;
    let shared = Arc::new(Shared {
        urls: subscriptions
            .iter()
            .map(|s| {
                (
                    config.kafka_topic(&s.topic),
                    (config.events_url(s), s.batch as usize),
                )
            })
            .collect(),
        component: component.clone(),
        consumer: consumer.clone(),
        producer,
        platform,
        policy: config.delivery.clone(),
        metrics: metrics.clone(),
        stored: AtomicBool::new(false),
        group: config.group_of(&component),
        tracer,
    });
    log::info(
        "consuming",
        &[
            ("component", &component),
            ("topics", &topics.join(",")),
            ("group", &config.group_of(&component)),
            ("instance", &config.instance_name()),
        ],
    );

    let mut background = JoinSet::new();
    background.spawn(commit_loop(shared.clone(), stop.clone()));
    background.spawn(lag_loop(shared.clone(), stop.clone()));

    let mut workers: HashMap<Slot, mpsc::Sender<OwnedMessage>> = HashMap::new();
    let mut running = JoinSet::new();
    {
        let mut stream = consumer.stream();
        loop {
            let next = tokio::select! {
                next = stream.next() => next,
                _ = stop.changed() => break,
            };
            let message = match next {
                Some(Ok(m)) => m.detach(),
                Some(Err(e)) => {
                    log::warn(
                        "consumer error",
                        &[("component", &component), ("error", &e.to_string())],
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                None => break,
            };
            let slot = (message.topic().to_string(), message.partition());
            let mut message = Some(message);
            // A worker whose partition was revoked has ended; a partition
            // that came back gets a fresh one.
            for _ in 0..2 {
                let sender = workers.entry(slot.clone()).or_insert_with(|| {
                    let (tx, rx) = mpsc::channel(WORKER_QUEUE);
                    running.spawn(partition_worker(
                        slot.clone(),
                        rx,
                        shared.clone(),
                        stop.clone(),
                    ));
                    tx
                });
                let Some(m) = message.take() else { break };
                // A full queue holds the stream back: backpressure, not loss.
                let sent = tokio::select! {
                    sent = sender.send(m) => sent,
                    _ = stop.changed() => break,
                };
                match sent {
                    Ok(()) => break,
                    Err(returned) => {
                        workers.remove(&slot);
                        message = Some(returned.0);
                    }
                }
            }
            if *stop.borrow() {
                break;
            }
        }
    }
    // No more input: workers end after the event in hand.
    drop(workers);
    while running.join_next().await.is_some() {}
    background.shutdown().await;
    let consumer = shared.consumer.clone();
    tokio::task::spawn_blocking(move || consumer.commit_consumer_state(CommitMode::Sync))
        .await
        .context("final commit")?
        .or_else(|e| match e.rdkafka_error_code() {
            // Nothing stored since the last commit.
            Some(rdkafka::types::RDKafkaErrorCode::NoOffset) => Ok(()),
            _ => Err(e),
        })
        .with_context(|| format!("committing {component}'s offsets"))?;
    log::info("consumer stopped", &[("component", &component)]);
    Ok(())
}

async fn partition_worker(
    slot: Slot,
    mut rx: mpsc::Receiver<OwnedMessage>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let revoked = |shared: &Shared| shared.consumer.context().is_revoked(&slot);
    while let Some(first) = rx.recv().await {
        if *stop.borrow() || revoked(&shared) {
            // Left uncommitted: the next owner gets it again.
            return;
        }
        let limit = shared.urls.get(first.topic()).map_or(1, |(_, b)| *b);
        let mut group = vec![first];
        while group.len() < limit {
            match rx.try_recv() {
                Ok(m) => group.push(m),
                Err(_) => break,
            }
        }
        if group.len() > 1 && deliver_batch(&shared, &group).await {
            continue;
        }
        // One at a time: alone, or after a batch that was not taken whole
        // (those already applied come back as duplicates).
        for message in &group {
            if revoked(&shared) || !handle(&shared, message, stop.clone()).await {
                return;
            }
        }
    }
}

/// POSTs several events of one partition in one request; true when the
/// component took them all (2xx), their offsets then stored.
async fn deliver_batch(shared: &Shared, group: &[OwnedMessage]) -> bool {
    let Some(last) = group.last() else {
        return true;
    };
    let Some((url, _)) = shared.urls.get(last.topic()) else {
        return false;
    };
    // Each payload is parsed once: only well-formed JSON is spliced into
    // the batch (anything else goes alone), and its creation time is kept
    // for the latency figure.
    let mut created = Vec::with_capacity(group.len());
    let mut envelopes = Vec::with_capacity(group.len());
    let mut body = Vec::with_capacity(
        group
            .iter()
            .map(|m| m.payload().map_or(0, <[u8]>::len) + 1)
            .sum::<usize>()
            + 16,
    );
    body.extend_from_slice(b"{\"events\":[");
    for (i, m) in group.iter().enumerate() {
        let payload = m.payload().unwrap_or_default();
        let Ok(envelope) = serde_json::from_slice::<Value>(payload) else {
            return false;
        };
        created.push(envelope.get("created_at_ms").and_then(Value::as_i64));
        envelopes.push(envelope);
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(payload);
    }
    body.extend_from_slice(b"]}");
    let mut delivery = Delivery::start(
        &shared.tracer,
        &shared.component,
        &shared.group,
        &group.iter().collect::<Vec<_>>(),
        &envelopes.iter().map(Some).collect::<Vec<_>>(),
        url,
    );
    let attempt = shared
        .platform
        .deliver(url, &body, delivery.traceparent().as_deref())
        .await;
    delivery.attempted(attempt.status());
    if attempt != Attempt::Delivered {
        // Its events go one by one next, each with a span of its own.
        delivery.finish("batch_refused", Some(&attempt.describe()));
        return false;
    }
    delivery.finish("delivered", None);
    let topic = last.topic();
    let component = shared.component.as_str();
    let now = now_ms();
    for created in created.into_iter().flatten() {
        shared.metrics.observe_latency(
            &[("topic", topic), ("component", component)],
            (now - created).max(0) as f64 / 1000.0,
        );
    }
    shared.metrics.count(
        "bridge_delivered_total",
        &[("topic", topic), ("component", component)],
        group.len() as f64,
    );
    shared.metrics.count(
        "kafka_messages_consumed_total",
        &[("topic", topic)],
        group.len() as f64,
    );
    // Offsets are per partition: storing the last covers the batch.
    store(shared, last);
    true
}

/// Marks a partition as waiting out an outage (once), for metrics and
/// `/health`; unmarks it when dropped.
struct Waiting<'a> {
    shared: &'a Shared,
    since: Option<Instant>,
    logged: Option<Instant>,
}

impl Waiting<'_> {
    fn begin(&mut self) -> Duration {
        let since = *self.since.get_or_insert_with(|| {
            self.shared.metrics.add(
                "bridge_partitions_waiting",
                &[("component", &self.shared.component)],
                1.0,
            );
            Instant::now()
        });
        since.elapsed()
    }

    /// Whether to log now (the first time, then every [`OUTAGE_LOG_EVERY`]).
    fn should_log(&mut self) -> bool {
        let due = self.logged.is_none_or(|t| t.elapsed() >= OUTAGE_LOG_EVERY);
        if due {
            self.logged = Some(Instant::now());
        }
        due
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.since.is_some() {
            self.shared.metrics.add(
                "bridge_partitions_waiting",
                &[("component", &self.shared.component)],
                -1.0,
            );
        }
    }
}

/// Delivers one event (with retries), or dead-letters it; stores its offset
/// when done. Returns false when interrupted by `stop` or a revocation
/// before that.
async fn handle(shared: &Shared, message: &OwnedMessage, mut stop: watch::Receiver<bool>) -> bool {
    let topic = message.topic();
    let component = shared.component.as_str();
    let body = message.payload().unwrap_or_default();
    let envelope: Option<Value> = serde_json::from_slice(body).ok();
    let Some((url, _)) = shared.urls.get(topic) else {
        return true;
    };
    let mut delivery = Delivery::start(
        &shared.tracer,
        component,
        &shared.group,
        &[message],
        &[envelope.as_ref()],
        url,
    );
    // The delivery span's context when tracing, else the event's own, so
    // the component's request continues the trace either way.
    let traceparent = delivery.traceparent().or_else(|| {
        envelope
            .as_ref()
            .and_then(|v| v.get("traceparent"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let slot = (topic.to_string(), message.partition());
    let backoff = Backoff::new(shared.policy.backoff_min_ms, shared.policy.backoff_max_ms);
    let outage = Backoff::new(
        shared.policy.backoff_min_ms,
        shared.policy.outage_backoff_max_ms,
    );
    let mut waiting = Waiting {
        shared,
        since: None,
        logged: None,
    };
    let mut failures = 0u32;
    let mut outage_tries = 0u32;
    let (status, error, reason) = loop {
        let mut attempt = shared
            .platform
            .deliver(url, body, traceparent.as_deref())
            .await;
        delivery.attempted(attempt.status());
        if let Attempt::Unavailable {
            status: None,
            error,
        } = &attempt
        {
            // A timeout while the platform reports itself ready is the
            // component's own failure on this event, not an outage.
            if error == "timed out" && shared.platform.ready().await {
                attempt = Attempt::Retry {
                    status: None,
                    error: error.clone(),
                };
            }
        }
        let wait = match attempt {
            Attempt::Delivered => {
                shared.metrics.count(
                    "bridge_delivered_total",
                    &[("topic", topic), ("component", component)],
                    1.0,
                );
                shared
                    .metrics
                    .count("kafka_messages_consumed_total", &[("topic", topic)], 1.0);
                if let Some(created) = envelope
                    .as_ref()
                    .and_then(|v| v.get("created_at_ms"))
                    .and_then(Value::as_i64)
                {
                    let seconds = (now_ms() - created).max(0) as f64 / 1000.0;
                    shared
                        .metrics
                        .observe_latency(&[("topic", topic), ("component", component)], seconds);
                }
                store(shared, message);
                delivery.finish("delivered", None);
                return true;
            }
            Attempt::Reject { status, error } => break (Some(status), error, "rejected"),
            Attempt::Unavailable { status, error } => {
                let waited = waiting.begin();
                shared.metrics.count(
                    "bridge_delivery_unavailable_total",
                    &[("topic", topic), ("component", component)],
                    1.0,
                );
                let wait = outage.delay(outage_tries);
                outage_tries = outage_tries.saturating_add(1);
                if waiting.should_log() {
                    log::warn(
                        "platform unavailable; the partition waits",
                        &[
                            ("component", component),
                            ("topic", topic),
                            ("offset", &message.offset().to_string()),
                            ("status", &status.map_or("-".into(), |s| s.to_string())),
                            ("error", &error),
                            ("waiting_ms", &waited.as_millis().to_string()),
                        ],
                    );
                }
                wait
            }
            Attempt::Retry { status, error } => {
                failures += 1;
                if failures >= shared.policy.max_attempts {
                    break (status, error, "retries_exhausted");
                }
                shared.metrics.count(
                    "bridge_delivery_retries_total",
                    &[("topic", topic), ("component", component)],
                    1.0,
                );
                let wait = backoff.delay(failures - 1);
                log::warn(
                    "delivery failed; retrying",
                    &[
                        ("component", component),
                        ("topic", topic),
                        ("offset", &message.offset().to_string()),
                        ("status", &status.map_or("-".into(), |s| s.to_string())),
                        ("error", &error),
                        ("retry_in_ms", &wait.as_millis().to_string()),
                    ],
                );
                wait
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return false,
        }
        if shared.consumer.context().is_revoked(&slot) {
            return false;
        }
    };
    drop(waiting);
    if !dead_letter(
        shared,
        message,
        status,
        &error,
        reason,
        failures.max(1),
        &mut stop,
    )
    .await
    {
        return false;
    }
    delivery.finish("dead_lettered", Some(&format!("{reason}: {error}")));
    shared.metrics.count(
        "bridge_dead_lettered_total",
        &[
            ("topic", topic),
            ("component", component),
            ("reason", reason),
        ],
        1.0,
    );
    shared
        .metrics
        .count("kafka_messages_consumed_total", &[("topic", topic)], 1.0);
    store(shared, message);
    true
}

/// Produces the event to `<topic>.dlq` with what went wrong in its headers;
/// keeps trying until Kafka has it (or `stop`).
async fn dead_letter(
    shared: &Shared,
    message: &OwnedMessage,
    status: Option<u16>,
    error: &str,
    reason: &str,
    attempts: u32,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let topic = message.topic();
    let dlq = dlq_topic(topic);
    let status = status.map_or_else(String::new, |s| s.to_string());
    let partition = message.partition().to_string();
    let offset = message.offset().to_string();
    let attempts = attempts.to_string();
    log::warn(
        "dead-lettering",
        &[
            ("component", &shared.component),
            ("topic", topic),
            ("offset", &offset),
            ("reason", reason),
            ("status", &status),
            ("error", error),
        ],
    );
    let mut tries = 0u32;
    loop {
        let mut headers = OwnedHeaders::new();
        if let Some(original) = message.headers() {
            for h in original.iter() {
                headers = headers.insert(Header {
                    key: h.key,
                    value: h.value,
                });
            }
        }
        for (key, value) in [
            ("dlq-reason", reason),
            ("dlq-error", error),
            ("dlq-status", status.as_str()),
            ("dlq-attempts", attempts.as_str()),
            ("dlq-component", shared.component.as_str()),
            ("dlq-source-topic", topic),
            ("dlq-source-partition", partition.as_str()),
            ("dlq-source-offset", offset.as_str()),
        ] {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let mut record = FutureRecord::<[u8], [u8]>::to(&dlq).headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        match shared.producer.send(record, Duration::from_secs(30)).await {
            Ok(_) => return true,
            Err((e, _)) => {
                tries += 1;
                log::warn(
                    "dead-letter produce failed; retrying",
                    &[("topic", &dlq), ("error", &e.to_string())],
                );
                tokio::select! {
                    _ = tokio::time::sleep(Backoff::new(200, 5_000).delay(tries)) => {}
                    _ = stop.changed() => return false,
                }
            }
        }
    }
}

/// Marks the event done; the commit loop commits it.
fn store(shared: &Shared, message: &OwnedMessage) {
    // rd_kafka_offset_store stores offset + 1: the next one to read.
    match shared
        .consumer
        .store_offset(message.topic(), message.partition(), message.offset())
    {
        Ok(()) => shared.stored.store(true, Ordering::Release),
        // The partition moved to another replica: it will see the event
        // again, and the component deduplicates.
        Err(e) => log::warn(
            "cannot store offset",
            &[("topic", message.topic()), ("error", &e.to_string())],
        ),
    }
}

async fn commit_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(COMMIT_EVERY) => {}
            _ = stop.changed() => return,
        }
        if shared.stored.swap(false, Ordering::AcqRel) {
            if let Err(e) = shared.consumer.commit_consumer_state(CommitMode::Async) {
                if e.rdkafka_error_code() != Some(rdkafka::types::RDKafkaErrorCode::NoOffset) {
                    shared.stored.store(true, Ordering::Release);
                    log::warn(
                        "commit failed",
                        &[("component", &shared.component), ("error", &e.to_string())],
                    );
                }
            }
        }
    }
}

/// Lag per partition: high watermark minus the committed offset.
async fn lag_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(LAG_EVERY) => {}
            _ = stop.changed() => return,
        }
        let consumer = shared.consumer.clone();
        let lags = tokio::task::spawn_blocking(move || measure_lag(&consumer)).await;
        if let Ok(Ok(lags)) = lags {
            for (topic, partition, lag) in lags {
                shared.metrics.set(
                    "bridge_consumer_lag",
                    &[
                        ("component", &shared.component),
                        ("topic", &topic),
                        ("partition", &partition.to_string()),
                    ],
                    lag as f64,
                );
            }
        }
    }
}

fn measure_lag(consumer: &GroupConsumer) -> Result<Vec<(String, i32, i64)>> {
    let timeout = Duration::from_secs(2);
    let committed = consumer.committed(timeout)?;
    let mut out = Vec::new();
    for elem in committed.elements() {
        let (low, high) = consumer.fetch_watermarks(elem.topic(), elem.partition(), timeout)?;
        let done = match elem.offset() {
            Offset::Offset(n) => n,
            _ => low,
        };
        out.push((
            elem.topic().to_string(),
            elem.partition(),
            (high - done).max(0),
        ));
    }
    Ok(out)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
