//! The local stack that `up` and `bench` run: a Redis server, the tansu
//! Kafka-protocol broker, `spinshop-host` and `kafka-bridge`, each started
//! and waited for until it answers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

use crate::net::{self, Ping};
use crate::process::{self, Output, Service};
use crate::repo::{self, Repo};
use crate::tansu;

/// Redis starts in well under a second; allow for a slow disk.
const REDIS_START: Duration = Duration::from_secs(20);
/// The host compiles components on a cold cache: give it time.
const HOST_START: Duration = Duration::from_secs(180);
/// tansu opens (or creates) its SQLite database, then listens.
const BROKER_START: Duration = Duration::from_secs(60);
/// The bridge creates its topics on the broker before it serves /health.
const BRIDGE_START: Duration = Duration::from_secs(60);

/// The Redis that the stack uses.
#[derive(Debug)]
pub enum Redis {
    /// One we started and will stop.
    Started(Service),
    /// One that already answered on the port.
    Reused,
}

/// Starts `redis-server` on `127.0.0.1:<port>` with its data in `dir`, or
/// reuses a Redis that already answers there.
pub fn start_redis(port: u16, dir: &Path, output: Output) -> Result<Redis> {
    let addr = net::loopback(port);
    match net::redis_ping(addr) {
        Ping::Pong => {
            eprintln!("Redis already answers on {addr}: using it (its data is wherever it keeps it)");
            return Ok(Redis::Reused);
        }
        Ping::Other(what) => bail!(
            "something other than a usable Redis listens on {addr} ({what}); stop it, or set SPINSHOP_REDIS_PORT"
        ),
        Ping::Nobody => {}
    }
    repo::create_dir(dir)?;
    let port_arg = port.to_string();
    let mut command = std::process::Command::new("redis-server");
    command.args(["--port", &port_arg, "--bind", "127.0.0.1", "--dir"]);
    command.arg(dir);
    command.args([
        "--save",
        "60",
        "1",
        "--appendonly",
        "yes",
        "--daemonize",
        "no",
    ]);
    let mut service = Service::start("redis-server", &mut command, output)?;
    process::wait_until(
        &format!("Redis on {addr}"),
        REDIS_START,
        &mut [&mut service],
        || net::redis_ping(addr) == Ping::Pong,
    )?;
    Ok(Redis::Started(service))
}

/// How to run `spinshop-host up`.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// `--from`: the Spin manifest.
    pub manifest: PathBuf,
    /// `--runtime-config-file`, if any.
    pub runtime_config: Option<PathBuf>,
    /// `--listen`: the application's address.
    pub listen: SocketAddr,
    /// `--metrics-listen`: the host's Prometheus endpoint.
    pub metrics_listen: SocketAddr,
    /// `--state-dir`: where `default` databases and stores go.
    pub state_dir: PathBuf,
    /// The Redis the application uses (`SPIN_VARIABLE_REDIS_HOST`).
    pub redis: SocketAddr,
    /// Where the host's stdout and stderr go.
    pub output: Output,
    /// Further environment (`SPIN_VARIABLE_*`), e.g. local secrets.
    pub variables: Vec<(String, String)>,
}

impl HostConfig {
    /// The command line, with paths relative to the root (where it runs).
    pub fn command(&self, repo: &Repo) -> std::process::Command {
        let mut command = repo.command(repo.relative(&repo.host_binary()));
        command
            .arg("up")
            .arg("--from")
            .arg(repo.relative(&self.manifest));
        command.args(["--listen", &self.listen.to_string()]);
        if let Some(runtime_config) = &self.runtime_config {
            command
                .arg("--runtime-config-file")
                .arg(repo.relative(runtime_config));
        }
        command
            .arg("--state-dir")
            .arg(repo.relative(&self.state_dir));
        command.args(["--metrics-listen", &self.metrics_listen.to_string()]);
        command.env("SPIN_VARIABLE_REDIS_HOST", self.redis.to_string());
        command.envs(self.variables.iter().map(|(k, v)| (k, v)));
        command
    }
}

/// Starts the host and waits until `GET <ready_path>` gets an answer,
/// whatever its status, which is returned with the service.
pub fn start_host(
    repo: &Repo,
    config: &HostConfig,
    ready_path: &str,
) -> Result<(Service, net::Response)> {
    repo::create_dir(&config.state_dir)?;
    eprintln!("SPIN_VARIABLE_REDIS_HOST={}", config.redis);
    let mut service = Service::start(
        "spinshop-host",
        &mut config.command(repo),
        config.output.clone(),
    )?;
    let mut answer = None;
    let what = format!(
        "spinshop-host to answer GET http://{}{ready_path}",
        config.listen
    );
    process::wait_until(&what, HOST_START, &mut [&mut service], || {
        answer = net::get(config.listen, ready_path).ok();
        answer.is_some()
    })?;
    match answer {
        Some(response) => Ok((service, response)),
        None => bail!("{what}: no answer"),
    }
}

/// Fails, naming `who` and the variable that moves it, if something
/// already accepts connections on `addr`.
pub fn check_free(addr: SocketAddr, who: &str, variable: &str) -> Result<()> {
    if net::accepts_connections(addr) {
        bail!(
            "something already listens on {addr}, where {who} should listen; \
             stop it, or set {variable} to a free address"
        );
    }
    Ok(())
}

/// Fails unless the workspace build made `target/release/kafka-bridge`.
pub fn check_bridge_built(repo: &Repo) -> Result<()> {
    let binary = repo.bridge_binary();
    if !binary.is_file() {
        bail!(
            "{} is missing: the release build of the workspace should have built it \
             (is kafka-bridge a workspace member?)",
            binary.display()
        );
    }
    Ok(())
}

/// Starts the tansu broker (`binary`) on `127.0.0.1:<port>` with its
/// database in `dir`, and waits until the port accepts connections. Fails
/// if something already listens there: a broker with other data (or no
/// broker at all) must not be mistaken for ours.
pub fn start_broker(binary: &Path, port: u16, dir: &Path, output: Output) -> Result<Service> {
    let addr = net::loopback(port);
    check_free(addr, "the Kafka broker", "SPINSHOP_KAFKA_PORT")?;
    repo::create_dir(dir)?;
    let mut command = tansu::broker_command(binary, addr, dir);
    eprintln!("$ cd {}", dir.display());
    let mut service = Service::start("tansu", &mut command, output)?;
    process::wait_until(
        &format!("the Kafka broker on {addr}"),
        BROKER_START,
        &mut [&mut service],
        || net::accepts_connections(addr),
    )?;
    Ok(service)
}

/// How to run `kafka-bridge`.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// `--config`: the bridge's TOML file.
    pub config: PathBuf,
    /// `--brokers`: the Kafka bootstrap server.
    pub brokers: SocketAddr,
    /// `--platform-url`: where the host serves the application.
    pub platform: SocketAddr,
    /// `--listen`: the bridge's `/health` and `/metrics`.
    pub listen: SocketAddr,
    /// `BRIDGE_INTERNAL_TOKEN`: the host's `internal_token` variable.
    pub internal_token: String,
    /// Where the bridge's stdout and stderr go.
    pub output: Output,
}

impl BridgeConfig {
    /// The command line, with paths relative to the root (where it runs).
    pub fn command(&self, repo: &Repo) -> std::process::Command {
        let mut command = repo.command(repo.relative(&repo.bridge_binary()));
        command.arg("--config").arg(repo.relative(&self.config));
        command.args(["--brokers", &self.brokers.to_string()]);
        command.args(["--platform-url", &platform_url(self.platform)]);
        command.args(["--listen", &self.listen.to_string()]);
        command.env("BRIDGE_INTERNAL_TOKEN", &self.internal_token);
        command
    }
}

/// `http://<addr>`, with a wildcard listen address (`0.0.0.0`) replaced by
/// loopback, which is where the bridge can reach it.
pub fn platform_url(addr: SocketAddr) -> String {
    let reachable = if addr.ip().is_unspecified() {
        net::loopback(addr.port())
    } else {
        addr
    };
    format!("http://{reachable}")
}

/// Starts the bridge and waits until `GET /health` gets an answer, whatever
/// its status. Fails if something already listens on its address.
pub fn start_bridge(repo: &Repo, config: &BridgeConfig) -> Result<Service> {
    check_bridge_built(repo)?;
    check_free(config.listen, "kafka-bridge", "SPINSHOP_BRIDGE_LISTEN")?;
    let mut service = Service::start(
        "kafka-bridge",
        &mut config.command(repo),
        config.output.clone(),
    )?;
    let what = format!("kafka-bridge to answer GET http://{}/health", config.listen);
    process::wait_until(&what, BRIDGE_START, &mut [&mut service], || {
        net::get(config.listen, "/health").is_ok()
    })
    .context("kafka-bridge did not come up")?;
    Ok(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bridge_reaches_a_wildcard_listener_on_loopback() {
        assert_eq!(
            platform_url("0.0.0.0:3000".parse().expect("address")),
            "http://127.0.0.1:3000"
        );
        assert_eq!(platform_url(net::loopback(3001)), "http://127.0.0.1:3001");
    }

    /// Runs the real broker when `TANSU_BIN` names it (`cargo xtask test`
    /// does): it must listen where asked and keep its database in `dir`.
    #[test]
    fn starts_the_broker_when_it_is_installed() -> Result<()> {
        let Some(binary) = std::env::var_os("TANSU_BIN") else {
            eprintln!("TANSU_BIN is not set: not starting tansu");
            return Ok(());
        };
        let dir = std::env::temp_dir().join(format!("xtask-broker-{}", std::process::id()));
        repo::recreate_dir(&dir)?;
        let port = net::free_port()?;
        let mut broker = start_broker(Path::new(&binary), port, &dir, Output::Terminal)?;
        let listening = net::accepts_connections(net::loopback(port));
        let database = dir.join(tansu::DATABASE).is_file();
        let again = start_broker(Path::new(&binary), port, &dir, Output::Terminal);
        broker.stop()?;
        std::fs::remove_dir_all(&dir)?;
        assert!(listening);
        assert!(database, "tansu should create {}", tansu::DATABASE);
        let message = format!(
            "{:#}",
            again.err().context("a second broker should be refused")?
        );
        assert!(message.contains("already listens"), "{message}");
        Ok(())
    }
}
