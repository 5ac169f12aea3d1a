//! Variables: defaults, `SPIN_VARIABLE_*` overrides, templates, missing
//! required variables, and what `get` answers for bad or unknown names.

use crate::harness::{client, guest_app, Host, HostSpec};

fn app() -> String {
    guest_app(
        r#"environment = { GREETING = "hello from the manifest" }
[component.guest.variables]
api_url = "https://{{ api_host }}/v1"
token = "{{ token }}"
plain = "literal value"
unset = "{{ optional }}"
"#,
        r#"[variables]
api_host = { default = "api.example.com" }
token = { required = true, secret = true }
optional = { }
"#,
    )
}

async fn get(host: &Host, path: &str) -> (u16, String) {
    let r = client().get(host.url(path)).send().await.expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

#[tokio::test]
async fn defaults_templates_and_environment_overrides() {
    let app = app();
    let host = Host::start(HostSpec::new(&app).env("SPIN_VARIABLE_TOKEN", "s3cret"));
    assert_eq!(
        get(&host, "/guest/var/api_url").await,
        (200, "https://api.example.com/v1".into())
    );
    assert_eq!(get(&host, "/guest/var/token").await, (200, "s3cret".into()));
    assert_eq!(
        get(&host, "/guest/var/plain").await,
        (200, "literal value".into())
    );
    assert_eq!(
        get(&host, "/guest/env/GREETING").await,
        (200, "hello from the manifest".into())
    );
    assert_eq!(
        get(&host, "/guest/env/PATH").await.0,
        404,
        "the host's environment does not leak"
    );
    drop(host);

    let host = Host::start(
        HostSpec::new(&app)
            .env("SPIN_VARIABLE_TOKEN", "other")
            .env("SPIN_VARIABLE_API_HOST", "payments.internal:8443"),
    );
    assert_eq!(
        get(&host, "/guest/var/api_url").await,
        (200, "https://payments.internal:8443/v1".into())
    );
    assert_eq!(get(&host, "/guest/var/token").await, (200, "other".into()));
}

#[tokio::test]
async fn unknown_valueless_and_invalid_names() {
    let app = app();
    let host = Host::start(HostSpec::new(&app).env("SPIN_VARIABLE_TOKEN", "t"));
    let (status, body) = get(&host, "/guest/var/nope").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("Undefined"), "{body}");
    // Declared without a default and not set: undefined too.
    assert_eq!(get(&host, "/guest/var/unset").await.0, 404);
    // Application variables are not visible unless the component maps them.
    assert_eq!(get(&host, "/guest/var/api_host").await.0, 404);
    let (status, body) = get(&host, "/guest/var/Not-Valid").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("InvalidName"), "{body}");
}

#[tokio::test]
async fn a_missing_required_variable_stops_start_up() {
    let app = app();
    let failure = match Host::try_start(HostSpec::new(&app)) {
        Ok(_) => panic!("host started without the required variable"),
        Err(f) => f,
    };
    assert!(!failure.status.success());
    assert!(failure.stderr.contains("token"), "{}", failure.stderr);
    assert!(
        failure.stderr.contains("SPIN_VARIABLE_TOKEN"),
        "{}",
        failure.stderr
    );
}
