//! The host tests' side of the harness: the test guest and manifests that
//! use it. Processes, ports and HTTP come from `spinshop-testkit`.

use std::path::PathBuf;

pub use spinshop_testkit::{client, target_dir, EchoServer, Host, Redis};

/// The test guest, built (with everything else the tests run) once.
pub fn guest_wasm() -> PathBuf {
    spinshop_testkit::build_all();
    let wasm = target_dir().join("wasm32-wasip2/release/host_test_guest.wasm");
    assert!(wasm.exists(), "{} missing after build", wasm.display());
    wasm
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
