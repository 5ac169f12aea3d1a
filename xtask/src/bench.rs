//! `cargo xtask bench host`: load on `spinshop-host` with wrk, for a route
//! that does nothing and routes that write to SQLite and key-value, through
//! the host's test guest (`bench/host/spin.toml`). `cargo xtask bench
//! bridge` (in [`bridge`]): events end to end through Kafka and
//! `kafka-bridge`. `cargo xtask bench saga` (in [`saga`]): orders placed
//! through the API and their sagas through the same stack. `cargo xtask
//! bench search` (in [`search`]): the search read model at catalog sizes.
//! Figures go to `bench/RESULTS.md`.

mod app_stack;
mod bridge;
mod client;
mod corpus;
mod guest;
mod histogram;
mod load;
mod marketplace;
mod metrics;
mod results;
mod saga;
mod search;
mod wrk;

use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{bail, Context as _, Result};

use spinshop_testkit::process::{Output, Service};
use spinshop_testkit::{Host, HostSpec, Redis, RedisOptions};

use crate::compile;
use crate::net;
use crate::process;
use crate::repo::{self, Repo};
use crate::setup::{self, Prerequisite};

pub use bridge::{run as bridge, BridgeOptions};
pub use marketplace::run as marketplace;
pub use metrics::run as metrics;
pub use saga::{run as saga, SagaOptions};
pub use search::{run as search, SearchOptions};

/// The pinned Apache Kafka version, for the records.
fn kafka_version() -> String {
    std::fs::read_to_string(spinshop_testkit::repo_root().join(spinshop_testkit::kafka::POM))
        .ok()
        .and_then(|pom| spinshop_testkit::kafka::pinned_version(&pom).ok())
        .unwrap_or_else(|| "?".into())
}

/// How hard and how long to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchOptions {
    /// Per scenario, in wrk's `-d` format (`10s`, `2m`).
    pub duration: String,
    /// Connections wrk keeps open.
    pub connections: u32,
    /// wrk's threads.
    pub threads: u32,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            duration: "10s".to_owned(),
            connections: 16,
            threads: 2,
        }
    }
}

/// Checks a wrk duration: a positive whole number, optionally `s`, `m` or `h`.
pub fn parse_duration(value: &str) -> Result<String> {
    let digits = value.trim_end_matches(['s', 'm', 'h']);
    let unit_len = value.len() - digits.len();
    match digits.parse::<u32>() {
        Ok(n) if n > 0 && unit_len <= 1 => Ok(value.to_owned()),
        _ => bail!(
            "--duration takes a whole number with an optional unit (s, m, h), like 10s, not {value:?}"
        ),
    }
}

/// One kind of request under load.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    name: &'static str,
    what: &'static str,
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
    /// The answer is a guest SQLite batch, which reports failures in the body.
    sqlite_batch: bool,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "trivial",
        what: "answers 200 `ok`, nothing else",
        method: "GET",
        path: "/guest/ok",
        body: None,
        sqlite_batch: false,
    },
    Scenario {
        name: "echo",
        what: "echoes the request's headers as JSON",
        method: "GET",
        path: "/guest/echo",
        body: None,
        sqlite_batch: false,
    },
    Scenario {
        name: "sqlite",
        what: "INSERT, then SELECT count(*)",
        method: "POST",
        path: "/guest/sqlite/default",
        body: Some(guest::INSERT_AND_COUNT),
        sqlite_batch: true,
    },
    Scenario {
        name: "key-value",
        what: "sets one key",
        method: "PUT",
        path: "/guest/kv/default/bench",
        body: Some(r#"{"hits":1}"#),
        sqlite_batch: false,
    },
];

/// Builds, starts a private Redis and host on free ports, runs every
/// scenario, records the figures and stops everything.
pub fn host(repo: &Repo, options: &BenchOptions) -> Result<()> {
    setup::ensure(&[
        Prerequisite::WasmTarget,
        Prerequisite::RedisServer,
        Prerequisite::LoadGenerator,
    ])?;
    compile::everything(repo)?;

    let work_dir = repo.local("bench");
    let state_dir = work_dir.join("state");
    let logs_dir = repo.local("logs");
    // A fresh database each run, so the SQLite scenario starts from an empty table.
    repo::recreate_dir(&state_dir)?;
    repo::create_dir(&logs_dir)?;

    process::catch_interrupts()?;
    // Declared before the host so that, dropped last, it outlives it.
    let redis = Redis::launch(RedisOptions {
        dir: Some(work_dir.join("redis")),
        output: Output::File(logs_dir.join("bench-redis.log")),
        ..RedisOptions::default()
    })?;
    let listen = net::loopback(net::free_port()?);
    let metrics_listen = net::loopback(net::free_port()?);
    let mut spec = HostSpec::new(repo.host_binary(), "")
        .manifest_file(repo.root().join("bench/host/spin.toml"))
        .env("SPIN_VARIABLE_REDIS_HOST", &redis.host_port());
    spec.listen = Some(listen);
    spec.metrics_listen = Some(metrics_listen);
    spec.state_dir = Some(state_dir);
    spec.log_file = Some(logs_dir.join("bench-host.log"));
    let host = Host::try_start(spec)
        .map_err(|f| anyhow::anyhow!("spinshop-host exited ({}): {}", f.status, f.stderr))?;
    let host_command = host.command_line().to_owned();
    let mut target = Target {
        repo,
        options,
        host,
        listen,
        work_dir,
    };
    target.request(
        "POST",
        "/guest/sqlite/default",
        Some(guest::CREATE_TABLE),
        true,
    )?;
    let mut rows = Vec::new();
    for scenario in SCENARIOS {
        rows.push(target.run(scenario)?);
    }

    let metrics = net::get(metrics_listen, "/metrics").context("cannot read the host's metrics")?;
    let run = results::Run {
        when: SystemTime::now(),
        machine: results::Machine::describe(wrk::version()),
        host_command,
        rows,
        instantiation: results::mean_instantiation(&String::from_utf8_lossy(&metrics.body)),
    };
    let section = results::section(&run);
    let results_file = repo.root().join("bench/RESULTS.md");
    results::append(&results_file, &section)?;
    println!("{section}");
    println!("Appended to {}.", repo.relative(&results_file).display());
    Ok(())
}

/// The running host under test and how to load it.
struct Target<'a> {
    repo: &'a Repo,
    options: &'a BenchOptions,
    host: Host,
    listen: SocketAddr,
    work_dir: PathBuf,
}

impl Target<'_> {
    fn service(&mut self) -> Result<&mut Service> {
        self.host.service().context("the host is not running")
    }

    /// Checks the scenario's request works, then puts it under load.
    fn run(&mut self, scenario: &Scenario) -> Result<results::Row> {
        eprintln!(
            "\n==> {}: {} {} ({})",
            scenario.name, scenario.method, scenario.path, scenario.what
        );
        self.request(
            scenario.method,
            scenario.path,
            scenario.body,
            scenario.sqlite_batch,
        )?;
        let script = match scenario.body {
            Some(body) => {
                let path = self.work_dir.join(format!("{}.lua", scenario.name));
                let text = wrk::script(scenario.method, body)?;
                fs::write(&path, &text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Some((self.repo.relative(&path).to_path_buf(), text))
            }
            None if scenario.method == "GET" => None,
            None => bail!("scenario {} has no body for its wrk script", scenario.name),
        };
        let url = format!("http://{}{}", self.listen, scenario.path);
        let mut command = wrk::command(
            self.options,
            script.as_ref().map(|(p, _)| p.as_path()),
            &url,
        );
        command.current_dir(self.repo.root());
        let command_line = process::display(&command);
        let mut report = wrk::run(&mut command)?;
        self.service()?
            .check_running()
            .context("the host stopped under load")?;
        if scenario.sqlite_batch {
            // Every completed request inserted a row, and so did the check before the load.
            let answer = self.request("POST", scenario.path, Some(guest::COUNT), true)?;
            let rows = guest::counted(&answer)
                .with_context(|| format!("cannot read the row count from {answer}"))?;
            report.bad_responses += guest::failed_inserts(rows, report.requests, 1);
        }
        if report.bad_responses + report.socket_errors > 0 {
            eprintln!(
                "warning: {} had {} failed requests and {} socket errors; {}",
                scenario.name,
                report.bad_responses,
                report.socket_errors,
                self.service()?.output_hint()
            );
        }
        Ok(results::Row {
            scenario: scenario.name.to_owned(),
            request: format!("`{} {}`: {}", scenario.method, scenario.path, scenario.what),
            command: command_line,
            script: script.map(|(path, text)| (path.display().to_string(), text)),
            report,
        })
    }

    /// One request that must succeed (2xx, and for a SQLite batch no error
    /// in the body); returns the body.
    fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        sqlite_batch: bool,
    ) -> Result<String> {
        let response = net::request(self.listen, method, path, body.map(str::as_bytes))?;
        let text = String::from_utf8_lossy(&response.body).into_owned();
        if !response.is_success() || (sqlite_batch && !guest::batch_succeeded(&text)) {
            bail!(
                "{method} {path} answered {}: {}; {}",
                response.status,
                response.body_text(),
                self.service()?.output_hint()
            );
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_what_wrk_takes() {
        for ok in ["10s", "2m", "1h", "30"] {
            assert_eq!(parse_duration(ok).ok().as_deref(), Some(ok));
        }
        for bad in ["", "0s", "s", "10ss", "1.5s", "-1s", "10 s", "soon"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_scenario_can_be_scripted() -> Result<()> {
        for scenario in SCENARIOS {
            match scenario.body {
                Some(body) => {
                    let script = wrk::script(scenario.method, body)?;
                    assert!(script.contains(scenario.method), "{script}");
                }
                None => assert_eq!(scenario.method, "GET"),
            }
        }
        Ok(())
    }
}
