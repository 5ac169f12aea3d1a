//! Long-running children (Redis, the broker, the host, the bridge): each
//! in a process group of its own, so a Ctrl-C in a terminal reaches only
//! the program that started them, which then stops them in order. Stopping
//! is SIGTERM, a grace period, then SIGKILL; a [`Service`] is also stopped
//! when dropped, so a failing test or an error path leaves nothing behind.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

/// How long a service may take to exit after SIGTERM.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// How often waits look at children and at the interrupt flag.
const POLL: Duration = Duration::from_millis(50);

/// Set (by a signal handler the caller registers) when the user asked to
/// stop; every wait here gives up when it is.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone()
}

/// Whether the user asked to stop.
pub fn interrupted() -> bool {
    interrupt_flag().load(Ordering::SeqCst)
}

/// The command as a shell line, for messages and records.
pub fn display(command: &Command) -> String {
    let mut line = String::new();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            let key = key.to_string_lossy();
            let shown = if key.contains("TOKEN") || key.contains("KEY") {
                "…".into()
            } else {
                value.to_string_lossy()
            };
            let _ = write!(line, "{key}={} ", quote(&shown));
        }
    }
    line.push_str(&quote(&command.get_program().to_string_lossy()));
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&quote(&arg.to_string_lossy()));
    }
    line
}

fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+…".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Where a service's stdout and stderr go.
#[derive(Debug, Clone)]
pub enum Output {
    /// Inherited: the terminal.
    Terminal,
    /// Both appended to a file.
    File(PathBuf),
    /// Kept in memory, line by line (stdout and stderr apart), for tests
    /// to read; also appended to the file, if any.
    Capture(Option<PathBuf>),
}

/// Lines a captured service printed.
#[derive(Debug, Default, Clone)]
pub struct Captured {
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Captured {
    /// The stdout lines so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The stderr lines so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// A long-running child that will be stopped.
#[derive(Debug)]
pub struct Service {
    name: String,
    child: Option<Child>,
    output: Output,
    captured: Captured,
    line: String,
    /// The write end of its stdin, for a child that ends when it closes.
    _stdin: Option<ChildStdin>,
}

impl Service {
    /// Starts `command` in its own process group, with stdin closed.
    pub fn start(name: &str, command: &mut Command, output: Output) -> Result<Self> {
        Self::spawn(name, command, output, false)
    }

    /// Like [`Self::start`], but its stdin is a pipe whose write end this
    /// process holds until it exits: a child that watches for the end of
    /// its input can then outlive neither a drop nor a crash.
    pub fn start_tied(name: &str, command: &mut Command, output: Output) -> Result<Self> {
        Self::spawn(name, command, output, true)
    }

    fn spawn(name: &str, command: &mut Command, output: Output, tied: bool) -> Result<Self> {
        let line = display(command);
        command
            .stdin(if tied { Stdio::piped() } else { Stdio::null() })
            .process_group(0);
        let open_log = |path: &PathBuf| {
            File::options()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))
        };
        match &output {
            Output::Terminal => {}
            Output::File(path) => {
                let log = open_log(path)?;
                command.stdout(log.try_clone()?).stderr(log);
            }
            Output::Capture(_) => {
                command.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {name}: `{line}`"))?;
        let stdin = child.stdin.take();
        let captured = Captured::default();
        if let Output::Capture(file) = &output {
            let file = file.as_ref().map(open_log).transpose()?;
            let tee = file.map(|f| Arc::new(Mutex::new(f)));
            if let Some(out) = child.stdout.take() {
                collect(out, captured.stdout.clone(), tee.clone());
            }
            if let Some(err) = child.stderr.take() {
                collect(err, captured.stderr.clone(), tee);
            }
        }
        Ok(Self {
            name: name.to_owned(),
            child: Some(child),
            output,
            captured,
            line,
            _stdin: stdin,
        })
    }

    /// The name given at start.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The command line it was started with.
    pub fn command_line(&self) -> &str {
        &self.line
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What it printed, when captured.
    pub fn captured(&self) -> &Captured {
        &self.captured
    }

    /// Where to look for what it printed.
    pub fn output_hint(&self) -> String {
        match &self.output {
            Output::Terminal => "its output is above".to_owned(),
            Output::File(path) | Output::Capture(Some(path)) => {
                format!("its log is {}", path.display())
            }
            Output::Capture(None) => {
                let lines = self.captured.stderr();
                let tail = lines[lines.len().saturating_sub(30)..].join("\n");
                format!("it printed:\n{tail}")
            }
        }
    }

    /// Its exit status, if it has exited (or was stopped).
    pub fn exit_status(&mut self) -> Result<Option<ExitStatus>> {
        match &mut self.child {
            None => Ok(None),
            Some(child) => child
                .try_wait()
                .with_context(|| format!("cannot check on {}", self.name)),
        }
    }

    /// Whether it has been stopped or has exited.
    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && matches!(self.exit_status(), Ok(None))
    }

    /// Fails, naming the service and its log, if it has exited.
    pub fn check_running(&mut self) -> Result<()> {
        match self.exit_status()? {
            Some(status) => {
                // Let the readers of its pipes reach the end of what it said.
                thread::sleep(Duration::from_millis(100));
                bail!("{} exited ({status}); {}", self.name, self.output_hint())
            }
            None => Ok(()),
        }
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL. Returns how it ended;
    /// `None` if it was not running.
    pub fn stop_within(&mut self, grace: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        signal(&child, "TERM");
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(10));
        }
        eprintln!(
            "{} did not exit within {} s of SIGTERM; killing it",
            self.name,
            grace.as_secs()
        );
        signal(&child, "KILL");
        let _ = child.kill();
        child.wait().ok()
    }

    /// [`Self::stop_within`] the usual grace period.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        self.stop_within(STOP_GRACE)
    }

    /// SIGKILL (to its whole process group): no chance to flush, commit or
    /// acknowledge anything.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "KILL");
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP or SIGCONT: freezes or thaws it (a hung process).
    pub fn pause(&self, paused: bool) {
        if let Some(child) = &self.child {
            signal(child, if paused { "STOP" } else { "CONT" });
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends a signal to the child's process group (which [`Service`] made it
/// the leader of, so a wrapper and what it runs both get it). std only
/// sends SIGKILL to one process, and `/bin/kill` is missing from minimal
/// Debian images, but every `sh` has `kill` built in. The child is not
/// reaped yet, so its pid cannot have been reused.
fn signal(child: &Child, name: &str) {
    let _ = Command::new("sh")
        .args([
            "-c",
            r#"kill -s "$1" -- "-$2""#,
            "sh",
            name,
            &child.id().to_string(),
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn collect(
    stream: impl Read + Send + 'static,
    sink: Arc<Mutex<Vec<String>>>,
    tee: Option<Arc<Mutex<File>>>,
) {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(file) = &tee {
                if let Ok(mut f) = file.lock() {
                    use std::io::Write as _;
                    let _ = writeln!(f, "{line}");
                }
            }
            if let Ok(mut lines) = sink.lock() {
                lines.push(line);
            }
        }
    });
}

/// Waits until `ready` holds. Fails if `timeout` passes, if one of
/// `services` exits, or if the user interrupts.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    services: &mut [&mut Service],
    mut ready: impl FnMut() -> bool,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return Ok(());
        }
        for service in services.iter_mut() {
            service
                .check_running()
                .with_context(|| format!("while waiting for {what}"))?;
        }
        if interrupted() {
            bail!("interrupted while waiting for {what}");
        }
        if Instant::now() >= deadline {
            let mut message = format!("gave up waiting for {what} after {} s", timeout.as_secs());
            for service in services.iter() {
                let _ = write!(message, "; {}: {}", service.name(), service.output_hint());
            }
            bail!(message);
        }
        thread::sleep(POLL);
    }
}

/// Watches running services until the user interrupts (`Ok`) or one of
/// them exits (`Err` naming it). Stopping them is the caller's business.
pub fn supervise(services: &mut [&mut Service]) -> Result<()> {
    loop {
        if interrupted() {
            eprintln!();
            return Ok(());
        }
        for service in services.iter_mut() {
            service.check_running()?;
        }
        thread::sleep(POLL * 2);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn displays_commands_as_shell_lines_without_secrets() {
        let mut command = Command::new("wrk");
        command
            .args(["-t2", "http://127.0.0.1:3000/guest/echo", "a b", "it's"])
            .env("BRIDGE_INTERNAL_TOKEN", "s3cret")
            .env("PORT", "1");
        let line = display(&command);
        assert!(line.ends_with(r"wrk -t2 http://127.0.0.1:3000/guest/echo 'a b' 'it'\''s'"));
        assert!(line.contains("PORT=1 "), "{line}");
        assert!(!line.contains("s3cret"), "{line}");
    }

    #[test]
    fn a_service_is_stopped_when_dropped() -> Result<()> {
        let mut sleep = Command::new("sleep");
        sleep.arg("60");
        let mut service = Service::start("sleep", &mut sleep, Output::Terminal)?;
        service.check_running()?;
        let pid = service.pid().context("running")?;
        let started = Instant::now();
        drop(service);
        assert!(started.elapsed() < STOP_GRACE, "sleep exits on SIGTERM");
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "reaped");
        Ok(())
    }

    #[test]
    fn waiting_fails_when_a_service_exits_and_shows_what_it_said() -> Result<()> {
        let mut fail = Command::new("sh");
        fail.args(["-c", "echo broken >&2; exit 3"]);
        let mut service = Service::start("failing", &mut fail, Output::Capture(None))?;
        let result = wait_until(
            "nothing",
            Duration::from_secs(5),
            &mut [&mut service],
            || false,
        );
        let message = format!("{:#}", result.err().context("the wait should fail")?);
        assert!(message.contains("failing exited"), "{message}");
        assert!(message.contains("broken"), "{message}");
        Ok(())
    }
}
