//! `cargo xtask bench bridge`: events through the real plumbing, catalog
//! outbox -> kafka-bridge -> Kafka -> kafka-bridge -> inventory, measured
//! two ways: a steady stream of product creations at a fixed rate (the
//! relay hop's latency, outbox row committed -> subscriber 2xx, from the
//! bridge's histogram), and a backlog (the outbox filled while the bridge
//! is down, then drained by a fresh bridge: events/s).

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context as _, Result};
use futures::StreamExt as _;

use super::app_stack::AppStack;
use super::client::{ms, quantile, Api};
use super::histogram::Histogram;
use super::load::open_loop;
use super::results::{self, Machine};
use crate::repo::Repo;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeOptions {
    /// Events queued for the backlog drain.
    pub events: u32,
    /// Product creations per second in the steady stream.
    pub rate: u32,
    /// How long the steady stream runs.
    pub seconds: u32,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        Self {
            events: 5000,
            rate: 100,
            seconds: 15,
        }
    }
}

pub(crate) const RELAY_LATENCY: &str = "bridge_relay_latency_seconds";
/// No rate limit to speak of for the bench's clients (all on one address).
pub(crate) const RATE_LIMIT: (&str, &str) = ("SPIN_VARIABLE_RATE_LIMIT_DEFAULT", "1000000/1000000");
/// The one hop measured: the catalog's events reaching inventory.
const HOP: &str = "topic=\"catalog.events\",component=\"inventory\"";
/// Requests in flight while the backlog is queued.
const QUEUEING: usize = 16;

/// The steady stream's figures.
#[derive(Debug, Clone)]
struct Stream {
    created: usize,
    /// The relay hop over the stream.
    hop: Option<Histogram>,
    /// `POST /api/catalog` answer times, sorted.
    post: Vec<Duration>,
    late: Duration,
}

/// The backlog's figures.
#[derive(Debug, Clone, Copy)]
struct Backlog {
    events: u32,
    /// From starting the bridge until the last event reached inventory.
    from_start: Duration,
    /// From the first delivery until the last.
    from_first: Duration,
}

/// Builds, starts the stack, runs both measurements, records them.
pub fn run(repo: &Repo, options: &BridgeOptions) -> Result<()> {
    let mut stack = AppStack::start(repo, "bridge")?;
    let api = Api::new(stack.app.host.addr)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("async runtime")?;
    let admin = runtime.block_on(api.sign_in_admin(&stack.admin_bootstrap_token))?;
    let bridge_metrics = |addr: std::net::SocketAddr| {
        runtime.block_on(async move {
            Ok::<_, anyhow::Error>(
                reqwest::get(format!("http://{addr}/metrics"))
                    .await?
                    .text()
                    .await?,
            )
        })
    };

    eprintln!(
        "\n==> steady stream: {} products/s for {} s",
        options.rate, options.seconds
    );
    let before = bridge_metrics(stack.app.bridge.addr)?;
    let stream = runtime.block_on(steady(&api, &admin, options))?;
    // Let the last events land before reading the histogram.
    runtime.block_on(wait_delivered(
        stack.app.bridge.addr,
        delivered(&before) + stream.created as f64,
    ))?;
    let after = bridge_metrics(stack.app.bridge.addr)?;
    let hop = Histogram::parse_matching(&after, RELAY_LATENCY, HOP)
        .map(|h| h.since(Histogram::parse_matching(&before, RELAY_LATENCY, HOP).as_ref()));
    let stream = Stream { hop, ..stream };

    eprintln!(
        "\n==> backlog: bridge stopped; queueing {} events in the catalog's outbox",
        options.events
    );
    stack.app.bridge.terminate();
    runtime.block_on(queue(&api, &admin, options.events as usize))?;
    let started = Instant::now();
    stack.app.bridge.restart();
    let addr = stack.app.bridge.addr;
    let (first, last) = runtime.block_on(async {
        let mut first = None;
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let text = reqwest::get(format!("http://{addr}/metrics"))
                .await?
                .text()
                .await?;
            let n = delivered(&text);
            if first.is_none() && n > 0.0 {
                first = Some(Instant::now());
            }
            if n >= f64::from(options.events) {
                return Ok::<_, anyhow::Error>((
                    first.unwrap_or_else(Instant::now),
                    Instant::now(),
                ));
            }
            if Instant::now() > deadline {
                bail!(
                    "only {n} of {} events drained in ten minutes",
                    options.events
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })?;
    let backlog = Backlog {
        events: options.events,
        from_start: last.duration_since(started),
        from_first: last.duration_since(first),
    };
    let commands = stack.commands(format!(
        "cargo xtask bench bridge --events {} --rate {} --seconds {}",
        options.events, options.rate, options.seconds
    ));
    stack.stop()?;

    let section = section(&stream, &backlog, options, &commands);
    let results_file = repo.root().join("bench/RESULTS.md");
    results::append(&results_file, &section)?;
    println!("{section}");
    println!("Appended to {}.", repo.relative(&results_file).display());
    Ok(())
}

/// Catalog events inventory has taken, per the bridge (this bridge
/// process: a restarted bridge counts from zero).
fn delivered(metrics: &str) -> f64 {
    spinshop_testkit::metric_sum(metrics, "bridge_delivered_total", HOP)
}

async fn wait_delivered(addr: std::net::SocketAddr, target: f64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = reqwest::get(format!("http://{addr}/metrics"))
            .await?
            .text()
            .await?;
        if delivered(&text) >= target {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the stream's events did not all reach inventory in two minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn steady(api: &Api, admin: &str, options: &BridgeOptions) -> Result<Stream> {
    let count = (options.rate * options.seconds) as usize;
    let calls = open_loop(f64::from(options.rate), count, |i| {
        let (api, admin) = (api.clone(), admin.to_owned());
        async move { api.create_product(&admin, &format!("Stream {i}"), 10).await }
    })
    .await;
    let mut post = Vec::with_capacity(count);
    let mut late = Duration::ZERO;
    let mut created = 0;
    for call in calls {
        late = late.max(call.late);
        post.push(call.took);
        call.result?;
        created += 1;
    }
    post.sort_unstable();
    Ok(Stream {
        created,
        hop: None,
        post,
        late,
    })
}

async fn queue(api: &Api, admin: &str, events: usize) -> Result<()> {
    let mut creations = futures::stream::iter(0..events)
        .map(|i| {
            let (api, admin) = (api.clone(), admin.to_owned());
            async move {
                api.create_product(&admin, &format!("Backlog {i}"), 10)
                    .await
            }
        })
        .buffer_unordered(QUEUEING);
    while let Some(made) = creations.next().await {
        made?;
    }
    Ok(())
}

/// Seconds as milliseconds with one decimal.
pub(crate) fn millis(seconds: f64) -> String {
    format!("{:.1}", seconds * 1000.0)
}

fn section(
    stream: &Stream,
    backlog: &Backlog,
    options: &BridgeOptions,
    commands: &[String],
) -> String {
    let m = Machine::describe(None);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Bridge: {} ({})\n",
        results::utc_minute(SystemTime::now()),
        m.commit
    );
    let _ = writeln!(
        out,
        "- Machine: {}, nproc {}, {}",
        m.cpu_model, m.cpus, m.kernel
    );
    let _ = writeln!(
        out,
        "- Broker: Apache Kafka {} (KRaft, one node); the app is `spin.toml` on spinshop-host; \
         host, Redis, Kafka, the bridge and the load generator share the machine",
        super::kafka_version()
    );
    let hop = stream.hop.as_ref();
    let q = |x: f64| {
        hop.and_then(|h| h.quantile(x))
            .map_or("-".to_owned(), millis)
    };
    let _ = writeln!(
        out,
        "- Steady stream: {} products created at {}/s (open loop, {} s); relay hop catalog \
         outbox -> Kafka -> inventory 2xx: p50 {} ms, p99 {} ms over {} deliveries; \
         `POST /api/catalog` p50 {} ms, p99 {} ms; load generator lag max {} ms",
        stream.created,
        options.rate,
        options.seconds,
        q(0.5),
        q(0.99),
        hop.map_or(0.0, Histogram::count),
        ms(quantile(&stream.post, 0.5)),
        ms(quantile(&stream.post, 0.99)),
        ms(Some(stream.late))
    );
    let per_second = |d: Duration| f64::from(backlog.events) / d.as_secs_f64().max(1e-9);
    let _ = writeln!(
        out,
        "- Backlog: {} events queued in the catalog's outbox with the bridge down, drained by a \
         fresh bridge to inventory: {:.0} events/s from its start ({:.2} s, group join included), \
         {:.0} events/s from its first delivery ({:.2} s)",
        backlog.events,
        per_second(backlog.from_start),
        backlog.from_start.as_secs_f64(),
        per_second(backlog.from_first),
        backlog.from_first.as_secs_f64()
    );
    let _ = writeln!(out, "\nCommands:\n");
    for c in commands {
        let _ = writeln!(out, "    {c}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_has_the_figures_and_commands() {
        let metrics = "bridge_relay_latency_seconds_bucket{topic=\"catalog.events\",component=\"inventory\",le=\"0.01\"} 9\n\
                       bridge_relay_latency_seconds_bucket{topic=\"catalog.events\",component=\"inventory\",le=\"+Inf\"} 10\n";
        let stream = Stream {
            created: 10,
            hop: Histogram::parse_matching(metrics, RELAY_LATENCY, HOP),
            post: vec![Duration::from_millis(4)],
            late: Duration::from_millis(1),
        };
        let backlog = Backlog {
            events: 5000,
            from_start: Duration::from_secs(2),
            from_first: Duration::from_secs(1),
        };
        let text = section(
            &stream,
            &backlog,
            &BridgeOptions::default(),
            &["cargo xtask bench bridge".to_owned()],
        );
        assert!(text.contains("over 10 deliveries"), "{text}");
        assert!(text.contains("2500 events/s from its start"), "{text}");
        assert!(
            text.contains("5000 events/s from its first delivery"),
            "{text}"
        );
        assert!(text.contains("    cargo xtask bench bridge"));
    }

    #[test]
    fn delivered_counts_only_the_measured_hop() {
        let metrics =
            "bridge_delivered_total{topic=\"catalog.events\",component=\"inventory\"} 7\n\
                       bridge_delivered_total{topic=\"catalog.events\",component=\"audit\"} 9\n";
        assert_eq!(delivered(metrics), 7.0);
    }
}
