//! The application's runtime as a process: `spinshop-host up`, or the
//! Spin CLI's `spin up` when `SPIN_BIN` names one, serving a manifest on
//! loopback, stopped when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::paths::{free_port, target_dir, wait_for_port, TempDir};
use crate::process::{Output, Service};

/// Set to `spin` (with `SPIN_BIN` naming a Spin CLI), the end-to-end
/// harness runs the application on `spin up` instead of spinshop-host.
pub const RUNTIME_VARIABLE: &str = "SPINSHOP_E2E_RUNTIME";

/// Which runtime serves the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// spinshop-host, at this path.
    Host(PathBuf),
    /// The Spin CLI, at this path.
    Spin(PathBuf),
}

impl Runtime {
    /// The Spin CLI that `SPIN_BIN` names, if it does.
    pub fn spin_from_env() -> Option<Self> {
        std::env::var_os("SPIN_BIN")
            .filter(|b| !b.is_empty())
            .map(|b| Self::Spin(PathBuf::from(b)))
    }

    /// What the end-to-end suite runs on: Spin when [`RUNTIME_VARIABLE`]
    /// says `spin` (and `SPIN_BIN` is set), else spinshop-host at `host`.
    pub fn for_end_to_end(host: PathBuf) -> Self {
        let wanted = std::env::var(RUNTIME_VARIABLE).unwrap_or_default();
        match (wanted.as_str(), Self::spin_from_env()) {
            ("spin", Some(spin)) => spin,
            ("spin", None) => panic!("{RUNTIME_VARIABLE}=spin needs SPIN_BIN to name a Spin CLI"),
            _ => Self::Host(host),
        }
    }

    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Host(_) => "spinshop-host",
            Self::Spin(_) => "spin",
        }
    }
}

/// How to start a host.
#[derive(Debug, Clone)]
pub struct HostSpec<'a> {
    /// The runtime (spinshop-host's executable by default).
    pub runtime: Runtime,
    /// The manifest's text, written to the host's directory; or the path
    /// of an existing manifest (then `manifest` is empty).
    pub manifest: &'a str,
    pub manifest_path: Option<PathBuf>,
    /// `(placeholder, value)` pairs replaced in the manifest text.
    pub substitutions: Vec<(String, String)>,
    /// A runtime config's text (`{dir}` stands for the host's directory),
    /// or the path of one.
    pub runtime_config: Option<&'a str>,
    pub runtime_config_path: Option<PathBuf>,
    /// Fixed addresses; by default the host picks free ones.
    pub listen: Option<SocketAddr>,
    pub metrics_listen: Option<SocketAddr>,
    /// Where `default` databases go; by default `<dir>/state`.
    pub state_dir: Option<PathBuf>,
    /// Send the host's output to this file instead of keeping it in memory
    /// (a long-running host); readiness is then seen on the listen port.
    pub log_file: Option<PathBuf>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl<'a> HostSpec<'a> {
    pub fn new(binary: impl Into<PathBuf>, manifest: &'a str) -> Self {
        Self {
            runtime: Runtime::Host(binary.into()),
            manifest,
            manifest_path: None,
            substitutions: Vec::new(),
            runtime_config: None,
            runtime_config_path: None,
            listen: None,
            metrics_listen: None,
            state_dir: None,
            log_file: None,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Serves an existing manifest file (its relative paths stay valid).
    pub fn manifest_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.manifest_path = Some(path.into());
        self
    }

    pub fn substitute(mut self, placeholder: &str, value: &str) -> Self {
        self.substitutions
            .push((placeholder.to_string(), value.to_string()));
        self
    }

    pub fn runtime_config(mut self, text: &'a str) -> Self {
        self.runtime_config = Some(text);
        self
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_string());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    /// Runs the application on `runtime` instead.
    pub fn on(mut self, runtime: Runtime) -> Self {
        self.runtime = runtime;
        self
    }
}

/// A running host.
#[derive(Debug)]
pub struct Host {
    service: Option<Service>,
    pub addr: SocketAddr,
    /// spinshop-host's Prometheus endpoint (Spin has none: then `addr`).
    pub metrics_addr: SocketAddr,
    pub dir: TempDir,
    pub runtime: Runtime,
    command_line: String,
}

/// What a host that failed to start said.
#[derive(Debug)]
pub struct StartFailure {
    pub status: ExitStatus,
    pub stderr: String,
}

/// A host start-up takes a while on a cold compile cache.
const START_LIMIT: Duration = Duration::from_secs(180);

fn write_app(spec: &HostSpec<'_>, dir: &Path) -> PathBuf {
    if let Some(path) = &spec.manifest_path {
        return path.clone();
    }
    let mut manifest = spec.manifest.to_string();
    for (placeholder, value) in &spec.substitutions {
        manifest = manifest.replace(placeholder, value);
    }
    let path = dir.join("spin.toml");
    std::fs::write(&path, manifest).expect("write manifest");
    path
}

fn command(spec: &HostSpec<'_>, dir: &Path, listen: SocketAddr) -> Command {
    let manifest = write_app(spec, dir);
    let state = spec.state_dir.clone().unwrap_or_else(|| dir.join("state"));
    let mut cmd = match &spec.runtime {
        Runtime::Host(binary) => {
            let mut cmd = Command::new(binary);
            let metrics = spec
                .metrics_listen
                .map_or_else(|| "127.0.0.1:0".to_string(), |a| a.to_string());
            cmd.arg("up")
                .arg("--from")
                .arg(&manifest)
                .args([
                    "--listen",
                    &listen.to_string(),
                    "--metrics-listen",
                    &metrics,
                ])
                .arg("--state-dir")
                .arg(&state)
                .arg("--cache-dir")
                .arg(target_dir().join("host-tests-cache"))
                .env("SPINSHOP_LOG", "info");
            cmd
        }
        Runtime::Spin(binary) => {
            let mut cmd = Command::new(binary);
            cmd.arg("up")
                .arg("--from")
                .arg(&manifest)
                .args(["--listen", &listen.to_string()])
                .arg("--state-dir")
                .arg(&state);
            cmd
        }
    };
    cmd.args(&spec.args);
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    if let Some(path) = &spec.runtime_config_path {
        cmd.arg("--runtime-config-file").arg(path);
    } else if let Some(rc) = spec.runtime_config {
        let rc = rc.replace("{dir}", &dir.display().to_string());
        let path = dir.join("runtime-config.toml");
        std::fs::write(&path, rc).expect("write runtime config");
        cmd.arg("--runtime-config-file").arg(path);
    }
    cmd
}

impl Host {
    /// Starts a host and waits until it serves; panics if it cannot start.
    pub fn start(spec: HostSpec<'_>) -> Self {
        match Self::try_start(spec) {
            Ok(host) => host,
            Err(f) => panic!("the host failed to start ({}):\n{}", f.status, f.stderr),
        }
    }

    /// Starts a host; a host that exits instead is returned as a failure.
    pub fn try_start(spec: HostSpec<'_>) -> Result<Self, StartFailure> {
        let dir = TempDir::new("host");
        Self::start_in(spec, dir)
    }

    /// Starts a host on an existing directory (to test restarts).
    pub fn start_in(spec: HostSpec<'_>, dir: TempDir) -> Result<Self, StartFailure> {
        // spinshop-host can pick its own port and say which; Spin is given one.
        let listen = spec.listen.unwrap_or_else(|| match spec.runtime {
            Runtime::Host(_) => crate::paths::loopback(0),
            Runtime::Spin(_) => crate::paths::loopback(free_port()),
        });
        let mut cmd = command(&spec, &dir.0, listen);
        let output = match &spec.log_file {
            Some(file) => Output::File(file.clone()),
            None => Output::Capture(None),
        };
        let name = spec.runtime.name();
        let mut service = match Service::start(name, &mut cmd, output) {
            Ok(service) => service,
            Err(e) => panic!("{e:#}"),
        };
        let command_line = service.command_line().to_string();
        let announced = match (&spec.runtime, &spec.log_file) {
            (Runtime::Host(_), None) => Some(announcements(&service)),
            _ => None,
        };
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let ready = match &announced {
                Some(rx) => rx.recv_timeout(Duration::from_millis(50)).ok(),
                None => wait_for_port(listen, Duration::from_millis(50)).then(|| {
                    let metrics = spec.metrics_listen.unwrap_or(listen);
                    (listen, metrics)
                }),
            };
            if let Some((addr, metrics_addr)) = ready {
                return Ok(Self {
                    service: Some(service),
                    addr,
                    metrics_addr,
                    dir,
                    runtime: spec.runtime.clone(),
                    command_line,
                });
            }
            if let Ok(Some(status)) = service.exit_status() {
                std::thread::sleep(Duration::from_millis(100));
                let stderr = service.captured().stderr().join("\n");
                return Err(StartFailure {
                    status,
                    stderr: if stderr.is_empty() {
                        service.output_hint()
                    } else {
                        stderr
                    },
                });
            }
            if Instant::now() > deadline {
                service.kill9();
                panic!("{name} did not start in time");
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// How it was started, for records.
    pub fn command_line(&self) -> &str {
        &self.command_line
    }

    /// The process, while it runs.
    pub fn service(&mut self) -> Option<&mut Service> {
        self.service.as_mut()
    }

    /// The host's JSON log lines so far.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        self.stdout()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn stdout(&self) -> Vec<String> {
        self.service
            .as_ref()
            .map(|s| s.captured().stdout())
            .unwrap_or_default()
    }

    /// Waits until a log line satisfies `pred`.
    pub fn wait_for_log(&self, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.log_lines().into_iter().find(|l| pred(l)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no matching log line; log:\n{}",
                self.stdout().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr_text(&self) -> String {
        self.service
            .as_ref()
            .map(|s| s.captured().stderr().join("\n"))
            .unwrap_or_default()
    }

    /// Sends SIGTERM and waits (up to 30 s, then SIGKILL) for it to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut service = self.service.take().expect("host running");
        service
            .stop_within(Duration::from_secs(30))
            .expect("host exit status")
    }

    /// SIGKILL: a crash.
    pub fn kill9(&mut self) {
        if let Some(mut service) = self.service.take() {
            service.kill9();
        }
    }

    /// Stops the host and hands back its directory (for restarts).
    pub fn into_dir(mut self) -> TempDir {
        if self.service.is_some() {
            self.terminate();
        }
        std::mem::replace(&mut self.dir, TempDir(PathBuf::new()))
    }

    pub async fn metrics(&self) -> String {
        crate::client()
            .get(format!("http://{}/metrics", self.metrics_addr))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body")
    }
}

/// The addresses spinshop-host announces on stderr ("Serving http://A",
/// "Metrics: http://M/metrics") once both are out.
fn announcements(service: &Service) -> mpsc::Receiver<(SocketAddr, SocketAddr)> {
    let stderr = service.captured().stderr.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let deadline = Instant::now() + START_LIMIT;
        while Instant::now() < deadline {
            let lines = stderr.lock().map(|l| l.clone()).unwrap_or_default();
            let find = |prefix: &str| {
                lines.iter().find_map(|line| {
                    line.strip_prefix(prefix)
                        .map(|a| a.trim_end_matches("/metrics"))
                        .and_then(|a| a.parse::<SocketAddr>().ok())
                })
            };
            if let (Some(serving), Some(metrics)) =
                (find("Serving http://"), find("Metrics: http://"))
            {
                let _ = tx.send((serving, metrics));
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    rx
}
