//! `cargo xtask test`: what CI runs. Set-up, formatting, the OpenTofu
//! checks of `infra/terraform`, the build, clippy with warnings as errors,
//! then every test in the workspace (the broker's jars in
//! `SPINSHOP_KAFKA_LIBS`), and, when `SPIN_BIN` names a Spin CLI, the
//! end-to-end suite again on real Spin; each step timed, the first failure
//! ends the run.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::compile;
use crate::process;
use crate::repo::Repo;
use crate::setup;

/// Runs every step; `cargo_test_args` go to `cargo test`.
pub fn run(repo: &Repo, cargo_test_args: &[String]) -> Result<()> {
    let mut steps = Steps::default();
    steps.run("setup", || setup::ensure(setup::ALL_BUT_LOAD_GENERATOR))?;
    // Formatting first: it takes a second and needs no build.
    steps.run("rustfmt", || {
        process::run(repo.cargo().args(["fmt", "--all", "--", "--check"]))
    })?;
    // Needs no cargo build either: OpenTofu was built by setup.
    steps.run("terraform", || crate::tofu::check::run(repo))?;
    // The alert rules parse and their unit tests pass (promtool, from
    // setup); the dashboards are evaluated against a live stack by the
    // end-to-end suite.
    steps.run("monitoring", || monitoring(repo))?;
    steps.run("build", || compile::everything(repo))?;
    steps.run("clippy", || {
        process::run(repo.cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--release",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    let kafka_libs = spinshop_testkit::kafka::libs_dir(repo.root())?;
    // Installed by setup; the end-to-end suite's API test requires it.
    let schemathesis = crate::schemathesis::program()?;
    steps.run("tests", || {
        // The end-to-end and bridge tests start brokers themselves.
        eprintln!("SPINSHOP_KAFKA_LIBS={}", kafka_libs.display());
        eprintln!("SPINSHOP_SCHEMATHESIS={}", schemathesis.display());
        process::run(
            repo.cargo()
                .args(["test", "--workspace", "--release"])
                .args(cargo_test_args)
                .env("SPINSHOP_KAFKA_LIBS", &kafka_libs)
                .env("SPINSHOP_SCHEMATHESIS", &schemathesis),
        )
    })?;
    match spinshop_testkit::Runtime::spin_from_env() {
        Some(spinshop_testkit::Runtime::Spin(spin)) => steps.run("on Spin", || {
            eprintln!(
                "SPIN_BIN={}: the end-to-end suite on `spin up`",
                spin.display()
            );
            process::run(
                repo.cargo()
                    .args(["test", "--release", "-p", "spinshop-tests"])
                    .args(cargo_test_args)
                    .env("SPINSHOP_KAFKA_LIBS", &kafka_libs)
                    .env(spinshop_testkit::host::RUNTIME_VARIABLE, "spin"),
            )
        })?,
        _ => eprintln!(
            "\nSPIN_BIN is not set: skipping the end-to-end pass on real Spin \
             (set SPIN_BIN to a `spin` CLI, 3.6 or 4.x, to run it)"
        ),
    }
    steps.summary("passed");
    Ok(())
}

/// `promtool check rules` on every rule file, then `promtool test rules`
/// on every test file of `infra/monitoring/tests`.
fn monitoring(repo: &Repo) -> Result<()> {
    let dir = repo.root().join("infra/monitoring");
    let rules = spinshop_testkit::prometheus::rule_files(&dir.join("rules"))?;
    let tests = spinshop_testkit::prometheus::rule_files(&dir.join("tests"))?;
    if rules.is_empty() || tests.is_empty() {
        anyhow::bail!("infra/monitoring has no rules or no rule tests");
    }
    process::run(
        std::process::Command::new("promtool")
            .arg("check")
            .arg("rules")
            .args(&rules),
    )?;
    // Test files name their rules relative to themselves.
    process::run(
        std::process::Command::new("promtool")
            .args(["test", "rules"])
            .args(tests.iter().filter_map(|t| t.file_name()))
            .current_dir(dir.join("tests")),
    )
}

/// The steps run so far and how long each took.
#[derive(Debug, Default)]
struct Steps {
    done: Vec<(&'static str, Duration)>,
}

impl Steps {
    fn run(&mut self, name: &'static str, step: impl FnOnce() -> Result<()>) -> Result<()> {
        eprintln!("\n==> {name}");
        let started = Instant::now();
        let result = step();
        let took = started.elapsed();
        self.done.push((name, took));
        match &result {
            Ok(()) => eprintln!("==> {name}: ok in {}", format_duration(took)),
            Err(_) => {
                eprintln!("==> {name}: FAILED after {}", format_duration(took));
                self.summary("failed");
            }
        }
        result
    }

    fn summary(&self, outcome: &str) {
        let total: Duration = self.done.iter().map(|(_, took)| *took).sum();
        eprintln!(
            "\ncargo xtask test {outcome} in {}:",
            format_duration(total)
        );
        for (name, took) in &self.done {
            eprintln!("  {name:<8} {:>8}", format_duration(*took));
        }
    }
}

/// `850ms`, `12.3s`, `4m05s`.
fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{}ms", d.as_millis())
    } else if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_millis(12_345)), "12.3s");
        assert_eq!(format_duration(Duration::from_secs(245)), "4m05s");
    }

    #[test]
    fn stops_at_the_first_failure() {
        fn three_steps(steps: &mut Steps, reached_three: &mut bool) -> Result<()> {
            steps.run("one", || Ok(()))?;
            steps.run("two", || anyhow::bail!("broken"))?;
            steps.run("three", || {
                *reached_three = true;
                Ok(())
            })
        }
        let mut steps = Steps::default();
        let mut reached_three = false;
        assert!(three_steps(&mut steps, &mut reached_three).is_err());
        assert!(!reached_three);
        assert_eq!(
            steps.done.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
            ["one", "two"]
        );
    }
}
