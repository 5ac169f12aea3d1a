//! The host tests' side of the harness: the test guest and manifests that
//! use it. Processes, ports and HTTP come from `spinshop-testkit`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub use spinshop_testkit::{client, target_dir, EchoServer, Host, Redis};

/// Builds the test guest once per test run and returns its path.
pub fn guest_wasm() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--target", "wasm32-wasip2", "--release", "-p", "host-test-guest"])
            .env("CARGO_TARGET_DIR", target_dir())
            .status()
            .expect("run cargo to build the test guest");
        assert!(status.success(), "building the test guest failed");
        let wasm = target_dir().join("wasm32-wasip2/release/host_test_guest.wasm");
        assert!(wasm.exists(), "{} missing after build", wasm.display());
        wasm
    })
}

/// A host spec for a manifest in which `{guest}` stands for the test guest.
pub struct HostSpec;

impl HostSpec {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(manifest: &str) -> spinshop_testkit::HostSpec<'_> {
        spinshop_testkit::HostSpec::new(env!("CARGO_BIN_EXE_spinshop-host"), manifest)
            .substitute("{guest}", &guest_wasm().display().to_string())
    }
}

/// A manifest with one guest component `guest` at `/guest/...`, plus extra TOML.
pub fn guest_app(component_extra: &str, rest: &str) -> String {
    format!(
        r#"spin_manifest_version = 2
[application]
name = "host-test"
version = "1.2.3"

[[trigger.http]]
route = "/guest/..."
component = "guest"

[component.guest]
source = "{{guest}}"
{component_extra}

{rest}
"#
    )
}
