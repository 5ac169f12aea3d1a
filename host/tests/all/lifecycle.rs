//! Start-up checks and graceful shutdown.

use std::time::{Duration, Instant};

use crate::harness::{client, guest_app, Host, HostSpec};

#[tokio::test]
async fn a_bad_manifest_names_the_file_and_the_problem() {
    let cases = [
        (guest_app("sqlite_databases = [\"nope\"]", ""), "nope"),
        (guest_app("allowed_outbound_hosts = [\"example.com\"]", ""), "example.com"),
        (guest_app("colour = \"blue\"", ""), "colour"),
        ("spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"missing\"\n".to_string(), "missing"),
        ("this is not toml".to_string(), "spin.toml"),
    ];
    for (manifest, needle) in cases {
        let failure = match Host::try_start(HostSpec::new(&manifest)) {
            Ok(_) => panic!("host started with a bad manifest:\n{manifest}"),
            Err(f) => f,
        };
        assert!(!failure.status.success());
        assert!(
            failure.stderr.contains("spin.toml"),
            "names the file: {}",
            failure.stderr
        );
        assert!(
            failure.stderr.contains(needle),
            "names {needle:?}: {}",
            failure.stderr
        );
    }
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_then_exits() {
    let app = guest_app("", "");
    let mut host = Host::start(HostSpec::new(&app));
    let url = host.url("/guest/sleep?ms=1500");
    let in_flight = tokio::spawn(async move { client().get(url).send().await });
    // Let the request reach the guest before asking the host to stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let status = tokio::task::spawn_blocking(move || {
        let status = host.terminate();
        (status, host)
    })
    .await
    .expect("join");
    let (status, host) = status;
    let response = in_flight
        .await
        .expect("join")
        .expect("the in-flight request completed");
    assert_eq!(response.status(), 200);
    assert!(status.success(), "clean exit: {status}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for the request"
    );
    assert!(
        client().get(host.url("/guest/echo")).send().await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn guest_output_is_logged_with_its_component_and_routes_are_announced() {
    let app = guest_app("", "");
    let host = Host::start(HostSpec::new(&app));
    let announced = format!("guest: http://{}/guest/...", host.addr);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !host.stderr_text().contains(&announced) {
        assert!(Instant::now() < deadline, "{}", host.stderr_text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = client()
        .get(host.url("/guest/stdio"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let out = host.wait_for_log(|l| l["stream"] == "stdout");
    assert_eq!(out["component"], "guest");
    assert_eq!(out["line"], "guest stdout line");
    let err = host.wait_for_log(|l| l["stream"] == "stderr");
    assert_eq!(err["line"], "guest stderr line");
    // A component's JSON line is passed through as an object, not a string.
    let structured = host.wait_for_log(|l| l["event"] == "structured");
    assert_eq!(structured["n"], 7);
    assert_eq!(structured["component"], "guest");
    assert_eq!(structured["stream"], "stdout");
}
