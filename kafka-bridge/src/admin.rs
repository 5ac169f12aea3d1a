//! Topics are created at start-up, each with its `.dlq` twin, since brokers
//! may not create them on first use.

use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::config::Config;
use crate::{kafka, log};

/// Creates whatever topics are missing; existing ones are left alone.
pub async fn ensure_topics(config: &Config) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = kafka::client(config, &[], None)
        .create()
        .context("creating the Kafka admin client")?;
    let names = config.all_topics();
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| {
            NewTopic::new(
                name,
                config.topics.partitions,
                TopicReplication::Fixed(config.topics.replication),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20)));
    let results = admin
        .create_topics(&topics, &options)
        .await
        .with_context(|| format!("creating topics on {}", config.brokers))?;
    let mut created = Vec::new();
    for result in results {
        match result {
            Ok(name) => created.push(name),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => bail!("creating topic {name}: {code}"),
        }
    }
    if !created.is_empty() {
        log::info("created topics", &[("topics", &created.join(","))]);
    }
    Ok(())
}
