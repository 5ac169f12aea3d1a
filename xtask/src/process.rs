//! Steps: child processes that run to completion, whose failure stops
//! xtask. They stay in xtask's process group, so Ctrl-C stops them too.
//! Long-running services (Redis, Kafka, the host, the bridge) are the test
//! harness's `Service`s, in groups of their own.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// How often a step is looked at while it runs.
const POLL: Duration = Duration::from_millis(100);

/// From now on, SIGINT, SIGTERM and SIGHUP set the harness's interrupt
/// flag instead of killing xtask; its waits notice it. Call before
/// starting services.
pub fn catch_interrupts() -> Result<()> {
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register(signal, spinshop_testkit::process::interrupt_flag())
            .with_context(|| format!("cannot handle signal {signal}"))?;
    }
    Ok(())
}

/// Whether the user asked xtask to stop.
pub fn interrupted() -> bool {
    spinshop_testkit::process::interrupted()
}

/// The command as a shell line, for messages and records.
pub fn display(command: &Command) -> String {
    spinshop_testkit::process::display(command)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_step_fails_with_its_output() {
        let message = format!(
            "{:#}",
            run_captured(Command::new("sh").args(["-c", "echo partial; exit 4"]))
                .expect_err("exit 4 is a failure")
        );
        assert!(message.contains("partial"), "{message}");
        assert_eq!(
            query(Command::new("sh").args(["-c", "echo ' 7 '"])).as_deref(),
            Some("7")
        );
        assert_eq!(query(&mut Command::new("false")), None);
    }
}
