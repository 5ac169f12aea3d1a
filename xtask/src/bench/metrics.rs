//! `cargo xtask bench metrics`: what counting requests costs. The same
//! cached catalog read (`GET /api/catalog/:id`, answered from the cache
//! Redis) is loaded with wrk on the private stack twice in one run: with
//! request metrics off (`request_metrics = "off"`) and on, each on a fresh
//! stack, and the loss of requests/s is recorded.

use anyhow::{bail, Result};

use super::app_stack::AppStack;
use super::results;
use super::wrk::{self, Report};
use super::BenchOptions;
use crate::process;
use crate::repo::Repo;
use crate::setup::{self, Prerequisite};

/// One leg of the comparison.
#[derive(Debug)]
struct Leg {
    switch: &'static str,
    report: Report,
    commands: Vec<String>,
}

/// Runs both legs and records the comparison.
pub fn run(repo: &Repo, options: &BenchOptions) -> Result<()> {
    setup::ensure(&[Prerequisite::LoadGenerator])?;
    let mut legs = Vec::new();
    for switch in ["off", "on"] {
        eprintln!("\n==> request metrics {switch}");
        let mut stack = AppStack::start_with(
            repo,
            "metrics",
            &[("SPIN_VARIABLE_REQUEST_METRICS", switch)],
        )?;
        let addr = stack.app.host.addr;
        let (api, runtime, admin) = stack.signed_in_admin()?;
        let id = runtime.block_on(api.create_product(&admin, "Metered lamp", 10))?;
        let path = format!("/api/catalog/{id}");
        // Once to fill the cache; the load reads the cached copy.
        runtime.block_on(api.expect(reqwest::Method::GET, &path, None, None))?;
        let mut command = wrk::command(options, None, &format!("http://{addr}{path}"));
        let command_line = process::display(&command);
        let report = wrk::run(&mut command)?;
        if report.bad_responses + report.socket_errors > 0 {
            bail!("metrics {switch}: {report:?}");
        }
        let mut commands = stack.commands(format!(
            "cargo xtask bench metrics --duration {} --connections {} --threads {}",
            options.duration, options.connections, options.threads
        ));
        commands.push(command_line);
        stack.stop()?;
        legs.push(Leg {
            switch,
            report,
            commands,
        });
    }
    let section = section(&legs);
    let results_file = repo.root().join("bench/RESULTS.md");
    results::append(&results_file, &section)?;
    println!("{section}");
    println!("Appended to {}.", repo.relative(&results_file).display());
    Ok(())
}

fn section(legs: &[Leg]) -> String {
    let runs: Vec<(&str, &Report)> = legs.iter().map(|l| (l.switch, &l.report)).collect();
    let verdict = match legs {
        [off, on] => Some(format!(
            "Loss with metrics on: {:.1} % of requests/s (aim: at most 5 %).",
            100.0 * (1.0 - on.report.requests_per_sec / off.report.requests_per_sec)
        )),
        _ => None,
    };
    let commands: Vec<String> = legs.iter().flat_map(|l| l.commands.clone()).collect();
    wrk::section(
        "Request metrics",
        "`GET /api/catalog/:id` answered from the cache, the app on spinshop-host with its \
         Redis, cache Redis, broker and bridge",
        "request metrics",
        &runs,
        verdict,
        &commands,
    )
}
