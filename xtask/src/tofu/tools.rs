//! OpenTofu and the providers `infra/terraform` uses, built from the Go
//! module proxy (the only place this project may fetch Go code from) into
//! `<cache>/tools/opentofu`, once per machine; a CLI config points `tofu
//! init` at the built providers, so it never asks a registry.
//!
//! The two known traps: OpenTofu's `go.mod` has `replace` lines, which
//! `go install module@version` refuses, so its module is downloaded and
//! built from a writable copy; the providers' module paths lack the `/v3`
//! their release tags need, so the proxy knows their releases only as
//! commits (pseudo-versions). The proxy this project can reach answers
//! only for commits it has already cached, not for any commit asked of
//! it; the pins below are those, each the named release (with at most
//! dependency bumps after it, as its CHANGELOG shows).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};

use crate::process;
use crate::repo;

/// The pinned OpenTofu release.
pub const TOFU_VERSION: &str = "1.12.6";
const TOFU_MODULE: &str = "github.com/opentofu/opentofu";
/// Release builds set this, which drops the `-dev` from `tofu version`.
const TOFU_LDFLAGS: &str = "-s -w -X github.com/opentofu/opentofu/version.dev=no";
/// The Go that can fetch the toolchain a module asks for (`GOTOOLCHAIN`).
const MIN_GO_MINOR: u32 = 21;

/// A provider built at a commit that carries one of its releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provider {
    /// The type in `required_providers` (`hashicorp/<name>`).
    pub name: &'static str,
    /// The release, as `versions.tf` pins it.
    pub version: &'static str,
    /// The module path its `go.mod` declares.
    module: &'static str,
    /// The Go pseudo-version of that commit.
    pseudo_version: &'static str,
}

/// Every provider the stages use.
pub const PROVIDERS: &[Provider] = &[
    // v3.2.1 and two commits: a grpc security bump, a CODEOWNERS line.
    Provider {
        name: "kubernetes",
        version: "3.2.1",
        module: "github.com/hashicorp/terraform-provider-kubernetes",
        pseudo_version: "v1.13.4-0.20260821094251-3a33fb6cc605",
    },
    Provider {
        name: "helm",
        version: "3.2.0",
        module: "github.com/hashicorp/terraform-provider-helm",
        pseudo_version: "v1.3.3-0.20260629194918-a4f1c1d8b008",
    },
    // cluster-addons reads spin-operator's CRDs from its release with it.
    // The repository moved to hashicorp/; go.mod still says this path.
    Provider {
        name: "http",
        version: "3.6.1",
        module: "github.com/terraform-providers/terraform-provider-http",
        pseudo_version: "v1.2.1-0.20260903154542-926109cd8c07",
    },
];

/// The registry host `hashicorp/<name>` means to OpenTofu.
const PROVIDER_HOST: &str = "registry.opentofu.org";

/// What the checks run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// The `tofu` binary.
    pub tofu: PathBuf,
    /// The CLI config (`TF_CLI_CONFIG_FILE`) that installs providers from
    /// the local mirror only.
    pub cli_config: PathBuf,
}

impl Tools {
    /// `tofu` with the CLI config and no prompts, update checks or colour.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.tofu);
        command
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .env_remove("TF_CLI_ARGS");
        command
    }
}

/// `<cache>/tools/opentofu`.
fn root() -> Result<PathBuf> {
    Ok(spinshop_testkit::paths::cache_dir()?.join("tools/opentofu"))
}

fn tofu_binary(root: &Path) -> PathBuf {
    root.join(format!("bin/tofu-{TOFU_VERSION}"))
}

fn mirror(root: &Path) -> PathBuf {
    root.join("providers")
}

/// Where the filesystem mirror's unpacked layout wants the provider:
/// `HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/terraform-provider-TYPE_vVERSION`.
fn provider_binary(root: &Path, provider: &Provider) -> Result<PathBuf> {
    Ok(mirror(root)
        .join(PROVIDER_HOST)
        .join("hashicorp")
        .join(provider.name)
        .join(provider.version)
        .join(platform()?)
        .join(format!(
            "terraform-provider-{}_v{}",
            provider.name, provider.version
        )))
}

/// Go's `GOOS_GOARCH` for this machine.
fn platform() -> Result<String> {
    let arch = match env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => bail!("no Go architecture name known for {other}"),
    };
    Ok(format!("{}_{arch}", env::consts::OS))
}

/// The CLI config: providers from the mirror, nowhere else.
fn cli_config_text(mirror: &Path) -> String {
    let includes: Vec<String> = PROVIDERS
        .iter()
        .map(|p| format!("\"{PROVIDER_HOST}/hashicorp/{}\"", p.name))
        .collect();
    format!(
        "# Written by cargo xtask: providers come from the local build only.\n\
         provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [{}]\n  }}\n}}\n",
        mirror.display(),
        includes.join(", ")
    )
}

/// The tools, if every one is built.
pub fn installed() -> Result<Option<Tools>> {
    let root = root()?;
    let tofu = tofu_binary(&root);
    let mut present = tofu.is_file();
    for provider in PROVIDERS {
        present &= provider_binary(&root, provider)?.is_file();
    }
    if !present {
        return Ok(None);
    }
    let cli_config = root.join("tofurc");
    let text = cli_config_text(&mirror(&root));
    if fs::read_to_string(&cli_config).ok().as_deref() != Some(text.as_str()) {
        fs::write(&cli_config, text)
            .with_context(|| format!("cannot write {}", cli_config.display()))?;
    }
    Ok(Some(Tools { tofu, cli_config }))
}

/// The tools, which [`ensure`] has built.
pub fn required() -> Result<Tools> {
    installed()?.context("OpenTofu is not built; `cargo xtask setup` builds it")
}

/// Builds whatever is missing. Returns whether it built anything.
pub fn ensure() -> Result<bool> {
    if installed()?.is_some() {
        return Ok(false);
    }
    let root = root()?;
    repo::create_dir(&root)?;
    check_go()?;
    eprintln!(
        "building OpenTofu {TOFU_VERSION} and its providers from the Go module proxy into {} \
         (the first time only: several minutes)",
        root.display()
    );
    let tofu = tofu_binary(&root);
    if !tofu.is_file() {
        build_tofu(&root, &tofu)?;
    }
    for provider in PROVIDERS {
        let binary = provider_binary(&root, provider)?;
        if !binary.is_file() {
            build_provider(&root, provider, &binary)?;
        }
    }
    // Compiled packages (~3 GB) and downloaded modules (~2 GB) serve only
    // a rebuild, which a new pin mostly is not: keep the binaries alone.
    process::run(go(&root).args(["clean", "-cache", "-modcache"]))?;
    for scratch in [root.join("go"), root.join("src")] {
        if scratch.exists() {
            fs::remove_dir_all(&scratch)
                .with_context(|| format!("cannot remove {}", scratch.display()))?;
        }
    }
    installed()?.context("built OpenTofu, but it is not where expected")?;
    Ok(true)
}

/// `go`, with the module and build caches under `root`, lean static
/// builds, and a newer Go toolchain fetched from the proxy when a module
/// asks for one.
fn go(root: &Path) -> Command {
    let mut command = Command::new("go");
    command
        .current_dir(root)
        .env("GOMODCACHE", root.join("go/mod"))
        .env("GOCACHE", root.join("go/build"))
        .env("GOPATH", root.join("go/path"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "auto")
        .env("GOWORK", "off")
        .env("CGO_ENABLED", "0")
        .env_remove("GOOS")
        .env_remove("GOARCH")
        .env_remove("GOBIN");
    command
}

/// Fails unless a Go that can switch toolchains is on PATH.
fn check_go() -> Result<()> {
    let answer = process::query(Command::new("go").arg("version")).with_context(|| {
        format!("building OpenTofu needs Go 1.{MIN_GO_MINOR} or newer on PATH (https://go.dev/dl)")
    })?;
    match go_minor(&answer) {
        Some(minor) if minor >= MIN_GO_MINOR => Ok(()),
        _ => bail!(
            "building OpenTofu needs Go 1.{MIN_GO_MINOR} or newer, which fetches the Go it needs \
             from the module proxy; `go version` says {answer:?}"
        ),
    }
}

/// The minor version of `go version go1.26.8 linux/amd64`.
fn go_minor(answer: &str) -> Option<u32> {
    let version = answer.split_whitespace().nth(2)?.strip_prefix("go1.")?;
    version
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Downloads OpenTofu's module, copies it somewhere writable (the module
/// cache is read-only, and its `replace` lines need it to be the main
/// module) and builds `cmd/tofu` there.
fn build_tofu(root: &Path, binary: &Path) -> Result<()> {
    let listing = process::run_captured(go(root).args([
        "mod",
        "download",
        "-json",
        &format!("{TOFU_MODULE}@v{TOFU_VERSION}"),
    ]))?;
    let downloaded: serde_json::Value =
        serde_json::from_str(&listing).context("`go mod download -json` printed no JSON")?;
    let module_dir = downloaded["Dir"]
        .as_str()
        .context("`go mod download -json` named no directory")?;
    let source = root.join(format!("src/opentofu-{TOFU_VERSION}"));
    if source.exists() {
        make_writable(&source)?;
    }
    repo::recreate_dir(&source)?;
    copy_tree(Path::new(module_dir), &source)?;
    let partial = binary.with_file_name(format!("tofu-{TOFU_VERSION}.partial"));
    process::run(
        go(root)
            .current_dir(&source)
            .args(["build", "-trimpath", "-ldflags", TOFU_LDFLAGS, "-o"])
            .arg(&partial)
            .arg("./cmd/tofu"),
    )?;
    fs::remove_dir_all(&source).with_context(|| format!("cannot remove {}", source.display()))?;
    let version = process::query(
        Command::new(&partial)
            .arg("version")
            .env_remove("TF_CLI_CONFIG_FILE"),
    )
    .unwrap_or_default();
    if !is_tofu_version(&version) {
        bail!("the built tofu says {version:?}, not OpenTofu v{TOFU_VERSION}");
    }
    fs::rename(&partial, binary).with_context(|| format!("cannot move {}", partial.display()))?;
    Ok(())
}

/// Whether `tofu version` printed the pinned release (and no `-dev`).
fn is_tofu_version(answer: &str) -> bool {
    answer
        .lines()
        .any(|line| line.trim() == format!("OpenTofu v{TOFU_VERSION}"))
}

/// `go install <module>@<pseudo-version>` into a scratch GOBIN, then
/// moved into the mirror under its release's name.
fn build_provider(root: &Path, provider: &Provider, binary: &Path) -> Result<()> {
    let bin = root.join("go/bin");
    repo::recreate_dir(&bin)?;
    process::run(
        go(root)
            .env("GOBIN", &bin)
            .args(["install", "-trimpath", "-ldflags", "-s -w"])
            .arg(format!("{}@{}", provider.module, provider.pseudo_version)),
    )?;
    let built = bin.join(format!("terraform-provider-{}", provider.name));
    if let Some(dir) = binary.parent() {
        repo::create_dir(dir)?;
    }
    fs::rename(&built, binary).with_context(|| format!("cannot move {}", built.display()))?;
    Ok(())
}

/// Copies the files and directories under `from` into `to`, writable.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    for entry in fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            repo::create_dir(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
            fs::set_permissions(&target, fs::Permissions::from_mode(0o644))?;
        }
    }
    Ok(())
}

/// Lets a tree copied with read-only modes be deleted.
fn make_writable(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            make_writable(&entry.path())?;
        } else {
            fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o644))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_a_release_build_of_the_pinned_tofu() {
        assert!(is_tofu_version("OpenTofu v1.12.6\non linux_amd64"));
        assert!(is_tofu_version(
            "Warning: something\n\nOpenTofu v1.12.6\non linux_amd64"
        ));
        assert!(!is_tofu_version("OpenTofu v1.12.6-dev\non linux_amd64"));
        assert!(!is_tofu_version("OpenTofu v1.12.5\non linux_amd64"));
    }

    #[test]
    fn reads_the_go_minor_version() {
        assert_eq!(go_minor("go version go1.26.8 linux/amd64"), Some(26));
        assert_eq!(go_minor("go version go1.21rc2 linux/amd64"), Some(21));
        assert_eq!(go_minor("go version go1.19.8 linux/amd64"), Some(19));
        assert_eq!(go_minor("go version devel +abc"), None);
    }

    #[test]
    fn providers_sit_where_the_filesystem_mirror_looks() -> Result<()> {
        let path = provider_binary(Path::new("/cache"), &PROVIDERS[0])?;
        assert_eq!(
            path,
            Path::new("/cache/providers/registry.opentofu.org/hashicorp/kubernetes/3.2.1")
                .join(platform()?)
                .join("terraform-provider-kubernetes_v3.2.1")
        );
        let config = cli_config_text(Path::new("/cache/providers"));
        assert!(
            config.contains("path    = \"/cache/providers\""),
            "{config}"
        );
        assert!(config.contains(
            "include = [\"registry.opentofu.org/hashicorp/kubernetes\", \"registry.opentofu.org/hashicorp/helm\", \"registry.opentofu.org/hashicorp/http\"]"
        ), "{config}");
        assert!(!config.contains("direct"), "no registry fallback: {config}");
        Ok(())
    }

    /// A pseudo-version names one commit; a branch or a short hash
    /// would let the build change under the same pin.
    #[test]
    fn every_provider_is_pinned_to_one_commit() {
        for provider in PROVIDERS {
            let parts: Vec<&str> = provider.pseudo_version.rsplitn(2, '-').collect();
            let (commit, rest) = (parts[0], parts[1]);
            assert_eq!(commit.len(), 12, "{}", provider.name);
            assert!(
                commit.bytes().all(|b| b.is_ascii_hexdigit()),
                "{}",
                provider.name
            );
            let stamp = rest.rsplit('.').next().unwrap_or_default();
            assert_eq!(stamp.len(), 14, "{}: {rest}", provider.name);
            assert!(
                provider.pseudo_version.starts_with('v'),
                "{}",
                provider.name
            );
        }
    }
}
