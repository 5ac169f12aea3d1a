//! `cargo xtask bench marketplace`: the MercadoLibre proxy on the private
//! stack. In one run, with wrk: the host's cheapest route (`GET /health`)
//! as the yardstick, a cached item read (`GET /api/ml/items/MLA123`,
//! answered from the cache Redis), and uncached reads (a seller's items
//! at random offsets, each a miss that goes to the sandbox MercadoLibre,
//! which answers after 20 ms). The ratio of the cached read to the
//! yardstick is recorded (aim: at least 0.5).

use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use super::app_stack::AppStack;
use super::client::Api;
use super::results;
use super::wrk::{self, Report};
use super::BenchOptions;
use crate::process;
use crate::repo::Repo;
use crate::setup::{self, Prerequisite};

/// The sandbox's answer time for the uncached leg.
const LATENCY_MS: u64 = 20;

#[derive(Debug)]
struct Leg {
    name: &'static str,
    report: Report,
}

/// `url`'s path and query (the stack listens on its own port, not the
/// default addresses the variables name).
fn path_of(url: &str) -> Result<&str> {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .with_context(|| format!("not an absolute URL: {url}"))
}

/// Links the sandbox's first seller to `token`'s user, as a browser would.
async fn link_account(api: &Api, addr: std::net::SocketAddr, token: &str) -> Result<()> {
    let (status, start) = api
        .call(
            reqwest::Method::POST,
            "/api/auth/oauth/start",
            Some(token),
            None,
        )
        .await?;
    if status != 200 {
        bail!("oauth start: {status} {start}");
    }
    let url = start["authorization_url"]
        .as_str()
        .context("authorization_url")?;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    let answer = browser
        .get(format!("http://{addr}{}", path_of(url)?))
        .send()
        .await?;
    let location = answer
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .context("the sandbox did not redirect")?
        .to_string();
    let (status, linked) = api
        .call(reqwest::Method::GET, path_of(&location)?, Some(token), None)
        .await?;
    if status != 200 {
        bail!("oauth callback: {status} {linked}");
    }
    Ok(())
}

/// A wrk script sending `token` as a bearer token on every request, to a
/// seller's items at a random offset when `random_offsets`.
fn script(token: &str, random_offsets: bool) -> String {
    let mut s = format!("wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n");
    if random_offsets {
        s.push_str(
            "math.randomseed(os.time())\nrequest = function()\n  return wrk.format(nil, \
             \"/api/ml/users/1001/items?limit=1&offset=\" .. math.random(0, 10000))\nend\n",
        );
    }
    s
}

pub fn run(repo: &Repo, options: &BenchOptions) -> Result<()> {
    setup::ensure(&[Prerequisite::LoadGenerator])?;
    // The per-user limit would stop a load test of one user at once.
    let mut stack = AppStack::start_with(
        repo,
        "marketplace",
        &[("SPIN_VARIABLE_RATE_LIMIT_ML_USER", "1000000/1000000")],
    )?;
    let addr = stack.app.host.addr;
    let (api, runtime, admin) = stack.signed_in_admin()?;
    runtime.block_on(link_account(&api, addr, &admin))?;
    let item = "/api/ml/items/MLA123";
    runtime.block_on(api.expect(reqwest::Method::GET, item, Some(&admin), None))?;
    let category = "/api/ml/categories/MLA1051";
    runtime.block_on(api.expect(reqwest::Method::GET, category, None, None))?;

    let dir = repo.local("bench/marketplace/wrk");
    std::fs::create_dir_all(&dir)?;
    let mut commands = stack.commands(format!(
        "cargo xtask bench marketplace --duration {} --connections {} --threads {}",
        options.duration, options.connections, options.threads
    ));
    let mut legs = Vec::new();
    let mut leg = |name: &'static str, script: Option<String>, path: &str| -> Result<()> {
        eprintln!("\n==> {name}");
        let file = script
            .map(|text| -> Result<_> {
                let file = dir.join(format!("{}.lua", name.replace(' ', "-")));
                std::fs::write(&file, text)?;
                Ok(file)
            })
            .transpose()?;
        let mut command = wrk::command(options, file.as_deref(), &format!("http://{addr}{path}"));
        commands.push(process::display(&command));
        let report = wrk::run(&mut command)?;
        if report.bad_responses + report.socket_errors > 0 {
            bail!("{name}: {report:?}");
        }
        legs.push(Leg { name, report });
        Ok(())
    };
    leg("trivial route", None, "/health")?;
    leg("cached item", Some(script(&admin, false)), item)?;
    // The same without a bearer token to verify: what signing in costs.
    leg("cached category, anonymous", None, category)?;
    let control = json!({"latency_ms": LATENCY_MS});
    let (status, body): (u16, Value) = runtime.block_on(api.call(
        reqwest::Method::PUT,
        "/sandbox/ml/control",
        Some(&admin),
        Some(&control),
    ))?;
    if status != 200 {
        bail!("sandbox control: {status} {body}");
    }
    leg(
        "uncached reads",
        Some(script(&admin, true)),
        "/api/ml/users/1001/items",
    )?;
    stack.stop()?;
    let section = section(&legs, &commands);
    let results_file = repo.root().join("bench/RESULTS.md");
    results::append(&results_file, &section)?;
    println!("{section}");
    println!("Appended to {}.", repo.relative(&results_file).display());
    Ok(())
}

fn section(legs: &[Leg], commands: &[String]) -> String {
    let runs: Vec<(&str, &Report)> = legs.iter().map(|l| (l.name, &l.report)).collect();
    let verdict = match legs {
        [trivial, cached, ..] => Some(format!(
            "Cached item reads: {:.2}x the trivial route's requests/s (aim: at least 0.5x).",
            cached.report.requests_per_sec / trivial.report.requests_per_sec
        )),
        _ => None,
    };
    wrk::section(
        "MercadoLibre proxy",
        &format!(
            "the app on spinshop-host with its Redis, cache Redis, broker and bridge, the sandbox \
             MercadoLibre in the same host; uncached reads: the sandbox answers after \
             {LATENCY_MS} ms"
        ),
        "load",
        &runs,
        verdict,
        commands,
    )
}
