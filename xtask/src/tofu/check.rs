//! The `infra/terraform` checks of `cargo xtask test`: `tofu fmt`, then
//! `init` and `validate` of every stage, then `plan` of the stages whose
//! providers can plan without a cluster, against a kubeconfig that points
//! at a port nobody listens on. The saved plans of the data and app stages
//! are then read back (`tofu show -json`) and held to what
//! [`plan_checks`](super::plan_checks) asserts. Each stage's `.terraform`
//! and plan go under `.spinshop/tofu/`, so the checkout stays clean.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result};

use super::plan_checks;
use super::tools::{self, Tools};
use crate::process;
use crate::repo::{self, Repo};

/// The root modules, in the order they are applied.
pub const STAGES: &[&str] = &["cluster-addons", "data", "app", "monitoring"];

/// The stages planned offline: everything in them is a typed Kubernetes
/// object or a Helm release, which plan without asking the cluster.
/// (cluster-addons reads spin-operator's CRDs over the network and plans
/// them with kubernetes_manifest, which needs the cluster.)
const PLANNED: &[&str] = &["data", "app", "monitoring"];

/// The example variables for a local cluster, in each stage.
pub const LOCAL_VARIABLES: &str = "local.tfvars";

/// Runs every check; the first failure stops them.
pub fn run(repo: &Repo) -> Result<()> {
    let tools = tools::required()?;
    let infra = repo.root().join("infra/terraform");
    let scratch = repo.local("tofu");
    repo::recreate_dir(&scratch)?;
    let kubeconfig = scratch.join("kubeconfig");
    fs::write(&kubeconfig, FAKE_KUBECONFIG)
        .with_context(|| format!("cannot write {}", kubeconfig.display()))?;

    process::run(
        tools
            .command()
            .args(["fmt", "-check", "-recursive", "-diff", "-no-color"])
            .arg(&infra),
    )?;
    let bridge_group = bridge_group(repo.root())?;
    let mut bridge_user = None;
    for stage in STAGES {
        let dir = infra.join(stage);
        let data_dir = scratch.join(stage);
        process::run(stage_command(&tools, &dir, &data_dir).args([
            "init",
            "-backend=false",
            "-input=false",
            "-no-color",
        ]))
        .with_context(|| format!("tofu init of {stage}"))?;
        process::run(stage_command(&tools, &dir, &data_dir).args(["validate", "-no-color"]))
            .with_context(|| format!("tofu validate of {stage}"))?;
        if PLANNED.contains(stage) {
            let saved = scratch.join(format!("{stage}.tfplan"));
            process::run(
                plan(&tools, &dir, &data_dir, &kubeconfig).arg(format!("-out={}", saved.display())),
            )
            .with_context(|| format!("tofu plan of {stage}"))?;
            match *stage {
                "data" => {
                    let plan = show(&tools, &dir, &data_dir, &saved)?;
                    bridge_user = Some(plan_checks::check_data(&plan, &bridge_group)?);
                }
                "app" => {
                    let user = bridge_user
                        .as_deref()
                        .context("the data stage is checked before the app stage")?;
                    plan_checks::check_app(&show(&tools, &dir, &data_dir, &saved)?, user)?;
                }
                _ => continue,
            }
            eprintln!("tofu plan of {stage}: what plan_checks asserts holds");
        }
    }
    // infra/monitoring/ may hold no rules or dashboards yet: plan the
    // monitoring stage once more with one of each, so both cases are seen.
    let examples = scratch.join("monitoring-examples");
    repo::create_dir(&examples.join("rules"))?;
    repo::create_dir(&examples.join("dashboards"))?;
    fs::write(examples.join("rules/example.yaml"), EXAMPLE_RULES)?;
    fs::write(examples.join("dashboards/example.json"), EXAMPLE_DASHBOARD)?;
    let stage = "monitoring";
    process::run(
        plan(
            &tools,
            &infra.join(stage),
            &scratch.join(stage),
            &kubeconfig,
        )
        .arg(format!(
            "-var=rules_dir={}",
            examples.join("rules").display()
        ))
        .arg(format!(
            "-var=dashboards_dir={}",
            examples.join("dashboards").display()
        )),
    )
    .context("tofu plan of monitoring with a rule file and a dashboard")?;
    Ok(())
}

/// `tofu plan` of a stage with its local variables and the fake cluster.
fn plan(tools: &Tools, dir: &Path, data_dir: &Path, kubeconfig: &Path) -> Command {
    let mut command = stage_command(tools, dir, data_dir);
    command
        .args([
            "plan",
            "-input=false",
            "-lock=false",
            "-refresh=false",
            "-no-color",
        ])
        .arg(format!("-var-file={LOCAL_VARIABLES}"))
        .arg(format!("-var=kubeconfig_path={}", kubeconfig.display()))
        .arg(format!("-var=kube_context={FAKE_CONTEXT}"));
    command
}

/// A saved plan as `tofu show -json` prints it.
fn show(tools: &Tools, dir: &Path, data_dir: &Path, saved: &Path) -> Result<serde_json::Value> {
    let text = process::run_captured(
        stage_command(tools, dir, data_dir)
            .args(["show", "-json", "-no-color"])
            .arg(saved),
    )?;
    serde_json::from_str(&text)
        .with_context(|| format!("`tofu show -json {}` printed no JSON", saved.display()))
}

/// The bridge's consumer group prefix: `group` in kafka-bridge/bridge.toml
/// (the bridge's own default when the file has none).
fn bridge_group(root: &Path) -> Result<String> {
    let path = root.join("kafka-bridge/bridge.toml");
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let bridge: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not TOML", path.display()))?;
    Ok(bridge
        .get("group")
        .and_then(|g| g.as_str())
        .unwrap_or("spinshop-bridge")
        .to_owned())
}

/// The one context of [`FAKE_KUBECONFIG`].
const FAKE_CONTEXT: &str = "offline";

const EXAMPLE_RULES: &str = "\
groups:
  - name: example
    rules:
      - alert: BridgeDeadLetters
        expr: increase(bridge_dead_lettered_total[10m]) > 0
        labels:
          severity: warning
";

const EXAMPLE_DASHBOARD: &str = r#"{"title": "Example", "panels": [{"type": "stat", "title": "Relayed", "targets": [{"expr": "sum(bridge_relayed_out_total)"}]}]}"#;

/// `tofu -chdir=<dir>` with its `.terraform` in `data_dir`.
fn stage_command(tools: &Tools, dir: &Path, data_dir: &Path) -> Command {
    let mut command = tools.command();
    command
        .arg(format!("-chdir={}", dir.display()))
        .env("TF_DATA_DIR", data_dir.join(".terraform"));
    command
}

/// A cluster at a loopback port that nothing serves: providers that try to
/// reach it fail at once rather than reaching something real.
const FAKE_KUBECONFIG: &str = "\
apiVersion: v1
kind: Config
clusters:
- name: offline
  cluster:
    server: https://127.0.0.1:1
    insecure-skip-tls-verify: true
users:
- name: offline
  user:
    token: offline
contexts:
- name: offline
  context:
    cluster: offline
    user: offline
current-context: offline
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tofu::tools::PROVIDERS;

    /// Every module requires only providers xtask builds, at the version
    /// it builds, or `tofu init` finds nothing in the mirror.
    #[test]
    fn every_module_pins_the_providers_that_are_built() -> Result<()> {
        let infra = Repo::locate()?.root().join("infra/terraform");
        let mut modules: Vec<_> = STAGES.iter().map(|stage| infra.join(stage)).collect();
        for entry in fs::read_dir(infra.join("modules"))? {
            modules.push(entry?.path());
        }
        for module in modules {
            let versions = fs::read_to_string(module.join("versions.tf"))
                .with_context(|| format!("{} has no versions.tf", module.display()))?;
            let mut required = 0;
            for block in versions.split("source  = \"").skip(1) {
                required += 1;
                let name = block
                    .strip_prefix("hashicorp/")
                    .and_then(|rest| rest.split('"').next())
                    .with_context(|| format!("{}: {block}", module.display()))?;
                let provider = PROVIDERS.iter().find(|p| p.name == name).with_context(|| {
                    format!("{} needs {name}, which is not built", module.display())
                })?;
                let pinned = block.split('}').next().unwrap_or_default();
                assert!(
                    pinned.contains(&format!("version = \"{}\"", provider.version)),
                    "{} pins another {name} than {}: {pinned}",
                    module.display(),
                    provider.version
                );
            }
            assert!(required > 0, "{} requires no provider", module.display());
        }
        for stage in STAGES {
            assert!(
                infra.join(stage).join(LOCAL_VARIABLES).is_file(),
                "{stage} has no {LOCAL_VARIABLES}"
            );
        }
        Ok(())
    }

    /// The data stage's topics are the bridge's: a topic missing there
    /// would be created by the bridge with the broker's defaults instead.
    #[test]
    fn the_data_stage_creates_the_bridges_topics() -> Result<()> {
        let root = Repo::locate()?.root().to_path_buf();
        let bridge: toml::Table =
            toml::from_str(&fs::read_to_string(root.join("kafka-bridge/bridge.toml"))?)?;
        let mut expected: Vec<String> = bridge["topics"]["names"]
            .as_array()
            .context("bridge.toml has no [topics] names")?
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect();
        let variables = fs::read_to_string(root.join("infra/terraform/data/variables.tf"))?;
        let block = variables
            .split("variable \"topics\"")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .context("the data stage has no topics variable")?;
        let mut declared: Vec<String> = block
            .lines()
            .filter_map(|line| line.trim().strip_prefix('"'))
            .filter_map(|line| line.split('"').next())
            .map(str::to_owned)
            .collect();
        expected.sort();
        declared.sort();
        assert_eq!(declared, expected);
        Ok(())
    }
}
