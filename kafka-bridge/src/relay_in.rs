//! Relay in: one consumer group per subscribed component; every event is
//! POSTed to the component's event route and its offset is stored only
//! after a 2xx (or once the event is safely on the `.dlq` topic). Stored
//! offsets are committed by the bridge, never automatically ahead of the
//! work. Each partition has its own worker, so order holds per partition
//! (and so per key) while partitions run concurrently.
//!
//! Partitions are assigned explicitly (partition `p` belongs to shard
//! `p % shard_count`), not by the group's rebalancing protocol: a replica
//! killed outright then hands nothing over and its successor resumes from
//! the group's committed offsets at once, instead of waiting for the
//! broker to notice a dead member.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use futures::StreamExt as _;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::message::{Header, Headers as _, Message as _, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::backoff::Backoff;
use crate::config::{dlq_topic, Config, DeliveryPolicy, Subscription};
use crate::log;
use crate::metrics::Metrics;
use crate::platform::{Attempt, Platform};

/// Messages a partition worker may have queued.
const WORKER_QUEUE: usize = 256;
/// How often stored offsets are committed.
const COMMIT_EVERY: Duration = Duration::from_millis(200);
/// How often consumer lag is measured.
const LAG_EVERY: Duration = Duration::from_secs(2);

/// What a partition worker needs.
struct Shared {
    component: String,
    /// Per topic: where its events go, and how many may share a request.
    urls: HashMap<String, (String, usize)>,
    consumer: Arc<StreamConsumer>,
    producer: FutureProducer,
    platform: Platform,
    policy: DeliveryPolicy,
    metrics: Arc<Metrics>,
    stored: AtomicBool,
}

/// The consumer for one component.
pub fn consumer(config: &Config, component: &str) -> Result<StreamConsumer> {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", format!("{}.{component}", config.group))
        .set("client.id", format!("kafka-bridge.{component}"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "50")
        .set("topic.metadata.refresh.interval.ms", "10000");
    for (k, v) in &config.consumer {
        client.set(k, v);
    }
    client
        .create()
        .with_context(|| format!("creating the Kafka consumer for {component}"))
}

/// Consumes `subscriptions` for `component` until `stop`, then finishes the
/// event in hand in each partition, commits and returns.
pub async fn run(
    config: Arc<Config>,
    component: String,
    subscriptions: Vec<Subscription>,
    platform: Platform,
    producer: FutureProducer,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let consumer = Arc::new(consumer(&config, &component)?);
    let topics: Vec<&str> = subscriptions.iter().map(|s| s.topic.as_str()).collect();
    let assignment = {
        let consumer = consumer.clone();
        let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        let (index, count) = (config.shard_index, config.shard_count);
        tokio::task::spawn_blocking(move || assignment(&consumer, &topics, index, count))
            .await
            .context("partition metadata")??
    };
    consumer
        .assign(&assignment)
        .with_context(|| format!("assigning {component} its partitions of {topics:?}"))?;
    let shared = Arc::new(Shared {
        urls: subscriptions
            .iter()
            .map(|s| (s.topic.clone(), (config.events_url(s), s.batch as usize)))
            .collect(),
        component: component.clone(),
        consumer: consumer.clone(),
        producer,
        platform,
        policy: config.delivery.clone(),
        metrics: metrics.clone(),
        stored: AtomicBool::new(false),
    });
    log::info(
        "consuming",
        &[("component", &component), ("topics", &topics.join(","))],
    );

    let mut background = JoinSet::new();
    background.spawn(commit_loop(shared.clone(), stop.clone()));
    background.spawn(lag_loop(shared.clone(), stop.clone()));

    let mut workers: HashMap<(String, i32), mpsc::Sender<OwnedMessage>> = HashMap::new();
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
            let sender = workers.entry(slot).or_insert_with(|| {
                let (tx, rx) = mpsc::channel(WORKER_QUEUE);
                running.spawn(partition_worker(rx, shared.clone(), stop.clone()));
                tx
            });
            // A full queue holds the stream back: backpressure, not loss.
            tokio::select! {
                sent = sender.send(message) => if sent.is_err() { break },
                _ = stop.changed() => break,
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
    mut rx: mpsc::Receiver<OwnedMessage>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    while let Some(first) = rx.recv().await {
        if *stop.borrow() {
            // Left uncommitted: the next consumer gets it again.
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
            if !handle(&shared, message, stop.clone()).await {
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
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(payload);
    }
    body.extend_from_slice(b"]}");
    if shared.platform.deliver(url, &body, None).await != Attempt::Delivered {
        return false;
    }
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
    // Offsets are per partition: storing the last covers the batch.
    store(shared, last);
    true
}

/// Delivers one event (with retries), or dead-letters it; stores its offset
/// when done. Returns false when interrupted by `stop` before that.
async fn handle(shared: &Shared, message: &OwnedMessage, mut stop: watch::Receiver<bool>) -> bool {
    let topic = message.topic();
    let component = shared.component.as_str();
    let body = message.payload().unwrap_or_default();
    let envelope: Option<Value> = serde_json::from_slice(body).ok();
    let traceparent = envelope
        .as_ref()
        .and_then(|v| v.get("traceparent"))
        .and_then(Value::as_str);
    let Some((url, _)) = shared.urls.get(topic) else {
        return true;
    };
    let backoff = Backoff::new(shared.policy.backoff_min_ms, shared.policy.backoff_max_ms);
    let mut attempt = 0u32;
    let (status, error, reason) = loop {
        attempt += 1;
        match shared.platform.deliver(url, body, traceparent).await {
            Attempt::Delivered => {
                shared.metrics.count(
                    "bridge_delivered_total",
                    &[("topic", topic), ("component", component)],
                    1.0,
                );
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
                return true;
            }
            Attempt::Reject { status, error } => break (Some(status), error, "rejected"),
            Attempt::Retry { status, error } => {
                if attempt >= shared.policy.max_attempts {
                    break (status, error, "retries_exhausted");
                }
                shared.metrics.count(
                    "bridge_delivery_retries_total",
                    &[("topic", topic), ("component", component)],
                    1.0,
                );
                let wait = backoff.delay(attempt - 1);
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
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return false,
                }
            }
        }
    };
    if !dead_letter(shared, message, status, &error, reason, attempt, &mut stop).await {
        return false;
    }
    shared.metrics.count(
        "bridge_dead_lettered_total",
        &[
            ("topic", topic),
            ("component", component),
            ("reason", reason),
        ],
        1.0,
    );
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

/// This shard's partitions of `topics`, each to resume from the group's
/// committed offset (or the earliest one when nothing was committed).
fn assignment(
    consumer: &StreamConsumer,
    topics: &[String],
    shard_index: u32,
    shard_count: u32,
) -> Result<TopicPartitionList> {
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .with_context(|| format!("metadata of {topic}"))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            anyhow::bail!("topic {topic} has no partitions (does it exist?)");
        }
        for p in partitions {
            if owned_by(p, shard_index, shard_count) {
                tpl.add_partition_offset(topic, p, Offset::Stored)?;
            }
        }
    }
    Ok(tpl)
}

/// Whether partition `p` belongs to shard `index` of `count`.
pub fn owned_by(p: i32, index: u32, count: u32) -> bool {
    u32::try_from(p).is_ok_and(|p| p % count.max(1) == index)
}

fn measure_lag(consumer: &StreamConsumer) -> Result<Vec<(String, i32, i64)>> {
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

#[cfg(test)]
mod tests {
    use super::owned_by;

    #[test]
    fn shards_split_the_partitions_between_them() {
        let shard = |i| (0..6).filter(|p| owned_by(*p, i, 3)).collect::<Vec<_>>();
        assert_eq!(shard(0), [0, 3]);
        assert_eq!(shard(1), [1, 4]);
        assert_eq!(shard(2), [2, 5]);
        assert!((0..6).all(|p| owned_by(p, 0, 1)), "one shard takes all");
    }
}
