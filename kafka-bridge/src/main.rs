//! kafka-bridge: relays events between spinshop's components and Kafka.
//!
//! - relay out: drains each publisher's `/internal/<component>/outbox` into
//!   Kafka (idempotent producer, key = aggregate id), then acknowledges;
//! - relay in: consumes each subscribed topic and POSTs every event to the
//!   component's `/internal/<component>/events`, committing offsets only
//!   after a 2xx; failures are retried with backoff, then dead-lettered;
//! - ticks: `POST /internal/<component>/tick` on a schedule.
//!
//! `kafka-bridge --config bridge.toml [--brokers H:P] [--platform-url URL]
//! [--listen ADDR] [--topic-prefix P] [--instance NAME] [--redis-url URL]`,
//! with the internal token in `BRIDGE_INTERNAL_TOKEN` and Kafka's protocol
//! and credentials in `BRIDGE_KAFKA_*` (see `kafka`); `kafka-bridge replay
//! ...` re-publishes dead letters (see `replay`).

mod admin;
mod backoff;
mod config;
mod kafka;
mod log;
mod metrics;
mod platform;
mod relay_in;
mod relay_out;
mod replay;
mod server;
mod traces;
mod wake;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use rdkafka::producer::{FutureProducer, Producer as _};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::backoff::Backoff;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::platform::Platform;

const USAGE: &str = "\
kafka-bridge: component outboxes -> Kafka -> component event routes

USAGE:
    kafka-bridge --config <FILE> [OPTIONS]
    kafka-bridge replay --config <FILE> --component <NAME> [--topic <TOPIC>] [--dry-run] [OPTIONS]

OPTIONS (each overrides the file):
    --brokers <HOST:PORT,...>   Kafka bootstrap servers
    --platform-url <URL>        where the components answer
    --listen <ADDR>             the bridge's /health and /metrics
    --topic-prefix <PREFIX>     namespace of every topic and consumer group
    --instance <NAME>           this replica's stable name in its consumer groups
    --redis-url <URL>           where components announce new outbox rows

    Replicas share the partitions through Kafka's consumer groups: run as many as
    you like, each with its own --instance.

    `replay` re-publishes the dead letters of <NAME> (from every topic it subscribes
    to, or only <TOPIC>) to their source topics, and remembers how far it got, so
    running it twice re-publishes nothing twice.

ENVIRONMENT:
    BRIDGE_INTERNAL_TOKEN           the components' internal_token (required, except for replay)
    BRIDGE_KAFKA_SECURITY_PROTOCOL  librdkafka's security.protocol, e.g. SASL_PLAINTEXT or SASL_SSL
    BRIDGE_KAFKA_SASL_MECHANISM     librdkafka's sasl.mechanism, e.g. SCRAM-SHA-512
    BRIDGE_KAFKA_SASL_USERNAME      Kafka user name (with the password; needs a SASL_* protocol)
    BRIDGE_KAFKA_SASL_PASSWORD      its password (never logged)

    The BRIDGE_KAFKA_* values apply to every Kafka client the bridge makes (producer,
    consumers, the admin client that creates topics, replay) and override the same
    properties in the file's [producer] and [consumer] tables. Credentials belong
    here, not in the file.

TRACES (OpenTelemetry's variables, as spinshop-host and Spin read them):
    OTEL_EXPORTER_OTLP_ENDPOINT     a collector's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318;
                                    set (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), spans are exported
    OTEL_EXPORTER_OTLP_PROTOCOL     http/protobuf (default) or http/json
    OTEL_SERVICE_NAME               the service spans are exported under [default: kafka-bridge]
    OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE and
    OTEL_SDK_DISABLED work as their specification says.

    Each event relayed from an outbox is a producer span (`send <topic>`) and each
    delivery to a component a consumer span (`process <topic>`), both children of the
    event's traceparent; the delivery span's context is the traceparent of the POST, so
    the component's request is its child. Spans are batched in the background; when
    the queue is full or the collector is down they are dropped and counted
    (bridge_otlp_spans_dropped_total), never waited for.
";

/// How long shutdown waits for in-flight work.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// How long shutdown waits for the last spans to reach the collector.
const TRACE_FLUSH_LIMIT: Duration = Duration::from_secs(5);

#[derive(Debug, Default, PartialEq)]
struct Args {
    config: Option<PathBuf>,
    brokers: Option<String>,
    platform_url: Option<String>,
    listen: Option<String>,
    topic_prefix: Option<String>,
    instance: Option<String>,
    redis_url: Option<String>,
    /// `replay`: the component, and optionally one of its topics.
    replay: bool,
    component: Option<String>,
    topic: Option<String>,
    dry_run: bool,
    help: bool,
}

fn parse_args(args: &[String]) -> Result<Args> {
    let mut out = Args::default();
    let mut it = args.iter().peekable();
    if it.peek().is_some_and(|a| *a == "replay") {
        out.replay = true;
        it.next();
    }
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            out.help = true;
            continue;
        }
        if flag == "--dry-run" && out.replay {
            out.dry_run = true;
            continue;
        }
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value"))?
            .clone();
        match flag.as_str() {
            "--config" => out.config = Some(PathBuf::from(value)),
            "--brokers" => out.brokers = Some(value),
            "--platform-url" => out.platform_url = Some(value),
            "--listen" => out.listen = Some(value),
            "--topic-prefix" => out.topic_prefix = Some(value),
            "--instance" => out.instance = Some(value),
            "--redis-url" => out.redis_url = Some(value),
            "--component" if out.replay => out.component = Some(value),
            "--topic" if out.replay => out.topic = Some(value),
            other => bail!("unknown option {other:?}"),
        }
    }
    if out.config.is_none() && !out.help {
        bail!("--config is required");
    }
    if out.replay && out.component.is_none() && !out.help {
        bail!("replay needs --component");
    }
    Ok(out)
}

fn load(args: &Args) -> Result<Config> {
    let path = args.config.as_deref().context("--config is required")?;
    let mut config = Config::load(path)?;
    if let Some(b) = &args.brokers {
        config.brokers = b.clone();
    }
    if let Some(u) = &args.platform_url {
        config.platform_url = u.clone();
    }
    if let Some(l) = &args.listen {
        config.listen = l
            .parse()
            .with_context(|| format!("--listen {l:?} is not an address like 127.0.0.1:9095"))?;
    }
    if let Some(p) = &args.topic_prefix {
        config.topic_prefix = p.clone();
    }
    if let Some(i) = &args.instance {
        config.instance = Some(i.clone());
    }
    if let Some(r) = &args.redis_url {
        config.redis_url = Some(r.clone());
    }
    config.check().context("after command-line overrides")?;
    config.connection = kafka::Connection::from_env()?;
    Ok(config)
}

fn producer(config: &Config) -> Result<FutureProducer> {
    kafka::client(
        config,
        &[
            ("client.id", "kafka-bridge"),
            ("enable.idempotence", "true"),
            ("acks", "all"),
            // A drain queues its whole batch at once, so batching needs no
            // wait; each millisecond here is a millisecond on every hop.
            ("linger.ms", "1"),
            ("message.timeout.ms", "30000"),
        ],
        Some(&config.producer),
    )
    .create()
    .context("creating the Kafka producer")
}

async fn run(config: Config, token: String) -> Result<()> {
    let config = Arc::new(config);
    let metrics = Arc::new(Metrics::default());
    let platform = Platform::new(&config.platform_url, token, config.delivery.timeout())?;
    let producer = producer(&config)?;
    let tracer = traces::tracer_from_env()?;
    let (stop_tx, stop) = watch::channel(false);

    let listener = server::bind(config.listen).await?;
    let state = Arc::new(server::State {
        tracer: tracer.clone(),
        metrics: metrics.clone(),
        producer: producer.clone(),
        platform: platform.clone(),
    });
    let server = tokio::spawn(server::serve(listener, state, stop.clone()));
    log::info(
        "started",
        &[
            ("listen", &config.listen.to_string()),
            ("brokers", &config.brokers),
            ("kafka_connection", &config.connection.describe()),
            ("platform", &config.platform_url),
        ],
    );

    // The broker may still be starting: keep trying until it takes the topics.
    let mut tries = 0u32;
    let mut stop_wait = stop.clone();
    loop {
        match admin::ensure_topics(&config).await {
            Ok(()) => break,
            Err(e) => {
                tries += 1;
                log::warn("topics not ready", &[("error", &format!("{e:#}"))]);
                tokio::select! {
                    _ = tokio::time::sleep(Backoff::new(250, 5_000).delay(tries)) => {}
                    _ = stop_wait.changed() => return Ok(()),
                    _ = shutdown_signal() => return Ok(()),
                }
            }
        }
    }

    let mut tasks = JoinSet::new();
    let wakers = wake::Wakers::new(config.publishers.iter().map(|p| p.component.as_str()));
    if let Some(url) = &config.redis_url {
        tasks.spawn(wake::listen(
            url.clone(),
            wakers.clone(),
            metrics.clone(),
            stop.clone(),
        ));
    }
    for p in &config.publishers {
        let relay = relay_out::Relay {
            component: p.component.clone(),
            platform: platform.clone(),
            producer: producer.clone(),
            policy: config.outbox.clone(),
            metrics: metrics.clone(),
            topic_prefix: config.topic_prefix.clone(),
            wake: wakers.of(&p.component),
            tracer: tracer.clone(),
        };
        tasks.spawn(relay_out::run(relay, stop.clone()));
    }
    for (component, subscriptions) in config.consumers() {
        let (config, platform, producer, metrics, tracer, stop) = (
            config.clone(),
            platform.clone(),
            producer.clone(),
            metrics.clone(),
            tracer.clone(),
            stop.clone(),
        );
        tasks.spawn(async move {
            if let Err(e) = relay_in::run(
                config,
                component.clone(),
                subscriptions,
                relay_in::Outlets {
                    platform,
                    producer,
                    metrics,
                    tracer,
                },
                stop,
            )
            .await
            {
                log::warn(
                    "consumer ended with an error",
                    &[("component", &component), ("error", &format!("{e:#}"))],
                );
            }
        });
    }
    for t in &config.ticks {
        tasks.spawn(tick_loop(
            t.component.clone(),
            Duration::from_millis(t.every_ms),
            platform.clone(),
            metrics.clone(),
            stop.clone(),
        ));
    }

    shutdown_signal().await;
    log::info("stopping: finishing in-flight work", &[]);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN_LIMIT, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        log::warn("in-flight work did not finish in time; abandoning it", &[]);
        tasks.shutdown().await;
    }
    let p = producer.clone();
    let _ = tokio::task::spawn_blocking(move || p.flush(Duration::from_secs(10))).await;
    let _ = server.await;
    tracer.shutdown(TRACE_FLUSH_LIMIT).await;
    log::info("stopped", &[]);
    Ok(())
}

async fn tick_loop(
    component: String,
    every: Duration,
    platform: Platform,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => return,
        }
        let outcome = match platform.tick(&component).await {
            Ok(s) if (200..300).contains(&s) => "ok".to_string(),
            Ok(s) => format!("status_{s}"),
            Err(e) => {
                log::warn(
                    "tick failed",
                    &[("component", &component), ("error", &format!("{e:#}"))],
                );
                "error".to_string()
            }
        };
        metrics.count(
            "bridge_ticks_total",
            &[("component", &component), ("outcome", &outcome)],
            1.0,
        );
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.help {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let config = match load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    if args.replay {
        let request = replay::Request {
            component: args.component.clone().unwrap_or_default(),
            topic: args.topic.clone(),
            dry_run: args.dry_run,
        };
        return match replay::run(&config, &request) {
            Ok(report) => {
                println!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let token = match std::env::var("BRIDGE_INTERNAL_TOKEN") {
        Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
        _ => {
            eprintln!("error: BRIDGE_INTERNAL_TOKEN is not set: the bridge needs the components' internal_token");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config, token)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Args> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse_args(&args)
    }

    #[test]
    fn arguments_parse_and_override() {
        let a =
            parse("--config b.toml --brokers k:1 --platform-url http://h:2 --listen 127.0.0.1:7")
                .expect("parses");
        assert_eq!(a.config, Some(PathBuf::from("b.toml")));
        assert_eq!(a.brokers.as_deref(), Some("k:1"));
        assert!(parse("").is_err(), "--config is required");
        assert!(parse("--config").is_err());
        assert!(parse("--config x --colour red").is_err());
        assert!(parse("--help").expect("help").help);
    }

    #[test]
    fn overrides_are_checked_like_the_file() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bridge.toml");
        let mut args = Args {
            config: Some(path),
            brokers: Some("127.0.0.1:1".into()),
            listen: Some("127.0.0.1:0".into()),
            ..Args::default()
        };
        let c = load(&args).expect("loads");
        assert_eq!(c.brokers, "127.0.0.1:1");
        args.platform_url = Some("nope".into());
        assert!(format!("{:#}", load(&args).expect_err("bad url")).contains("platform_url"));
        args.platform_url = None;
        args.listen = Some("everywhere".into());
        assert!(load(&args).is_err());
        args.listen = None;
        args.topic_prefix = Some("t9.".into());
        args.instance = Some("replica-2".into());
        let c = load(&args).expect("prefixed");
        assert_eq!(c.kafka_topic("orders.events"), "t9.orders.events");
        assert_eq!(c.instance_name(), "replica-2");
        args.instance = Some("not a name".into());
        assert!(load(&args).is_err());
    }

    #[test]
    fn replay_takes_a_component_and_optionally_a_topic() {
        let a =
            parse("replay --config b.toml --component inventory --topic catalog.events --dry-run")
                .expect("parses");
        assert!(a.replay && a.dry_run);
        assert_eq!(a.component.as_deref(), Some("inventory"));
        assert_eq!(a.topic.as_deref(), Some("catalog.events"));
        assert!(
            parse("replay --config b.toml").is_err(),
            "needs a component"
        );
        assert!(
            parse("--config b.toml --component inventory").is_err(),
            "replay only"
        );
        assert!(parse("--config b.toml --dry-run").is_err(), "replay only");
    }
}
