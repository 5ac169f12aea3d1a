//! The harness spinshop's tests share: a real `redis-server` and a real
//! `spinshop-host` process on free loopback ports, stopped when dropped
//! (also when a test fails), plus a loopback HTTP echo server.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The target directory this test binary was built into.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // <target>/<profile>/deps/all-<hash>
    exe.ancestors()
        .nth(3)
        .expect("test executable inside a target directory")
        .to_path_buf()
}

/// A fresh directory under the target dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = target_dir().join("host-tests").join(format!(
            "{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free loopback port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

fn wait_for_port(addr: SocketAddr, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A `redis-server` of our own.
pub struct Redis {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl Redis {
    pub fn start() -> Self {
        let dir = TempDir::new("redis");
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (is it installed? `cargo xtask setup` installs it)");
        let redis = Self {
            child,
            port,
            _dir: dir,
        };
        assert!(
            wait_for_port(
                SocketAddr::from(([127, 0, 0, 1], port)),
                Duration::from_secs(10)
            ),
            "redis-server did not start"
        );
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server (to test what happens when Redis is down).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to start a host.
pub struct HostSpec<'a> {
    /// The `spinshop-host` executable.
    pub binary: PathBuf,
    /// The manifest's text, written to the host's directory; or the path
    /// of an existing manifest (then `manifest` is empty).
    pub manifest: &'a str,
    pub manifest_path: Option<PathBuf>,
    /// `(placeholder, value)` pairs replaced in the manifest text.
    pub substitutions: Vec<(String, String)>,
    pub runtime_config: Option<&'a str>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl<'a> HostSpec<'a> {
    pub fn new(binary: impl Into<PathBuf>, manifest: &'a str) -> Self {
        Self {
            binary: binary.into(),
            manifest,
            manifest_path: None,
            substitutions: Vec::new(),
            runtime_config: None,
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
}

/// A running `spinshop-host` process.
pub struct Host {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub dir: TempDir,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

/// What a host that failed to start said.
#[derive(Debug)]
pub struct StartFailure {
    pub status: ExitStatus,
    pub stderr: String,
}

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

fn spawn(spec: &HostSpec<'_>, dir: &Path) -> Child {
    let manifest = write_app(spec, dir);
    let mut cmd = Command::new(&spec.binary);
    cmd.arg("up")
        .arg("--from")
        .arg(&manifest)
        .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--cache-dir")
        .arg(target_dir().join("host-tests-cache"))
        .args(&spec.args)
        .env("SPINSHOP_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    if let Some(rc) = spec.runtime_config {
        let rc = rc.replace("{dir}", &dir.display().to_string());
        let path = dir.join("runtime-config.toml");
        std::fs::write(&path, rc).expect("write runtime config");
        cmd.arg("--runtime-config-file").arg(path);
    }
    cmd.spawn().expect("start spinshop-host")
}

impl Host {
    /// Starts a host and waits until it serves; panics if it cannot start.
    pub fn start(spec: HostSpec<'_>) -> Self {
        match Self::try_start(spec) {
            Ok(host) => host,
            Err(f) => panic!(
                "spinshop-host failed to start ({}):\n{}",
                f.status, f.stderr
            ),
        }
    }

    /// Starts a host; a host that exits instead is returned as a failure.
    pub fn try_start(spec: HostSpec<'_>) -> Result<Self, StartFailure> {
        let dir = TempDir::new("host");
        Self::start_in(spec, dir)
    }

    /// Starts a host on an existing directory (to test restarts).
    pub fn start_in(spec: HostSpec<'_>, dir: TempDir) -> Result<Self, StartFailure> {
        let mut child = spawn(&spec, &dir.0);
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("piped stdout");
        let sink = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().expect("log lock").push(line);
            }
        });
        let err = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut serving = None;
            let mut metrics = None;
            let mut announced = false;
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(a) = line.strip_prefix("Metrics: http://") {
                    metrics = a.trim_end_matches("/metrics").parse::<SocketAddr>().ok();
                }
                if let Some(a) = line.strip_prefix("Serving http://") {
                    serving = a.parse::<SocketAddr>().ok();
                }
                if !announced {
                    if let (Some(s), Some(m)) = (serving, metrics) {
                        let _ = tx.send((s, m));
                        announced = true;
                    }
                }
                sink.lock().expect("log lock").push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok((addr, metrics_addr)) = rx.recv_timeout(Duration::from_millis(50)) {
                return Ok(Self {
                    child: Some(child),
                    addr,
                    metrics_addr,
                    dir,
                    stdout,
                    stderr,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                let stderr = stderr.lock().expect("log lock").join("\n");
                return Err(StartFailure { status, stderr });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("spinshop-host did not start in time");
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The host's JSON log lines so far.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lock()
            .expect("log lock")
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
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
                self.stdout.lock().expect("lock").join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().expect("log lock").join("\n")
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("host running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the host and hands back its directory (for restarts).
    pub fn into_dir(mut self) -> TempDir {
        self.terminate();
        std::mem::replace(&mut self.dir, TempDir(PathBuf::new()))
    }

    pub async fn metrics(&self) -> String {
        client()
            .get(format!("http://{}/metrics", self.metrics_addr))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body")
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An HTTP client (one per call: each test has its own async runtime, and a
/// pooled connection must not outlive the runtime that opened it).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// A plain HTTP/1.1 server on loopback for outbound tests: answers every
/// request with JSON describing it, and counts requests.
pub struct EchoServer {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicU32>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl EchoServer {
    pub fn start() -> Self {
        use std::io::{Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo server");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicU32::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (h, s) = (hits.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(mut stream) = stream else { continue };
                h.fetch_add(1, Ordering::Relaxed);
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let mut headers = serde_json::Map::new();
                let mut length = 0usize;
                let mut chunked = false;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        let k = k.trim().to_ascii_lowercase();
                        if k == "content-length" {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if k == "transfer-encoding" && v.trim().eq_ignore_ascii_case("chunked") {
                            chunked = true;
                        }
                        headers.insert(k, serde_json::Value::String(v.trim().to_string()));
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                // A chunked body: chunks until the terminating zero-size one.
                while chunked {
                    let mut size = String::new();
                    let _ = reader.read_line(&mut size);
                    let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                    let mut chunk = vec![0u8; n + 2];
                    if reader.read_exact(&mut chunk).is_err() || n == 0 {
                        chunked = false;
                    } else {
                        body.extend_from_slice(&chunk[..n]);
                    }
                }
                let mut parts = request_line.split_whitespace();
                let reply = serde_json::json!({
                    "method": parts.next(),
                    "path": parts.next(),
                    "headers": headers,
                    "body": String::from_utf8_lossy(&body),
                })
                .to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    reply.len(),
                    reply
                );
            }
        });
        Self { addr, hits, stop }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

/// The repository root (the workspace this crate is in).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testkit is two levels below the root")
        .to_path_buf()
}

/// Builds what the tests run, with the same two cargo invocations as
/// `cargo xtask build` (same package selections, so nothing is rebuilt with
/// other features): every component plus the host tests' guest for
/// wasm32-wasip2, then the host. Once per test process.
pub fn build_all() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let root = repo_root();
        let mut wasm = Command::new(&cargo);
        wasm.current_dir(&root)
            .args(["build", "--quiet", "--target", "wasm32-wasip2", "--release"])
            .env("CARGO_TARGET_DIR", target_dir());
        for package in component_packages(&root) {
            wasm.args(["-p", &package]);
        }
        wasm.args(["-p", "host-test-guest"]);
        assert!(
            wasm.status().expect("run cargo").success(),
            "building the components failed"
        );
        let host = Command::new(&cargo)
            .current_dir(&root)
            .args([
                "build",
                "--quiet",
                "--release",
                "--workspace",
                "--bins",
                "--examples",
            ])
            .env("CARGO_TARGET_DIR", target_dir())
            .status()
            .expect("run cargo");
        assert!(host.success(), "building spinshop-host failed");
    });
}

/// Package names of the crates under `components/`.
pub fn component_packages(root: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root.join("components")).expect("components/") {
        let manifest = entry.expect("entry").path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        if let Some(name) = text.lines().find_map(|l| {
            l.trim()
                .strip_prefix("name")
                .and_then(|v| v.trim_start().strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_string())
        }) {
            names.push(name);
        }
    }
    names.sort();
    names
}

/// The `spinshop-host` executable `build_all` makes.
pub fn host_binary() -> PathBuf {
    target_dir().join("release/spinshop-host")
}

/// The `tansu` broker binary: `$TANSU_BIN`, else where `cargo xtask`
/// installs it (`$SPINSHOP_CACHE_DIR` or `~/.cache/spinshop`, `tools/bin`),
/// else `tansu` on PATH.
pub fn tansu_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU_BIN") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("SPINSHOP_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/spinshop")));
    if let Some(candidate) = cache.map(|c| c.join("tools/bin/tansu")) {
        if candidate.exists() {
            return candidate;
        }
    }
    PathBuf::from("tansu")
}

/// A Kafka-protocol broker of our own (`tansu`, SQLite storage), on a free
/// loopback port; it can be killed and started again on the same port and
/// storage.
pub struct Broker {
    child: Option<Child>,
    pub port: u16,
    dir: TempDir,
}

impl Broker {
    pub fn start() -> Self {
        let mut broker = Self {
            child: None,
            port: free_port(),
            dir: TempDir::new("broker"),
        };
        broker.launch();
        broker
    }

    fn launch(&mut self) {
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.0.join("broker.log"))
            .expect("broker log");
        let child = Command::new(tansu_binary())
            .arg("broker")
            .args(["--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
            // tansu resolves a sqlite:// URL against its working directory.
            .args(["--storage-engine", "sqlite://kafka.db", "--silent"])
            .current_dir(&self.dir.0)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start tansu (`cargo xtask setup` installs it)");
        self.child = Some(child);
        assert!(
            wait_for_port(self.addr(), Duration::from_secs(30)),
            "tansu did not start; its log:\n{}",
            self.log()
        );
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `host:port`, as Kafka clients take it.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker (SIGKILL) and starts it again on the same storage.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("broker.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `kafka-bridge` executable `build_all` makes.
pub fn bridge_binary() -> PathBuf {
    target_dir().join("release/kafka-bridge")
}

/// A running `kafka-bridge`, configured by a file the test writes.
pub struct Bridge {
    child: Option<Child>,
    pub addr: SocketAddr,
    config: PathBuf,
    args: Vec<String>,
    token: String,
    log: Arc<Mutex<Vec<String>>>,
    _dir: TempDir,
}

impl Bridge {
    /// Starts the bridge with `config` (TOML text), pointed at `brokers`
    /// and `platform_url`, and waits until its `/health` answers.
    pub fn start(config: &str, brokers: &str, platform_url: &str, token: &str) -> Self {
        let dir = TempDir::new("bridge");
        let path = dir.0.join("bridge.toml");
        std::fs::write(&path, config).expect("write bridge config");
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let args = vec![
            "--brokers".to_string(),
            brokers.to_string(),
            "--platform-url".to_string(),
            platform_url.to_string(),
            "--listen".to_string(),
            addr.to_string(),
        ];
        let mut bridge = Self {
            child: None,
            addr,
            config: path,
            args,
            token: token.to_string(),
            log: Arc::new(Mutex::new(Vec::new())),
            _dir: dir,
        };
        bridge.launch();
        bridge
    }

    fn launch(&mut self) {
        let mut child = Command::new(bridge_binary())
            .arg("--config")
            .arg(&self.config)
            .args(&self.args)
            .env("BRIDGE_INTERNAL_TOKEN", &self.token)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kafka-bridge");
        let err = child.stderr.take().expect("piped stderr");
        let sink = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().expect("log lock").push(line);
            }
        });
        self.child = Some(child);
        assert!(
            wait_for_port(self.addr, Duration::from_secs(30)),
            "kafka-bridge did not start; its log:\n{}",
            self.log_text()
        );
    }

    /// SIGKILL: no chance to commit, flush or ack.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the same bridge again after `kill9` or `terminate`.
    pub fn restart(&mut self) {
        self.kill9();
        self.launch();
    }

    /// SIGTERM, then waits (up to 40 s) for it to exit.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// The bridge's Prometheus text.
    pub async fn metrics(&self) -> String {
        client()
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("bridge metrics")
            .text()
            .await
            .expect("metrics body")
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The sum of every series of `name` in Prometheus text (labels ignored),
/// or of those whose labels contain `filter`.
pub fn metric_sum(text: &str, name: &str, filter: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let bare = series.split('{').next()?;
            (bare == name && series.contains(filter)).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}
