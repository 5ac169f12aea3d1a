//! `prometheus` (Debian's package, installed by `cargo xtask setup`): a
//! server of our own scraping the app, the host and the bridge, with the
//! project's rules loaded, for `cargo xtask up` and for the test that
//! evaluates every dashboard and rule expression.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use serde_json::Value;

use crate::paths::{free_port, loopback, TempDir};
use crate::process::{wait_until, Output, Service};

/// One scrape job: a name and its one target's address and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub job: String,
    pub addr: SocketAddr,
    pub metrics_path: String,
    /// A bearer token to send (`metrics_token`), if the target needs one.
    pub bearer: Option<String>,
}

/// How to run Prometheus.
#[derive(Debug, Clone)]
pub struct PrometheusOptions {
    /// Where it listens; `None`: a free loopback port.
    pub listen: Option<SocketAddr>,
    /// Where it keeps its data; `None`: a scratch directory.
    pub dir: Option<PathBuf>,
    pub targets: Vec<Target>,
    /// Rule files (`*.yaml`) to load.
    pub rule_files: Vec<PathBuf>,
    /// Scrape and rule evaluation interval.
    pub interval: Duration,
    pub output: Output,
}

impl Default for PrometheusOptions {
    fn default() -> Self {
        Self {
            listen: None,
            dir: None,
            targets: Vec::new(),
            rule_files: Vec::new(),
            interval: Duration::from_secs(5),
            output: Output::Capture(None),
        }
    }
}

/// A running Prometheus.
#[derive(Debug)]
pub struct Prometheus {
    service: Service,
    pub addr: SocketAddr,
    _scratch: Option<TempDir>,
}

/// The `*.yaml` files of `dir`, sorted.
pub fn rule_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The configuration file for `options`.
pub fn config(options: &PrometheusOptions) -> String {
    let secs = options.interval.as_secs().max(1);
    let mut out = format!("global:\n  scrape_interval: {secs}s\n  evaluation_interval: {secs}s\n");
    if !options.rule_files.is_empty() {
        out.push_str("rule_files:\n");
        for file in &options.rule_files {
            let _ = writeln!(out, "  - {}", file.display());
        }
    }
    out.push_str("scrape_configs:\n");
    for t in &options.targets {
        let _ = writeln!(out, "  - job_name: {}", t.job);
        let _ = writeln!(out, "    metrics_path: {}", t.metrics_path);
        if let Some(token) = &t.bearer {
            let _ = writeln!(out, "    authorization:\n      credentials: {token}");
        }
        let _ = writeln!(out, "    static_configs:\n      - targets: ['{}']", t.addr);
    }
    out
}

impl Prometheus {
    /// Starts Prometheus as `options` say and waits until it is ready.
    pub fn launch(options: PrometheusOptions) -> Result<Self> {
        let addr = options.listen.unwrap_or_else(|| loopback(free_port()));
        let (dir, scratch) = match &options.dir {
            Some(dir) => {
                crate::paths::create_dir(dir)?;
                (dir.clone(), None)
            }
            None => {
                let scratch = TempDir::new("prometheus");
                (scratch.0.clone(), Some(scratch))
            }
        };
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config(&options))
            .with_context(|| format!("cannot write {}", config_file.display()))?;
        let mut command = Command::new("prometheus");
        command
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-lifecycle");
        let mut service = Service::start("prometheus", &mut command, options.output)
            .map_err(|e| e.context("is prometheus installed? `cargo xtask setup` installs it"))?;
        let ready = format!("http://{addr}/-/ready");
        wait_until(
            &format!("Prometheus on {addr}"),
            Duration::from_secs(30),
            &mut [&mut service],
            || {
                reqwest::blocking::get(&ready)
                    .map(|r| r.status().is_success())
                    .unwrap_or(false)
            },
        )?;
        Ok(Self {
            service,
            addr,
            _scratch: scratch,
        })
    }

    /// The server, to watch or stop.
    pub fn service(&mut self) -> &mut Service {
        &mut self.service
    }

    /// `GET /api/v1/<path>` with `params`, its `data` on success.
    pub fn api(&self, path: &str, params: &[(&str, &str)]) -> Result<Value> {
        let url = format!("http://{}/api/v1/{path}", self.addr);
        let client = reqwest::blocking::Client::new();
        let answer: Value = client
            .get(&url)
            .query(params)
            .send()
            .with_context(|| format!("GET {url}"))?
            .json()
            .with_context(|| format!("GET {url}: not JSON"))?;
        if answer["status"] != "success" {
            bail!("{path} {params:?}: {answer}");
        }
        Ok(answer["data"].clone())
    }

    /// An instant query's result vector (an error if it does not parse).
    pub fn query(&self, expr: &str) -> Result<Vec<Value>> {
        let data = self.api("query", &[("query", expr)])?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// Stops the server.
    pub fn stop(&mut self) {
        self.service.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_names_every_job_rule_and_token() {
        let options = PrometheusOptions {
            targets: vec![
                Target {
                    job: "spinshop".into(),
                    addr: loopback(3000),
                    metrics_path: "/metrics".into(),
                    bearer: Some("t0ken".into()),
                },
                Target {
                    job: "kafka-bridge".into(),
                    addr: loopback(9095),
                    metrics_path: "/metrics".into(),
                    bearer: None,
                },
            ],
            rule_files: vec![PathBuf::from("/rules/a.yaml")],
            interval: Duration::from_secs(1),
            ..PrometheusOptions::default()
        };
        let text = config(&options);
        assert!(text.contains("scrape_interval: 1s"));
        assert!(text.contains("rule_files:\n  - /rules/a.yaml\n"));
        assert!(text.contains("  - job_name: spinshop\n    metrics_path: /metrics\n    authorization:\n      credentials: t0ken\n    static_configs:\n      - targets: ['127.0.0.1:3000']\n"));
        assert!(text.contains(
            "  - job_name: kafka-bridge\n    metrics_path: /metrics\n    static_configs:"
        ));
    }
}
