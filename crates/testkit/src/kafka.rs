//! Apache Kafka in KRaft mode, one node acting as broker and controller on
//! loopback: installed from Maven Central (the jars that
//! `xtask/kafka/pom.xml` pins, copied into the tool cache by Maven), and
//! started without Kafka's shell scripts: `kafka.tools.StorageTool format`
//! once per data directory, then `kafka.Kafka` with a generated
//! `server.properties` and Log4j 2 configuration.
//!
//! Tests share one broker per test process ([`shared`]) and keep apart by
//! topic prefix and consumer group; a test that kills or restarts a broker
//! starts its own ([`Kafka::start`]).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::paths::{cache_dir, create_dir, free_port, loopback, repo_root, wait_for_port, TempDir};
use crate::process::{self, wait_until, Output, Service};

/// The pom that pins the broker, relative to the checkout.
pub const POM: &str = "xtask/kafka/pom.xml";
/// The line a started broker logs.
const STARTED: &str = "Kafka Server started";
/// A JVM broker needs a few seconds; a slow, shared machine more.
const START_LIMIT: Duration = Duration::from_secs(120);

/// The pinned broker version: `<kafka.version>` in the pom's text.
pub fn pinned_version(pom: &str) -> Result<String> {
    let start = pom
        .find("<kafka.version>")
        .context("the pom has no <kafka.version> property")?
        + "<kafka.version>".len();
    let end = pom[start..]
        .find("</kafka.version>")
        .context("<kafka.version> is not closed")?;
    let version = pom[start..start + end].trim();
    if version.is_empty()
        || !version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        bail!("<kafka.version> {version:?} is not a version");
    }
    Ok(version.to_string())
}

/// Where the broker's jars are: `$SPINSHOP_KAFKA_LIBS`, else the tool
/// cache's directory for the version the checkout at `root` pins.
pub fn libs_dir(root: &Path) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SPINSHOP_KAFKA_LIBS").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    Ok(install_dir(root)?.join("libs"))
}

fn install_dir(root: &Path) -> Result<PathBuf> {
    let pom = read_pom(root)?;
    Ok(cache_dir()?
        .join("tools")
        .join(format!("kafka-{}", pinned_version(&pom)?)))
}

fn read_pom(root: &Path) -> Result<String> {
    let path = root.join(POM);
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// Whether the jars for the checkout at `root` are in the cache, installed
/// from this very pom.
pub fn installed(root: &Path) -> Result<bool> {
    let dir = install_dir(root)?;
    let pom = read_pom(root)?;
    Ok(dir.join("libs").is_dir()
        && std::fs::read_to_string(dir.join("pom.xml")).is_ok_and(|used| used == pom))
}

/// Resolves the pinned broker and its runtime dependencies from Maven
/// Central into the tool cache (Maven's own repository under it too),
/// unless they are there. Needs `mvn` and `java`. Returns whether it
/// installed anything.
pub fn install(root: &Path) -> Result<bool> {
    if installed(root)? {
        return Ok(false);
    }
    let dir = install_dir(root)?;
    let mut staging_name = dir.file_name().unwrap_or_default().to_os_string();
    staging_name.push(".partial");
    let staging = dir.with_file_name(staging_name);
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("cannot remove {}", staging.display()))?;
    }
    create_dir(&staging)?;
    let m2 = cache_dir()?.join("tools/m2");
    let mut mvn = Command::new("mvn");
    mvn.args(["-B", "-q", "-f"])
        .arg(root.join(POM))
        .arg(format!("-Dmaven.repo.local={}", m2.display()))
        .arg("dependency:copy-dependencies")
        .arg(format!(
            "-DoutputDirectory={}",
            staging.join("libs").display()
        ))
        .arg("-DincludeScope=runtime");
    eprintln!("$ {}", process::display(&mvn));
    let status = mvn
        .status()
        .context("cannot run mvn (`cargo xtask setup` installs Maven)")?;
    if !status.success() {
        bail!("resolving Apache Kafka from Maven Central failed ({status})");
    }
    std::fs::copy(root.join(POM), staging.join("pom.xml"))?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    std::fs::rename(&staging, &dir)
        .with_context(|| format!("cannot move {} to {}", staging.display(), dir.display()))?;
    Ok(true)
}

/// How to run a broker.
#[derive(Debug, Clone)]
pub struct KafkaOptions {
    /// The client port; `None` picks a free one. The controller listens on
    /// another free port.
    pub port: Option<u16>,
    /// Configuration, data and log; `None` is a scratch directory.
    pub dir: Option<PathBuf>,
    /// The JVM's maximum heap.
    pub heap_mb: u32,
    /// Where the broker's log goes; `None` is `<dir>/kafka.log`.
    pub log: Option<PathBuf>,
    /// Stop the broker when the process that started it goes away, however
    /// it ends (the shared test broker: no destructor runs for it).
    pub tied_to_parent: bool,
}

impl Default for KafkaOptions {
    fn default() -> Self {
        Self {
            port: None,
            dir: None,
            heap_mb: 512,
            log: None,
            tied_to_parent: false,
        }
    }
}

/// A running (or stopped, to be restarted) Kafka broker.
#[derive(Debug)]
pub struct Kafka {
    service: Option<Service>,
    pub port: u16,
    controller_port: u16,
    dir: PathBuf,
    log: PathBuf,
    libs: PathBuf,
    options: KafkaOptions,
    /// How long the last start took (JVM start to "started").
    pub started_in: Duration,
    _scratch: Option<TempDir>,
}

impl Kafka {
    /// A private broker on free ports and scratch storage, for a test that
    /// kills or restarts it; panics if it cannot start.
    pub fn start() -> Self {
        match Self::launch(KafkaOptions::default()) {
            Ok(kafka) => kafka,
            Err(e) => panic!("{e:#}"),
        }
    }

    /// Formats the storage if needed, then starts the broker and waits
    /// until it says it has started.
    pub fn launch(options: KafkaOptions) -> Result<Self> {
        let libs = libs_dir(&repo_root())?;
        if !libs.is_dir() {
            bail!(
                "Apache Kafka is not installed in {} (`cargo xtask setup` installs it)",
                libs.display()
            );
        }
        let port = options.port.unwrap_or_else(free_port);
        let (dir, scratch) = match &options.dir {
            Some(dir) => {
                create_dir(dir)?;
                (dir.clone(), None)
            }
            None => {
                let scratch = TempDir::new("kafka");
                (scratch.0.clone(), Some(scratch))
            }
        };
        let log = options.log.clone().unwrap_or_else(|| dir.join("kafka.log"));
        let mut kafka = Self {
            service: None,
            port,
            controller_port: free_controller_port(port),
            dir,
            log,
            libs,
            options,
            started_in: Duration::ZERO,
            _scratch: scratch,
        };
        kafka.run()?;
        Ok(kafka)
    }

    fn run(&mut self) -> Result<()> {
        crate::paths::check_free(self.addr(), "the Kafka broker", "SPINSHOP_KAFKA_PORT")?;
        let config = self.dir.join("config");
        create_dir(&config)?;
        let properties = config.join("server.properties");
        std::fs::write(
            &properties,
            server_properties(self.port, self.controller_port, &self.dir.join("data")),
        )?;
        let log4j = config.join("log4j2.xml");
        std::fs::write(&log4j, LOG4J2)?;
        if !self.dir.join("data/meta.properties").is_file() {
            self.format(&properties, &log4j)?;
        }
        let mut java = self.java(&log4j);
        java.arg("kafka.Kafka").arg(&properties);
        let mut command = if self.options.tied_to_parent {
            tied_to_parent(&java)
        } else {
            java
        };
        let started = Instant::now();
        let output = Output::File(self.log.clone());
        let mut service = if self.options.tied_to_parent {
            Service::start_tied("kafka", &mut command, output)?
        } else {
            Service::start("kafka", &mut command, output)?
        };
        let (log, addr) = (self.log.clone(), self.addr());
        let from = std::fs::metadata(&log).map_or(0, |m| m.len());
        wait_until(
            &format!("Kafka on {addr}"),
            START_LIMIT,
            &mut [&mut service],
            || started_since(&log, from) && wait_for_port(addr, Duration::from_millis(100)),
        )?;
        self.started_in = started.elapsed();
        self.service = Some(service);
        Ok(())
    }

    fn java(&self, log4j: &Path) -> Command {
        let mut java = Command::new(java_binary());
        java.arg(format!("-Xmx{}m", self.options.heap_mb))
            .arg(format!("-Xms{}m", self.options.heap_mb.min(256)))
            // Kafka's own launcher settings: G1 with short pauses.
            .args([
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-XX:InitiatingHeapOccupancyPercent=35",
                "-XX:+ExplicitGCInvokesConcurrent",
                "-Djava.awt.headless=true",
            ])
            .arg(format!("-Dlog4j2.configurationFile={}", log4j.display()))
            .arg(format!(
                "-Dkafka.logs.dir={}",
                self.dir.join("logs").display()
            ))
            .arg("-cp")
            .arg(format!("{}/*", self.libs.display()));
        java
    }

    fn format(&self, properties: &Path, log4j: &Path) -> Result<()> {
        let mut format = self.java(log4j);
        format
            .args(["kafka.tools.StorageTool", "format", "-t", &cluster_id()])
            .arg("-c")
            .arg(properties);
        let output = format
            .output()
            .with_context(|| format!("cannot run `{}`", process::display(&format)))?;
        if !output.status.success() {
            bail!(
                "formatting Kafka's storage failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    /// The client address.
    pub fn addr(&self) -> SocketAddr {
        loopback(self.port)
    }

    /// `host:port`, as Kafka clients take it.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's process, while it runs.
    pub fn service(&mut self) -> Option<&mut Service> {
        self.service.as_mut()
    }

    /// Kills the broker (SIGKILL) and starts it again on the same ports and
    /// storage; panics if it does not come back.
    pub fn restart(&mut self) {
        self.kill();
        if let Err(e) = self.run() {
            panic!("Kafka did not restart: {e:#}\n{}", self.log());
        }
    }

    /// SIGKILL: what a crash does.
    pub fn kill(&mut self) {
        if let Some(mut service) = self.service.take() {
            service.kill9();
        }
    }

    /// Stops the broker cleanly (SIGTERM: a controlled shutdown).
    pub fn stop(&mut self) {
        if let Some(mut service) = self.service.take() {
            service.stop_within(Duration::from_secs(30));
        }
    }

    /// What the broker logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }
}

/// The broker every test in this process shares, started on first use and
/// stopped when the process ends, however it ends.
pub fn shared() -> &'static Kafka {
    static SHARED: OnceLock<Kafka> = OnceLock::new();
    SHARED.get_or_init(|| {
        remove_stale_shared_dirs();
        let dir = crate::paths::target_dir()
            .join("host-tests")
            .join(format!("kafka-shared-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let options = KafkaOptions {
            dir: Some(dir),
            heap_mb: 768,
            tied_to_parent: true,
            ..KafkaOptions::default()
        };
        match Kafka::launch(options) {
            Ok(kafka) => {
                eprintln!(
                    "shared Kafka broker on {} started in {:.1} s",
                    kafka.bootstrap(),
                    kafka.started_in.as_secs_f64()
                );
                kafka
            }
            Err(e) => panic!("the shared Kafka broker did not start: {e:#}"),
        }
    })
}

/// Shared brokers' directories whose test process is gone.
fn remove_stale_shared_dirs() {
    let parent = crate::paths::target_dir().join("host-tests");
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("kafka-shared-") {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// `java` from `$JAVA_HOME`, else the one on PATH.
fn java_binary() -> PathBuf {
    std::env::var_os("JAVA_HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join("bin/java"))
        .filter(|java| java.is_file())
        .unwrap_or_else(|| PathBuf::from("java"))
}

/// `command` run under a shell that stops it (SIGTERM, then waits) when its
/// own stdin reaches end of file, which happens when the process holding
/// the pipe's other end exits, even by SIGKILL.
fn tied_to_parent(command: &Command) -> Command {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(r#""$@" & pid=$!; while read -r _; do :; done; kill -TERM "$pid"; wait "$pid""#)
        .arg("sh")
        .arg(command.get_program())
        .args(command.get_args());
    sh
}

/// Whether the log, from byte `from` on, says the broker started.
fn started_since(log: &Path, from: u64) -> bool {
    std::fs::read(log).is_ok_and(|bytes| {
        let from = usize::try_from(from).unwrap_or(0).min(bytes.len());
        String::from_utf8_lossy(&bytes[from..]).contains(STARTED)
    })
}

/// A free port for the controller, other than the client's.
fn free_controller_port(client: u16) -> u16 {
    loop {
        let port = free_port();
        if port != client {
            return port;
        }
    }
}

/// A new cluster id: 16 random bytes in unpadded URL-safe base64, the form
/// `StorageTool random-uuid` prints (without starting a JVM for it). Like
/// Kafka's own, never one that starts with `-`, which a command line would
/// take for an option.
fn cluster_id() -> String {
    loop {
        let id = random_base64_id();
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn random_base64_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut bits = 0u32;
    let mut count = 0;
    let mut id = String::with_capacity(22);
    for byte in bytes {
        bits = (bits << 8) | u32::from(byte);
        count += 8;
        while count >= 6 {
            count -= 6;
            id.push(char::from(ALPHABET[((bits >> count) & 63) as usize]));
        }
    }
    if count > 0 {
        id.push(char::from(ALPHABET[((bits << (6 - count)) & 63) as usize]));
    }
    id
}

/// One node, broker and controller, on loopback. Replication factors are 1
/// (there is one node); offsets and group settings favour a quick start.
fn server_properties(port: u16, controller_port: u16, data: &Path) -> String {
    let mut p = String::new();
    let _ = writeln!(p, "process.roles=broker,controller");
    let _ = writeln!(p, "node.id=1");
    let _ = writeln!(p, "controller.quorum.voters=1@127.0.0.1:{controller_port}");
    let _ = writeln!(
        p,
        "listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}"
    );
    let _ = writeln!(p, "advertised.listeners=PLAINTEXT://127.0.0.1:{port}");
    p.push_str(
        "controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.index.size.max.bytes=1048576
",
    );
    let _ = writeln!(p, "log.dirs={}", data.display());
    p
}

/// Kafka's log at WARN, but for the start-up announcement the harness waits for.
const LOG4J2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="warn"><AppenderRef ref="stdout"/></Root>
    <Logger name="kafka.server.KafkaRaftServer" level="info"/>
  </Loggers>
</Configuration>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_version_comes_from_the_pom() {
        let pom = std::fs::read_to_string(repo_root().join(POM)).expect("pom");
        let version = pinned_version(&pom).expect("version");
        assert!(version.starts_with("4."), "Kafka 4.x, not {version}");
        assert!(pinned_version("<project/>").is_err());
        assert!(pinned_version("<kafka.version>4 1</kafka.version>").is_err());
    }

    #[test]
    fn cluster_ids_are_sixteen_bytes_of_url_safe_base64() {
        let id = cluster_id();
        assert_eq!(id.len(), 22);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        // 128 bits in 22 characters leave the last one's low 4 bits zero.
        assert!("AQgw".contains(id.chars().last().expect("last")), "{id}");
        assert_ne!(id, cluster_id());
        assert!((0..2000).all(|_| !cluster_id().starts_with('-')));
    }

    #[test]
    fn a_broker_starts_restarts_and_keeps_its_data_dir() {
        let mut kafka = Kafka::start();
        assert!(crate::paths::accepts_connections(kafka.addr()));
        let meta = kafka.dir.join("data/meta.properties");
        let before = std::fs::read_to_string(&meta).expect("formatted");
        kafka.restart();
        assert!(crate::paths::accepts_connections(kafka.addr()));
        assert_eq!(
            std::fs::read_to_string(&meta).expect("still formatted"),
            before,
            "a restart keeps the cluster"
        );
        let port = kafka.port;
        kafka.stop();
        assert!(!crate::paths::accepts_connections(loopback(port)));
    }
}
