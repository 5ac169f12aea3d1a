//! The local stack that `up` and `bench` run: a Redis server and
//! `spinshop-host`, each started and waited for until it answers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};

use crate::net::{self, Ping};
use crate::process::{self, Output, Service};
use crate::repo::{self, Repo};

/// Redis starts in well under a second; allow for a slow disk.
const REDIS_START: Duration = Duration::from_secs(20);
/// The host compiles components on a cold cache: give it time.
const HOST_START: Duration = Duration::from_secs(180);

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
