//! Calls to the components' internal routes, and what their answers mean
//! for delivery: done, worth retrying, or never going to work.

use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use serde::Deserialize;
use serde_json::Value;

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// 2xx: the component has the event.
    Delivered,
    /// The platform could not be reached or is not ready: a connection
    /// error, a timeout, 502/503/504 from the runtime or a proxy, 408 or
    /// 429 (come back later), 401/403 (the bridge's credential is not
    /// accepted: configuration, not the event). Says nothing about the
    /// event, so it is never a reason to dead-letter it: the partition
    /// waits and tries again for as long as this lasts.
    Unavailable { status: Option<u16>, error: String },
    /// The component itself failed on the event (500 and the other 5xx):
    /// retried with backoff, then dead-lettered.
    Retry { status: Option<u16>, error: String },
    /// Any other 4xx: the event itself is refused; retrying cannot help.
    Reject { status: u16, error: String },
}

impl Attempt {
    /// The HTTP status that came back, if one did (a 2xx is not kept).
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Delivered => None,
            Self::Unavailable { status, .. } | Self::Retry { status, .. } => *status,
            Self::Reject { status, .. } => Some(*status),
        }
    }

    /// What went wrong, in a line.
    pub fn describe(&self) -> String {
        match self {
            Self::Delivered => "delivered".into(),
            Self::Unavailable { status, error } | Self::Retry { status, error } => match status {
                Some(s) => format!("{s}: {error}"),
                None => error.clone(),
            },
            Self::Reject { status, error } => format!("{status}: {error}"),
        }
    }

    /// Classifies an HTTP status and the body that came with it.
    pub fn from_status(status: u16, body: &str) -> Self {
        let error = summary(body);
        match status {
            200..=299 => Self::Delivered,
            401 | 403 | 408 | 429 | 502 | 503 | 504 => Self::Unavailable {
                status: Some(status),
                error,
            },
            400..=499 => Self::Reject { status, error },
            _ => Self::Retry {
                status: Some(status),
                error,
            },
        }
    }
}

/// The problem document's `detail` (or `title`), else the body's start.
fn summary(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        for key in ["detail", "title"] {
            if let Some(s) = v.get(key).and_then(Value::as_str) {
                return s.chars().take(500).collect();
            }
        }
    }
    body.chars().take(500).collect()
}

/// The HTTP side of the bridge.
#[derive(Debug, Clone)]
pub struct Platform {
    client: reqwest::Client,
    base: String,
    token: String,
}

#[derive(Deserialize)]
struct Outbox {
    events: Vec<Value>,
}

impl Platform {
    pub fn new(base: &str, token: String, timeout: Duration) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(2))
            .pool_max_idle_per_host(64)
            .build()
            .context("HTTP client")?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    fn internal(&self, component: &str, route: &str) -> String {
        format!("{}/internal/{component}/{route}", self.base)
    }

    /// `GET /internal/<component>/outbox?limit=N`: the oldest pending events.
    pub async fn outbox(&self, component: &str, limit: u32) -> Result<Vec<Value>> {
        let url = format!("{}?limit={limit}", self.internal(component, "outbox"));
        let r = self
            .client
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = r.status();
        let body = r.bytes().await.with_context(|| format!("GET {url}"))?;
        if !status.is_success() {
            bail!(
                "GET {url}: {status}: {}",
                summary(&String::from_utf8_lossy(&body))
            );
        }
        let outbox: Outbox =
            serde_json::from_slice(&body).with_context(|| format!("GET {url}: not an outbox"))?;
        Ok(outbox.events)
    }

    /// `POST /internal/<component>/outbox/ack`: forgets produced events.
    pub async fn ack(&self, component: &str, ids: &[String]) -> Result<()> {
        let url = self.internal(component, "outbox/ack");
        let r = self
            .client
            .post(&url)
            .bearer_auth(&self.token)
            .json(&serde_json::json!({ "ids": ids }))
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = r.status();
        if !status.is_success() {
            let body = r.text().await.unwrap_or_default();
            bail!("POST {url}: {status}: {}", summary(&body));
        }
        Ok(())
    }

    /// POSTs one event envelope to a subscriber.
    pub async fn deliver(&self, url: &str, envelope: &[u8], traceparent: Option<&str>) -> Attempt {
        let mut req = self
            .client
            .post(url)
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(envelope.to_vec());
        if let Some(tp) = traceparent {
            req = req.header("traceparent", tp);
        }
        match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                if (200..300).contains(&status) {
                    return Attempt::Delivered;
                }
                let body = r.text().await.unwrap_or_default();
                Attempt::from_status(status, &body)
            }
            Err(e) => Attempt::Unavailable {
                status: None,
                error: if e.is_timeout() {
                    "timed out".to_string()
                } else {
                    format!("{e}")
                },
            },
        }
    }

    /// `POST /internal/<component>/tick`; the status, or the error.
    pub async fn tick(&self, component: &str) -> Result<u16> {
        let url = self.internal(component, "tick");
        let r = self
            .client
            .post(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        Ok(r.status().as_u16())
    }

    /// Whether the platform says it is ready (`GET /ready`, its
    /// dependencies checked, answers 2xx within two seconds).
    pub async fn ready(&self) -> bool {
        matches!(self.probe("ready").await, Ok(status) if (200..300).contains(&status))
    }

    /// Whether the platform answers at all (`GET /health`, liveness, any
    /// status).
    pub async fn reachable(&self) -> Result<u16> {
        self.probe("health").await
    }

    async fn probe(&self, path: &str) -> Result<u16> {
        let url = format!("{}/{path}", self.base);
        let r = self
            .client
            .get(&url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        Ok(r.status().as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_sort_into_done_retry_and_reject() {
        assert_eq!(Attempt::from_status(200, ""), Attempt::Delivered);
        assert_eq!(Attempt::from_status(204, ""), Attempt::Delivered);
        assert!(matches!(
            Attempt::from_status(500, "{\"detail\":\"db locked\"}"),
            Attempt::Retry { status: Some(500), ref error } if error == "db locked"
        ));
        for unavailable in [401, 403, 408, 429, 502, 503, 504] {
            assert!(
                matches!(
                    Attempt::from_status(unavailable, ""),
                    Attempt::Unavailable { status: Some(s), .. } if s == unavailable
                ),
                "{unavailable}"
            );
        }
        assert!(matches!(
            Attempt::from_status(422, "{\"title\":\"Unprocessable\"}"),
            Attempt::Reject { status: 422, ref error } if error == "Unprocessable"
        ));
        assert!(matches!(
            Attempt::from_status(400, "nope"),
            Attempt::Reject { status: 400, ref error } if error == "nope"
        ));
    }
}
