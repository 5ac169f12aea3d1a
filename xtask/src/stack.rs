//! The whole application as `up` and the end-to-end benchmarks run it:
//! Redis, Apache Kafka, the app on spinshop-host and kafka-bridge, started
//! in that order through the test harness (`spinshop-testkit`) and
//! stopped in the reverse one.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use spinshop_testkit::process::Service;
use spinshop_testkit::{
    Bridge, BridgeSpec, Host, HostSpec, Kafka, KafkaOptions, Redis, RedisOptions,
};

use crate::repo::{self, Repo};

/// The cache Redis's memory bound.
pub const CACHE_MAX_MEMORY: &str = "64mb";

/// How to run the application.
#[derive(Debug, Clone)]
pub struct AppSpec {
    /// Redis: its port, and whether one already answering there is used.
    pub redis_port: Option<u16>,
    pub reuse_redis: bool,
    /// The cache's Redis (bounded, allkeys-lru): its port; one already
    /// answering there is used when `reuse_redis`.
    pub cache_redis_port: Option<u16>,
    /// Kafka's client port.
    pub kafka_port: Option<u16>,
    /// The application's and the host metrics' addresses.
    pub listen: SocketAddr,
    pub metrics_listen: SocketAddr,
    /// kafka-bridge's `/health` and `/metrics`.
    pub bridge_listen: SocketAddr,
    /// Where Redis, Kafka and the databases keep their data.
    pub data_dir: PathBuf,
    /// The runtime config the host reads.
    pub runtime_config: PathBuf,
    /// Where each service's log goes (`<logs_dir>/<prefix>host.log`...).
    pub logs_dir: PathBuf,
    pub log_prefix: String,
    /// The host's output in the terminal instead of its log file.
    pub host_log_to_terminal: bool,
    /// `SPIN_VARIABLE_*` settings for the host.
    pub variables: Vec<(String, String)>,
    /// The bridge's internal token (the host's `internal_token`).
    pub internal_token: String,
    /// Kafka's heap.
    pub kafka_heap_mb: u32,
}

impl AppSpec {
    /// A service's log file.
    pub fn log(&self, service: &str) -> PathBuf {
        self.logs_dir
            .join(format!("{}{service}.log", self.log_prefix))
    }
}

/// The running application, its parts dropped (so stopped) users first.
#[derive(Debug)]
pub struct App {
    pub bridge: Bridge,
    pub host: Host,
    pub kafka: Kafka,
    pub redis: Redis,
    pub cache_redis: Redis,
    pub spec: AppSpec,
}

impl App {
    /// Starts everything and waits for each part to answer.
    pub fn start(repo: &Repo, spec: AppSpec) -> Result<Self> {
        repo::create_dir(&spec.logs_dir)?;
        repo::create_dir(&spec.data_dir)?;
        let bridge_binary = repo.bridge_binary();
        if !bridge_binary.is_file() {
            anyhow::bail!(
                "{} is missing: the release build of the workspace should have built it",
                bridge_binary.display()
            );
        }
        let redis = Redis::launch(RedisOptions {
            port: spec.redis_port,
            dir: Some(spec.data_dir.join("redis")),
            durable: true,
            reuse: spec.reuse_redis,
            memory: None,
            output: spinshop_testkit::process::Output::File(spec.log("redis")),
        })?;
        let cache_redis = Redis::launch(RedisOptions {
            port: spec.cache_redis_port,
            reuse: spec.reuse_redis,
            output: spinshop_testkit::process::Output::File(spec.log("cache-redis")),
            ..RedisOptions::cache(CACHE_MAX_MEMORY)
        })?;
        let kafka = Kafka::launch(KafkaOptions {
            port: spec.kafka_port,
            dir: Some(spec.data_dir.join("kafka")),
            heap_mb: spec.kafka_heap_mb,
            log: Some(spec.log("kafka")),
            tied_to_parent: false,
        })?;
        let mut host_spec = HostSpec::new(repo.host_binary(), "")
            .manifest_file(repo.root().join("spin.toml"))
            .env("SPIN_VARIABLE_REDIS_HOST", &redis.host_port())
            .env("SPIN_VARIABLE_CACHE_REDIS_HOST", &cache_redis.host_port());
        host_spec.runtime_config_path = Some(spec.runtime_config.clone());
        host_spec.listen = Some(spec.listen);
        host_spec.metrics_listen = Some(spec.metrics_listen);
        host_spec.state_dir = Some(spec.data_dir.join("sqlite"));
        host_spec.log_file = (!spec.host_log_to_terminal).then(|| spec.log("host"));
        for (k, v) in &spec.variables {
            host_spec = host_spec.env(k, v);
        }
        spinshop_testkit::paths::check_free(spec.listen, "the application", "SPINSHOP_LISTEN")?;
        let host = Host::try_start(host_spec)
            .map_err(|f| anyhow::anyhow!("spinshop-host exited ({}): {}", f.status, f.stderr))?;
        let bridge = Bridge::launch(BridgeSpec {
            binary: bridge_binary,
            config: repo.root().join("kafka-bridge/bridge.toml"),
            brokers: kafka.bootstrap(),
            platform_url: format!("http://{}", host.addr),
            listen: Some(spec.bridge_listen),
            token: spec.internal_token.clone(),
            args: vec!["--redis-url".into(), redis.url()],
            log_file: Some(spec.log("kafka-bridge")),
        })
        .context("kafka-bridge did not come up")?;
        Ok(Self {
            bridge,
            host,
            kafka,
            redis,
            cache_redis,
            spec,
        })
    }

    /// The processes to watch (those started here).
    pub fn services(&mut self) -> Vec<&mut Service> {
        let mut services: Vec<&mut Service> = Vec::new();
        services.extend(self.bridge.service());
        services.extend(self.host.service());
        services.extend(self.kafka.service());
        services.extend(self.redis.service());
        services.extend(self.cache_redis.service());
        services
    }

    /// Stops everything, users before what they use.
    pub fn stop(&mut self) {
        self.bridge.terminate();
        if self.host.service().is_some() {
            self.host.terminate();
        }
        self.kafka.stop();
        self.redis.stop();
        self.cache_redis.stop();
    }
}
