//! Child processes: steps that run to completion (their failure stops
//! xtask), and services (Redis, the host) that xtask supervises and stops.
//!
//! Services get a process group of their own, so a Ctrl-C in the terminal
//! reaches only xtask, which then stops them in order (the host before the
//! Redis it uses): SIGTERM, up to 10 s to exit, then SIGKILL. A service is
//! also stopped when its [`Service`] is dropped, so an error path cannot
//! leave one behind. Steps stay in xtask's group: Ctrl-C stops them too.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// How long a service may take to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How often waits look at children and at the interrupt flag.
const POLL: Duration = Duration::from_millis(100);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// From now on, SIGINT, SIGTERM and SIGHUP set a flag instead of killing
/// xtask; waits below notice it. Call before starting services.
pub fn catch_interrupts() -> Result<()> {
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register(signal, &INTERRUPTED)
            .with_context(|| format!("cannot handle signal {signal}"))?;
    }
    Ok(())
}

/// Whether the user asked xtask to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The command as a shell line, for messages and records.
pub fn display(command: &Command) -> String {
    let mut line = quote(&command.get_program().to_string_lossy());
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
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Runs a step with the terminal as its stdio; fails unless it succeeds.
pub fn run(command: &mut Command) -> Result<()> {
    let line = display(command);
    eprintln!("$ {line}");
    let status = command
        .status()
        .with_context(|| format!("cannot run `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Runs a step and returns its stdout (stderr goes to the terminal); fails
/// unless it succeeds. Kills the step if the user interrupts.
pub fn run_captured(command: &mut Command) -> Result<String> {
    let line = display(command);
    eprintln!("$ {line}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run `{line}`"))?;
    let mut stdout = child.stdout.take().context("no stdout pipe")?;
    let reader = thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if interrupted() {
            let _ = child.kill();
            let _ = child.wait();
            bail!("interrupted");
        }
        thread::sleep(POLL);
    };
    let text = match reader.join() {
        Ok(read) => read.with_context(|| format!("cannot read the output of `{line}`"))?,
        Err(_) => bail!("reading the output of `{line}` failed"),
    };
    if !status.success() {
        bail!("`{line}` failed ({status}); it printed:\n{text}");
    }
    Ok(text)
}

/// Runs a quick query (a version, an id) and returns its trimmed stdout, or
/// `None` if it cannot run or fails.
pub fn query(command: &mut Command) -> Option<String> {
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Where a service's stdout and stderr go.
#[derive(Debug, Clone)]
pub enum Output {
    Terminal,
    File(PathBuf),
}

/// A long-running child that xtask started and will stop.
#[derive(Debug)]
pub struct Service {
    name: String,
    child: Child,
    output: Output,
}

impl Service {
    /// Starts `command` in its own process group.
    pub fn start(name: &str, command: &mut Command, output: Output) -> Result<Self> {
        let line = display(command);
        eprintln!("$ {line}");
        command.stdin(Stdio::null()).process_group(0);
        if let Output::File(path) = &output {
            let log =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            command.stdout(log.try_clone()?).stderr(log);
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name}: `{line}`"))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            output,
        })
    }

    /// The name given at start.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where to look for what it printed.
    pub fn output_hint(&self) -> String {
        match &self.output {
            Output::Terminal => "its output is above".to_owned(),
            Output::File(path) => format!("its log is {}", path.display()),
        }
    }

    /// Its exit status, if it has exited.
    pub fn exit_status(&mut self) -> Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .with_context(|| format!("cannot check on {}", self.name))
    }

    /// Fails, naming the service and its log, if it has exited.
    pub fn check_running(&mut self) -> Result<()> {
        match self.exit_status()? {
            Some(status) => bail!("{} exited ({status}); {}", self.name, self.output_hint()),
            None => Ok(()),
        }
    }

    /// SIGTERM, up to [`STOP_GRACE`] to exit, then SIGKILL. Does nothing if
    /// it has already exited.
    pub fn stop(&mut self) -> Result<()> {
        if self.exit_status()?.is_some() {
            return Ok(());
        }
        eprintln!("stopping {}", self.name);
        self.terminate();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if self.exit_status()?.is_some() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "{} did not exit within {} s of SIGTERM; killing it",
            self.name,
            STOP_GRACE.as_secs()
        );
        self.child
            .kill()
            .with_context(|| format!("cannot kill {}", self.name))?;
        self.child
            .wait()
            .with_context(|| format!("cannot reap {}", self.name))?;
        Ok(())
    }

    /// Sends SIGTERM. std only sends SIGKILL, and `/bin/kill` is missing
    /// from minimal Debian images, but every `sh` has `kill` built in. A
    /// failure is left to the SIGKILL that follows the grace period. The
    /// child is not reaped yet, so its pid cannot have been reused.
    fn terminate(&self) {
        let sent = Command::new("sh")
            .args([
                "-c",
                r#"kill -s TERM "$1""#,
                "sh",
                &self.child.id().to_string(),
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !sent.is_ok_and(|status| status.success()) {
            eprintln!("could not send SIGTERM to {}", self.name);
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("warning: {e:#}");
        }
    }
}

/// Waits until `ready` holds, checking every [`POLL`]. Fails if `timeout`
/// passes, if one of `services` exits, or if the user interrupts.
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
        thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn displays_commands_as_shell_lines() {
        let mut command = Command::new("wrk");
        command.args([
            "-t2",
            "--latency",
            "http://127.0.0.1:3000/guest/echo",
            "a b",
            "it's",
        ]);
        assert_eq!(
            display(&command),
            r"wrk -t2 --latency http://127.0.0.1:3000/guest/echo 'a b' 'it'\''s'"
        );
    }

    #[test]
    fn a_service_is_stopped_when_dropped() -> Result<()> {
        let mut sleep = Command::new("sleep");
        sleep.arg("60");
        let mut service = Service::start("sleep", &mut sleep, Output::Terminal)?;
        service.check_running()?;
        let pid = service.child.id();
        let started = Instant::now();
        drop(service);
        assert!(
            started.elapsed() < STOP_GRACE,
            "sleep should exit on SIGTERM"
        );
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "the child is reaped"
        );
        Ok(())
    }

    #[test]
    fn waiting_fails_when_a_service_exits() -> Result<()> {
        let mut fail = Command::new("false");
        let mut service = Service::start("false", &mut fail, Output::Terminal)?;
        let result = wait_until(
            "nothing",
            Duration::from_secs(5),
            &mut [&mut service],
            || false,
        );
        let message = format!("{:#}", result.err().context("the wait should fail")?);
        assert!(message.contains("false exited"), "{message}");
        Ok(())
    }
}
