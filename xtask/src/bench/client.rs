//! The application's API as the end-to-end benchmarks use it: JSON over
//! HTTP with reqwest and serde_json, tokens from the real login.

use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

/// The benchmarks' admin, registered with the admin bootstrap token.
pub const ADMIN_EMAIL: &str = "admin@spinshop.local";
const PASSWORD: &str = "a bench password 1";
/// Largest page the listings serve.
const PAGE: u32 = 100;

/// The application at one address.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(addr: std::net::SocketAddr) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build()
            .context("HTTP client")?;
        Ok(Self {
            base: format!("http://{addr}"),
            http,
        })
    }

    /// One request; the status and the JSON body (`null` if none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_default();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// A request that must answer 2xx (a 503 from load shedding is tried
    /// again); returns the body.
    pub async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value> {
        for _ in 0..50 {
            let (status, answer) = self.call(method.clone(), path, token, body).await?;
            match status {
                200..=299 => return Ok(answer),
                503 => tokio::time::sleep(Duration::from_millis(50)).await,
                _ => bail!("{method} {path} answered {status}: {answer}"),
            }
        }
        bail!("{method} {path} kept answering 503")
    }

    /// Registers `email` (an existing account is fine) and logs in;
    /// returns the access token.
    pub async fn sign_in(&self, email: &str) -> Result<String> {
        self.register_and_log_in(email, None).await
    }

    /// Registers the first admin with the admin bootstrap token (an
    /// existing account is fine) and logs in; returns the access token.
    pub async fn sign_in_admin(&self, bootstrap_token: &str) -> Result<String> {
        self.register_and_log_in(ADMIN_EMAIL, Some(bootstrap_token))
            .await
    }

    async fn register_and_log_in(&self, email: &str, bootstrap: Option<&str>) -> Result<String> {
        let mut request = self
            .http
            .post(format!("{}/api/auth/register", self.base))
            .json(&json!({"email": email, "password": PASSWORD, "name": "Bench"}));
        if let Some(token) = bootstrap {
            request = request.header("x-admin-bootstrap-token", token);
        }
        let response = request.send().await.context("POST /api/auth/register")?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !(200..300).contains(&status) && status != 409 {
            bail!("registering {email} answered {status}: {answer}");
        }
        let login = self
            .expect(
                reqwest::Method::POST,
                "/api/auth/login",
                None,
                Some(&json!({"email": email, "password": PASSWORD})),
            )
            .await?;
        login["access_token"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no access_token in {login}"))
    }

    /// POSTs `body` to an internal route with the bridge's credential, as
    /// the bridge delivers events; the answer must be 2xx.
    pub async fn internal(&self, token: &str, path: &str, body: &Value) -> Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            bail!("POST {path} answered {status}: {answer}");
        }
        Ok(answer)
    }

    /// Creates a product as `admin`; returns its id.
    pub async fn create_product(&self, admin: &str, name: &str, stock: u64) -> Result<String> {
        let body = json!({"name": name, "description": "A product for the benchmarks.",
            "price": 1.25, "category": "bench", "brand": "Acme", "stock": stock, "tags": []});
        let answer = self
            .expect(
                reqwest::Method::POST,
                "/api/catalog",
                Some(admin),
                Some(&body),
            )
            .await?;
        answer["id"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no id in {answer}"))
    }

    /// Whether inventory has a stock record for `product`.
    pub async fn stock_visible(&self, product: &str) -> Result<bool> {
        let (status, _) = self
            .call(
                reqwest::Method::GET,
                &format!("/api/inventory/{product}"),
                None,
                None,
            )
            .await?;
        Ok(status == 200)
    }

    /// Every item of a paged listing (`path` has its own query, if any).
    pub async fn all(&self, path: &str, token: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let join = if path.contains('?') { '&' } else { '?' };
        loop {
            let mut page_path = format!("{path}{join}limit={PAGE}");
            if let Some(c) = &cursor {
                page_path.push_str(&format!("&cursor={c}"));
            }
            let page = self
                .expect(reqwest::Method::GET, &page_path, Some(token), None)
                .await?;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(items),
            }
        }
    }

    /// How many items a listing has on its first page (enough to tell
    /// "none" from "some").
    pub async fn any(&self, path: &str, token: &str) -> Result<bool> {
        let page = self
            .expect(reqwest::Method::GET, path, Some(token), None)
            .await?;
        Ok(page["items"].as_array().is_some_and(|i| !i.is_empty()))
    }
}

/// The `q` quantile of sorted durations (nearest rank), if any.
pub fn quantile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Milliseconds, for tables.
pub fn ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".to_owned(),
        |d| format!("{:.1}", d.as_secs_f64() * 1000.0),
    )
}

/// An RFC 3339 time as milliseconds since the epoch.
pub fn epoch_ms(text: &str) -> Option<i128> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos() / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&d, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(quantile(&d, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(quantile(&d, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn reads_rfc3339_times() {
        let a = epoch_ms("2026-11-30T10:00:00.250Z").expect("parses");
        let b = epoch_ms("2026-11-30T11:00:00.500+01:00").expect("parses");
        assert_eq!(b - a, 250);
        assert_eq!(epoch_ms("yesterday"), None);
    }
}
