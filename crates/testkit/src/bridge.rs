//! `kafka-bridge` as a process, configured by a TOML file, stopped when
//! dropped; it can be killed and started again (same config, same
//! identity) to test crashes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use anyhow::Result;

use crate::paths::{free_port, loopback, TempDir};
use crate::process::{wait_until, Output, Service};

/// The `kafka-bridge` executable the workspace build makes.
pub fn bridge_binary() -> PathBuf {
    crate::paths::target_dir().join("release/kafka-bridge")
}

/// How to run a bridge.
#[derive(Debug, Clone)]
pub struct BridgeSpec {
    /// The executable.
    pub binary: PathBuf,
    /// The configuration file.
    pub config: PathBuf,
    pub brokers: String,
    pub platform_url: String,
    /// `/health` and `/metrics`; a free loopback port by default.
    pub listen: Option<SocketAddr>,
    /// `BRIDGE_INTERNAL_TOKEN`.
    pub token: String,
    /// Further command-line options (`--topic-prefix`, `--instance`...).
    pub args: Vec<String>,
    /// Output to this file instead of memory.
    pub log_file: Option<PathBuf>,
}

/// A running `kafka-bridge`.
#[derive(Debug)]
pub struct Bridge {
    service: Option<Service>,
    pub addr: SocketAddr,
    spec: BridgeSpec,
    /// What earlier runs (before a restart) printed.
    earlier: Vec<String>,
    /// Extra environment (the OTLP exporter's, say); kept here rather than
    /// in [`BridgeSpec`], whose literal callers would all have to name it.
    env: Vec<(String, String)>,
    _dir: Option<TempDir>,
}

impl Bridge {
    /// Starts the bridge with `config` (TOML text), pointed at `brokers`
    /// and `platform_url`, plus `args`, and waits until `/health` answers;
    /// panics if it cannot.
    pub fn start_with(
        config: &str,
        brokers: &str,
        platform_url: &str,
        token: &str,
        args: &[&str],
    ) -> Self {
        Self::start_with_env(config, brokers, platform_url, token, args, &[])
    }

    /// [`Self::start_with`] with `env` added to the bridge's environment
    /// (restarts keep it).
    pub fn start_with_env(
        config: &str,
        brokers: &str,
        platform_url: &str,
        token: &str,
        args: &[&str],
        env: &[(String, String)],
    ) -> Self {
        let dir = TempDir::new("bridge");
        let path = dir.0.join("bridge.toml");
        std::fs::write(&path, config).expect("write bridge config");
        let spec = BridgeSpec {
            binary: bridge_binary(),
            config: path,
            brokers: brokers.to_string(),
            platform_url: platform_url.to_string(),
            listen: None,
            token: token.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            log_file: None,
        };
        match Self::launch_in(spec, Some(dir), env.to_vec()) {
            Ok(bridge) => bridge,
            Err(e) => panic!("{e:#}"),
        }
    }

    /// [`Self::start_with`] without extra arguments.
    pub fn start(config: &str, brokers: &str, platform_url: &str, token: &str) -> Self {
        Self::start_with(config, brokers, platform_url, token, &[])
    }

    /// Starts a bridge as `spec` says and waits until `/health` answers.
    pub fn launch(spec: BridgeSpec) -> Result<Self> {
        Self::launch_in(spec, None, Vec::new())
    }

    fn launch_in(
        mut spec: BridgeSpec,
        dir: Option<TempDir>,
        env: Vec<(String, String)>,
    ) -> Result<Self> {
        let addr = spec.listen.unwrap_or_else(|| loopback(free_port()));
        spec.listen = Some(addr);
        let mut bridge = Self {
            service: None,
            addr,
            spec,
            earlier: Vec::new(),
            env,
            _dir: dir,
        };
        bridge.run()?;
        Ok(bridge)
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.spec.binary);
        command
            .arg("--config")
            .arg(&self.spec.config)
            .args(["--brokers", &self.spec.brokers])
            .args(["--platform-url", &self.spec.platform_url])
            .args(["--listen", &self.addr.to_string()])
            .args(&self.spec.args)
            .env("BRIDGE_INTERNAL_TOKEN", &self.spec.token)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    fn run(&mut self) -> Result<()> {
        crate::paths::check_free(self.addr, "kafka-bridge", "SPINSHOP_BRIDGE_LISTEN")?;
        let output = match &self.spec.log_file {
            Some(file) => Output::File(file.clone()),
            None => Output::Capture(None),
        };
        let mut service = Service::start("kafka-bridge", &mut self.command(), output)?;
        let addr = self.addr;
        wait_until(
            &format!("kafka-bridge on {addr}"),
            Duration::from_secs(60),
            &mut [&mut service],
            || crate::paths::accepts_connections(addr),
        )?;
        self.service = Some(service);
        Ok(())
    }

    /// The command line it runs with, for records (the token elided).
    pub fn command_line(&self) -> String {
        crate::process::display(&self.command())
    }

    /// The process, while it runs.
    pub fn service(&mut self) -> Option<&mut Service> {
        self.service.as_mut()
    }

    /// SIGKILL: no chance to commit, flush or ack.
    pub fn kill9(&mut self) {
        if let Some(mut service) = self.service.take() {
            service.kill9();
            self.earlier.extend(service.captured().stderr());
        }
    }

    /// Starts the same bridge again after `kill9` or `terminate`.
    pub fn restart(&mut self) {
        self.kill9();
        if let Err(e) = self.run() {
            panic!("kafka-bridge did not restart: {e:#}");
        }
    }

    /// SIGTERM, then waits (up to 40 s) for it to exit.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let mut service = self.service.take()?;
        let status = service.stop_within(Duration::from_secs(40));
        self.earlier.extend(service.captured().stderr());
        status
    }

    /// Runs `kafka-bridge replay` with this bridge's configuration,
    /// brokers and options plus `args`; panics unless it succeeds, and
    /// returns what it printed.
    pub fn replay(&self, args: &[&str]) -> String {
        let mut command = Command::new(&self.spec.binary);
        command
            .arg("replay")
            .arg("--config")
            .arg(&self.spec.config)
            .args(["--brokers", &self.spec.brokers])
            .args(&self.spec.args)
            .args(args);
        let output = command.output().expect("run kafka-bridge replay");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "replay failed: {text}");
        text
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Everything it printed (its log is JSON lines on stderr), restarts included.
    pub fn log_text(&self) -> String {
        let mut lines = self.earlier.clone();
        if let Some(service) = &self.service {
            lines.extend(service.captured().stderr());
        }
        lines.join("\n")
    }

    /// The bridge's Prometheus text.
    pub async fn metrics(&self) -> String {
        crate::client()
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("bridge metrics")
            .text()
            .await
            .expect("metrics body")
    }
}
