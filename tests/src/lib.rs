//! The end-to-end stack: the application in `spin.toml`, exactly as
//! `cargo xtask up` runs it, on `spinshop-host` with its own Redis, fresh
//! databases, a generated signing key and internal token.

use jwt_simple::prelude::*;
use platform::auth::token::TokenIssuer;
use platform::auth::Role;
use serde_json::Value;
use spinshop_testkit::{build_all, host_binary, repo_root, Host, HostSpec, Redis};

pub use spinshop_testkit::{client, metric_sum, Bridge, Broker};

pub mod kafka;

/// A running application.
pub struct Stack {
    pub host: Host,
    pub redis: Redis,
    pub internal_token: String,
    issuer: TokenIssuer,
}

/// The application with its event plumbing: a real broker and the bridge.
pub struct EventStack {
    // Dropped in this order: the bridge first, then the app, then the broker.
    pub bridge: Bridge,
    pub stack: Stack,
    pub broker: Broker,
}

impl EventStack {
    /// The application, a broker and the bridge with the repository's
    /// `kafka-bridge/bridge.toml` changed by `edit_config`.
    pub fn start(variables: &[(&str, &str)], edit_config: impl FnOnce(String) -> String) -> Self {
        let stack = Stack::start_with(variables);
        let broker = Broker::start();
        let config = std::fs::read_to_string(repo_root().join("kafka-bridge/bridge.toml"))
            .expect("kafka-bridge/bridge.toml");
        let bridge = Bridge::start(
            &edit_config(config),
            &broker.bootstrap(),
            &format!("http://{}", stack.host.addr),
            &stack.internal_token,
        );
        Self {
            bridge,
            stack,
            broker,
        }
    }

    /// Kafka bootstrap servers for the test's own clients.
    pub fn brokers(&self) -> String {
        self.broker.bootstrap()
    }
}

/// Polls `$probe` (an expression giving `Option<T>`, awaited inside an
/// `async` block if need be) every 100 ms until it is `Some`, or fails the
/// test after `$limit`.
#[macro_export]
macro_rules! wait_for {
    ($what:expr, $limit:expr, $probe:expr) => {{
        let deadline = std::time::Instant::now() + $limit;
        loop {
            if let Some(v) = $probe {
                break v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {}",
                $what
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }};
}

/// Bridge settings that make retries quick in tests.
pub fn fast_retries(config: String) -> String {
    config
        .replace("max_attempts = 6", "max_attempts = 3")
        .replace("backoff_min_ms = 100", "backoff_min_ms = 50")
        .replace("backoff_max_ms = 5000", "backoff_max_ms = 200")
}

impl Stack {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the application with extra `SPIN_VARIABLE_*` settings.
    pub fn start_with(variables: &[(&str, &str)]) -> Self {
        build_all();
        let redis = Redis::start();
        let key = Ed25519KeyPair::generate();
        let private_pem = key.to_pem();
        let public_pem = key.public_key().to_pem();
        let issuer = TokenIssuer::new(&private_pem, "e2e-1").expect("issuer");
        let internal_token = uuid::Uuid::new_v4().simple().to_string();
        let root = repo_root();
        // Data goes to the test's own directory, not the repository's .spinshop/.
        let runtime_config = std::fs::read_to_string(root.join("runtime-config.toml"))
            .expect("runtime-config.toml")
            .replace(".spinshop/data/", "{dir}/data/");
        let mut spec = HostSpec::new(host_binary(), "")
            .manifest_file(root.join("spin.toml"))
            .runtime_config(&runtime_config)
            .env("SPIN_VARIABLE_REDIS_HOST", &redis.host_port())
            .env("SPIN_VARIABLE_INTERNAL_TOKEN", &internal_token)
            .env("SPIN_VARIABLE_JWT_SIGNING_KEY", &private_pem)
            .env("SPIN_VARIABLE_JWT_KEY_ID", "e2e-1")
            .env(
                "SPIN_VARIABLE_JWT_PUBLIC_KEYS",
                &format!("e2e-1={public_pem}"),
            );
        for (k, v) in variables {
            spec = spec.env(&format!("SPIN_VARIABLE_{}", k.to_ascii_uppercase()), v);
        }
        let host = Host::start(spec);
        Self {
            host,
            redis,
            internal_token,
            issuer,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.host.url(path)
    }

    /// Creates a product as `admin` (retrying the host's 503 load shedding)
    /// and returns its id.
    pub async fn create_product(&self, admin: &str, name: &str, price: f64, stock: u32) -> String {
        let body = serde_json::json!({"name": name, "description": "A product.", "price": price,
            "category": "tests", "brand": "Acme", "stock": stock, "tags": []});
        let mut tries = 0;
        loop {
            let r = client()
                .post(self.url("/api/catalog"))
                .bearer_auth(admin)
                .json(&body)
                .send()
                .await
                .expect("post product");
            let status = r.status().as_u16();
            let answer: Value = r.json().await.unwrap_or(Value::Null);
            if status == 201 {
                return answer["id"].as_str().expect("product id").to_string();
            }
            tries += 1;
            assert!(
                status == 503 && tries < 20,
                "create {name}: {status} {answer}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to 30 s) until inventory has a stock record for product
    /// `id`, that is until the catalog's event has reached it; returns it.
    pub async fn wait_for_stock(&self, id: &str) -> Value {
        wait_for!(
            format!("a stock record for {id}"),
            std::time::Duration::from_secs(30),
            async {
                let r = client()
                    .get(self.url(&format!("/api/inventory/{id}")))
                    .send()
                    .await
                    .ok()?;
                if r.status() != 200 {
                    return None;
                }
                r.json::<Value>().await.ok()
            }
            .await
        )
    }

    /// Sets the sandbox payment provider's failure injection as `admin`,
    /// asserting a 200; returns the settings now in force.
    pub async fn set_psp(&self, admin: &str, settings: &Value) -> Value {
        let r = client()
            .put(self.url("/sandbox/psp/control"))
            .bearer_auth(admin)
            .json(settings)
            .send()
            .await
            .expect("sandbox control");
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "PUT /sandbox/psp/control: {body}");
        body
    }

    /// `GET path` (with a token, if any) as JSON, asserting a 200.
    pub async fn get_json(&self, path: &str, token: Option<&str>) -> Value {
        let mut req = client().get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.expect("get");
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// An access token for a user, signed like `users` signs them.
    pub fn token(&self, user_id: &str, role: Role) -> String {
        self.issuer
            .issue(user_id, &format!("{user_id}@example.com"), role, 900)
            .expect("token")
            .token
    }

    /// Delivers an event to a component the way the bridge does.
    pub async fn deliver(&self, component: &str, event: &Value) -> reqwest::Response {
        client()
            .post(self.url(&format!("/internal/{component}/events")))
            .bearer_auth(&self.internal_token)
            .json(event)
            .send()
            .await
            .expect("deliver")
    }

    /// Drains a component's outbox the way the bridge does (read, then ack).
    pub async fn drain(&self, component: &str) -> Vec<Value> {
        let events: Value = client()
            .get(self.url(&format!("/internal/{component}/outbox?limit=500")))
            .bearer_auth(&self.internal_token)
            .send()
            .await
            .expect("outbox")
            .json()
            .await
            .expect("json");
        let events = events["events"].as_array().cloned().unwrap_or_default();
        let ids: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
        if !ids.is_empty() {
            let r = client()
                .post(self.url(&format!("/internal/{component}/outbox/ack")))
                .bearer_auth(&self.internal_token)
                .json(&serde_json::json!({ "ids": ids }))
                .send()
                .await
                .expect("ack");
            assert_eq!(r.status(), 200);
        }
        events
    }
}

/// An envelope as a producer would write it.
pub fn envelope(event_type: &str, topic: &str, key: &str, payload: Value) -> Value {
    serde_json::json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": event_type,
        "topic": topic,
        "key": key,
        "occurred_at": "2026-11-22T00:00:00Z",
        "correlation_id": format!("corr-{key}"),
        "causation_id": null,
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "payload": payload.to_string(),
    })
}

/// Bodies no JSON route may answer with anything but a 4xx problem:
/// malformed JSON, wrong shapes, an oversized body, a non-JSON type.
pub fn hostile_bodies() -> Vec<(String, &'static str)> {
    vec![
        ("{not json".into(), "application/json"),
        ("".into(), "application/json"),
        ("[]".into(), "application/json"),
        ("null".into(), "application/json"),
        ("42".into(), "application/json"),
        (r#"{"unexpected": true}"#.into(), "application/json"),
        (
            format!(r#"{{"pad": "{}"}}"#, "x".repeat(2 * 1024 * 1024)),
            "application/json",
        ),
        (r#"{"a": 1}"#.into(), "text/plain"),
    ]
}

/// Sends each body to `method path` and checks every answer is a 4xx
/// `application/problem+json` document with a matching status.
pub async fn assert_all_4xx(
    stack: &Stack,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    extra_headers: &[(&str, &str)],
    bodies: &[(String, &str)],
) {
    for (body, content_type) in bodies {
        let mut req = client()
            .request(method.clone(), stack.url(path))
            .header("content-type", *content_type)
            .body(body.clone());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in extra_headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.expect("send");
        let status = r.status().as_u16();
        let preview: String = body.chars().take(60).collect();
        assert!(
            (400..500).contains(&status),
            "{method} {path} with {preview:?} gave {status}"
        );
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_eq!(
            ct, "application/problem+json",
            "{method} {path} with {preview:?}"
        );
        let problem: Value = r.json().await.expect("problem json");
        assert_eq!(problem["status"], status, "{problem}");
    }
}
