//! The load generator: wrk's command line, its Lua script for requests with
//! a body, and the figures read back from its report.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

use super::BenchOptions;
use crate::process;

/// The figures of one wrk run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `Requests/sec:`.
    pub requests_per_sec: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Requests completed in the run.
    pub requests: u64,
    /// Responses outside 2xx/3xx.
    pub bad_responses: u64,
    /// Connect, read, write errors and timeouts.
    pub socket_errors: u64,
}

/// `wrk -t<T> -c<C> -d<D> --latency [-s script] <url>`.
pub fn command(options: &BenchOptions, script: Option<&Path>, url: &str) -> Command {
    let mut command = Command::new("wrk");
    command.args([
        format!("-t{}", options.threads),
        format!("-c{}", options.connections),
        format!("-d{}", options.duration),
        "--latency".to_owned(),
    ]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    command.arg(url);
    command
}

/// A script that makes every request `method` with a JSON `body`.
pub fn script(method: &str, body: &str) -> Result<String> {
    // A Lua long bracket takes the body verbatim, quotes and all.
    if body.contains("]]") {
        bail!("the request body may not contain `]]`");
    }
    Ok(format!(
        "wrk.method = \"{method}\"\nwrk.body = [[{body}]]\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
    ))
}

/// `wrk 4.1.0` (from `wrk -v`, which exits non-zero), if wrk runs.
pub fn version() -> Option<String> {
    let output = Command::new("wrk").arg("-v").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let first = text.lines().next()?.trim();
    // "wrk 4.1.0 [epoll] Copyright (C) 2012 Will Glozer"
    Some(first.split(" [").next().unwrap_or(first).to_owned())
}

/// Runs wrk, echoes its report and reads it.
pub fn run(command: &mut Command) -> Result<Report> {
    let output = process::run_captured(command)?;
    eprint!("{output}");
    parse(&output).with_context(|| format!("cannot read wrk's report:\n{output}"))
}

/// Reads wrk's text report (with `--latency`).
pub fn parse(output: &str) -> Result<Report> {
    let mut requests_per_sec = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut requests = None;
    let mut bad_responses = 0;
    let mut socket_errors = 0;
    for line in output.lines() {
        let line = line.trim();
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(value)) => {
                requests_per_sec = Some(
                    value
                        .parse::<f64>()
                        .with_context(|| format!("bad rate {value:?}"))?,
                );
            }
            (Some("50%"), Some(value)) => p50 = Some(parse_latency(value)?),
            (Some("99%"), Some(value)) => p99 = Some(parse_latency(value)?),
            (Some(count), Some("requests")) => {
                requests = Some(
                    count
                        .parse::<u64>()
                        .with_context(|| format!("bad request count {count:?}"))?,
                );
            }
            _ => {}
        }
        if let Some(count) = line.strip_prefix("Non-2xx or 3xx responses:") {
            bad_responses = count
                .trim()
                .parse()
                .with_context(|| format!("bad count in {line:?}"))?;
        }
        if let Some(counts) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in counts.split(',') {
                let count = part.split_whitespace().last().unwrap_or_default();
                socket_errors += count
                    .parse::<u64>()
                    .with_context(|| format!("bad count in {line:?}"))?;
            }
        }
    }
    Ok(Report {
        requests_per_sec: requests_per_sec.context("no `Requests/sec:` line")?,
        p50: p50.context("no 50% latency (was --latency given?)")?,
        p99: p99.context("no 99% latency (was --latency given?)")?,
        requests: requests.context("no `N requests in` line")?,
        bad_responses,
        socket_errors,
    })
}

/// A wrk time: `812.00us`, `1.23ms`, `2.50s`, `1.00m`, `1.00h`.
fn parse_latency(value: &str) -> Result<Duration> {
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .with_context(|| format!("latency {value:?} has no unit"))?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number
        .parse()
        .with_context(|| format!("bad latency {value:?}"))?;
    let nanos_per_unit = match unit {
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => bail!("unknown unit in latency {value:?}"),
    };
    // Rounded to whole nanoseconds, so `1.21ms` is exactly 1,210 µs.
    let nanos = (number * nanos_per_unit).round();
    if !(0.0..=u64::MAX as f64).contains(&nanos) {
        bail!("latency {value:?} is out of range");
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// A RESULTS.md section of wrk runs: the heading `## <title>: <time>
/// (<commit>)`, a machine line ending with `setup`, a table of each run
/// (`column` names them), `verdict` (a paragraph, if any), and the
/// commands that produced the figures.
pub fn section(
    title: &str,
    setup: &str,
    column: &str,
    runs: &[(&str, &Report)],
    verdict: Option<String>,
    commands: &[String],
) -> String {
    use std::fmt::Write as _;
    let m = super::results::Machine::describe(version());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## {title}: {} ({})\n",
        super::results::utc_minute(std::time::SystemTime::now()),
        m.commit
    );
    let _ = writeln!(
        out,
        "- Machine: {}, nproc {}, {}; {setup}; wrk ({}) shares the machine\n",
        m.cpu_model, m.cpus, m.kernel, m.wrk
    );
    let _ = writeln!(out, "| {column} | req/s | p50 | p99 |\n|---|---|---|---|");
    for (name, report) in runs {
        let _ = writeln!(
            out,
            "| {name} | {:.0} | {:.2} ms | {:.2} ms |",
            report.requests_per_sec,
            report.p50.as_secs_f64() * 1000.0,
            report.p99.as_secs_f64() * 1000.0
        );
    }
    if let Some(verdict) = verdict {
        let _ = writeln!(out, "\n{verdict}");
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

    const CLEAN: &str = "\
Running 10s test @ http://127.0.0.1:41235/guest/echo
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms    1.20ms  25.31ms   91.12%
    Req/Sec     5.61k   412.37     6.40k    72.50%
  Latency Distribution
     50%    1.21ms
     75%    1.64ms
     90%    2.37ms
     99%    6.83ms
  111664 requests in 10.00s, 14.38MB read
Requests/sec:  11165.31
Transfer/sec:      1.44MB
";

    const WITH_ERRORS: &str = "\
Running 10s test @ http://127.0.0.1:41235/guest/sqlite/default
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.40us  301.22us   1.20s    88.00%
    Req/Sec     9.80k   500.00    10.50k    70.00%
  Latency Distribution
     50%  760.00us
     75%    0.90ms
     90%    1.10ms
     99%    1.20s
  196000 requests in 10.00s, 20.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 17
Requests/sec:  19600.00
Transfer/sec:      2.00MB
";

    #[test]
    fn reads_a_clean_report() -> Result<()> {
        let report = parse(CLEAN)?;
        assert_eq!(
            report,
            Report {
                requests_per_sec: 11165.31,
                p50: Duration::from_micros(1210),
                p99: Duration::from_micros(6830),
                requests: 111_664,
                bad_responses: 0,
                socket_errors: 0,
            }
        );
        Ok(())
    }

    #[test]
    fn reads_errors_and_other_units() -> Result<()> {
        let report = parse(WITH_ERRORS)?;
        assert_eq!(report.p50, Duration::from_micros(760));
        assert_eq!(report.p99, Duration::from_millis(1200));
        assert_eq!(report.requests, 196_000);
        assert_eq!(report.bad_responses, 17);
        assert_eq!(report.socket_errors, 5);
        Ok(())
    }

    #[test]
    fn refuses_a_report_without_the_distribution() {
        let without: String = CLEAN
            .lines()
            .filter(|l| !l.contains('%') || l.contains("Stdev"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(parse(&without).is_err());
        assert!(parse("unable to connect to 127.0.0.1:1 Connection refused").is_err());
    }

    #[test]
    fn reads_every_wrk_time_unit() -> Result<()> {
        assert_eq!(parse_latency("999.00us")?, Duration::from_micros(999));
        assert_eq!(parse_latency("2.00m")?, Duration::from_secs(120));
        assert_eq!(parse_latency("1.00h")?, Duration::from_secs(3600));
        assert!(parse_latency("12").is_err());
        assert!(parse_latency("12parsecs").is_err());
        Ok(())
    }

    #[test]
    fn builds_the_command_and_script() -> Result<()> {
        let options = BenchOptions::default();
        let command = command(
            &options,
            Some(Path::new(".spinshop/bench/sqlite.lua")),
            "http://127.0.0.1:1/x",
        );
        assert_eq!(
            process::display(&command),
            "wrk -t2 -c16 -d10s --latency -s .spinshop/bench/sqlite.lua http://127.0.0.1:1/x"
        );
        let script = script("POST", r#"{"a":"b"}"#)?;
        assert!(
            script.contains("wrk.method = \"POST\"\nwrk.body = [[{\"a\":\"b\"}]]\n"),
            "{script}"
        );
        assert!(self::script("POST", "]]").is_err());
        Ok(())
    }
}
