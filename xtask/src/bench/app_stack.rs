//! The private stack the end-to-end benchmarks run: Redis, the broker, the
//! host with the real application and the bridge, on free loopback ports
//! and scratch data, stopped in order.

use std::fs;

use anyhow::{Context as _, Result};

use super::bridge::RATE_LIMIT;
use crate::compile;
use crate::net;
use crate::process::{self, Output, Service};
use crate::repo::{self, Repo};
use crate::secrets;
use crate::setup::{self, Prerequisite};
use crate::stack::{self, BridgeConfig, HostConfig};
use crate::tansu;

/// A benchmark's private stack, under `.spinshop/bench/<name>/`
/// with logs in `.spinshop/logs/bench-<name>-*.log`.
pub(crate) struct AppStack {
    // Fields drop in declaration order: each service stops before those it
    // calls, as if on an error during start-up.
    pub(crate) bridge: Service,
    pub(crate) host: Service,
    pub(crate) broker: Service,
    _redis: stack::Redis,
    pub(crate) host_config: HostConfig,
    pub(crate) bridge_config: BridgeConfig,
    /// How the broker was started, from the repository root.
    broker_command: String,
}

impl AppStack {
    /// Sets up, builds and starts Redis, the broker, the host (the real
    /// `spin.toml` app on scratch databases, rate limits lifted) and the
    /// bridge on free loopback ports.
    pub(crate) fn start(repo: &Repo, name: &str) -> Result<Self> {
        setup::ensure(&[
            Prerequisite::WasmTarget,
            Prerequisite::RedisServer,
            Prerequisite::OpenSsl,
            Prerequisite::Broker,
        ])?;
        let tansu = tansu::required_binary()?;
        compile::everything(repo)?;
        stack::check_bridge_built(repo)?;

        let work_dir = repo.local(&format!("bench/{name}"));
        let logs_dir = repo.local("logs");
        let log = |what: &str| Output::File(logs_dir.join(format!("bench-{name}-{what}.log")));
        // Fresh databases and topics each run: only this run's data.
        repo::recreate_dir(&work_dir)?;
        repo::create_dir(&logs_dir)?;
        let runtime_config = work_dir.join("runtime-config.toml");
        let source = fs::read_to_string(repo.root().join("runtime-config.toml"))
            .context("cannot read runtime-config.toml")?;
        fs::write(
            &runtime_config,
            super::bridge::scratch_runtime_config(&source)?,
        )
        .with_context(|| format!("cannot write {}", runtime_config.display()))?;

        let redis_port = net::free_port()?;
        let kafka_port = net::free_port()?;
        let mut variables = secrets::local(repo)?;
        let internal_token = secrets::internal_token(&variables)?;
        variables.push((RATE_LIMIT.0.to_owned(), RATE_LIMIT.1.to_owned()));
        let host_config = HostConfig {
            manifest: repo.root().join("spin.toml"),
            runtime_config: Some(runtime_config),
            listen: net::loopback(net::free_port()?),
            metrics_listen: net::loopback(net::free_port()?),
            state_dir: work_dir.join("state"),
            redis: net::loopback(redis_port),
            output: log("host"),
            variables,
        };
        let bridge_config = BridgeConfig {
            config: repo.root().join("kafka-bridge/bridge.toml"),
            brokers: net::loopback(kafka_port),
            platform: host_config.listen,
            listen: net::loopback(net::free_port()?),
            internal_token,
            output: log("bridge"),
        };
        let kafka_dir = work_dir.join("kafka");
        let broker_command = format!(
            "(cd {} && {})",
            repo.relative(&kafka_dir).display(),
            process::display(&tansu::broker_command(
                &tansu,
                net::loopback(kafka_port),
                &kafka_dir
            ))
        );

        process::catch_interrupts()?;
        // Locals drop in reverse order: an error stops what already runs.
        let redis = stack::start_redis(redis_port, &work_dir.join("redis"), log("redis"))?;
        let broker = stack::start_broker(&tansu, kafka_port, &kafka_dir, log("kafka"))?;
        let (host, _) = stack::start_host(repo, &host_config, "/health")?;
        let bridge = stack::start_bridge(repo, &bridge_config)?;
        Ok(Self {
            bridge,
            host,
            broker,
            _redis: redis,
            host_config,
            bridge_config,
            broker_command,
        })
    }

    /// The services to watch while waiting.
    pub(crate) fn services(&mut self) -> [&mut Service; 3] {
        [&mut self.bridge, &mut self.host, &mut self.broker]
    }

    /// The commands of the run, for the results: `first` (the xtask
    /// command), then how each service was started.
    pub(crate) fn commands(&self, repo: &Repo, first: String) -> Vec<String> {
        vec![
            first,
            self.broker_command.clone(),
            format!(
                "SPIN_VARIABLE_REDIS_HOST={} {}={} {}",
                self.host_config.redis,
                RATE_LIMIT.0,
                RATE_LIMIT.1,
                process::display(&self.host_config.command(repo))
            ),
            format!(
                "BRIDGE_INTERNAL_TOKEN=… {}",
                process::display(&self.bridge_config.command(repo))
            ),
        ]
    }

    /// Stops the services, users first (Redis stops when dropped).
    pub(crate) fn stop(&mut self) -> Result<()> {
        self.bridge.stop()?;
        self.host.stop()?;
        self.broker.stop()
    }
}
