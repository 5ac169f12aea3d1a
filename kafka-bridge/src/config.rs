//! `bridge.toml`: brokers, the platform, topics, what to drain, what to
//! deliver where, retry policy and ticks. Unknown keys are refused, and
//! every problem names the key it is about.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use serde::Deserialize;

use crate::kafka::Connection;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Kafka bootstrap servers, comma-separated.
    pub brokers: String,
    /// Base URL of the components (`http://host:port`).
    pub platform_url: String,
    /// Address of `/health` and `/metrics`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Consumer group prefix; each component gets `<group>.<component>`.
    #[serde(default = "default_group")]
    pub group: String,
    /// A namespace for every topic and consumer group this bridge uses:
    /// the Kafka topic of `orders.events` is `<topic_prefix>orders.events`.
    /// Components never see it. Empty by default.
    #[serde(default)]
    pub topic_prefix: String,
    /// This replica's stable name in its consumer groups (static
    /// membership: a replica restarted under the same name gets its
    /// partitions back at once). Default: the host name.
    #[serde(default)]
    pub instance: Option<String>,
    /// Redis, where components announce new outbox rows
    /// (`PUBLISH spinshop:outbox:<component>`); without it the bridge
    /// only polls.
    #[serde(default)]
    pub redis_url: Option<String>,
    pub topics: Topics,
    #[serde(default)]
    pub outbox: OutboxPolicy,
    #[serde(default)]
    pub delivery: DeliveryPolicy,
    #[serde(default, rename = "publisher")]
    pub publishers: Vec<Publisher>,
    #[serde(default, rename = "subscription")]
    pub subscriptions: Vec<Subscription>,
    #[serde(default, rename = "tick")]
    pub ticks: Vec<Tick>,
    /// Extra librdkafka properties (e.g. `linger.ms`), applied after the
    /// bridge's own and before the connection from the environment.
    #[serde(default)]
    pub producer: BTreeMap<String, String>,
    #[serde(default)]
    pub consumer: BTreeMap<String, String>,
    /// Protocol and credentials, from the environment only (see
    /// [`crate::kafka`]): the file may be a ConfigMap others can read.
    #[serde(skip)]
    pub connection: Connection,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topics {
    pub names: Vec<String>,
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    #[serde(default = "default_replication")]
    pub replication: i32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxPolicy {
    pub batch: u32,
    pub idle_min_ms: u64,
    pub idle_max_ms: u64,
}

impl Default for OutboxPolicy {
    fn default() -> Self {
        Self {
            batch: 500,
            idle_min_ms: 20,
            idle_max_ms: 500,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryPolicy {
    pub timeout_ms: u64,
    pub max_attempts: u32,
    pub backoff_min_ms: u64,
    pub backoff_max_ms: u64,
    /// While the platform cannot be reached, a partition waits between
    /// tries up to this long (capped backoff, tried for as long as it lasts).
    pub outage_backoff_max_ms: u64,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            max_attempts: 6,
            backoff_min_ms: 100,
            backoff_max_ms: 5_000,
            outage_backoff_max_ms: 2_000,
        }
    }
}

impl DeliveryPolicy {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// A component whose outbox the bridge drains.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publisher {
    pub component: String,
}

/// Events of `topic` go to `component`'s event route (or to `url`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    pub topic: String,
    pub component: String,
    /// Overrides `<platform_url>/internal/<component>/events`.
    #[serde(default)]
    pub url: Option<String>,
    /// Up to this many events already waiting in a partition go in one
    /// request, `{"events": [...]}` (the component must accept batches);
    /// 1 sends each event alone.
    #[serde(default = "default_batch")]
    pub batch: u32,
}

fn default_batch() -> u32 {
    1
}

/// `POST /internal/<component>/tick` every `every_ms`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tick {
    pub component: String,
    pub every_ms: u64,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9095))
}
fn default_group() -> String {
    "spinshop-bridge".into()
}
fn default_partitions() -> i32 {
    3
}
fn default_replication() -> i32 {
    1
}

impl Config {
    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text)
            .with_context(|| format!("{} is not a valid bridge configuration", path.display()))
    }

    /// Parses and checks configuration text.
    pub fn parse(text: &str) -> Result<Self> {
        let config: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        config.check()?;
        Ok(config)
    }

    /// Checks what the types cannot, naming the key.
    pub fn check(&self) -> Result<()> {
        if self.brokers.trim().is_empty() {
            bail!("brokers: must name at least one host:port");
        }
        check_base_url("platform_url", &self.platform_url)?;
        if self.group.trim().is_empty() {
            bail!("group: must not be empty");
        }
        if !self.topic_prefix.is_empty() && !valid_name(&self.topic_prefix) {
            bail!(
                "topic_prefix: {:?} may hold only letters, digits, '.', '_' and '-'",
                self.topic_prefix
            );
        }
        if let Some(instance) = &self.instance {
            if !valid_name(instance) {
                bail!("instance: {instance:?} may hold only letters, digits, '.', '_' and '-'");
            }
        }
        if let Some(url) = &self.redis_url {
            if !url.starts_with("redis://") && !url.starts_with("rediss://") {
                bail!("redis_url: {url:?} is not a redis:// URL");
            }
        }
        if self.topics.names.is_empty() {
            bail!("topics.names: must list at least one topic");
        }
        if !(1..=1000).contains(&self.topics.partitions) {
            bail!("topics.partitions: must be from 1 to 1000");
        }
        if !(1..=16).contains(&self.topics.replication) {
            bail!("topics.replication: must be from 1 to 16");
        }
        let mut topics = BTreeSet::new();
        for (i, name) in self.topics.names.iter().enumerate() {
            if !valid_name(name) || name.ends_with(".dlq") {
                bail!("topics.names[{i}]: {name:?} is not a topic name (letters, digits, '.', '_', '-'; the .dlq twins are implied)");
            }
            if !topics.insert(name.as_str()) {
                bail!("topics.names[{i}]: {name:?} is listed twice");
            }
        }
        if self.outbox.batch == 0 || self.outbox.batch > 500 {
            bail!("outbox.batch: must be from 1 to 500");
        }
        if self.outbox.idle_min_ms == 0 || self.outbox.idle_max_ms < self.outbox.idle_min_ms {
            bail!("outbox.idle_min_ms / outbox.idle_max_ms: need 0 < idle_min_ms <= idle_max_ms");
        }
        let d = &self.delivery;
        if d.timeout_ms == 0 {
            bail!("delivery.timeout_ms: must be positive");
        }
        if d.max_attempts == 0 {
            bail!("delivery.max_attempts: must be at least 1");
        }
        if d.backoff_min_ms == 0 || d.backoff_max_ms < d.backoff_min_ms {
            bail!("delivery.backoff_min_ms / delivery.backoff_max_ms: need 0 < backoff_min_ms <= backoff_max_ms");
        }
        if d.outage_backoff_max_ms < d.backoff_min_ms {
            bail!("delivery.outage_backoff_max_ms: must be at least backoff_min_ms");
        }
        let mut publishers = BTreeSet::new();
        for (i, p) in self.publishers.iter().enumerate() {
            if !valid_component(&p.component) {
                bail!(
                    "publisher[{i}].component: {:?} is not a component name",
                    p.component
                );
            }
            if !publishers.insert(p.component.as_str()) {
                bail!(
                    "publisher[{i}].component: {:?} is listed twice",
                    p.component
                );
            }
        }
        let mut pairs = BTreeSet::new();
        for (i, s) in self.subscriptions.iter().enumerate() {
            if !topics.contains(s.topic.as_str()) {
                bail!(
                    "subscription[{i}].topic: {:?} is not in topics.names",
                    s.topic
                );
            }
            if !valid_component(&s.component) {
                bail!(
                    "subscription[{i}].component: {:?} is not a component name",
                    s.component
                );
            }
            if let Some(url) = &s.url {
                check_base_url(&format!("subscription[{i}].url"), url)?;
            }
            if !(1..=500).contains(&s.batch) {
                bail!("subscription[{i}].batch: must be from 1 to 500");
            }
            if !pairs.insert((s.topic.as_str(), s.component.as_str())) {
                bail!(
                    "subscription[{i}]: {} -> {} is listed twice",
                    s.topic,
                    s.component
                );
            }
        }
        for (i, t) in self.ticks.iter().enumerate() {
            if !valid_component(&t.component) {
                bail!(
                    "tick[{i}].component: {:?} is not a component name",
                    t.component
                );
            }
            if t.every_ms < 10 {
                bail!("tick[{i}].every_ms: must be at least 10");
            }
        }
        Ok(())
    }

    /// Where events of a subscription are POSTed.
    pub fn events_url(&self, s: &Subscription) -> String {
        s.url
            .clone()
            .unwrap_or_else(|| format!("{}/internal/{}/events", self.base(), s.component))
    }

    /// `<platform_url>` without a trailing slash.
    pub fn base(&self) -> &str {
        self.platform_url.trim_end_matches('/')
    }

    /// Every topic with its `.dlq` twin, as named in Kafka (prefixed).
    pub fn all_topics(&self) -> Vec<String> {
        self.topics
            .names
            .iter()
            .flat_map(|t| [self.kafka_topic(t), dlq_topic(&self.kafka_topic(t))])
            .collect()
    }

    /// The Kafka topic of a topic of the event contract.
    pub fn kafka_topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.topic_prefix)
    }

    /// The consumer group of a subscribed component.
    pub fn group_of(&self, component: &str) -> String {
        format!("{}{}.{component}", self.topic_prefix, self.group)
    }

    /// This replica's static member name: `instance`, else the host name.
    pub fn instance_name(&self) -> String {
        if let Some(instance) = &self.instance {
            return instance.clone();
        }
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| valid_name(h))
            .unwrap_or_else(|| "kafka-bridge".to_string());
        host
    }

    /// The subscribed components, each with its topics, in file order.
    pub fn consumers(&self) -> Vec<(String, Vec<Subscription>)> {
        let mut out: Vec<(String, Vec<Subscription>)> = Vec::new();
        for s in &self.subscriptions {
            match out.iter_mut().find(|(c, _)| *c == s.component) {
                Some((_, subs)) => subs.push(s.clone()),
                None => out.push((s.component.clone(), vec![s.clone()])),
            }
        }
        out
    }
}

/// The dead-letter twin of a topic.
pub fn dlq_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn valid_component(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn check_base_url(key: &str, url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        _ => bail!("{key}: {url:?} is not an http:// or https:// URL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        brokers = "127.0.0.1:9092"
        platform_url = "http://127.0.0.1:3000/"
        [topics]
        names = ["catalog.events", "inventory.commands"]
        [[publisher]]
        component = "catalog"
        [[subscription]]
        topic = "catalog.events"
        component = "inventory"
        [[subscription]]
        topic = "inventory.commands"
        component = "inventory"
        [[subscription]]
        topic = "catalog.events"
        component = "search"
        url = "http://127.0.0.1:9/hook"
        [[tick]]
        component = "inventory"
        every_ms = 1000
    "#;

    #[test]
    fn a_good_file_parses_with_defaults() {
        let c = Config::parse(GOOD).expect("parses");
        assert_eq!(c.group, "spinshop-bridge");
        assert_eq!(c.group_of("inventory"), "spinshop-bridge.inventory");
        assert_eq!(c.kafka_topic("orders.events"), "orders.events");
        assert_eq!(c.topics.partitions, 3);
        assert_eq!(c.delivery.max_attempts, 6);
        assert_eq!(c.base(), "http://127.0.0.1:3000");
        assert_eq!(
            c.events_url(&c.subscriptions[0]),
            "http://127.0.0.1:3000/internal/inventory/events"
        );
        assert_eq!(c.events_url(&c.subscriptions[2]), "http://127.0.0.1:9/hook");
        assert_eq!(
            c.all_topics(),
            [
                "catalog.events",
                "catalog.events.dlq",
                "inventory.commands",
                "inventory.commands.dlq"
            ]
        );
        let consumers = c.consumers();
        assert_eq!(consumers.len(), 2);
        assert_eq!(consumers[0].0, "inventory");
        assert_eq!(consumers[0].1.len(), 2);
        assert_eq!(consumers[1].0, "search");
    }

    #[test]
    fn a_prefix_names_every_topic_and_group() {
        let c = Config::parse(&format!("topic_prefix = \"t1.\"\n{GOOD}")).expect("parses");
        assert_eq!(c.kafka_topic("orders.events"), "t1.orders.events");
        assert_eq!(c.group_of("audit"), "t1.spinshop-bridge.audit");
        assert_eq!(c.all_topics()[1], "t1.catalog.events.dlq");
        assert!(error(&format!("topic_prefix = \"a b\"\n{GOOD}")).contains("topic_prefix"));
        assert!(error(&format!("redis_url = \"http://x\"\n{GOOD}")).contains("redis_url"));
    }

    #[test]
    fn the_shipped_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bridge.toml");
        let c = Config::load(&path).expect("bridge.toml");
        assert!(!c.subscriptions.is_empty());
        assert!(!c.publishers.is_empty());
    }

    fn error(text: &str) -> String {
        format!("{:#}", Config::parse(text).expect_err("should be refused"))
    }

    #[test]
    fn problems_name_their_key() {
        assert!(error(&GOOD.replace("brokers", "broker")).contains("broker"));
        assert!(
            error(&GOOD.replace("every_ms = 1000", "every_ms = 1000\nevery = 3")).contains("every")
        );
        assert!(
            error(&GOOD.replace("topic = \"inventory.commands\"", "topic = \"nope\""))
                .contains("subscription[1].topic")
        );
        assert!(
            error(&GOOD.replace("http://127.0.0.1:3000/", "127.0.0.1:3000"))
                .contains("platform_url")
        );
        assert!(
            error(&GOOD.replace("every_ms = 1000", "every_ms = 1")).contains("tick[0].every_ms")
        );
        assert!(
            error(&GOOD.replace("component = \"catalog\"", "component = \"Cat alog\""))
                .contains("publisher[0].component")
        );
        assert!(error(&GOOD.replace(
            "names = [\"catalog.events\", \"inventory.commands\"]",
            "names = [\"catalog.events\", \"catalog.events.dlq\"]"
        ))
        .contains("topics.names[1]"));
        assert!(
            error(&GOOD.replace("every_ms = 1000", "every_ms = \"soon\"")).contains("every_ms")
        );
    }
}
