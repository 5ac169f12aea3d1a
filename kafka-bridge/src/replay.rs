//! `kafka-bridge replay`: re-publishes a component's dead letters to their
//! source topics, once the cause is fixed. It reads the `.dlq` topics of
//! the topics the component subscribes to, takes the records that
//! component dead-lettered (their `dlq-component` header), produces each
//! to its source topic with its key, payload and original headers, and
//! then commits how far it read in a consumer group of its own
//! (`<group>.<component>.replay`). A second run starts where the first
//! ended, so nothing is re-published twice; and should a run die between
//! producing and committing, the events it re-publishes again are ones
//! the components have seen, which they take as duplicates.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::message::{Header, Headers as _, Message as _, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::{dlq_topic, Config};
use crate::kafka;

/// What to replay.
#[derive(Debug, Clone)]
pub struct Request {
    pub component: String,
    /// One of the component's topics (as in the contract), or all of them.
    pub topic: Option<String>,
    /// List what would be re-published; produce and commit nothing.
    pub dry_run: bool,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    pub component: String,
    pub dry_run: bool,
    /// Re-published, per source topic.
    pub replayed: HashMap<String, u64>,
    /// Dead letters of other components, read past.
    pub skipped: u64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: u64 = self.replayed.values().sum();
        let verb = if self.dry_run {
            "would re-publish"
        } else {
            "re-published"
        };
        write!(f, "{verb} {total} dead letter(s) of {}", self.component)?;
        let mut topics: Vec<_> = self.replayed.iter().collect();
        topics.sort();
        for (topic, n) in topics {
            write!(f, "; {n} to {topic}")?;
        }
        if self.skipped > 0 {
            write!(f, "; {} of other components left alone", self.skipped)?;
        }
        Ok(())
    }
}

/// The headers the bridge adds when it dead-letters an event.
fn is_dlq_header(key: &str) -> bool {
    key.starts_with("dlq-")
}

/// Runs a replay to the end of what the `.dlq` topics hold now.
pub fn run(config: &Config, request: &Request) -> Result<Report> {
    let topics: Vec<String> = config
        .subscriptions
        .iter()
        .filter(|s| s.component == request.component)
        .map(|s| s.topic.clone())
        .filter(|t| request.topic.as_ref().is_none_or(|only| only == t))
        .collect();
    if topics.is_empty() {
        bail!(
            "{} subscribes to no topic{} in the configuration",
            request.component,
            request
                .topic
                .as_ref()
                .map_or(String::new(), |t| format!(" named {t}"))
        );
    }
    let group = format!("{}.replay", config.group_of(&request.component));
    let consumer: BaseConsumer = kafka::client(
        config,
        &[
            ("group.id", &group),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
        ],
        Some(&config.consumer),
    )
    .create()
    .context("creating the replay consumer")?;
    let producer: BaseProducer = kafka::client(
        config,
        &[("enable.idempotence", "true"), ("acks", "all")],
        Some(&config.producer),
    )
    .create()
    .context("creating the replay producer")?;

    let timeout = Duration::from_secs(10);
    // Where each partition ends now: the run stops there.
    let mut ends: HashMap<(String, i32), i64> = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for topic in &topics {
        let dlq = dlq_topic(&config.kafka_topic(topic));
        let metadata = consumer
            .fetch_metadata(Some(&dlq), timeout)
            .with_context(|| format!("metadata of {dlq}"))?;
        for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
            let (_, high) = consumer
                .fetch_watermarks(&dlq, partition.id(), timeout)
                .with_context(|| format!("watermarks of {dlq}"))?;
            ends.insert((dlq.clone(), partition.id()), high);
            tpl.add_partition_offset(&dlq, partition.id(), Offset::Stored)?;
        }
    }
    consumer
        .assign(&tpl)
        .context("assigning the .dlq partitions")?;
    // Where the group starts, to tell "read up to the end" apart from
    // "nothing to read" for partitions with no committed offset yet.
    let committed = consumer.committed(timeout).context("committed offsets")?;
    let mut position: HashMap<(String, i32), i64> = HashMap::new();
    for e in committed.elements() {
        let start = match e.offset() {
            Offset::Offset(n) => n,
            _ => consumer
                .fetch_watermarks(e.topic(), e.partition(), timeout)
                .map(|(low, _)| low)?,
        };
        position.insert((e.topic().to_string(), e.partition()), start);
    }

    let mut report = Report {
        component: request.component.clone(),
        dry_run: request.dry_run,
        ..Report::default()
    };
    let done = |position: &HashMap<(String, i32), i64>| {
        ends.iter()
            .all(|(slot, end)| position.get(slot).is_some_and(|p| p >= end))
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done(&position) {
        if Instant::now() > deadline {
            bail!("could not read the .dlq topics to their end within two minutes");
        }
        let Some(message) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let message = message.context("reading a .dlq topic")?;
        let slot = (message.topic().to_string(), message.partition());
        position.insert(slot.clone(), message.offset() + 1);
        if ends.get(&slot).is_some_and(|end| message.offset() >= *end) {
            continue;
        }
        let header = |name: &str| {
            message.headers().and_then(|h| {
                h.iter()
                    .find(|x| x.key == name)
                    .and_then(|x| x.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            })
        };
        if header("dlq-component").as_deref() != Some(request.component.as_str()) {
            report.skipped += 1;
            continue;
        }
        let source = header("dlq-source-topic")
            .unwrap_or_else(|| message.topic().trim_end_matches(".dlq").to_string());
        *report.replayed.entry(source.clone()).or_default() += 1;
        if request.dry_run {
            continue;
        }
        let mut headers = OwnedHeaders::new();
        if let Some(original) = message.headers() {
            for h in original.iter().filter(|h| !is_dlq_header(h.key)) {
                headers = headers.insert(Header {
                    key: h.key,
                    value: h.value,
                });
            }
        }
        let from = format!(
            "{}/{}/{}",
            message.topic(),
            message.partition(),
            message.offset()
        );
        headers = headers.insert(Header {
            key: "replayed-from",
            value: Some(from.as_str()),
        });
        let mut record = BaseRecord::<[u8], [u8]>::to(&source).headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, returned)) => {
                    if e.rdkafka_error_code() != Some(rdkafka::types::RDKafkaErrorCode::QueueFull) {
                        bail!("producing to {source}: {e}");
                    }
                    producer.poll(Duration::from_millis(100));
                    record = returned;
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    if !request.dry_run {
        producer
            .flush(Duration::from_secs(30))
            .context("waiting for Kafka to take the re-published events")?;
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), next) in &position {
            offsets.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
        }
        consumer
            .commit(&offsets, CommitMode::Sync)
            .context("committing how far the replay read")?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_read_well() {
        let mut report = Report {
            component: "inventory".into(),
            ..Report::default()
        };
        report.replayed.insert("catalog.events".into(), 3);
        report.skipped = 2;
        assert_eq!(
            report.to_string(),
            "re-published 3 dead letter(s) of inventory; 3 to catalog.events; 2 of other components left alone"
        );
        assert!(is_dlq_header("dlq-reason"));
        assert!(!is_dlq_header("traceparent"));
    }
}
