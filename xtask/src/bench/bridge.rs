//! `cargo xtask bench bridge`: events end to end through the broker and
//! `kafka-bridge`. Starts a private Redis, broker, host (the real
//! `spin.toml` application, on scratch databases) and bridge on free ports,
//! creates products through the catalog API from several clients at once,
//! and times until inventory has a stock record for every one of them: each
//! is a `catalog.product_created` event drained from the catalog's outbox,
//! produced to Kafka, consumed and posted to inventory. The bridge's own
//! relay latency comes from its `/metrics`. Figures go to
//! `bench/RESULTS.md`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context as _, Result};

use super::api::Admin;
use super::histogram::Histogram;
use super::results::{self, Machine};
use crate::compile;
use crate::net;
use crate::process::{self, Output, Service};
use crate::repo::{self, Repo};
use crate::secrets;
use crate::setup::{self, Prerequisite};
use crate::stack::{self, BridgeConfig, HostConfig};
use crate::tansu;

/// How many events to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeOptions {
    /// Products created, so `catalog.product_created` events relayed.
    pub events: u32,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        Self { events: 5000 }
    }
}

/// Concurrent API clients creating products.
const CLIENTS: usize = 8;
/// How often inventory is listed while waiting.
const POLL: Duration = Duration::from_millis(200);
/// The bridge's relay latency histogram.
pub(crate) const RELAY_LATENCY: &str = "bridge_relay_latency_seconds";
/// No rate limit to speak of for the bench's clients (all on one address).
pub(crate) const RATE_LIMIT: (&str, &str) = ("SPIN_VARIABLE_RATE_LIMIT_DEFAULT", "1000000/1000000");

/// Builds, starts the stack, runs the load, records the figures and stops
/// everything.
pub fn run(repo: &Repo, options: &BridgeOptions) -> Result<()> {
    setup::ensure(&[
        Prerequisite::WasmTarget,
        Prerequisite::RedisServer,
        Prerequisite::OpenSsl,
        Prerequisite::Broker,
    ])?;
    let tansu = tansu::required_binary()?;
    compile::everything(repo)?;
    stack::check_bridge_built(repo)?;

    let work_dir = repo.local("bench/bridge");
    let logs_dir = repo.local("logs");
    // Fresh databases and topics each run: inventory must hold only this
    // run's products.
    repo::recreate_dir(&work_dir)?;
    repo::create_dir(&logs_dir)?;
    let runtime_config = work_dir.join("runtime-config.toml");
    let source = fs::read_to_string(repo.root().join("runtime-config.toml"))
        .context("cannot read runtime-config.toml")?;
    fs::write(&runtime_config, scratch_runtime_config(&source)?)
        .with_context(|| format!("cannot write {}", runtime_config.display()))?;

    let redis_port = net::free_port()?;
    let kafka_port = net::free_port()?;
    let mut variables = secrets::local(repo)?;
    let internal_token = secrets::internal_token(&variables)?;
    variables.push((RATE_LIMIT.0.to_owned(), RATE_LIMIT.1.to_owned()));
    let host = HostConfig {
        manifest: repo.root().join("spin.toml"),
        runtime_config: Some(runtime_config),
        listen: net::loopback(net::free_port()?),
        metrics_listen: net::loopback(net::free_port()?),
        state_dir: work_dir.join("state"),
        redis: net::loopback(redis_port),
        output: Output::File(logs_dir.join("bench-bridge-host.log")),
        variables,
    };
    let bridge = BridgeConfig {
        config: repo.root().join("kafka-bridge/bridge.toml"),
        brokers: net::loopback(kafka_port),
        platform: host.listen,
        listen: net::loopback(net::free_port()?),
        internal_token,
        output: Output::File(logs_dir.join("bench-bridge.log")),
    };
    let kafka_dir = work_dir.join("kafka");

    process::catch_interrupts()?;
    // Declared in start order, so that an error drops (stops) users first.
    let _redis = stack::start_redis(
        redis_port,
        &work_dir.join("redis"),
        Output::File(logs_dir.join("bench-bridge-redis.log")),
    )?;
    let mut broker = stack::start_broker(
        &tansu,
        kafka_port,
        &kafka_dir,
        Output::File(logs_dir.join("bench-bridge-kafka.log")),
    )?;
    let (mut host_service, _) = stack::start_host(repo, &host, "/health")?;
    let mut bridge_service = stack::start_bridge(repo, &bridge)?;

    let admin = Admin::sign_in(host.listen)?;
    eprintln!(
        "\n==> creating {} products with {CLIENTS} clients; waiting for inventory to have them all",
        options.events
    );
    let timing = {
        let mut services = [&mut bridge_service, &mut host_service, &mut broker];
        measure(&admin, options.events as usize, &mut services)?
    };
    let metrics =
        net::get(bridge.listen, "/metrics").context("cannot read the bridge's metrics")?;
    let relay = Histogram::parse(&String::from_utf8_lossy(&metrics.body), RELAY_LATENCY);

    // A backlog: the same number of events queued in the catalog's outbox
    // while the bridge is down, then drained by a fresh bridge. This is the
    // relay's own throughput, without the API's creation rate in front.
    bridge_service.stop()?;
    eprintln!(
        "\n==> bridge stopped; queueing {} more events in the outbox",
        options.events
    );
    create_backlog(&admin, options.events as usize)?;
    let drain_started = Instant::now();
    let mut bridge_service = stack::start_bridge(repo, &bridge)?;
    let backlog = {
        let mut services = [&mut bridge_service, &mut host_service, &mut broker];
        wait_for_inventory(&admin, 2 * options.events as usize, &mut services)?;
        Backlog {
            events: options.events,
            drained: drain_started.elapsed(),
        }
    };

    let broker_command = tansu::broker_command(&tansu, net::loopback(kafka_port), &kafka_dir);
    let run = Run {
        when: SystemTime::now(),
        machine: Machine::describe(None),
        events: options.events,
        clients: CLIENTS,
        timing,
        relay,
        backlog: Some(backlog),
        commands: vec![
            format!("cargo xtask bench bridge --events {}", options.events),
            format!(
                "(cd {} && {})",
                repo.relative(&kafka_dir).display(),
                process::display(&broker_command)
            ),
            format!(
                "SPIN_VARIABLE_REDIS_HOST={} {}={} {}",
                host.redis,
                RATE_LIMIT.0,
                RATE_LIMIT.1,
                process::display(&host.command(repo))
            ),
            format!(
                "BRIDGE_INTERNAL_TOKEN=… {}",
                process::display(&bridge.command(repo))
            ),
        ],
    };
    bridge_service.stop()?;
    host_service.stop()?;
    broker.stop()?;

    let section = section(&run);
    let results_file = repo.root().join("bench/RESULTS.md");
    results::append(&results_file, &section)?;
    println!("{section}");
    println!("Appended to {}.", repo.relative(&results_file).display());
    Ok(())
}

/// Every SQLite database and key-value store of the app's runtime config,
/// as a file under `data/` next to the generated config (the host resolves
/// paths against the config's directory).
pub(crate) fn scratch_runtime_config(source: &str) -> Result<String> {
    let mut out = String::from(
        "# Generated by `cargo xtask bench bridge`: the stores of runtime-config.toml,\n\
         # on scratch files.\n",
    );
    for line in source.lines() {
        let line = line.trim();
        let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
            continue;
        };
        let (kind, label) = header
            .split_once('.')
            .with_context(|| format!("unexpected section {line} in runtime-config.toml"))?;
        let file = match kind {
            "sqlite_database" => format!("data/{label}.db"),
            "key_value_store" => format!("data/kv-{label}.db"),
            _ => bail!(
                "runtime-config.toml has a section {line} that `bench bridge` cannot move \
                 to scratch files; teach xtask/src/bench/bridge.rs about it"
            ),
        };
        let _ = writeln!(
            out,
            "\n[{kind}.{label}]\ntype = \"spin\"\npath = \"{file}\""
        );
    }
    Ok(out)
}

/// How long things took.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Timing {
    /// From the first request until every product was created.
    created: Duration,
    /// From the first request until inventory had every product.
    delivered: Duration,
}

/// Creates `events` products from [`CLIENTS`] threads while this thread
/// lists inventory until it has them all; fails if a service exits.
fn measure(admin: &Admin, events: usize, services: &mut [&mut Service]) -> Result<Timing> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let created_ids = Mutex::new(Vec::with_capacity(events));
    let deadline = Duration::from_secs(120) + Duration::from_millis(50) * events as u32;
    let started = Instant::now();
    // Each client: create products until there are `events`, then say when
    // it finished.
    let client = || -> Result<Duration> {
        loop {
            let n = next.fetch_add(1, Ordering::SeqCst);
            if n >= events {
                return Ok(started.elapsed());
            }
            if stop.load(Ordering::SeqCst) || process::interrupted() {
                // Another client's error, or the user's Ctrl-C, says why.
                return Ok(started.elapsed());
            }
            let created = admin.create_product(n);
            if created.is_err() {
                stop.store(true, Ordering::SeqCst);
            }
            created_ids
                .lock()
                .map_err(|_| anyhow!("a client panicked"))?
                .push(created?);
        }
    };
    let (created, delivered) = thread::scope(|scope| -> Result<(Duration, Duration)> {
        let mut clients: Vec<_> = (0..CLIENTS).map(|_| scope.spawn(client)).collect();
        let mut created = None;
        let mut last_report = Instant::now();
        let waited = (|| loop {
            if created.is_none() && clients.iter().all(|c| c.is_finished()) {
                let mut last = Duration::ZERO;
                for c in clients.drain(..) {
                    let finished = c.join().map_err(|_| anyhow!("a client panicked"))??;
                    last = last.max(finished);
                }
                created = Some(last);
            }
            if stop.load(Ordering::SeqCst) {
                // A client failed: the join above reports why.
                thread::sleep(POLL);
                continue;
            }
            let listed = admin.inventory_ids()?.len();
            if let Some(created) = created.filter(|_| listed >= events) {
                return Ok((created, started.elapsed()));
            }
            for service in services.iter_mut() {
                service.check_running()?;
            }
            if process::interrupted() {
                bail!("interrupted");
            }
            if started.elapsed() > deadline {
                bail!(
                    "inventory had {listed} of {events} products after {} s",
                    deadline.as_secs()
                );
            }
            if last_report.elapsed() >= Duration::from_secs(5) {
                eprintln!(
                    "{:>6.1} s: {} created, {listed} in inventory",
                    started.elapsed().as_secs_f64(),
                    next.load(Ordering::SeqCst).min(events)
                );
                last_report = Instant::now();
            }
            thread::sleep(POLL);
        })();
        // On any failure, clients still running stop at their next product.
        stop.store(true, Ordering::SeqCst);
        waited
    })?;
    let ids = created_ids
        .into_inner()
        .map_err(|_| anyhow!("a client panicked"))?;
    check_every_product(admin, &ids)?;
    Ok(Timing { created, delivered })
}

/// Creates `events` more products from [`CLIENTS`] threads, as fast as the
/// API takes them.
fn create_backlog(admin: &Admin, events: usize) -> Result<()> {
    let next = AtomicUsize::new(0);
    thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let n = next.fetch_add(1, Ordering::SeqCst);
                        if n >= events || process::interrupted() {
                            return Ok(());
                        }
                        admin.create_product(events + n)?;
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().map_err(|_| anyhow!("a client panicked"))??;
        }
        Ok(())
    })
}

/// Lists inventory until it has `events` products; fails if a service
/// exits or it takes unreasonably long.
fn wait_for_inventory(admin: &Admin, events: usize, services: &mut [&mut Service]) -> Result<()> {
    let deadline =
        Instant::now() + Duration::from_secs(120) + Duration::from_millis(20) * events as u32;
    loop {
        let listed = admin.inventory_ids()?.len();
        if listed >= events {
            return Ok(());
        }
        for service in services.iter_mut() {
            service.check_running()?;
        }
        if process::interrupted() {
            bail!("interrupted");
        }
        if Instant::now() > deadline {
            bail!("inventory had {listed} of {events} products in time");
        }
        thread::sleep(POLL / 4);
    }
}

/// A backlog drained by a freshly started bridge.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Backlog {
    events: u32,
    /// From starting the bridge until inventory had every product.
    drained: Duration,
}

/// Inventory lists exactly the products created, and answers for them one
/// by one (the first and the last are asked).
fn check_every_product(admin: &Admin, ids: &[String]) -> Result<()> {
    let listed: HashSet<String> = admin.inventory_ids()?.into_iter().collect();
    let missing = ids.iter().filter(|id| !listed.contains(*id)).count();
    if missing > 0 || listed.len() != ids.len() {
        bail!(
            "inventory lists {} products, {missing} of the {} created missing",
            listed.len(),
            ids.len()
        );
    }
    for id in [ids.first(), ids.last()].into_iter().flatten() {
        if !admin.stock_visible(id)? {
            bail!("GET /api/inventory/{id} did not answer 200 although inventory lists it");
        }
    }
    Ok(())
}

/// Everything a section shows.
#[derive(Debug, Clone)]
struct Run {
    when: SystemTime,
    machine: Machine,
    events: u32,
    clients: usize,
    timing: Timing,
    relay: Option<Histogram>,
    backlog: Option<Backlog>,
    commands: Vec<String>,
}

/// The Markdown section for one run.
fn section(run: &Run) -> String {
    let m = &run.machine;
    let t = &run.timing;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## {} · kafka-bridge\n",
        results::utc_minute(run.when)
    );
    let _ = writeln!(
        out,
        "- Machine: {}, nproc {}, {}",
        m.cpu_model, m.cpus, m.kernel
    );
    let _ = writeln!(out, "- Build: {}; commit {}", m.rustc, m.commit);
    let _ = writeln!(
        out,
        "- Broker: tansu {} (SQLite storage); the app is `spin.toml` on spinshop-host",
        tansu::VERSION
    );
    let _ = writeln!(
        out,
        "- Load: {} products created with `POST /api/catalog` by {} concurrent clients \
         (one connection per request); each is a `catalog.product_created` event that the \
         bridge relays from the catalog's outbox through Kafka to inventory\n",
        run.events, run.clients
    );
    out.push_str(
        "| events | all created after | all in inventory after | events/s end to end | relay p50 | relay p99 | relayed |\n",
    );
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|\n");
    let (p50, p99, relayed) = match &run.relay {
        Some(h) => (
            h.quantile(0.5).map_or_else(|| "-".to_owned(), millis),
            h.quantile(0.99).map_or_else(|| "-".to_owned(), millis),
            format!("{:.0}", h.count()),
        ),
        None => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
    };
    let _ = writeln!(
        out,
        "| {} | {:.2} s | {:.2} s | {:.0} | {p50} | {p99} | {relayed} |",
        run.events,
        t.created.as_secs_f64(),
        t.delivered.as_secs_f64(),
        f64::from(run.events) / t.delivered.as_secs_f64().max(f64::EPSILON),
    );
    out.push('\n');
    out.push_str(
        "End to end is from the first create request until a listing of \
         `GET /api/inventory` (polled every 200 ms) shows every product. ",
    );
    match &run.relay {
        Some(_) => {
            let _ = writeln!(
                out,
                "Relay p50/p99 are interpolated from the bridge's `{RELAY_LATENCY}` \
                 histogram, summed over its labels; relayed is its count: every delivery \
                 to a subscribed component, of these events and of those they cause."
            );
        }
        None => {
            let _ = writeln!(
                out,
                "Relay latency was not reported (no `{RELAY_LATENCY}` in the bridge's metrics)."
            );
        }
    }
    if let Some(b) = &run.backlog {
        let _ = writeln!(
            out,
            "\nBacklog: {} more events queued in the catalog's outbox while the bridge was \
             stopped were drained by a freshly started bridge (start-up included) into \
             inventory in {:.2} s: **{:.0} events/s** through outbox -> Kafka -> component.",
            b.events,
            b.drained.as_secs_f64(),
            f64::from(b.events) / b.drained.as_secs_f64().max(1e-9)
        );
    }
    out.push_str("\nCommands, from the repository root:\n\n```sh\n");
    for command in &run.commands {
        let _ = writeln!(out, "{command}");
    }
    out.push_str("```\n");
    out
}

pub(crate) fn millis(seconds: f64) -> String {
    format!("{:.2} ms", seconds * 1e3)
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn moves_every_store_to_scratch_files() -> Result<()> {
        let source = "# comment\n[sqlite_database.ops]\ntype = \"spin\"\npath = \".spinshop/data/ops.db\"\n\n[key_value_store.cache]\ntype = \"redis\"\nurl = \"redis://x\"\n";
        let text = scratch_runtime_config(source)?;
        assert!(
            text.contains("[sqlite_database.ops]\ntype = \"spin\"\npath = \"data/ops.db\"\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "[key_value_store.cache]\ntype = \"spin\"\npath = \"data/kv-cache.db\"\n"
            ),
            "{text}"
        );
        assert!(!text.contains(".spinshop/data"), "{text}");
        assert!(scratch_runtime_config("[llm_compute]\ntype = \"x\"\n").is_err());
        Ok(())
    }

    /// Just enough of the app for [`measure`]: products are in inventory
    /// as soon as they are created; creating number `fail_at` fails.
    fn fake_app(fail_at: usize) -> Result<std::net::SocketAddr> {
        use std::io::{Read as _, Write as _};
        use std::sync::Arc;

        let listener = std::net::TcpListener::bind(net::loopback(0))?;
        let addr = listener.local_addr()?;
        let products = Arc::new(Mutex::new(Vec::<String>::new()));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let products = Arc::clone(&products);
                thread::spawn(move || -> std::io::Result<()> {
                    let mut stream = stream;
                    let mut raw = Vec::new();
                    let mut buf = [0u8; 4096];
                    let head_end = loop {
                        let n = stream.read(&mut buf)?;
                        raw.extend_from_slice(&buf[..n]);
                        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at;
                        }
                        if n == 0 {
                            return Ok(());
                        }
                    };
                    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while raw.len() < head_end + 4 + length {
                        let n = stream.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        raw.extend_from_slice(&buf[..n]);
                    }
                    let request = head.lines().next().unwrap_or_default().to_owned();
                    let admin = head.contains("Authorization: Bearer token-1");
                    let mut products = products.lock().map_err(|_| std::io::ErrorKind::Other)?;
                    let (status, body) = match request.split(' ').take(2).collect::<Vec<_>>()[..] {
                        ["POST", "/api/auth/register"] => (201, "{}".to_owned()),
                        ["POST", "/api/auth/login"] => {
                            (200, r#"{"access_token":"token-1"}"#.to_owned())
                        }
                        ["POST", "/api/catalog"] if products.len() == fail_at => {
                            (500, r#"{"title":"broken"}"#.to_owned())
                        }
                        ["POST", "/api/catalog"] if admin => {
                            let id = format!("p{}", products.len());
                            products.push(id.clone());
                            (201, format!(r#"{{"brand":"b","id":"{id}"}}"#))
                        }
                        ["GET", "/api/inventory?limit=200"] if admin => {
                            let items: Vec<_> = products
                                .iter()
                                .map(|id| format!(r#"{{"available":10,"product_id":"{id}"}}"#))
                                .collect();
                            (
                                200,
                                format!(r#"{{"items":[{}],"next_cursor":null}}"#, items.join(",")),
                            )
                        }
                        ["GET", path] if admin && path.starts_with("/api/inventory/p") => {
                            (200, "{}".to_owned())
                        }
                        _ => (401, "{}".to_owned()),
                    };
                    drop(products);
                    write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                });
            }
        });
        Ok(addr)
    }

    #[test]
    fn measures_against_the_api() -> Result<()> {
        let admin = Admin::sign_in(fake_app(usize::MAX)?)?;
        let timing = measure(&admin, 40, &mut [])?;
        assert!(timing.created <= timing.delivered, "{timing:?}");
        Ok(())
    }

    #[test]
    fn a_failed_create_ends_the_run() -> Result<()> {
        let admin = Admin::sign_in(fake_app(10)?)?;
        let error = measure(&admin, 40, &mut []).err().context("should fail")?;
        let message = format!("{error:#}");
        assert!(
            message.contains("POST /api/catalog answered 500"),
            "{message}"
        );
        Ok(())
    }

    #[test]
    fn a_section_has_the_figures_and_commands() {
        let metrics = "bridge_relay_latency_seconds_bucket{le=\"0.01\"} 2500\nbridge_relay_latency_seconds_bucket{le=\"0.1\"} 5000\nbridge_relay_latency_seconds_bucket{le=\"+Inf\"} 5000\n";
        let run = Run {
            when: UNIX_EPOCH + Duration::from_secs(1_776_693_780),
            machine: Machine {
                cpus: "2".into(),
                cpu_model: "AMD EPYC 7B13".into(),
                kernel: "Linux 6.1.0".into(),
                rustc: "rustc 1.95.0".into(),
                wrk: "unknown".into(),
                commit: "0123456789ab".into(),
            },
            events: 5000,
            clients: 8,
            timing: Timing {
                created: Duration::from_millis(8_000),
                delivered: Duration::from_millis(10_000),
            },
            relay: Histogram::parse(metrics, RELAY_LATENCY),
            backlog: Some(Backlog {
                events: 5000,
                drained: Duration::from_millis(2_500),
            }),
            commands: vec!["cargo xtask bench bridge --events 5000".into()],
        };
        let text = section(&run);
        assert!(
            text.contains("## 2026-04-20 14:03 UTC · kafka-bridge"),
            "{text}"
        );
        assert!(
            text.contains("| 5000 | 8.00 s | 10.00 s | 500 | 10.00 ms | 98.20 ms | 5000 |"),
            "{text}"
        );
        assert!(
            text.contains("```sh\ncargo xtask bench bridge --events 5000\n```"),
            "{text}"
        );
        assert!(text.contains("in 2.50 s: **2000 events/s**"), "{text}");
        let without = Run { relay: None, ..run };
        assert!(section(&without).contains("| 500 | - | - | - |"));
    }
}
