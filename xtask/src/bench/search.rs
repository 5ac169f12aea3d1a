//! `cargo xtask bench search`: the search read model at catalog sizes of
//! 10,000 and 100,000 products. On the private stack (the real `spin.toml`
//! app, its bridge and broker), the synthetic catalog of [`corpus`] is fed
//! to search the way the bridge delivers catalog events (batches to
//! `/internal/search/events`; catalog writes of that many products would
//! time the catalog, not search), then wrk loads random searches and
//! suggestions at 16 connections, the index's size is read off disk, and
//! freshness is timed on real catalog writes: `POST /api/catalog` answered
//! -> the product found by `GET /api/search`.

use std::fmt::Write as _;
use std::fs;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::app_stack::AppStack;
use super::client::{ms, quantile, Api};
use super::corpus::{self, Seeded};
use super::load::open_loop;
use super::results::{self, Machine};
use super::wrk::{self, Report};
use super::BenchOptions;
use crate::process;
use crate::repo::Repo;
use crate::setup::{self, Prerequisite};

/// Events per delivery, as the bridge batches them (`batch = 100` is the
/// bridge's setting; a larger batch only makes seeding quicker).
const SEED_BATCH: usize = 500;
/// Distinct paths in each wrk script.
const PATHS: usize = 2_000;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchOptions {
    /// Catalog sizes, ascending; each seeds the products it lacks.
    pub sizes: Vec<u32>,
    /// wrk's duration per scenario.
    pub duration: String,
    pub connections: u32,
    /// Catalog writes timed for freshness, at 10/s.
    pub fresh: u32,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            sizes: vec![10_000, 100_000],
            duration: "10s".into(),
            connections: 16,
            fresh: 100,
        }
    }
}

/// The figures at one catalog size.
#[derive(Debug)]
struct Size {
    products: u32,
    seed_secs: f64,
    search: Report,
    suggest: Report,
    index_bytes: u64,
    fresh: Vec<Duration>,
    commands: Vec<String>,
}

/// Starts the stack, measures every size, records them.
pub fn run(repo: &Repo, options: &SearchOptions) -> Result<()> {
    setup::ensure(&[Prerequisite::LoadGenerator])?;
    let mut stack = AppStack::start(repo, "search")?;
    let addr = stack.app.host.addr;
    let api = Api::new(addr)?;
    let token = stack.app.spec.internal_token.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("async runtime")?;
    let admin = runtime.block_on(api.sign_in_admin(&stack.admin_bootstrap_token))?;
    let work = repo.local("bench/search");
    let mut rng = Seeded::new(20_261_207);
    let mut seeded = 0u32;
    let mut sizes = Vec::new();
    for &size in &options.sizes {
        eprintln!(
            "\n==> seeding search with {} more products",
            size.saturating_sub(seeded)
        );
        let started = Instant::now();
        runtime.block_on(seed(&api, &token, seeded, size, &mut rng))?;
        seeded = size.max(seeded);
        let seed_secs = started.elapsed().as_secs_f64();
        let mut commands = Vec::new();
        let mut load = |name: &str, paths: Vec<String>| -> Result<Report> {
            let script = work.join(format!("{name}-{size}.lua"));
            fs::write(&script, corpus::wrk_script(&paths))
                .with_context(|| format!("cannot write {}", script.display()))?;
            let wrk_options = BenchOptions {
                duration: options.duration.clone(),
                connections: options.connections,
                threads: 2,
            };
            let mut command = wrk::command(&wrk_options, Some(&script), &format!("http://{addr}/"));
            commands.push(process::display(&command));
            let report = wrk::run(&mut command)?;
            if report.bad_responses + report.socket_errors > 0 {
                bail!("{name} at {size} products: {report:?}");
            }
            Ok(report)
        };
        eprintln!("\n==> searches at {size} products");
        let search = load("search", corpus::search_paths(PATHS, &mut rng))?;
        eprintln!("\n==> suggestions at {size} products");
        let suggest = load("suggest", corpus::suggest_paths(PATHS, &mut rng))?;
        let index_bytes = ["data/search.db", "data/search.db-wal"]
            .iter()
            .filter_map(|f| fs::metadata(work.join(f)).ok())
            .map(|m| m.len())
            .sum();
        eprintln!("\n==> freshness: {} catalog writes at 10/s", options.fresh);
        let fresh = runtime.block_on(freshness(&api, &admin, size, options.fresh))?;
        sizes.push(Size {
            products: size,
            seed_secs,
            search,
            suggest,
            index_bytes,
            fresh,
            commands,
        });
    }
    let first = format!(
        "cargo xtask bench search --products {} --duration {} --connections {} --fresh {}",
        options
            .sizes
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
        options.duration,
        options.connections,
        options.fresh
    );
    let commands = stack.commands(first);
    stack.stop()?;
    let section = section(&sizes, &commands);
    let results_file = repo.root().join("bench/RESULTS.md");
    results::append(&results_file, &section)?;
    println!("{section}");
    println!("Appended to {}.", repo.relative(&results_file).display());
    Ok(())
}

/// Delivers `catalog.product_created` for products `from..to` to search.
async fn seed(api: &Api, token: &str, from: u32, to: u32, rng: &mut Seeded) -> Result<()> {
    let mut n = u64::from(from);
    while n < u64::from(to) {
        let end = (n + SEED_BATCH as u64).min(u64::from(to));
        let events: Vec<Value> = (n..end)
            .map(|i| {
                let payload = corpus::product(i, rng);
                json!({
                    "id": format!("bench-seed-{i}"),
                    "type": "catalog.product_created",
                    "topic": "catalog.events",
                    "key": payload["product_id"],
                    "occurred_at": "2026-12-07T00:00:00.000Z",
                    "correlation_id": format!("bench-seed-{i}"),
                    "payload": payload.to_string(),
                })
            })
            .collect();
        api.internal(
            token,
            "/internal/search/events",
            &json!({ "events": events }),
        )
        .await
        .with_context(|| format!("seeding products {n}..{end}"))?;
        n = end;
    }
    Ok(())
}

/// Creates `count` products through the catalog at 10/s and times each
/// from the catalog's answer until search finds it.
async fn freshness(api: &Api, admin: &str, size: u32, count: u32) -> Result<Vec<Duration>> {
    let calls = open_loop(10.0, count as usize, |i| {
        let (api, admin) = (api.clone(), admin.to_owned());
        async move {
            let word = format!("fresh{size}x{i}");
            api.create_product(&admin, &word, 10).await?;
            let created = Instant::now();
            let deadline = created + Duration::from_secs(60);
            loop {
                let found = api
                    .expect(
                        reqwest::Method::GET,
                        &format!("/api/search?q={word}&limit=1"),
                        None,
                        None,
                    )
                    .await?;
                if found["total"] == 1 {
                    return Ok::<_, anyhow::Error>(created.elapsed());
                }
                if Instant::now() > deadline {
                    bail!("{word} never reached search");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    })
    .await;
    let mut out = calls
        .into_iter()
        .map(|c| c.result)
        .collect::<Result<Vec<_>>>()?;
    out.sort_unstable();
    Ok(out)
}

fn section(sizes: &[Size], commands: &[String]) -> String {
    let m = Machine::describe(wrk::version());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Search: {} ({})\n",
        results::utc_minute(SystemTime::now()),
        m.commit
    );
    let _ = writeln!(
        out,
        "- Machine: {}, nproc {}, {}; the app is `spin.toml` on spinshop-host with its bridge and \
         broker; wrk ({}) shares the machine",
        m.cpu_model, m.cpus, m.kernel, m.wrk
    );
    let _ = writeln!(
        out,
        "\n| products | seeded in | search req/s | search p50 | search p99 | suggest req/s | suggest p50 | suggest p99 | index on disk | fresh p50 | fresh p99 |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for s in sizes {
        let _ = writeln!(
            out,
            "| {} | {:.1} s | {:.0} | {:.2} ms | {:.2} ms | {:.0} | {:.2} ms | {:.2} ms | {:.1} MiB | {} ms | {} ms |",
            s.products,
            s.seed_secs,
            s.search.requests_per_sec,
            s.search.p50.as_secs_f64() * 1000.0,
            s.search.p99.as_secs_f64() * 1000.0,
            s.suggest.requests_per_sec,
            s.suggest.p50.as_secs_f64() * 1000.0,
            s.suggest.p99.as_secs_f64() * 1000.0,
            s.index_bytes as f64 / 1_048_576.0,
            ms(quantile(&s.fresh, 0.5)),
            ms(quantile(&s.fresh, 0.99)),
        );
    }
    let _ = writeln!(out, "\nCommands:\n");
    for c in commands {
        let _ = writeln!(out, "    {c}");
    }
    for s in sizes {
        for c in &s.commands {
            let _ = writeln!(out, "    {c}");
        }
    }
    out
}
