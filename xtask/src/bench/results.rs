//! `bench/RESULTS.md`: one dated section per run with the machine, the
//! exact commands and the figures.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};

use super::wrk::Report;
use crate::process;

/// The top of a new results file.
pub const HEADER: &str = "\
# Benchmark results

Each section is appended by a run of `cargo xtask bench host` (the machine,
the exact commands, requests/s and p50/p99 latency per scenario, and the
host's mean instantiation time from its metrics) or `cargo xtask bench
bridge` (events/s end to end through Kafka and kafka-bridge, and the
bridge's relay latency). Figures are only comparable between sections
recorded on the same machine.
";

/// The machine a run was on.
#[derive(Debug, Clone)]
pub struct Machine {
    /// `nproc`.
    pub cpus: String,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// `Linux <release>`.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// `wrk -v`.
    pub wrk: String,
    /// The checked-out commit, and whether the tree differs from it.
    pub commit: String,
}

impl Machine {
    /// Looks everything up; what cannot be found reads `unknown`.
    pub fn describe(wrk: Option<String>) -> Self {
        let unknown = || "unknown".to_owned();
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let commit = process::query(Command::new("git").args(["rev-parse", "--short=12", "HEAD"]));
        let dirty = process::query(Command::new("git").args(["status", "--porcelain"]))
            .is_some_and(|s| !s.is_empty());
        let commit = match (commit, dirty) {
            (Some(commit), false) => commit,
            (Some(commit), true) => format!("{commit} with uncommitted changes"),
            (None, _) => "none (no commit yet)".to_owned(),
        };
        Self {
            cpus: process::query(&mut Command::new("nproc")).unwrap_or_else(unknown),
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(unknown),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|r| format!("Linux {}", r.trim()))
                .unwrap_or_else(|_| unknown()),
            rustc: process::query(Command::new("rustc").arg("--version")).unwrap_or_else(unknown),
            wrk: wrk.unwrap_or_else(unknown),
            commit,
        }
    }
}

/// The first `model name` of `/proc/cpuinfo`.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// The mean of the `spinshop_host_instantiation_seconds` histogram and
/// its count, from Prometheus text.
pub fn mean_instantiation(metrics: &str) -> Option<(Duration, u64)> {
    let value = |name: &str| {
        metrics.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?;
            // `name 1.5` or `name{} 1.5`, not `name_bucket...`.
            let rest = rest.strip_prefix("{}").unwrap_or(rest);
            rest.starts_with(' ')
                .then(|| rest.trim().parse::<f64>().ok())?
        })
    };
    let sum = value("spinshop_host_instantiation_seconds_sum")?;
    let count = value("spinshop_host_instantiation_seconds_count")?;
    if count < 1.0 || !sum.is_finite() || sum < 0.0 {
        return None;
    }
    Some((Duration::from_secs_f64(sum / count), count as u64))
}

/// One scenario's row.
#[derive(Debug, Clone)]
pub struct Row {
    /// Short name.
    pub scenario: String,
    /// Method, path and what the request does, as Markdown.
    pub request: String,
    /// The wrk command line.
    pub command: String,
    /// The wrk script's path and text, for requests with a body.
    pub script: Option<(String, String)>,
    /// wrk's figures, with failures it cannot see added.
    pub report: Report,
}

/// Everything a section shows.
#[derive(Debug, Clone)]
pub struct Run {
    /// When the run finished.
    pub when: SystemTime,
    /// Where it ran.
    pub machine: Machine,
    /// How the host was started.
    pub host_command: String,
    /// One per scenario.
    pub rows: Vec<Row>,
    /// Mean instantiation time and the number of instantiations.
    pub instantiation: Option<(Duration, u64)>,
}

/// The Markdown section for one run.
pub fn section(run: &Run) -> String {
    let m = &run.machine;
    let mut out = String::new();
    let _ = writeln!(out, "\n## {} · spinshop-host\n", utc_minute(run.when));
    let _ = writeln!(
        out,
        "- Machine: {}, nproc {}, {}",
        m.cpu_model, m.cpus, m.kernel
    );
    let _ = writeln!(out, "- Build: {}; commit {}", m.rustc, m.commit);
    let _ = writeln!(out, "- Load: {}", m.wrk);
    let _ = writeln!(out, "- Host: `{}`\n", run.host_command);
    out.push_str("| scenario | request | requests/s | p50 | p99 | requests | errors |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|\n");
    for row in &run.rows {
        let r = &row.report;
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} | {} | {} | {} |",
            row.scenario,
            row.request,
            r.requests_per_sec,
            millis(r.p50),
            millis(r.p99),
            r.requests,
            r.bad_responses + r.socket_errors
        );
    }
    out.push_str(
        "\nErrors: non-2xx/3xx responses, socket errors and, for sqlite, \
         requests whose row is missing from the table afterwards.\n",
    );
    match run.instantiation {
        Some((mean, count)) => {
            let _ = writeln!(
                out,
                "Mean instantiation: {:.1} µs over {count} instantiations \
                 (`spinshop_host_instantiation_seconds`, whole run).",
                mean.as_secs_f64() * 1e6
            );
        }
        None => out.push_str("Mean instantiation: not reported (no `spinshop_host_instantiation_seconds` in the host's metrics).\n"),
    }
    out.push_str("\nCommands, from the repository root:\n\n```sh\n");
    for row in &run.rows {
        let _ = writeln!(out, "{}", row.command);
    }
    out.push_str("```\n");
    for row in &run.rows {
        if let Some((path, script)) = &row.script {
            let _ = write!(out, "\n`{path}`:\n\n```lua\n{script}```\n");
        }
    }
    out
}

fn millis(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Appends `section` to `path`, starting the file with [`HEADER`] if it
/// does not exist yet.
pub fn append(path: &Path, section: &str) -> Result<()> {
    let is_new = !path.exists();
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut text = String::new();
    if is_new {
        text.push_str(HEADER);
    }
    text.push_str(section);
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `2026-04-20 14:03 UTC`.
pub fn utc_minute(when: SystemTime) -> String {
    let secs = when
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, of_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60
    )
}

/// Days since 1970-01-01 to a Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_dates() {
        let at = |secs: u64| utc_minute(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01 00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(at(1_709_251_199), "2024-02-29 23:59 UTC");
        assert_eq!(at(1_776_693_780), "2026-04-20 14:03 UTC");
    }

    #[test]
    fn reads_the_cpu_model() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor : 0\n"), None);
    }

    #[test]
    fn means_the_instantiation_histogram() {
        let metrics = "\
# TYPE spinshop_host_instantiation_seconds histogram
spinshop_host_instantiation_seconds_bucket{le=\"0.00005\"} 3
spinshop_host_instantiation_seconds_bucket{le=\"+Inf\"} 4
spinshop_host_instantiation_seconds_sum 0.0001
spinshop_host_instantiation_seconds_count 4
";
        let (mean, count) = mean_instantiation(metrics).expect("present");
        assert_eq!(count, 4);
        assert!((24_999..=25_001).contains(&mean.as_nanos()), "{mean:?}");
        assert_eq!(
            mean_instantiation("spinshop_host_instantiation_seconds_count 0\n"),
            None
        );
        assert_eq!(mean_instantiation("spinshop_host_requests_total 3\n"), None);
    }

    #[test]
    fn a_section_has_the_figures_and_commands() {
        let run = Run {
            when: UNIX_EPOCH + Duration::from_secs(1_776_693_780),
            machine: Machine {
                cpus: "2".into(),
                cpu_model: "AMD EPYC 7B13".into(),
                kernel: "Linux 6.1.0".into(),
                rustc: "rustc 1.95.0".into(),
                wrk: "wrk 4.1.0".into(),
                commit: "0123456789ab".into(),
            },
            host_command: "target/release/spinshop-host up --from bench/host/spin.toml".into(),
            rows: vec![Row {
                scenario: "trivial".into(),
                request: "`GET /guest/echo`".into(),
                command: "wrk -t2 -c16 -d10s --latency http://127.0.0.1:4000/guest/echo".into(),
                script: Some((
                    ".spinshop/bench/x.lua".into(),
                    "wrk.method = \"POST\"\n".into(),
                )),
                report: Report {
                    requests_per_sec: 11165.31,
                    p50: Duration::from_micros(1210),
                    p99: Duration::from_micros(6830),
                    requests: 111_664,
                    bad_responses: 1,
                    socket_errors: 2,
                },
            }],
            instantiation: Some((Duration::from_nanos(23_400), 120_000)),
        };
        let text = section(&run);
        assert!(
            text.contains("## 2026-04-20 14:03 UTC · spinshop-host"),
            "{text}"
        );
        assert!(text.contains("AMD EPYC 7B13, nproc 2"), "{text}");
        assert!(
            text.contains(
                "| trivial | `GET /guest/echo` | 11165 | 1.21 ms | 6.83 ms | 111664 | 3 |"
            ),
            "{text}"
        );
        assert!(text.contains("23.4 µs over 120000"), "{text}");
        assert!(
            text.contains(
                "```sh\nwrk -t2 -c16 -d10s --latency http://127.0.0.1:4000/guest/echo\n```"
            ),
            "{text}"
        );
        assert!(
            text.contains("`.spinshop/bench/x.lua`:\n\n```lua\nwrk.method = \"POST\"\n```"),
            "{text}"
        );
    }
}
