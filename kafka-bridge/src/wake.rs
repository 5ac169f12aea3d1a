//! Wake-ups: a component that committed outbox rows publishes on the Redis
//! channel `spinshop:outbox:<component>`, and the relay of that component
//! drains at once instead of at its next poll. A lost or late wake-up only
//! delays: the timed poll stays as the fallback.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::{watch, Notify};

use crate::backoff::Backoff;
use crate::log;
use crate::metrics::Metrics;

/// The channel pattern components publish on.
pub const PATTERN: &str = "spinshop:outbox:*";

/// One wake-up signal per publishing component.
#[derive(Debug, Clone, Default)]
pub struct Wakers(Arc<HashMap<String, Arc<Notify>>>);

impl Wakers {
    pub fn new<'a>(components: impl IntoIterator<Item = &'a str>) -> Self {
        Self(Arc::new(
            components
                .into_iter()
                .map(|c| (c.to_string(), Arc::new(Notify::new())))
                .collect(),
        ))
    }

    /// The signal of `component` (a fresh one, never fired, if unknown).
    pub fn of(&self, component: &str) -> Arc<Notify> {
        self.0.get(component).cloned().unwrap_or_default()
    }

    /// Wakes the relay of the component a channel names.
    fn wake(&self, channel: &str) -> bool {
        let component = channel.strip_prefix("spinshop:outbox:").unwrap_or_default();
        match self.0.get(component) {
            Some(notify) => {
                notify.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Listens on Redis until `stop`, reconnecting with backoff.
pub async fn listen(
    url: String,
    wakers: Wakers,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    loop {
        let outcome = tokio::select! {
            outcome = subscribe_once(&url, &wakers, &metrics, &mut failures) => outcome,
            _ = stop.changed() => return,
        };
        if let Err(e) = outcome {
            log::warn(
                "outbox wake-ups unavailable; polling meanwhile",
                &[("error", &e.to_string())],
            );
        }
        failures = failures.saturating_add(1);
        tokio::select! {
            _ = tokio::time::sleep(Backoff::new(200, 5_000).delay(failures)) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn subscribe_once(
    url: &str,
    wakers: &Wakers,
    metrics: &Metrics,
    failures: &mut u32,
) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut pubsub = tokio::time::timeout(Duration::from_secs(5), client.get_async_pubsub())
        .await
        .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "connect timed out")))??;
    pubsub.psubscribe(PATTERN).await?;
    log::info("listening for outbox wake-ups", &[("pattern", PATTERN)]);
    *failures = 0;
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        if wakers.wake(message.get_channel_name()) {
            metrics.count("bridge_outbox_wakeups_total", &[], 1.0);
        }
    }
    Err(redis::RedisError::from((
        redis::ErrorKind::Io,
        "subscription closed",
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_channel_wakes_only_its_component() {
        let wakers = Wakers::new(["catalog", "orders"]);
        assert!(wakers.wake("spinshop:outbox:orders"));
        assert!(!wakers.wake("spinshop:outbox:unknown"));
        assert!(!wakers.wake("other:orders"));
        let (orders, catalog) = (wakers.of("orders"), wakers.of("catalog"));
        let woken = tokio::time::timeout(Duration::from_millis(100), orders.notified());
        assert!(woken.await.is_ok(), "orders was woken");
        let idle = tokio::time::timeout(Duration::from_millis(50), catalog.notified());
        assert!(idle.await.is_err(), "catalog was not");
    }
}
