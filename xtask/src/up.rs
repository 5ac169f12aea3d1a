//! `cargo xtask up`: build, start Redis, Apache Kafka, the host and the
//! bridge, show where they are, and keep them running until Ctrl-C (or
//! until one of them dies).

use anyhow::{Context as _, Result};
use spinshop_testkit::paths::loopback;
use spinshop_testkit::process;

use crate::compile;
use crate::repo::Repo;
use crate::secrets;
use crate::setup;
use crate::stack::{App, AppSpec};

/// Runs the application until interrupted.
pub fn run(repo: &Repo) -> Result<()> {
    setup::ensure(setup::APPLICATION)?;
    compile::everything(repo)?;

    let listen = env_or("SPINSHOP_LISTEN", loopback(3000))?;
    let metrics_listen = env_or("SPINSHOP_METRICS_LISTEN", loopback(9090))?;
    let bridge_listen = env_or("SPINSHOP_BRIDGE_LISTEN", loopback(9095))?;
    for addr in [listen, metrics_listen, bridge_listen] {
        if !addr.ip().is_loopback() {
            eprintln!("warning: {addr} is not a loopback address: other machines may reach it");
        }
    }
    let variables = secrets::local(repo)?;
    let internal_token = secrets::internal_token(&variables)?;
    let spec = AppSpec {
        redis_port: Some(env_or("SPINSHOP_REDIS_PORT", 6379u16)?),
        reuse_redis: true,
        cache_redis_port: Some(env_or("SPINSHOP_CACHE_REDIS_PORT", 6380u16)?),
        kafka_port: Some(env_or("SPINSHOP_KAFKA_PORT", 9092u16)?),
        listen,
        metrics_listen,
        bridge_listen,
        data_dir: repo.local("data"),
        runtime_config: repo.root().join("runtime-config.toml"),
        logs_dir: repo.local("logs"),
        log_prefix: String::new(),
        host_log_to_terminal: std::env::var_os("SPINSHOP_HOST_LOG_TO_TERMINAL").is_some(),
        variables,
        internal_token,
        kafka_heap_mb: 1024,
    };

    crate::process::catch_interrupts()?;
    let mut app = App::start(repo, spec)?;
    let spec = app.spec.clone();
    let health = reqwest::blocking::get(format!("http://{listen}/health"))
        .map(|r| r.status().as_u16().to_string())
        .unwrap_or_else(|e| format!("no answer ({e})"));
    let rel = |p: &std::path::Path| repo.relative(p).display().to_string();
    let redis_where = if app.redis.reused() {
        format!(
            "{}  (already running; not started or stopped here)",
            app.redis.host_port()
        )
    } else {
        format!(
            "{}  (data {}, log {})",
            app.redis.host_port(),
            rel(&spec.data_dir.join("redis")),
            rel(&spec.log("redis"))
        )
    };
    println!();
    println!("spinshop is up (Ctrl-C stops it)");
    println!("  app      http://{listen}  (GET /health: {health})");
    println!("  API      http://{listen}/api");
    println!("  metrics  http://{metrics_listen}/metrics");
    println!(
        "  Kafka    {}  (Apache Kafka {}, KRaft; data {}, log {}; started in {:.1} s)",
        app.kafka.bootstrap(),
        kafka_version(repo),
        rel(&spec.data_dir.join("kafka")),
        rel(&spec.log("kafka")),
        app.kafka.started_in.as_secs_f64()
    );
    println!(
        "  bridge   http://{bridge_listen}/health and /metrics  (log {})",
        rel(&spec.log("kafka-bridge"))
    );
    println!("  Redis    {redis_where}");
    println!(
        "  cache    {}  (Redis for cached reads only: {}, least recently used keys evicted)",
        app.cache_redis.host_port(),
        crate::stack::CACHE_MAX_MEMORY
    );
    println!("  SQLite   {}", rel(&spec.data_dir.join("sqlite")));
    println!(
        "  logs     {}  (host.log: one JSON line per request; kafka-bridge.log, kafka.log, redis.log)",
        rel(&spec.logs_dir)
    );
    println!();

    let outcome = process::supervise(&mut app.services());
    app.stop();
    outcome.context("spinshop stopped")
}

/// The pinned Kafka version, for the summary.
fn kafka_version(repo: &Repo) -> String {
    std::fs::read_to_string(repo.root().join(spinshop_testkit::kafka::POM))
        .ok()
        .and_then(|pom| spinshop_testkit::kafka::pinned_version(&pom).ok())
        .unwrap_or_else(|| "?".into())
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
        let unset: SocketAddr = env_or("SPINSHOP_XTASK_TEST_UNSET_VARIABLE", loopback(3000))?;
        assert_eq!(unset, loopback(3000));
        Ok(())
    }
}
