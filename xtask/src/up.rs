//! `cargo xtask up`: build, start Redis, the Kafka broker, the host and the
//! bridge, show where they are, and keep them running until Ctrl-C (or
//! until one of them dies).

use anyhow::{Context as _, Result};

use crate::compile;
use crate::net;
use crate::process::{self, Output};
use crate::repo::{self, Repo};
use crate::secrets;
use crate::setup::{self, Prerequisite};
use crate::stack::{self, BridgeConfig, HostConfig, Redis};
use crate::tansu;

/// Runs the application until interrupted.
pub fn run(repo: &Repo) -> Result<()> {
    setup::ensure(&[
        Prerequisite::WasmTarget,
        Prerequisite::RedisServer,
        Prerequisite::OpenSsl,
        Prerequisite::Broker,
    ])?;
    let tansu = tansu::required_binary()?;
    compile::everything(repo)?;

    let redis_port = env_or("SPINSHOP_REDIS_PORT", 6379u16)?;
    let kafka_port = env_or("SPINSHOP_KAFKA_PORT", 9092u16)?;
    let listen = env_or("SPINSHOP_LISTEN", net::loopback(3000))?;
    let metrics_listen = env_or("SPINSHOP_METRICS_LISTEN", net::loopback(9090))?;
    let bridge_listen = env_or("SPINSHOP_BRIDGE_LISTEN", net::loopback(9095))?;
    for addr in [listen, metrics_listen, bridge_listen] {
        if !addr.ip().is_loopback() {
            eprintln!("warning: {addr} is not a loopback address: other machines may reach it");
        }
    }
    let redis_dir = repo.local("redis");
    let kafka_dir = repo.local("kafka");
    let data_dir = repo.local("data");
    let logs_dir = repo.local("logs");
    repo::create_dir(&logs_dir)?;
    let redis_log = logs_dir.join("redis.log");
    let kafka_log = logs_dir.join("kafka.log");
    let bridge_log = logs_dir.join("kafka-bridge.log");
    let variables = secrets::local(repo)?;
    let internal_token = secrets::internal_token(&variables)?;
    // Before starting anything: these are not reused, unlike Redis.
    stack::check_bridge_built(repo)?;
    stack::check_free(
        net::loopback(kafka_port),
        "the Kafka broker",
        "SPINSHOP_KAFKA_PORT",
    )?;
    stack::check_free(bridge_listen, "kafka-bridge", "SPINSHOP_BRIDGE_LISTEN")?;

    process::catch_interrupts()?;
    // Each declared before what uses it so that, dropped in reverse order
    // on an error, it outlives its users.
    let mut redis = stack::start_redis(redis_port, &redis_dir, Output::File(redis_log.clone()))?;
    let mut broker = stack::start_broker(
        &tansu,
        kafka_port,
        &kafka_dir,
        Output::File(kafka_log.clone()),
    )?;
    let host = HostConfig {
        manifest: repo.root().join("spin.toml"),
        runtime_config: Some(repo.root().join("runtime-config.toml")),
        listen,
        metrics_listen,
        state_dir: data_dir.clone(),
        redis: net::loopback(redis_port),
        // One JSON line per request, the bridge's polling included: to a
        // file, so the terminal keeps the summary readable, unless asked.
        output: if std::env::var_os("SPINSHOP_HOST_LOG_TO_TERMINAL").is_some() {
            Output::Terminal
        } else {
            Output::File(logs_dir.join("host.log"))
        },
        variables,
    };
    let (mut host_service, health) = stack::start_host(repo, &host, "/health")?;
    let bridge = BridgeConfig {
        config: repo.root().join("kafka-bridge/bridge.toml"),
        brokers: net::loopback(kafka_port),
        platform: listen,
        listen: bridge_listen,
        internal_token,
        output: Output::File(bridge_log.clone()),
    };
    let mut bridge_service = stack::start_bridge(repo, &bridge)?;

    let redis_where = match &redis {
        Redis::Started(_) => format!(
            "127.0.0.1:{redis_port}  (data {}, log {})",
            repo.relative(&redis_dir).display(),
            repo.relative(&redis_log).display()
        ),
        Redis::Reused => {
            format!("127.0.0.1:{redis_port}  (already running; not started or stopped here)")
        }
    };
    let health_note = if health.is_success() {
        format!("GET /health: {}", health.status)
    } else {
        format!("GET /health: {} {}", health.status, health.body_text())
    };
    println!();
    println!("spinshop is up (Ctrl-C stops it)");
    println!("  app      http://{listen}  ({health_note})");
    println!("  API      http://{listen}/api");
    println!("  metrics  http://{metrics_listen}/metrics");
    println!(
        "  Kafka    127.0.0.1:{kafka_port}  (tansu {}; data {}, log {})",
        tansu::VERSION,
        repo.relative(&kafka_dir.join(tansu::DATABASE)).display(),
        repo.relative(&kafka_log).display()
    );
    println!(
        "  bridge   http://{bridge_listen}/health and /metrics  (log {})",
        repo.relative(&bridge_log).display()
    );
    println!("  Redis    {redis_where}");
    println!("  SQLite   {}", repo.relative(&data_dir).display());
    println!(
        "  logs     {}  (host.log: one JSON line per request; kafka-bridge.log, kafka.log, redis.log)",
        repo.relative(&logs_dir).display()
    );
    println!();

    let mut services = vec![&mut bridge_service, &mut host_service, &mut broker];
    if let Redis::Started(service) = &mut redis {
        services.push(service);
    }
    let outcome = process::supervise(&mut services);
    // Users before what they use: the bridge calls the host and the broker,
    // the host may still be answering requests that use Redis.
    bridge_service.stop()?;
    host_service.stop()?;
    broker.stop()?;
    if let Redis::Started(service) = &mut redis {
        service.stop()?;
    }
    outcome.context("spinshop stopped")
}

/// The environment variable `name` parsed, or `default` when unset.
pub fn env_or<T>(name: &str, default: T) -> Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .with_context(|| format!("{name}={value:?} is not valid")),
        Err(_) => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    #[test]
    fn environment_overrides_parse_or_fall_back() -> Result<()> {
        let unset: SocketAddr = env_or("SPINSHOP_XTASK_TEST_UNSET_VARIABLE", net::loopback(3000))?;
        assert_eq!(unset, net::loopback(3000));
        Ok(())
    }
}
