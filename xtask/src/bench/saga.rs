//! `cargo xtask bench saga`: orders placed at fixed arrival rates (open
//! loop) through `POST /api/orders`, each run through its saga (reserve ->
//! charge -> confirm) over Kafka and the bridge. Per rate: placed ->
//! CONFIRMED p50/p99/max (the order's own `created_at` and `updated_at`,
//! stamped by the orders component), the answer time of the POST, and
//! whether the rate was sustained (every order confirmed, p99 within the
//! target, the load generator on schedule).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context as _, Result};
use reqwest::Method;
use serde_json::{json, Value};

use super::app_stack::AppStack;
use super::client::{epoch_ms, ms, quantile, Api};
use super::histogram::Histogram;
use super::load::open_loop;
use super::results::{self, Machine};
use crate::repo::Repo;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaOptions {
    /// Arrival rates (orders/s), each run in turn.
    pub rates: Vec<u32>,
    /// How long each rate runs.
    pub seconds: u32,
}

impl Default for SagaOptions {
    fn default() -> Self {
        Self {
            rates: vec![25, 50, 100, 150],
            seconds: 15,
        }
    }
}

/// The latency a sustained rate must keep (p99, placed -> CONFIRMED).
pub const TARGET_P99: Duration = Duration::from_millis(250);
/// Customers taking turns placing orders.
const CUSTOMERS: usize = 20;

/// One rate's figures.
#[derive(Debug, Clone)]
struct Phase {
    rate: u32,
    placed: usize,
    refused: BTreeMap<u16, usize>,
    confirmed: usize,
    cancelled: BTreeMap<String, usize>,
    /// placed -> CONFIRMED, sorted.
    saga: Vec<Duration>,
    /// The POST's answer time, sorted.
    post: Vec<Duration>,
    /// The load generator's worst lag behind its schedule.
    late: Duration,
    /// From the first order to none pending.
    settled: Duration,
}

impl Phase {
    fn sustained(&self) -> bool {
        self.refused.is_empty()
            && self.cancelled.is_empty()
            && self.confirmed == self.placed
            && self.late < Duration::from_millis(100)
            && quantile(&self.saga, 0.99).is_some_and(|p99| p99 <= TARGET_P99)
    }
}

/// Builds, starts the stack, runs each rate, records the figures and
/// stops everything.
pub fn run(repo: &Repo, options: &SagaOptions) -> Result<()> {
    let mut stack = AppStack::start(repo, "saga")?;
    let api = Api::new(stack.app.host.addr)?;
    let bridge = stack.app.bridge.addr;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("async runtime")?;
    let outcome = runtime.block_on(async {
        let admin = api.sign_in_admin(&stack.admin_bootstrap_token).await?;
        let mut customers = Vec::with_capacity(CUSTOMERS);
        for n in 0..CUSTOMERS {
            customers.push(
                api.sign_in(&format!("bench-customer-{n}@example.com"))
                    .await?,
            );
        }
        let total: u64 = options
            .rates
            .iter()
            .map(|r| u64::from(*r) * u64::from(options.seconds))
            .sum();
        let product = api.create_product(&admin, "Saga bench", total * 2).await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while !api.stock_visible(&product).await? {
            if Instant::now() > deadline {
                bail!("the product's stock never reached inventory");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut phases = Vec::new();
        for &rate in &options.rates {
            eprintln!("\n==> {rate} orders/s for {} s", options.seconds);
            let phase = phase(&api, &admin, &customers, &product, rate, options.seconds).await?;
            eprintln!(
                "    {} placed, {} confirmed; placed -> CONFIRMED p50 {} ms, p99 {} ms",
                phase.placed,
                phase.confirmed,
                ms(quantile(&phase.saga, 0.5)),
                ms(quantile(&phase.saga, 0.99))
            );
            phases.push(phase);
        }
        let metrics = reqwest::get(format!("http://{bridge}/metrics"))
            .await?
            .text()
            .await?;
        Ok::<_, anyhow::Error>((phases, metrics))
    });
    let commands = stack.commands(format!(
        "cargo xtask bench saga --rate {} --seconds {}",
        options
            .rates
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
        options.seconds
    ));
    stack.stop()?;
    let (phases, metrics) = outcome?;
    let section = section(&phases, &metrics, options, &commands);
    let results_file = repo.root().join("bench/RESULTS.md");
    results::append(&results_file, &section)?;
    println!("{section}");
    println!("Appended to {}.", repo.relative(&results_file).display());
    Ok(())
}

/// Places `rate * seconds` orders at `rate`/s, waits until none is
/// pending, and reads back how each ended.
async fn phase(
    api: &Api,
    admin: &str,
    customers: &[String],
    product: &str,
    rate: u32,
    seconds: u32,
) -> Result<Phase> {
    let count = (rate * seconds) as usize;
    let started = Instant::now();
    let calls = open_loop(f64::from(rate), count, |i| {
        let api = api.clone();
        let token = customers[i % customers.len()].clone();
        let body = json!({"items": [{"product_id": product, "quantity": 1}]});
        async move {
            api.call(Method::POST, "/api/orders", Some(&token), Some(&body))
                .await
        }
    })
    .await;
    let mut ids = Vec::with_capacity(count);
    let mut refused = BTreeMap::new();
    let mut post = Vec::with_capacity(count);
    let mut late = Duration::ZERO;
    for call in calls {
        late = late.max(call.late);
        post.push(call.took);
        match call.result {
            Ok((202, order)) => ids.push(
                order["id"]
                    .as_str()
                    .map(str::to_owned)
                    .with_context(|| format!("no id in {order}"))?,
            ),
            Ok((status, _)) => *refused.entry(status).or_insert(0) += 1,
            Err(_) => *refused.entry(0).or_insert(0) += 1,
        }
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    while api.any("/api/orders?status=PENDING&limit=1", admin).await? {
        if Instant::now() > deadline {
            bail!("orders were still PENDING three minutes after the last was placed");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let settled = started.elapsed();
    let mine: HashMap<&str, ()> = ids.iter().map(|id| (id.as_str(), ())).collect();
    let mut saga = Vec::with_capacity(ids.len());
    let mut cancelled = BTreeMap::new();
    let mut confirmed = 0;
    for status in ["CONFIRMED", "CANCELLED"] {
        for order in api
            .all(&format!("/api/orders?status={status}"), admin)
            .await?
        {
            if !mine.contains_key(order["id"].as_str().unwrap_or_default()) {
                continue;
            }
            if status == "CANCELLED" {
                let reason = order["reason"].as_str().unwrap_or("unknown").to_owned();
                *cancelled.entry(reason).or_insert(0) += 1;
                continue;
            }
            confirmed += 1;
            if let Some(d) = confirmation_time(&order) {
                saga.push(d);
            }
        }
    }
    saga.sort_unstable();
    post.sort_unstable();
    Ok(Phase {
        rate,
        placed: ids.len(),
        refused,
        confirmed,
        cancelled,
        saga,
        post,
        late,
        settled,
    })
}

/// `updated_at - created_at` of a CONFIRMED order: placed -> confirmed.
fn confirmation_time(order: &Value) -> Option<Duration> {
    let created = epoch_ms(order["created_at"].as_str()?)?;
    let updated = epoch_ms(order["updated_at"].as_str()?)?;
    u64::try_from(updated - created)
        .ok()
        .map(Duration::from_millis)
}

fn section(phases: &[Phase], metrics: &str, options: &SagaOptions, commands: &[String]) -> String {
    let m = Machine::describe(None);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Saga, open loop: {} ({})\n",
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
    let _ = writeln!(
        out,
        "- Load: orders of one unit of one product arriving at a fixed rate (open loop) for {} s \
         per rate from {CUSTOMERS} customers; placed -> CONFIRMED is the order's `updated_at - \
         created_at` (ms resolution)\n",
        options.seconds
    );
    let _ = writeln!(
        out,
        "| rate (orders/s) | placed | confirmed | cancelled | refused | placed -> CONFIRMED p50 / p99 / max (ms) | POST p50 / p99 (ms) | load lag max (ms) | sustained (p99 <= {} ms) |",
        TARGET_P99.as_millis()
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for p in phases {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} / {} / {} | {} / {} | {} | {} |",
            p.rate,
            p.placed,
            p.confirmed,
            p.cancelled.values().sum::<usize>(),
            p.refused.values().sum::<usize>(),
            ms(quantile(&p.saga, 0.5)),
            ms(quantile(&p.saga, 0.99)),
            ms(p.saga.last().copied()),
            ms(quantile(&p.post, 0.5)),
            ms(quantile(&p.post, 0.99)),
            ms(Some(p.late)),
            if p.sustained() { "yes" } else { "no" }
        );
    }
    let best = phases
        .iter()
        .filter(|p| p.sustained())
        .map(|p| p.rate)
        .max();
    let _ = writeln!(
        out,
        "\nHighest rate sustained with p99 <= {} ms: {}",
        TARGET_P99.as_millis(),
        best.map_or_else(
            || "none of those tried".to_owned(),
            |r| format!("{r} orders/s")
        )
    );
    for p in phases {
        if !p.cancelled.is_empty() || !p.refused.is_empty() {
            let _ = writeln!(
                out,
                "- at {}/s: cancelled {:?}, refused by status {:?}; settled {:.1} s after the first order",
                p.rate,
                p.cancelled,
                p.refused,
                p.settled.as_secs_f64()
            );
        }
    }
    if let Some(h) = Histogram::parse(metrics, super::bridge::RELAY_LATENCY) {
        let _ = writeln!(
            out,
            "- Relay hop (outbox row committed -> subscriber 2xx), every topic over the whole run: \
             p50 {} ms, p99 {} ms over {} deliveries",
            super::bridge::millis(h.quantile(0.5).unwrap_or_default()),
            super::bridge::millis(h.quantile(0.99).unwrap_or_default()),
            h.count()
        );
    }
    let _ = writeln!(out, "\nCommands:\n");
    for c in commands {
        let _ = writeln!(out, "    {c}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(saga_ms: &[u64], cancelled: usize) -> Phase {
        let mut c = BTreeMap::new();
        if cancelled > 0 {
            c.insert("out_of_stock".to_owned(), cancelled);
        }
        Phase {
            rate: 100,
            placed: saga_ms.len() + cancelled,
            refused: BTreeMap::new(),
            confirmed: saga_ms.len(),
            cancelled: c,
            saga: saga_ms.iter().map(|m| Duration::from_millis(*m)).collect(),
            post: vec![Duration::from_millis(5)],
            late: Duration::from_millis(1),
            settled: Duration::from_secs(16),
        }
    }

    #[test]
    fn a_rate_is_sustained_only_when_every_order_confirms_in_time() {
        assert!(phase(&[50, 80, 120, 240], 0).sustained());
        assert!(
            !phase(&[50, 80, 120, 400], 0).sustained(),
            "p99 over target"
        );
        assert!(!phase(&[50, 80], 1).sustained(), "a cancelled order");
        assert!(!phase(&[], 0).sustained(), "nothing measured");
    }

    #[test]
    fn confirmation_time_is_updated_minus_created() {
        let order = json!({"created_at": "2026-11-30T10:00:00.100Z",
            "updated_at": "2026-11-30T10:00:00.250Z"});
        assert_eq!(confirmation_time(&order), Some(Duration::from_millis(150)));
        assert_eq!(confirmation_time(&json!({})), None);
    }

    #[test]
    fn a_section_has_the_table_and_the_verdict() {
        let text = section(
            &[phase(&[40, 60, 90], 0), phase(&[300, 500], 0)],
            "",
            &SagaOptions::default(),
            &["cargo xtask bench saga".to_owned()],
        );
        assert!(text.contains("| 100 | 3 | 3 | 0 | 0 |"), "{text}");
        assert!(text.contains("Highest rate sustained with p99 <= 250 ms: 100 orders/s"));
        assert!(text.contains("    cargo xtask bench saga"));
    }
}
