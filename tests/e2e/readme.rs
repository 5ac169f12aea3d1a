//! The README's walk-through, run as written against a fresh stack (the
//! app, Redis, Kafka and the bridge, as `cargo xtask up` runs them): every
//! `# =>` promise in it must hold, at the speed of a script.

use spinshop_testkit::repo_root;
use spinshop_tests::walkthrough;
use spinshop_tests::EventStack;

#[test]
fn the_readme_walk_through_does_what_it_says() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let blocks = walkthrough::blocks(&readme);
    assert!(!blocks.is_empty(), "the README has no walk-through");
    let stack = EventStack::start(&[], |config| config);
    // The walk-through runs from a checkout where `cargo xtask up` keeps
    // the admin bootstrap token, and talks to localhost:3000.
    let dir = spinshop_testkit::TempDir::new("walkthrough");
    let secrets = dir.0.join(".spinshop/secrets");
    std::fs::create_dir_all(&secrets).expect("secrets dir");
    std::fs::write(
        secrets.join("admin-bootstrap-token"),
        &stack.stack.admin_bootstrap_token,
    )
    .expect("token file");
    let script =
        walkthrough::script(&blocks).replace("localhost:3000", &stack.stack.host.addr.to_string());
    let output = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&dir.0)
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the walk-through failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
}
