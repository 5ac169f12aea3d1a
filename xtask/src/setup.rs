//! Prerequisites: what a fresh machine lacks is added here, and only here.
//! Quick when everything is present: a few `--version`-style queries. The
//! exception is the first install of the broker, built from source.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Result};

use crate::compile::WASM_TARGET;
use crate::process;
use crate::tansu;

/// Something a command needs before it can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prerequisite {
    /// The `wasm32-wasip2` standard library (rustup target).
    WasmTarget,
    /// rustfmt and clippy (rustup components).
    LintTools,
    /// `redis-server` on PATH (Debian package).
    RedisServer,
    /// `wrk` on PATH (Debian package).
    LoadGenerator,
    /// `openssl` on PATH (Debian package), to make local signing keys.
    OpenSsl,
    /// The tansu Kafka-protocol broker (`cargo install`, cached per machine).
    Broker,
    /// `docker-registry` on PATH (Debian package), for the image tests.
    DockerRegistry,
    /// OpenTofu and its providers, built from the Go module proxy (cached).
    OpenTofu,
}

/// What `cargo xtask setup` ensures: everything but the benchmark's tool.
pub const ALL_BUT_LOAD_GENERATOR: &[Prerequisite] = &[
    Prerequisite::WasmTarget,
    Prerequisite::LintTools,
    Prerequisite::RedisServer,
    Prerequisite::OpenSsl,
    Prerequisite::Broker,
    Prerequisite::DockerRegistry,
    Prerequisite::OpenTofu,
];

/// Adds whichever of `needs` is missing, then says what it did.
pub fn ensure(needs: &[Prerequisite]) -> Result<()> {
    let mut present = Vec::new();
    let mut installed = Vec::new();
    for need in needs {
        let (name, added) = match need {
            Prerequisite::WasmTarget => ("wasm32-wasip2 target", wasm_target()?),
            Prerequisite::LintTools => ("rustfmt and clippy", lint_tools()?),
            Prerequisite::RedisServer => {
                ("redis-server", debian_tool("redis-server", "redis-server")?)
            }
            Prerequisite::LoadGenerator => ("wrk", debian_tool("wrk", "wrk")?),
            Prerequisite::OpenSsl => ("openssl", debian_tool("openssl", "openssl")?),
            Prerequisite::Broker => ("tansu", tansu::ensure()?),
            Prerequisite::DockerRegistry => (
                "docker-registry",
                debian_tool("docker-registry", "docker-registry")?,
            ),
            Prerequisite::OpenTofu => ("OpenTofu", crate::tofu::tools::ensure()?),
        };
        if added {
            installed.push(name);
        } else {
            present.push(name);
        }
    }
    if !installed.is_empty() {
        eprintln!("setup: installed {}", installed.join(", "));
    }
    if !present.is_empty() {
        eprintln!("setup: already present: {}", present.join(", "));
    }
    Ok(())
}

/// `rustup target add wasm32-wasip2` unless it is installed. Returns whether
/// it added it.
fn wasm_target() -> Result<bool> {
    let Some(targets) =
        process::query(Command::new("rustup").args(["target", "list", "--installed"]))
    else {
        // No rustup: a toolchain from elsewhere may still have the target.
        if sysroot_has_target(WASM_TARGET) {
            return Ok(false);
        }
        bail!("the {WASM_TARGET} target is missing and rustup is not on PATH; add the target to your Rust toolchain");
    };
    if targets.lines().any(|t| t.trim() == WASM_TARGET) {
        return Ok(false);
    }
    process::run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    Ok(true)
}

fn sysroot_has_target(target: &str) -> bool {
    process::query(Command::new("rustc").args(["--print", "sysroot"])).is_some_and(|sysroot| {
        Path::new(&sysroot)
            .join("lib/rustlib")
            .join(target)
            .is_dir()
    })
}

/// `rustup component add rustfmt clippy` unless `cargo fmt` and `cargo
/// clippy` both answer. Returns whether it added them.
fn lint_tools() -> Result<bool> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let answers = |subcommand: &str| {
        process::query(Command::new(&cargo).args([subcommand, "--version"])).is_some()
    };
    if answers("fmt") && answers("clippy") {
        return Ok(false);
    }
    if find_on_path("rustup").is_none() {
        bail!("`cargo fmt` or `cargo clippy` is missing and rustup is not on PATH; install rustfmt and clippy");
    }
    process::run(Command::new("rustup").args(["component", "add", "rustfmt", "clippy"]))?;
    Ok(true)
}

/// Installs Debian `package` through apt unless `binary` is on PATH.
/// Returns whether it installed it.
fn debian_tool(binary: &str, package: &str) -> Result<bool> {
    if find_on_path(binary).is_some() {
        return Ok(false);
    }
    if find_on_path("apt-get").is_none() {
        bail!("{binary} is missing; install it ({package}) with your system's package manager and put it on PATH");
    }
    if !is_root() {
        bail!(
            "{binary} is missing and installing it needs root; run:\n\n    {}\n",
            apt_command_line(package, "sudo ")
        );
    }
    apt_update_once()?;
    process::run(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    if find_on_path(binary).is_none() {
        bail!("installed {package}, but {binary} is still not on PATH");
    }
    Ok(true)
}

/// The commands a non-root user should run.
fn apt_command_line(package: &str, sudo: &str) -> String {
    format!("{sudo}apt-get update && {sudo}apt-get install -y --no-install-recommends {package}")
}

static APT_UPDATED: AtomicBool = AtomicBool::new(false);

fn apt_update_once() -> Result<()> {
    if !APT_UPDATED.load(Ordering::SeqCst) {
        process::run(
            Command::new("apt-get")
                .arg("update")
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
        APT_UPDATED.store(true, Ordering::SeqCst);
    }
    Ok(())
}

fn is_root() -> bool {
    process::query(Command::new("id").arg("-u")).is_some_and(|uid| uid == "0")
}

/// The first executable file called `name` in a PATH directory.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_the_exact_apt_command() {
        assert_eq!(
            apt_command_line("redis-server", "sudo "),
            "sudo apt-get update && sudo apt-get install -y --no-install-recommends redis-server"
        );
    }

    #[test]
    fn finds_programs_on_path() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("no-such-program-spinshop").is_none());
    }
}
