//! The end-to-end stack: the application in `spin.toml`, exactly as
//! `cargo xtask up` runs it, on `spinshop-host` (or `spin up`, see
//! `spinshop_testkit::host::RUNTIME_VARIABLE`) with its own Redis, fresh
//! databases, a generated signing key and internal token; with events, a
//! bridge of its own on the test process's shared Kafka broker, in topics
//! and consumer groups of its own.

use jwt_simple::prelude::*;
use platform::auth::token::TokenIssuer;
use platform::auth::Role;
use serde_json::Value;
use spinshop_testkit::{build_all, host_binary, repo_root, Host, HostSpec, Redis, Runtime};

pub use spinshop_testkit::{client, metric_sum, Bridge, Kafka, OtlpReceiver, ReceivedSpan};

pub mod kafka;
pub mod marketplace;
pub mod walkthrough;

/// A running application.
pub struct Stack {
    pub host: Host,
    pub redis: Redis,
    /// The cache's own Redis (bounded, allkeys-lru), as `cargo xtask up`
    /// runs it.
    pub cache_redis: Redis,
    pub internal_token: String,
    /// Registers the first admin (`X-Admin-Bootstrap-Token`).
    pub admin_bootstrap_token: String,
    /// The sandbox payment provider's API key (payments' `psp_api_key`).
    pub psp_api_key: String,
    /// The MercadoLibre application's secret (`ml_client_secret`), which
    /// the sandbox MercadoLibre API checks at its token endpoint.
    pub ml_client_secret: String,
    issuer: TokenIssuer,
    /// The host's `SPIN_VARIABLE_*` settings and runtime config, to start
    /// it again.
    env: Vec<(String, String)>,
    runtime_config: String,
}

/// The application's host, configured by `env`.
fn host_spec<'a>(runtime_config: &'a str, env: &[(String, String)]) -> HostSpec<'a> {
    let mut spec = HostSpec::new(host_binary(), "")
        .on(Runtime::for_end_to_end(host_binary()))
        .manifest_file(repo_root().join("spin.toml"))
        .runtime_config(runtime_config);
    for (k, v) in env {
        spec = spec.env(k, v);
    }
    spec
}

/// Starts the application's host on a loopback port chosen here rather
/// than by the host, so that the MercadoLibre redirect URI, which the
/// sandbox MercadoLibre API checks exactly, and the authorization URL can
/// name the stack's address (`ml_redirect_uri`, `ml_auth_url`, unless
/// `env` sets them). A port taken meanwhile is
/// tried again with another. Answers the host and its final environment.
fn start_host(runtime_config: &str, env: Vec<(String, String)>) -> (Host, Vec<(String, String)>) {
    let mut attempt = 1;
    loop {
        let listen = spinshop_testkit::paths::loopback(spinshop_testkit::free_port());
        let mut with_address = vec![
            (
                "SPIN_VARIABLE_ML_REDIRECT_URI".to_string(),
                format!("http://{listen}/api/auth/callback"),
            ),
            (
                "SPIN_VARIABLE_ML_AUTH_URL".to_string(),
                format!("http://{listen}/sandbox/ml/authorization"),
            ),
        ];
        with_address.extend(env.iter().cloned());
        let mut spec = host_spec(runtime_config, &with_address);
        spec.listen = Some(listen);
        match Host::try_start(spec) {
            Ok(host) => return (host, with_address),
            Err(f) if attempt < 3 && f.stderr.to_ascii_lowercase().contains("in use") => {
                attempt += 1;
            }
            Err(f) => panic!("the host failed to start ({}):\n{}", f.status, f.stderr),
        }
    }
}

/// The application with its event plumbing: the bridge on a real broker.
pub struct EventStack {
    // Dropped in this order: the bridge first, then the app.
    pub bridge: Bridge,
    pub stack: Stack,
    /// This stack's namespace on the broker: its topics are
    /// `<topic_prefix><topic>`, its consumer groups start with it too.
    pub topic_prefix: String,
    brokers: String,
    config: String,
    /// Extra environment of its bridges.
    bridge_env: Vec<(String, String)>,
}

impl EventStack {
    /// The application and a bridge on the process's shared broker, with
    /// the repository's `kafka-bridge/bridge.toml` changed by `edit_config`.
    pub fn start(variables: &[(&str, &str)], edit_config: impl FnOnce(String) -> String) -> Self {
        let brokers = spinshop_testkit::kafka::shared().bootstrap();
        Self::start_on(&brokers, variables, edit_config)
    }

    /// The same on the broker at `brokers` (one a test may kill).
    pub fn start_on(
        brokers: &str,
        variables: &[(&str, &str)],
        edit_config: impl FnOnce(String) -> String,
    ) -> Self {
        Self::launch(brokers, variables, &ProcessEnv::default(), edit_config)
    }

    /// [`Self::start`] with extra environment for the host and the bridge
    /// (the OTLP exporter's settings, say).
    pub fn start_with_env(
        variables: &[(&str, &str)],
        env: &ProcessEnv,
        edit_config: impl FnOnce(String) -> String,
    ) -> Self {
        let brokers = spinshop_testkit::kafka::shared().bootstrap();
        Self::launch(&brokers, variables, env, edit_config)
    }

    fn launch(
        brokers: &str,
        variables: &[(&str, &str)],
        env: &ProcessEnv,
        edit_config: impl FnOnce(String) -> String,
    ) -> Self {
        let stack = Stack::start_with_env(variables, &env.host);
        let config = edit_config(
            std::fs::read_to_string(repo_root().join("kafka-bridge/bridge.toml"))
                .expect("kafka-bridge/bridge.toml"),
        );
        let topic_prefix = format!("t{}.", uuid::Uuid::new_v4().simple());
        let bridge =
            stack.bridge_with_env(&config, brokers, &topic_prefix, "replica-0", &env.bridge);
        Self {
            bridge,
            stack,
            topic_prefix,
            brokers: brokers.to_string(),
            config,
            bridge_env: env.bridge.clone(),
        }
    }

    /// Kafka bootstrap servers for the test's own clients.
    pub fn brokers(&self) -> String {
        self.brokers.clone()
    }

    /// The Kafka topic of a topic of the event contract, in this stack.
    pub fn topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.topic_prefix)
    }

    /// Another bridge replica of this stack, under its own instance name,
    /// sharing the partitions with the first.
    pub fn replica(&self, instance: &str) -> Bridge {
        self.stack.bridge_with_env(
            &self.config,
            &self.brokers,
            &self.topic_prefix,
            instance,
            &self.bridge_env,
        )
    }
}

/// Environment variables for a stack's processes beyond what the harness
/// sets.
#[derive(Debug, Clone, Default)]
pub struct ProcessEnv {
    pub host: Vec<(String, String)>,
    pub bridge: Vec<(String, String)>,
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

    /// A bridge for this application: `config` on `brokers`, in the
    /// namespace `topic_prefix`, as replica `instance`, woken by the
    /// components through this stack's Redis.
    pub fn bridge(
        &self,
        config: &str,
        brokers: &str,
        topic_prefix: &str,
        instance: &str,
    ) -> Bridge {
        self.bridge_with_env(config, brokers, topic_prefix, instance, &[])
    }

    /// [`Self::bridge`] with extra environment.
    pub fn bridge_with_env(
        &self,
        config: &str,
        brokers: &str,
        topic_prefix: &str,
        instance: &str,
        env: &[(String, String)],
    ) -> Bridge {
        Bridge::start_with_env(
            config,
            brokers,
            &format!("http://{}", self.host.addr),
            &self.internal_token,
            &[
                "--topic-prefix",
                topic_prefix,
                "--instance",
                instance,
                "--redis-url",
                &self.redis.url(),
            ],
            env,
        )
    }

    /// Starts the application with extra `SPIN_VARIABLE_*` settings.
    pub fn start_with(variables: &[(&str, &str)]) -> Self {
        Self::start_with_env(variables, &[])
    }

    /// [`Self::start_with`] with extra environment for the host (kept for
    /// restarts).
    pub fn start_with_env(variables: &[(&str, &str)], extra_env: &[(String, String)]) -> Self {
        build_all();
        let redis = Redis::start();
        let cache_redis = Redis::launch(spinshop_testkit::RedisOptions::cache("16mb"))
            .expect("the cache's Redis");
        let key = Ed25519KeyPair::generate();
        let private_pem = key.to_pem();
        let public_pem = key.public_key().to_pem();
        let issuer = TokenIssuer::new(&private_pem, "e2e-1").expect("issuer");
        let internal_token = uuid::Uuid::new_v4().simple().to_string();
        let admin_bootstrap_token = uuid::Uuid::new_v4().simple().to_string();
        let psp_api_key = uuid::Uuid::new_v4().simple().to_string();
        let ml_client_secret = uuid::Uuid::new_v4().simple().to_string();
        let mut env = vec![
            (
                "SPIN_VARIABLE_ADMIN_BOOTSTRAP_TOKEN".to_string(),
                admin_bootstrap_token.clone(),
            ),
            ("SPIN_VARIABLE_PSP_API_KEY".to_string(), psp_api_key.clone()),
            (
                "SPIN_VARIABLE_ML_CLIENT_SECRET".to_string(),
                ml_client_secret.clone(),
            ),
            (
                "SPIN_VARIABLE_ML_TOKEN_KEY".to_string(),
                uuid::Uuid::new_v4().simple().to_string(),
            ),
            ("SPIN_VARIABLE_REDIS_HOST".to_string(), redis.host_port()),
            (
                "SPIN_VARIABLE_CACHE_REDIS_HOST".to_string(),
                cache_redis.host_port(),
            ),
            (
                "SPIN_VARIABLE_INTERNAL_TOKEN".to_string(),
                internal_token.clone(),
            ),
            ("SPIN_VARIABLE_JWT_SIGNING_KEY".to_string(), private_pem),
            ("SPIN_VARIABLE_JWT_KEY_ID".to_string(), "e2e-1".to_string()),
            (
                "SPIN_VARIABLE_JWT_PUBLIC_KEYS".to_string(),
                format!("e2e-1={public_pem}"),
            ),
        ];
        for (k, v) in variables {
            env.push((
                format!("SPIN_VARIABLE_{}", k.to_ascii_uppercase()),
                v.to_string(),
            ));
        }
        env.extend_from_slice(extra_env);
        // Data goes to the test's own directory, not the repository's .spinshop/.
        let runtime_config = std::fs::read_to_string(repo_root().join("runtime-config.toml"))
            .expect("runtime-config.toml")
            .replace(".spinshop/data/", "{dir}/data/");
        let (host, env) = start_host(&runtime_config, env);
        let stack = Self {
            host,
            redis,
            cache_redis,
            internal_token,
            admin_bootstrap_token,
            psp_api_key,
            ml_client_secret,
            issuer,
            env,
            runtime_config,
        };
        stack.load_revocations();
        stack
    }

    /// Has `users` load Redis's copy of the revoked sessions, as the
    /// bridge's tick does within seconds of a start: until then every
    /// authenticated request answers 503.
    pub fn load_revocations(&self) {
        // On a thread of its own: callers may be inside an async runtime,
        // where a blocking client must not run.
        let (url, token) = (
            self.url("/internal/users/tick"),
            self.internal_token.clone(),
        );
        let (status, body) = std::thread::spawn(move || {
            let r = reqwest::blocking::Client::new()
                .post(url)
                .bearer_auth(token)
                .send()
                .expect("users tick");
            (r.status().as_u16(), r.text().unwrap_or_default())
        })
        .join()
        .expect("users tick thread");
        assert_eq!(status, 200, "users tick: {body}");
    }

    /// SIGKILL to the host: a crash, requests in flight and all.
    pub fn crash_host(&mut self) {
        self.host.kill9();
    }

    /// Starts the host again after [`Self::crash_host`], at the same
    /// addresses, on the same databases.
    pub fn restart_host(&mut self) {
        let dir = std::mem::replace(
            &mut self.host.dir,
            spinshop_testkit::TempDir(Default::default()),
        );
        let mut spec = host_spec(&self.runtime_config, &self.env);
        spec.listen = Some(self.host.addr);
        spec.metrics_listen = Some(self.host.metrics_addr);
        match Host::start_in(spec, dir) {
            Ok(host) => self.host = host,
            Err(f) => panic!("the host did not restart ({}):\n{}", f.status, f.stderr),
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
