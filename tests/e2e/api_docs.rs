//! The API document on the live stack: `GET /api-docs` is a valid
//! OpenAPI 3.1 document whose paths and methods are exactly what the
//! routers answer, `GET /docs` shows it, and schemathesis, fuzzing every
//! operation as a customer and as an admin, finds no 5xx and no answer
//! the document does not describe.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use platform::auth::Role;
use serde_json::{json, Value};
use spinshop_testkit::repo_root;
use spinshop_tests::{client, Stack};

/// The `schemathesis` program: `$SPINSHOP_SCHEMATHESIS` (`cargo xtask
/// test` sets it), else where `cargo xtask setup` installs it.
fn schemathesis() -> PathBuf {
    if let Some(program) = std::env::var_os("SPINSHOP_SCHEMATHESIS").filter(|p| !p.is_empty()) {
        return PathBuf::from(program);
    }
    let requirements =
        std::fs::read_to_string(repo_root().join("xtask/schemathesis/requirements.txt"))
            .expect("xtask/schemathesis/requirements.txt");
    let version = requirements
        .lines()
        .find_map(|l| l.trim().strip_prefix("schemathesis=="))
        .expect("a pinned schemathesis");
    spinshop_testkit::paths::cache_dir()
        .expect("tool cache")
        .join(format!("tools/schemathesis-{version}/bin/schemathesis"))
}

/// The program, which must be installed: this test is part of the suite,
/// never skipped.
fn installed_schemathesis() -> PathBuf {
    let program = schemathesis();
    assert!(
        program.is_file(),
        "schemathesis is not installed at {}: run `cargo xtask setup` (it installs it from \
         PyPI into the tool cache)",
        program.display()
    );
    program
}

async fn fetch_document(stack: &Stack) -> Value {
    let r = client()
        .get(stack.url("/api-docs"))
        .send()
        .await
        .expect("api-docs");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

/// The public routes of spin.toml (`/api/orders/...` or `/health`).
fn public_triggers() -> Vec<String> {
    let manifest = std::fs::read_to_string(repo_root().join("spin.toml")).expect("spin.toml");
    manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("route = \""))
        .filter_map(|r| r.strip_suffix('"'))
        .filter(|r| !r.starts_with("/internal/"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn the_document_is_valid_and_matches_what_the_routers_answer() {
    let program = installed_schemathesis();
    let stack = Stack::start();
    let doc = fetch_document(&stack).await;
    assert_eq!(doc["openapi"], "3.1.0");

    // Valid against the OpenAPI 3.1 schema (openapi-spec-validator, in
    // schemathesis' virtualenv).
    let dir = spinshop_testkit::TempDir::new("api-docs");
    let file = dir.0.join("openapi.json");
    std::fs::write(&file, doc.to_string()).expect("write");
    let validator = program.with_file_name("openapi-spec-validator");
    let out = Command::new(&validator)
        .arg(&file)
        .output()
        .expect("openapi-spec-validator");
    assert!(
        out.status.success(),
        "the document is not valid OpenAPI 3.1:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Each path, asked with a method no route has, answers 405 listing
    // exactly the methods the document gives it.
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        let documented: BTreeSet<String> = item
            .as_object()
            .expect("path item")
            .keys()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        let concrete: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let r = client()
            .patch(stack.url(&concrete))
            .send()
            .await
            .expect("probe");
        assert_eq!(r.status(), 405, "PATCH {concrete} (documented as {path})");
        let allowed: BTreeSet<String> = r.headers()["allow"]
            .to_str()
            .expect("allow")
            .split(',')
            .map(|m| m.trim().to_string())
            .collect();
        assert_eq!(allowed, documented, "the router's methods for {path}");
    }
    // Every public route of spin.toml leads to documented paths.
    for trigger in public_triggers() {
        let prefix = trigger.trim_end_matches("/...");
        assert!(
            paths
                .keys()
                .any(|p| p == prefix || p.starts_with(&format!("{prefix}/"))),
            "spin.toml routes {trigger}, and the document has nothing there"
        );
    }

    let page = client().get(stack.url("/docs")).send().await.expect("docs");
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .expect("type")
        .starts_with("text/html"));
    let html = page.text().await.expect("html");
    assert!(
        html.contains("id=\"postApiOrders\""),
        "the page lists the operations"
    );
    assert!(
        html.contains("id=\"schema-Problem\""),
        "the page shows the schemas"
    );
}

/// Registers `email` (the first admin with the bootstrap token) and
/// answers its user id.
async fn register(stack: &Stack, email: &str, bootstrap: bool) -> String {
    let mut req = client().post(stack.url("/api/auth/register")).json(&json!({
        "email": email, "password": "a long enough secret", "name": "Fuzzer",
    }));
    if bootstrap {
        req = req.header("x-admin-bootstrap-token", &stack.admin_bootstrap_token);
    }
    let r = req.send().await.expect("register");
    assert_eq!(r.status(), 201, "register {email}");
    let user: Value = r.json().await.expect("json");
    user["id"].as_str().expect("id").to_string()
}

/// Examples per operation and phase: with about 90 operations, each run
/// takes a minute or two on two cores (some 8,000 requests). One worker:
/// with two, hypothesis' own caches race between its threads and the run
/// can fail with "AST constructor recursion depth mismatch", whatever the
/// API answers.
const MAX_EXAMPLES: &str = "40";
/// Each run is stopped after this, and fails.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// Runs schemathesis against the stack as `who`; answers its output.
fn fuzz(program: &PathBuf, stack: &Stack, who: &str, token: &str) -> (bool, String) {
    let report = spinshop_testkit::TempDir::new("schemathesis");
    let mut child = Command::new(program)
        .arg("run")
        .arg(stack.url("/api-docs"))
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", "20260401", "--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--request-timeout", "20", "--no-shrink"])
        // Logging out would end the session the run's token belongs to;
        // the sandboxes' controls inject outages, whose 5xx are their point.
        .args(["--exclude-operation-id", "postApiAuthLogout"])
        .args(["--exclude-operation-id", "putSandboxPspControl"])
        .args(["--exclude-operation-id", "putSandboxMlControl"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--output-truncate", "false"])
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(&report.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("schemathesis");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().expect("output");
    let text = format!(
        "--- schemathesis as {who} ({:.0?}, {})\n{}{}",
        started.elapsed(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn schemathesis_finds_no_server_errors_or_undocumented_answers() {
    let program = installed_schemathesis();
    let stack = Stack::start();
    let admin_id = register(&stack, "fuzz-admin@example.com", true).await;
    let customer_id = register(&stack, "fuzz-customer@example.com", false).await;
    stack
        .create_product(
            &stack.token(&admin_id, Role::Admin),
            "Fuzzed pen",
            1.99,
            1000,
        )
        .await;
    let mut failures = Vec::new();
    for (who, token) in [
        ("customer", stack.token(&customer_id, Role::Customer)),
        ("admin", stack.token(&admin_id, Role::Admin)),
    ] {
        let (passed, output) = fuzz(&program, &stack, who, &token);
        eprintln!("{output}");
        if !passed {
            failures.push(who);
        }
    }
    assert!(
        failures.is_empty(),
        "schemathesis failed as {failures:?} (its output is above)"
    );
}
