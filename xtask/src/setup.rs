//! Prerequisites: what a fresh machine lacks is added here, and only here.
//! Quick when everything is present: a few `--version`-style queries and
//! file checks. The first install of the broker resolves its jars from
//! Maven Central (about a minute), once per machine.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Result};

use crate::process;
use spinshop_testkit::build::WASM_TARGET;

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
    /// OpenSSL's headers and `pkg-config` (Debian packages libssl-dev and
    /// pkg-config): kafka-bridge builds librdkafka with OpenSSL, without
    /// which it cannot authenticate with SCRAM.
    OpenSslHeaders,
    /// `curl` and `jq` on PATH (Debian packages): the README's
    /// walk-through uses them, and the test suite runs it.
    WalkThroughTools,
    /// `prometheus` and `promtool` on PATH (Debian package prometheus):
    /// `up` runs it, the tests check the rules and evaluate the
    /// dashboards with it.
    Prometheus,
    /// A Java runtime and Maven (Debian packages), to fetch and run Kafka.
    Java,
    /// Apache Kafka's jars from Maven Central, cached per machine (needs
    /// [`Prerequisite::Java`] first).
    Broker,
    /// `docker-registry` on PATH (Debian package), for the image tests.
    DockerRegistry,
    /// OpenTofu and its providers, built from the Go module proxy (cached).
    OpenTofu,
    /// schemathesis and the OpenAPI validator from PyPI, in a private
    /// virtualenv (cached; needs python3).
    Schemathesis,
}

/// What `cargo xtask setup` ensures: everything but the benchmark's tool.
pub const ALL_BUT_LOAD_GENERATOR: &[Prerequisite] = &[
    Prerequisite::WasmTarget,
    Prerequisite::LintTools,
    Prerequisite::RedisServer,
    Prerequisite::OpenSsl,
    Prerequisite::OpenSslHeaders,
    Prerequisite::WalkThroughTools,
    Prerequisite::Prometheus,
    Prerequisite::Java,
    Prerequisite::Broker,
    Prerequisite::DockerRegistry,
    Prerequisite::OpenTofu,
    Prerequisite::Schemathesis,
];

/// What running the whole application (`up`, the end-to-end benchmarks)
/// needs.
pub const APPLICATION: &[Prerequisite] = &[
    Prerequisite::WasmTarget,
    Prerequisite::RedisServer,
    Prerequisite::OpenSsl,
    Prerequisite::OpenSslHeaders,
    Prerequisite::WalkThroughTools,
    Prerequisite::Prometheus,
    Prerequisite::Java,
    Prerequisite::Broker,
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
            Prerequisite::OpenSslHeaders => ("libssl-dev and pkg-config", openssl_headers()?),
            Prerequisite::WalkThroughTools => (
                "curl and jq",
                debian_tool("curl", "curl")? | debian_tool("jq", "jq")?,
            ),
            Prerequisite::Prometheus => (
                "Prometheus and promtool",
                debian_tool("prometheus", "prometheus")? | debian_tool("promtool", "prometheus")?,
            ),
            Prerequisite::Java => ("Java and Maven", java_and_maven()?),
            Prerequisite::Broker => (
                "Apache Kafka",
                spinshop_testkit::kafka::install(&env::current_dir()?)?,
            ),
            Prerequisite::DockerRegistry => (
                "docker-registry",
                debian_tool("docker-registry", "docker-registry")?,
            ),
            Prerequisite::OpenTofu => ("OpenTofu", crate::tofu::tools::ensure()?),
            Prerequisite::Schemathesis => ("schemathesis", crate::schemathesis::ensure()?),
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
    debian_package(package).map_err(|e| e.context(format!("{binary} is missing")))?;
    if find_on_path(binary).is_none() {
        bail!("installed {package}, but {binary} is still not on PATH");
    }
    Ok(true)
}

/// Installs Debian `package` through apt (for packages that bring no
/// program of their own to look for).
pub fn debian_package(package: &str) -> Result<()> {
    if find_on_path("apt-get").is_none() {
        bail!(
            "install {package} with your system's package manager (and put its programs on PATH)"
        );
    }
    if !is_root() {
        bail!(
            "installing {package} needs root; run:\n\n    {}\n",
            apt_command_line(package, "sudo ")
        );
    }
    apt_update_once()?;
    process::run(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// pkg-config, then libssl-dev unless pkg-config already finds OpenSSL
/// (openssl-sys asks it where the headers and libraries are).
fn openssl_headers() -> Result<bool> {
    let mut added = debian_tool("pkg-config", "pkg-config")?;
    let found = || {
        Command::new("pkg-config")
            .args(["--exists", "openssl"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !found() {
        if find_on_path("apt-get").is_none() {
            bail!("OpenSSL's headers are missing; install them (libssl-dev) with your system's package manager");
        }
        if !is_root() {
            bail!(
                "OpenSSL's headers are missing and installing them needs root; run:\n\n    {}\n",
                apt_command_line("libssl-dev", "sudo ")
            );
        }
        apt_update_once()?;
        process::run(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", "libssl-dev"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
        if !found() {
            bail!("installed libssl-dev, but pkg-config still does not find openssl");
        }
        added = true;
    }
    Ok(added)
}

/// A Java runtime for the broker (Kafka 4 needs 17 or newer) and Maven to
/// resolve it, from Debian's packages when missing. A `java` older than 17
/// on PATH is left alone, with a message (JAVA_HOME may name a newer one).
fn java_and_maven() -> Result<bool> {
    let mut added = debian_tool("java", "openjdk-17-jre-headless")?;
    added |= debian_tool("mvn", "maven")?;
    let java = env::var_os("JAVA_HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join("bin/java"))
        .filter(|j| j.is_file())
        .unwrap_or_else(|| PathBuf::from("java"));
    let version = Command::new(&java)
        .arg("-version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_default();
    match java_major(&version) {
        Some(major) if major >= 17 => Ok(added),
        _ => bail!(
            "Apache Kafka 4 needs Java 17 or newer; `{} -version` says {:?}: set JAVA_HOME to a newer JDK",
            java.display(),
            version.lines().next().unwrap_or_default()
        ),
    }
}

/// The major version in `java -version`'s first line (`openjdk version
/// "17.0.15" ...`, or `"1.8.0_..."` for 8).
fn java_major(version: &str) -> Option<u32> {
    let quoted = version.lines().next()?.split('"').nth(1)?;
    let mut parts = quoted.split('.');
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        return parts.next()?.parse().ok();
    }
    Some(first)
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
    fn reads_the_java_major_version() {
        assert_eq!(
            java_major("openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime"),
            Some(17)
        );
        assert_eq!(java_major("openjdk version \"25\" 2025-09-16"), Some(25));
        assert_eq!(java_major("java version \"1.8.0_392\""), Some(8));
        assert_eq!(java_major("bash: java: command not found"), None);
    }

    #[test]
    fn finds_programs_on_path() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("no-such-program-spinshop").is_none());
    }
}
