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
    let prometheus_listen = env_or("SPINSHOP_PROMETHEUS_LISTEN", loopback(9091))?;
    for addr in [listen, metrics_listen, bridge_listen, prometheus_listen] {
        if !addr.ip().is_loopback() {
            eprintln!("warning: {addr} is not a loopback address: other machines may reach it");
        }
    }
    let mut variables = secrets::local(repo)?;
    // MercadoLibre sends people back to the address the app is on.
    for (name, path) in [
        ("SPIN_VARIABLE_ML_REDIRECT_URI", "/api/auth/callback"),
        ("SPIN_VARIABLE_ML_AUTH_URL", "/sandbox/ml/authorization"),
    ] {
        if std::env::var_os(name).is_none() {
            variables.push((name.to_string(), format!("http://{listen}{path}")));
        }
    }
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
    spinshop_testkit::paths::check_free(
        prometheus_listen,
        "Prometheus",
        "SPINSHOP_PROMETHEUS_LISTEN",
    )?;
    let mut app = App::start(repo, spec)?;
    let spec = app.spec.clone();
    let mut prometheus = start_prometheus(repo, &spec, prometheus_listen)?;
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
    println!(
        "  Prometheus http://{prometheus_listen}  (scrapes the app, the host and the bridge every 5 s; \
         rules from infra/monitoring/rules; log {})",
        rel(&spec.log("prometheus"))
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

    let mut services = app.services();
    services.push(prometheus.service());
    let outcome = process::supervise(&mut services);
    prometheus.stop();
    app.stop();
    outcome.context("spinshop stopped")
}

/// Prometheus on `listen`, scraping the app's `/metrics` (ops), the
/// host's metrics and the bridge's, with the project's alert rules.
fn start_prometheus(
    repo: &Repo,
    spec: &crate::stack::AppSpec,
    listen: std::net::SocketAddr,
) -> Result<spinshop_testkit::Prometheus> {
    let target = |job: &str, addr| spinshop_testkit::ScrapeTarget {
        job: job.into(),
        addr,
        metrics_path: "/metrics".into(),
        bearer: std::env::var("SPIN_VARIABLE_METRICS_TOKEN")
            .ok()
            .filter(|_| job == "spinshop"),
    };
    spinshop_testkit::Prometheus::launch(spinshop_testkit::PrometheusOptions {
        listen: Some(listen),
        dir: Some(spec.data_dir.join("prometheus")),
        targets: vec![
            target("spinshop", spec.listen),
            target("spinshop-host", spec.metrics_listen),
            target("kafka-bridge", spec.bridge_listen),
        ],
        rule_files: spinshop_testkit::prometheus::rule_files(
            &repo.root().join("infra/monitoring/rules"),
        )?,
        interval: std::time::Duration::from_secs(5),
        output: spinshop_testkit::process::Output::File(spec.log("prometheus")),
    })
    .context("Prometheus did not start")
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
