//! `cargo xtask bench saga`: the order saga end to end. Starts the private
//! stack `bench bridge` runs (Redis, broker, the real `spin.toml` on
//! spinshop-host over scratch databases, kafka-bridge, on free ports),
//! creates one product with ample stock, signs up a few customers and
//! places orders for one unit of it from several clients at once. Each
//! order's saga runs through Kafka: inventory reserves the unit, payments
//! charges the sandbox PSP, orders confirms. Measures orders/s from the
//! first request until no order is PENDING, each order's placed → CONFIRMED
//! latency from its own `created_at` and `updated_at`, the placing requests
//! as the clients saw them, and the bridge's relay latency on each hop of
//! an order's path. Figures go to `bench/RESULTS.md`.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context as _, Result};

use super::api::{self, Admin};
use super::app_stack::AppStack;
use super::bridge::{self, RELAY_LATENCY};
use super::drive::drive;
use super::histogram::Histogram;
use super::results::{self, Machine};
use crate::net;
use crate::process::{self, Service};
use crate::repo::Repo;
use crate::tansu;

/// How many orders, and how many at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaOptions {
    /// Orders placed, one unit of one product each.
    pub orders: u32,
    /// Clients placing orders at once.
    pub concurrency: u32,
}

impl Default for SagaOptions {
    fn default() -> Self {
        Self {
            orders: 300,
            concurrency: 16,
        }
    }
}

/// Customers the orders are spread over (each logs in once: the login
/// limit per client address is a burst of 20).
const CUSTOMERS: usize = 4;
const CUSTOMER_PASSWORD: &str = "bench saga Customer 1";
/// How often the orders are checked while waiting.
const POLL: Duration = Duration::from_millis(250);
/// Largest page `GET /api/orders` serves.
const ORDERS_PAGE: u32 = 100;
/// The catalog's largest initial stock.
const MAX_STOCK: u64 = 10_000_000;

/// A relay on an order's path: `(topic, subscriber, what it does)`, in the
/// order an order crosses them.
const HOPS: [(&str, &str, &str); 4] = [
    ("inventory.commands", "inventory", "reserve the unit"),
    (
        "inventory.events",
        "orders",
        "stock reserved, payment requested",
    ),
    ("payments.commands", "payments", "charge the sandbox PSP"),
    (
        "payments.events",
        "orders",
        "payment succeeded, order confirmed",
    ),
];

/// Builds, starts the stack, places the orders, records the figures and
/// stops everything.
pub fn run(repo: &Repo, options: &SagaOptions) -> Result<()> {
    let mut stack = AppStack::start(repo, "saga")?;
    let addr = stack.host_config.listen;
    let admin = Admin::sign_in(addr)?;
    let customers = (0..CUSTOMERS)
        .map(|n| Customer::sign_up(addr, n))
        .collect::<Result<Vec<_>>>()?;
    let stock = (u64::from(options.orders) * 2).min(MAX_STOCK);
    let product = create_product(&admin, stock)?;
    wait_for_stock(&admin, &product, &mut stack.services())?;
    eprintln!(
        "\n==> placing {} orders with {} clients; waiting until none is PENDING",
        options.orders, options.concurrency
    );
    let outcome = measure(&admin, &customers, &product, options, &mut stack.services())?;
    let metrics = net::get(stack.bridge_config.listen, "/metrics")
        .context("cannot read the bridge's metrics")?;
    let metrics = String::from_utf8_lossy(&metrics.body);

    let run = Run {
        when: SystemTime::now(),
        machine: Machine::describe(None),
        options: options.clone(),
        customers: customers.len(),
        outcome,
        hops: HOPS
            .iter()
            .map(|&(topic, component, _)| hop_histogram(&metrics, topic, component))
            .collect(),
        relay: Histogram::parse(&metrics, RELAY_LATENCY),
        commands: stack.commands(
            repo,
            format!(
                "cargo xtask bench saga --orders {} --concurrency {}",
                options.orders, options.concurrency
            ),
        ),
    };
    stack.stop()?;

    let section = section(&run);
    let results_file = repo.root().join("bench/RESULTS.md");
    results::append(&results_file, &section)?;
    println!("{section}");
    println!("Appended to {}.", repo.relative(&results_file).display());
    Ok(())
}

/// A signed-in customer.
#[derive(Debug, Clone)]
struct Customer {
    addr: SocketAddr,
    authorization: String,
}

impl Customer {
    /// Registers customer number `n` (an existing account is fine) and
    /// logs in.
    fn sign_up(addr: SocketAddr, n: usize) -> Result<Self> {
        let email = format!("bench-saga-{n}@spinshop.local");
        let register = format!(
            r#"{{"email":"{email}","password":"{CUSTOMER_PASSWORD}","name":"Bench customer {n}"}}"#
        );
        let response = net::request(
            addr,
            "POST",
            "/api/auth/register",
            Some(register.as_bytes()),
        )?;
        if response.status != 409 {
            api::success("POST /api/auth/register", &response)?;
        }
        let login = format!(r#"{{"email":"{email}","password":"{CUSTOMER_PASSWORD}"}}"#);
        let response = net::request(addr, "POST", "/api/auth/login", Some(login.as_bytes()))?;
        let body = api::success("POST /api/auth/login", &response)?;
        let token = api::string_field(&body, "access_token")
            .with_context(|| format!("no access_token in the login answer {body}"))?;
        Ok(Self {
            addr,
            authorization: format!("Bearer {token}"),
        })
    }

    /// `POST /api/orders` with `body`, which must answer 202 with a
    /// PENDING order; returns its id.
    fn place(&self, body: &str) -> Result<String> {
        let response = net::request_with_headers(
            self.addr,
            "POST",
            "/api/orders",
            &[("Authorization", &self.authorization)],
            Some(body.as_bytes()),
        )?;
        if response.status != 202 {
            bail!(
                "POST /api/orders answered {}: {}",
                response.status,
                response.body_text()
            );
        }
        let answer = String::from_utf8_lossy(&response.body);
        match (
            api::string_field(&answer, "id"),
            api::string_field(&answer, "status").as_deref(),
        ) {
            (Some(id), Some("PENDING")) => Ok(id),
            _ => bail!("POST /api/orders answered 202 without a PENDING order: {answer}"),
        }
    }
}

/// The catalog's create request for the one product, with `stock` units.
fn product_json(stock: u64) -> String {
    format!(
        r#"{{"name":"Bench saga product","description":"Created by cargo xtask bench saga","price":1.00,"category":"bench","brand":"b","stock":{stock},"tags":[]}}"#
    )
}

/// An order for one unit of `product_id`.
fn order_json(product_id: &str) -> String {
    format!(r#"{{"items":[{{"product_id":"{product_id}","quantity":1}}]}}"#)
}

/// Creates the product; returns its id.
fn create_product(admin: &Admin, stock: u64) -> Result<String> {
    let answer = admin.send("POST", "/api/catalog", Some(&product_json(stock)))?;
    api::string_field(&answer, "id")
        .with_context(|| format!("no id in the answer to POST /api/catalog: {answer}"))
}

/// Waits until inventory has the product's stock, which the bridge brings
/// it as a `catalog.product_created` event.
fn wait_for_stock(admin: &Admin, product: &str, services: &mut [&mut Service]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !admin.stock_visible(product)? {
        for service in services.iter_mut() {
            service.check_running()?;
        }
        if process::interrupted() {
            bail!("interrupted");
        }
        if Instant::now() > deadline {
            bail!("GET /api/inventory/{product} did not answer 200 within 60 s");
        }
        thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// An order as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    id: String,
    created_at: String,
    updated_at: String,
    reason: Option<String>,
}

/// The orders of one `GET /api/orders` page, or an error if their fields
/// do not line up.
fn orders_of(page: &str) -> Result<Vec<Listed>> {
    // Each order has one of each; `reason` may be null, so it is read
    // order by order.
    let ids = api::string_fields(page, "id");
    let created = api::string_fields(page, "created_at");
    let updated = api::string_fields(page, "updated_at");
    if created.len() != ids.len() || updated.len() != ids.len() {
        bail!(
            "a page of orders has {} ids, {} created_at and {} updated_at: {page}",
            ids.len(),
            created.len(),
            updated.len()
        );
    }
    let mut reasons = Vec::with_capacity(ids.len());
    let mut rest = page;
    for id in &ids {
        let needle = format!("\"id\":\"{id}\"");
        let at = rest
            .find(&needle)
            .with_context(|| format!("cannot find order {id} in {page}"))?;
        rest = &rest[at + needle.len()..];
        let end = rest.find("\"id\":\"").unwrap_or(rest.len());
        reasons.push(api::string_field(&rest[..end], "reason"));
    }
    Ok(ids
        .into_iter()
        .zip(created)
        .zip(updated)
        .zip(reasons)
        .map(|(((id, created_at), updated_at), reason)| Listed {
            id,
            created_at,
            updated_at,
            reason,
        })
        .collect())
}

/// Every order with `status`, page by page.
fn list_orders(admin: &Admin, status: &str) -> Result<Vec<Listed>> {
    let mut orders = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/orders?status={status}&limit={ORDERS_PAGE}");
        if let Some(cursor) = &cursor {
            let _ = write!(path, "&cursor={cursor}");
        }
        let page = admin.send("GET", &path, None)?;
        orders.extend(orders_of(&page)?);
        cursor = api::string_field(&page, "next_cursor");
        if cursor.is_none() {
            return Ok(orders);
        }
    }
}

/// Whether some order is still PENDING (one small page).
fn any_pending(admin: &Admin) -> Result<bool> {
    let page = admin.send("GET", "/api/orders?status=PENDING&limit=1", None)?;
    Ok(!api::string_fields(&page, "id").is_empty())
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    /// Orders placed.
    orders: usize,
    /// From the first request until the last order was placed (202).
    placed: Duration,
    /// From the first request until no order was PENDING.
    settled: Duration,
    confirmed: usize,
    cancelled: usize,
    /// Distinct reasons of cancelled orders, with how many had each.
    cancel_reasons: Vec<(String, usize)>,
    /// Each `POST /api/orders` as its client timed it, sorted.
    post: Vec<Duration>,
    /// Each CONFIRMED order's `updated_at - created_at`, sorted.
    saga: Vec<Duration>,
}

/// Places the orders from `options.concurrency` threads (customers in
/// turn) while this thread waits until every one is placed and none is
/// PENDING; fails if a request fails or a service exits.
fn measure(
    admin: &Admin,
    customers: &[Customer],
    product: &str,
    options: &SagaOptions,
    services: &mut [&mut Service],
) -> Result<Outcome> {
    if customers.is_empty() {
        bail!("no customers to place orders");
    }
    let orders = options.orders as usize;
    let clients = options.concurrency.min(options.orders) as usize;
    let body = order_json(product);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let placed_orders = Mutex::new(Vec::with_capacity(orders));
    let deadline = Duration::from_secs(120) + Duration::from_millis(50) * options.orders;
    let started = Instant::now();
    // Each client: place orders until there are enough, then say when it
    // finished.
    let client = || -> Result<Duration> {
        loop {
            let n = next.fetch_add(1, Ordering::SeqCst);
            if n >= orders || stop.load(Ordering::SeqCst) || process::interrupted() {
                // Another client's error, or the user's Ctrl-C, says why.
                return Ok(started.elapsed());
            }
            let sent = Instant::now();
            let placed = customers[n % customers.len()].place(&body);
            let took = sent.elapsed();
            if placed.is_err() {
                stop.store(true, Ordering::SeqCst);
            }
            placed_orders
                .lock()
                .map_err(|_| anyhow!("a client panicked"))?
                .push((placed?, took));
        }
    };
    let mut last_report = Instant::now();
    let (placed, settled) = drive(clients, &stop, services, POLL, client, |placed| {
        // Every order is written before its 202: once all are placed, none
        // PENDING means every one is CONFIRMED or CANCELLED.
        if placed.is_some() && !any_pending(admin)? {
            return Ok(Some(started.elapsed()));
        }
        let report = last_report.elapsed() >= Duration::from_secs(5);
        if report || started.elapsed() > deadline {
            let confirmed = list_orders(admin, "CONFIRMED")?.len();
            let cancelled = list_orders(admin, "CANCELLED")?.len();
            let sent = next.load(Ordering::SeqCst).min(orders);
            if started.elapsed() > deadline {
                bail!(
                    "after {} s, {sent} of {orders} orders were sent, {confirmed} confirmed \
                     and {cancelled} cancelled",
                    deadline.as_secs()
                );
            }
            eprintln!(
                "{:>6.1} s: {sent} sent, {confirmed} confirmed, {cancelled} cancelled",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        Ok(None)
    })?;
    let placed_orders = placed_orders
        .into_inner()
        .map_err(|_| anyhow!("a client panicked"))?;

    let confirmed = list_orders(admin, "CONFIRMED")?;
    let cancelled = list_orders(admin, "CANCELLED")?;
    let settled_ids: HashSet<&str> = confirmed
        .iter()
        .chain(&cancelled)
        .map(|o| o.id.as_str())
        .collect();
    let missing = placed_orders
        .iter()
        .filter(|(id, _)| !settled_ids.contains(id.as_str()))
        .count();
    if missing > 0 {
        bail!(
            "{missing} of the {} orders placed are neither CONFIRMED nor CANCELLED, \
             although none is PENDING",
            placed_orders.len()
        );
    }
    let mut saga = confirmed
        .iter()
        .map(|o| {
            saga_latency(o).with_context(|| {
                format!(
                    "order {} has unreadable times: created_at {:?}, updated_at {:?}",
                    o.id, o.created_at, o.updated_at
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    saga.sort();
    let mut reasons = BTreeMap::new();
    for order in &cancelled {
        let reason = order.reason.clone().unwrap_or_else(|| "none given".into());
        *reasons.entry(reason).or_insert(0) += 1;
    }
    let mut post: Vec<Duration> = placed_orders.iter().map(|&(_, took)| took).collect();
    post.sort();
    Ok(Outcome {
        orders: placed_orders.len(),
        placed,
        settled,
        confirmed: confirmed.len(),
        cancelled: cancelled.len(),
        cancel_reasons: reasons.into_iter().collect(),
        post,
        saga,
    })
}

/// `updated_at - created_at`: for a CONFIRMED order, from placed to
/// confirmed. `None` if either is unreadable or the order went back in
/// time.
fn saga_latency(order: &Listed) -> Option<Duration> {
    let created = parse_rfc3339(&order.created_at)?;
    let updated = parse_rfc3339(&order.updated_at)?;
    let nanos = u64::try_from(updated.checked_sub(created)?).ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Nanoseconds since the Unix epoch of an RFC 3339 date-time, such as
/// `2026-04-20T14:03:00.123Z` or `2026-04-20T16:03:00+02:00` (the fraction
/// is optional; digits beyond nanoseconds are dropped).
fn parse_rfc3339(text: &str) -> Option<i128> {
    let b = text.as_bytes();
    let number = |from: usize, to: usize| -> Option<i64> {
        let digits = b.get(from..to)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Bytes 0..19 are ASCII, so 19 is a character boundary.
    let mut rest = &text[19..];
    let mut nanos: i128 = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, d) in fraction.bytes().take(9).take(digits).enumerate() {
            nanos += i128::from(d - b'0') * 10_i128.pow(8 - i as u32);
        }
        rest = &fraction[digits..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: &u8, b: &u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let (hours, minutes) = (two(h1, h2)?, two(m1, m2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(i128::from(seconds) * 1_000_000_000 + nanos)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The `q` quantile (0..=1) of sorted values by nearest rank: the smallest
/// value with at least `q` of them at or below it. `None` if empty.
fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    // The small margin keeps 0.99 × 100 from rounding up to rank 100.
    let rank = (q * sorted.len() as f64 - 1e-9).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// The relay latency histogram of one topic and subscriber.
fn hop_histogram(metrics: &str, topic: &str, component: &str) -> Option<Histogram> {
    let labels = format!("{{topic=\"{topic}\",component=\"{component}\",");
    let lines: Vec<&str> = metrics
        .lines()
        .filter(|line| line.contains(&labels))
        .collect();
    Histogram::parse(&lines.join("\n"), RELAY_LATENCY)
}

/// Everything a section shows.
#[derive(Debug, Clone)]
struct Run {
    when: SystemTime,
    machine: Machine,
    options: SagaOptions,
    customers: usize,
    outcome: Outcome,
    /// Relay latency on each of [`HOPS`].
    hops: Vec<Option<Histogram>>,
    /// Relay latency over every topic and subscriber.
    relay: Option<Histogram>,
    commands: Vec<String>,
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| bridge::millis(d.as_secs_f64()))
}

fn seconds_ms(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "-".to_owned(), bridge::millis)
}

fn per_second(count: usize, over: Duration) -> f64 {
    count as f64 / over.as_secs_f64().max(f64::EPSILON)
}

/// The Markdown section for one run.
fn section(run: &Run) -> String {
    let m = &run.machine;
    let o = &run.outcome;
    let mut out = String::new();
    let _ = writeln!(out, "\n## {} · order saga\n", results::utc_minute(run.when));
    let _ = writeln!(
        out,
        "- Machine: {}, nproc {}, {}",
        m.cpu_model, m.cpus, m.kernel
    );
    let _ = writeln!(out, "- Build: {}; commit {}", m.rustc, m.commit);
    let _ = writeln!(
        out,
        "- Broker: tansu {} (SQLite storage); the app is `spin.toml` on spinshop-host, \
         its events relayed by kafka-bridge",
        tansu::VERSION
    );
    let _ = writeln!(
        out,
        "- Load: {} orders for one unit of one product, placed with `POST /api/orders` by {} \
         concurrent clients (one connection per request) as {} customers; each order's saga \
         reserves the unit in inventory, charges the sandbox PSP through payments and \
         confirms, every step an event relayed through Kafka by the bridge\n",
        o.orders,
        run.options.concurrency.min(run.options.orders),
        run.customers
    );
    out.push_str(
        "| orders | confirmed | cancelled | all placed after | none pending after | orders/s end to end | placed → confirmed p50 | p99 | max |\n",
    );
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {:.2} s | {:.2} s | {:.0} | {} | {} | {} |",
        o.orders,
        o.confirmed,
        o.cancelled,
        o.placed.as_secs_f64(),
        o.settled.as_secs_f64(),
        per_second(o.confirmed, o.settled),
        ms(percentile(&o.saga, 0.5)),
        ms(percentile(&o.saga, 0.99)),
        ms(o.saga.last().copied()),
    );
    out.push_str("\n| placing: 202 answers/s | `POST /api/orders` p50 | p99 | max |\n");
    out.push_str("|---:|---:|---:|---:|\n");
    let _ = writeln!(
        out,
        "| {:.0} | {} | {} | {} |",
        per_second(o.orders, o.placed),
        ms(percentile(&o.post, 0.5)),
        ms(percentile(&o.post, 0.99)),
        ms(o.post.last().copied()),
    );
    out.push_str("\n| relay on an order's path | deliveries | p50 | p99 |\n");
    out.push_str("|---|---:|---:|---:|\n");
    let relay_row = |out: &mut String, name: &str, h: Option<&Histogram>| {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} |",
            h.map_or_else(|| "-".to_owned(), |h| format!("{:.0}", h.count())),
            seconds_ms(h.and_then(|h| h.quantile(0.5))),
            seconds_ms(h.and_then(|h| h.quantile(0.99))),
        );
    };
    for (i, ((topic, component, what), h)) in HOPS.iter().zip(&run.hops).enumerate() {
        let name = format!("{}. `{topic}` → {component}: {what}", i + 1);
        relay_row(&mut out, &name, h.as_ref());
    }
    relay_row(
        &mut out,
        "every relay (all topics and subscribers)",
        run.relay.as_ref(),
    );
    out.push('\n');
    if o.cancelled > 0 {
        let reasons: Vec<String> = o
            .cancel_reasons
            .iter()
            .map(|(reason, n)| format!("{n} × `{reason}`"))
            .collect();
        let _ = writeln!(
            out,
            "**{} orders were cancelled** (there should be none): {}.\n",
            o.cancelled,
            reasons.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "End to end is from the first `POST /api/orders` until, every order placed, \
         `GET /api/orders?status=PENDING` (polled every {} ms) lists none; orders/s is the \
         confirmed orders over that time. Placed → confirmed is each CONFIRMED order's \
         `updated_at` − `created_at`, both stamped by the orders component (milliseconds). \
         The `POST /api/orders` times are the clients', connection included. Relay p50/p99 \
         are interpolated from the bridge's `{RELAY_LATENCY}` histogram (outbox row written \
         → the subscriber's 2xx), per topic and subscriber; deliveries count every event type \
         on the topic, e.g. stock commits too.",
        POLL.as_millis()
    );
    let _ = writeln!(out, "\n{}", bound_note(run));
    out.push_str("\nCommands, from the repository root:\n\n```sh\n");
    for command in &run.commands {
        let _ = writeln!(out, "{command}");
    }
    out.push_str("```\n");
    out
}

/// What seems to bound the figures, from how far confirmations trailed
/// placing and which relay is slowest.
fn bound_note(run: &Run) -> String {
    let o = &run.outcome;
    let trailing = o.settled.saturating_sub(o.placed);
    let slowest = HOPS
        .iter()
        .zip(&run.hops)
        .filter_map(|(&(topic, component, _), h)| {
            Some((topic, component, h.as_ref()?.quantile(0.5)?))
        })
        .max_by(|a, b| a.2.total_cmp(&b.2));
    let slowest = match slowest {
        Some((topic, component, p50)) => format!(
            "the slowest relay on an order's path is `{topic}` → {component} (p50 {})",
            bridge::millis(p50)
        ),
        None => "the bridge reported no relay latency for an order's path".to_owned(),
    };
    // Confirmations kept pace if the last came within about one order's
    // saga (or two polls) of the last 202.
    let saga_p99 = percentile(&o.saga, 0.99).unwrap_or_default();
    let pace = saga_p99.max(POLL * 2) + o.placed / 10;
    if trailing <= pace {
        format!(
            "Likely bound: placing orders. Confirmations kept up with the clients (none pending \
             {:.2} s after the last 202), so end to end follows the rate of `POST /api/orders` \
             (pricing through the catalog, the order's SQLite transaction); more clients may \
             raise it until the machine's {} CPUs, shared by every process, are busy. \
             Within the saga, {slowest}.",
            trailing.as_secs_f64(),
            run.machine.cpus
        )
    } else {
        format!(
            "Likely bound: the saga's asynchronous leg. Orders were all placed after {:.2} s but \
             were still pending {:.2} s later, so they queued between the components; {slowest}. \
             Every process shares the machine's {} CPUs.",
            o.placed.as_secs_f64(),
            trailing.as_secs_f64(),
            run.machine.cpus
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn parses_rfc3339() {
        let s = |secs: i128| secs * 1_000_000_000;
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(s(951_782_400)));
        assert_eq!(
            parse_rfc3339("2026-04-20T14:03:00Z"),
            Some(s(1_776_693_780))
        );
        assert_eq!(
            parse_rfc3339("2026-04-20T14:03:00.123Z"),
            Some(s(1_776_693_780) + 123_000_000)
        );
        assert_eq!(
            parse_rfc3339("2026-04-20t14:03:00.5z"),
            Some(s(1_776_693_780) + 500_000_000)
        );
        assert_eq!(
            parse_rfc3339("2026-04-20T14:03:00.123456789123Z"),
            Some(s(1_776_693_780) + 123_456_789)
        );
        assert_eq!(
            parse_rfc3339("2026-04-20T16:33:00+02:30"),
            Some(s(1_776_693_780))
        );
        assert_eq!(
            parse_rfc3339("2026-04-20 09:03:00.25-05:00"),
            Some(s(1_776_693_780) + 250_000_000)
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(s(-1)));
        for bad in [
            "",
            "2026-04-20",
            "2026-04-20T14:03:00",
            "2026-04-20T14:03:00.Z",
            "2026-04-20T14:03:00,5Z",
            "2026-04-20T14:03Z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-04-20T24:00:00Z",
            "2026-04-20T14:60:00Z",
            "2026-04-20T14:03:00+0200",
            "2026-04-20T14:03:00+24:00",
            "2026-04-20T14:03:00Zjunk",
            "2026-0é-20T14:03:00Z",
            "２026-04-20T14:03:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_saga_latency_is_updated_minus_created() {
        let order = |created: &str, updated: &str| Listed {
            id: "o".into(),
            created_at: created.into(),
            updated_at: updated.into(),
            reason: None,
        };
        assert_eq!(
            saga_latency(&order(
                "2026-04-20T14:03:59.900Z",
                "2026-04-20T14:04:00.150Z"
            )),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            saga_latency(&order("2026-04-20T14:03:00Z", "2026-04-20T14:03:00Z")),
            Some(Duration::ZERO)
        );
        assert_eq!(
            saga_latency(&order("2026-04-20T14:03:01Z", "2026-04-20T14:03:00Z")),
            None
        );
        assert_eq!(saga_latency(&order("soon", "2026-04-20T14:03:00Z")), None);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&values, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&values, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&values, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&values, 0.0), Some(Duration::from_millis(1)));
        let three = [1, 2, 3].map(Duration::from_millis);
        assert_eq!(percentile(&three, 0.5), Some(Duration::from_millis(2)));
        assert_eq!(percentile(&three, 0.99), Some(Duration::from_millis(3)));
        let one = [Duration::from_millis(7)];
        assert_eq!(percentile(&one, 0.5), Some(Duration::from_millis(7)));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&values, 1.5), None);
    }

    #[test]
    fn reads_a_page_of_orders() -> Result<()> {
        let page = r#"{"items":[{"id":"o1","user_id":"u1","status":"CONFIRMED","items":[{"product_id":"p1","quantity":1}],"reason":null,"payment_id":"pay1","created_at":"2026-04-20T14:03:00.100Z","updated_at":"2026-04-20T14:03:00.400Z"},{"id":"o2","user_id":"u2","status":"CANCELLED","items":[{"product_id":"p1","quantity":1}],"reason":"out_of_stock: p1","payment_id":null,"created_at":"2026-04-20T14:03:00.200Z","updated_at":"2026-04-20T14:03:00.300Z"}],"next_cursor":"bzI"}"#;
        let orders = orders_of(page)?;
        assert_eq!(
            orders,
            [
                Listed {
                    id: "o1".into(),
                    created_at: "2026-04-20T14:03:00.100Z".into(),
                    updated_at: "2026-04-20T14:03:00.400Z".into(),
                    reason: None,
                },
                Listed {
                    id: "o2".into(),
                    created_at: "2026-04-20T14:03:00.200Z".into(),
                    updated_at: "2026-04-20T14:03:00.300Z".into(),
                    reason: Some("out_of_stock: p1".into()),
                },
            ]
        );
        assert!(orders_of(r#"{"items":[],"next_cursor":null}"#)?.is_empty());
        assert!(orders_of(r#"{"items":[{"id":"o1","created_at":"x"}]}"#).is_err());
        Ok(())
    }

    #[test]
    fn requests_are_what_the_api_takes() {
        assert_eq!(
            order_json("p-1"),
            r#"{"items":[{"product_id":"p-1","quantity":1}]}"#
        );
        let product = product_json(600);
        assert!(product.contains(r#""stock":600"#), "{product}");
        assert!(product.contains(r#""price":1.00"#), "{product}");
    }

    #[test]
    fn reads_one_hop_of_the_relay_histogram() {
        let metrics = "\
bridge_relay_latency_seconds_bucket{topic=\"payments.commands\",component=\"payments\",le=\"0.01\"} 1
bridge_relay_latency_seconds_bucket{topic=\"payments.commands\",component=\"payments\",le=\"0.1\"} 4
bridge_relay_latency_seconds_bucket{topic=\"payments.commands\",component=\"payments\",le=\"+Inf\"} 4
bridge_relay_latency_seconds_bucket{topic=\"payments.commands\",component=\"audit\",le=\"0.01\"} 4
bridge_relay_latency_seconds_bucket{topic=\"payments.commands\",component=\"audit\",le=\"0.1\"} 4
bridge_relay_latency_seconds_bucket{topic=\"payments.commands\",component=\"audit\",le=\"+Inf\"} 4
";
        let h = hop_histogram(metrics, "payments.commands", "payments").expect("present");
        assert!((h.count() - 4.0).abs() < f64::EPSILON);
        // Rank 2 of 4: a third of the way through (0.01, 0.1].
        let p50 = h.quantile(0.5).expect("observed");
        assert!((p50 - 0.04).abs() < 1e-9, "{p50}");
        assert_eq!(hop_histogram(metrics, "payments.events", "orders"), None);
    }

    /// Just enough of the app for [`measure`]: an order is CONFIRMED 30 ms
    /// after it is placed (CANCELLED if its number is in `cancel`);
    /// placing number `fail_at` answers 409.
    fn fake_app(fail_at: usize, cancel: &'static [usize]) -> Result<SocketAddr> {
        let orders = Arc::new(Mutex::new(Vec::<Instant>::new()));
        let order_json = |n: usize, status: &str| {
            let reason = if status == "CANCELLED" {
                r#""out_of_stock: p1""#
            } else {
                "null"
            };
            format!(
                r#"{{"id":"o{n}","user_id":"u","status":"{status}","items":[{{"product_id":"p1","quantity":1}}],"reason":{reason},"created_at":"2026-04-20T14:03:00.{:03}Z","updated_at":"2026-04-20T14:03:01.{:03}Z"}}"#,
                n % 1000,
                n % 1000
            )
        };
        let handler = move |method: &str, path: &str, head: &str| -> (u16, String) {
            let signed_in = head.contains("Authorization: Bearer ");
            let Ok(mut orders) = orders.lock() else {
                return (500, "{}".into());
            };
            let status_of = |n: usize, at: &Instant| {
                if at.elapsed() < Duration::from_millis(30) {
                    "PENDING"
                } else if cancel.contains(&n) {
                    "CANCELLED"
                } else {
                    "CONFIRMED"
                }
            };
            let (path, query) = path.split_once('?').unwrap_or((path, ""));
            match (method, path) {
                ("POST", "/api/auth/register") => (201, "{}".into()),
                ("POST", "/api/auth/login") => (200, r#"{"access_token":"t"}"#.into()),
                ("POST", "/api/orders") if signed_in && orders.len() == fail_at => {
                    (409, r#"{"title":"out of stock"}"#.into())
                }
                ("POST", "/api/orders") if signed_in => {
                    orders.push(Instant::now());
                    (202, order_json(orders.len() - 1, "PENDING"))
                }
                ("GET", "/api/orders") if signed_in => {
                    let param = |name: &str| {
                        query
                            .split('&')
                            .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
                    };
                    let limit: usize = param("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
                    let from: usize = param("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
                    let wanted = param("status").unwrap_or_default();
                    let matching: Vec<usize> = orders
                        .iter()
                        .enumerate()
                        .filter(|(n, at)| status_of(*n, at) == wanted)
                        .map(|(n, _)| n)
                        .collect();
                    let page: Vec<String> = matching
                        .iter()
                        .skip(from)
                        .take(limit)
                        .map(|&n| order_json(n, wanted))
                        .collect();
                    let next = if from + limit < matching.len() {
                        format!("\"{}\"", from + limit)
                    } else {
                        "null".into()
                    };
                    (
                        200,
                        format!(r#"{{"items":[{}],"next_cursor":{next}}}"#, page.join(",")),
                    )
                }
                _ => (401, "{}".into()),
            }
        };
        crate::bench::fake_app::serve(Arc::new(handler))
    }

    fn customers(addr: SocketAddr) -> Result<Vec<Customer>> {
        (0..CUSTOMERS).map(|n| Customer::sign_up(addr, n)).collect()
    }

    #[test]
    fn measures_against_the_api() -> Result<()> {
        let addr = fake_app(usize::MAX, &[])?;
        let options = SagaOptions {
            orders: 150,
            concurrency: 8,
        };
        let outcome = measure(
            &Admin::sign_in(addr)?,
            &customers(addr)?,
            "p1",
            &options,
            &mut [],
        )?;
        assert_eq!(outcome.orders, 150);
        assert_eq!((outcome.confirmed, outcome.cancelled), (150, 0));
        assert!(outcome.placed <= outcome.settled, "{outcome:?}");
        assert_eq!(outcome.post.len(), 150);
        assert!(outcome.post.windows(2).all(|w| w[0] <= w[1]));
        // The fake stamps each order confirmed one second after placing.
        assert_eq!(outcome.saga, vec![Duration::from_secs(1); 150]);
        Ok(())
    }

    #[test]
    fn counts_cancelled_orders() -> Result<()> {
        let addr = fake_app(usize::MAX, &[3, 7])?;
        let options = SagaOptions {
            orders: 20,
            concurrency: 40,
        };
        let outcome = measure(
            &Admin::sign_in(addr)?,
            &customers(addr)?,
            "p1",
            &options,
            &mut [],
        )?;
        assert_eq!((outcome.confirmed, outcome.cancelled), (18, 2));
        assert_eq!(outcome.cancel_reasons, [("out_of_stock: p1".to_owned(), 2)]);
        assert_eq!(outcome.saga.len(), 18);
        Ok(())
    }

    #[test]
    fn a_failed_order_ends_the_run() -> Result<()> {
        let addr = fake_app(10, &[])?;
        let error = measure(
            &Admin::sign_in(addr)?,
            &customers(addr)?,
            "p1",
            &SagaOptions::default(),
            &mut [],
        )
        .err()
        .context("should fail")?;
        let message = format!("{error:#}");
        assert!(
            message.contains("POST /api/orders answered 409"),
            "{message}"
        );
        Ok(())
    }

    fn sample_run(saga_ms: u64, settled_ms: u64) -> Run {
        let metrics = "\
bridge_relay_latency_seconds_bucket{topic=\"inventory.commands\",component=\"inventory\",le=\"0.01\"} 300
bridge_relay_latency_seconds_bucket{topic=\"inventory.commands\",component=\"inventory\",le=\"0.1\"} 600
bridge_relay_latency_seconds_bucket{topic=\"inventory.commands\",component=\"inventory\",le=\"+Inf\"} 600
bridge_relay_latency_seconds_bucket{topic=\"payments.commands\",component=\"payments\",le=\"0.1\"} 150
bridge_relay_latency_seconds_bucket{topic=\"payments.commands\",component=\"payments\",le=\"0.25\"} 300
bridge_relay_latency_seconds_bucket{topic=\"payments.commands\",component=\"payments\",le=\"+Inf\"} 300
";
        Run {
            when: UNIX_EPOCH + Duration::from_secs(1_776_693_780),
            machine: Machine {
                cpus: "2".into(),
                cpu_model: "AMD EPYC 7B13".into(),
                kernel: "Linux 6.1.0".into(),
                rustc: "rustc 1.95.0".into(),
                wrk: "unknown".into(),
                commit: "0123456789ab".into(),
            },
            options: SagaOptions::default(),
            customers: CUSTOMERS,
            outcome: Outcome {
                orders: 300,
                placed: Duration::from_secs(3),
                settled: Duration::from_millis(settled_ms),
                confirmed: 300,
                cancelled: 0,
                cancel_reasons: Vec::new(),
                post: (1..=300).map(Duration::from_millis).collect(),
                saga: vec![Duration::from_millis(saga_ms); 300],
            },
            hops: HOPS
                .iter()
                .map(|&(topic, component, _)| hop_histogram(metrics, topic, component))
                .collect(),
            relay: Histogram::parse(metrics, RELAY_LATENCY),
            commands: vec!["cargo xtask bench saga --orders 300 --concurrency 16".into()],
        }
    }

    #[test]
    fn a_section_has_the_figures_and_commands() {
        let text = section(&sample_run(400, 3_500));
        assert!(
            text.contains("## 2026-04-20 14:03 UTC · order saga"),
            "{text}"
        );
        assert!(
            text.contains(
                "| 300 | 300 | 0 | 3.00 s | 3.50 s | 86 | 400.00 ms | 400.00 ms | 400.00 ms |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| 100 | 150.00 ms | 297.00 ms | 300.00 ms |"),
            "{text}"
        );
        assert!(
            text.contains(
                "| 1. `inventory.commands` → inventory: reserve the unit | 600 | 10.00 ms | 98.20 ms |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| 2. `inventory.events` → orders: stock reserved, payment requested | - | - | - |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| every relay (all topics and subscribers) | 900 |"),
            "{text}"
        );
        assert!(text.contains("Likely bound: placing orders."), "{text}");
        assert!(
            text.contains("`payments.commands` → payments (p50 100.00 ms)"),
            "{text}"
        );
        assert!(!text.contains("cancelled**"), "{text}");
        assert!(
            text.contains("```sh\ncargo xtask bench saga --orders 300 --concurrency 16\n```"),
            "{text}"
        );
    }

    #[test]
    fn a_section_says_when_the_saga_lags_or_cancels() {
        let mut run = sample_run(400, 9_000);
        run.outcome.confirmed = 298;
        run.outcome.cancelled = 2;
        run.outcome.cancel_reasons = vec![("timeout: charging".into(), 2)];
        let text = section(&run);
        assert!(
            text.contains("Likely bound: the saga's asynchronous leg."),
            "{text}"
        );
        assert!(
            text.contains(
                "**2 orders were cancelled** (there should be none): 2 × `timeout: charging`."
            ),
            "{text}"
        );
        run.hops = vec![None; HOPS.len()];
        run.relay = None;
        let text = section(&run);
        assert!(
            text.contains("the bridge reported no relay latency"),
            "{text}"
        );
    }
}
