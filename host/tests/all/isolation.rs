//! A failing request fails alone: traps, runaway loops, memory hogs and
//! slow requests get a 500 (or a 503 at the instance limit) while other
//! requests keep being served.

use std::time::{Duration, Instant};

use crate::harness::{client, guest_app, Host, HostSpec};

async fn status(host: &Host, path: &str) -> u16 {
    client()
        .get(host.url(path))
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

#[tokio::test]
async fn traps_fail_only_their_own_request() {
    let app = guest_app("", "");
    let host = Host::start(HostSpec::new(&app).arg("--max-memory-mb").arg("64"));
    let slow_neighbour = {
        let url = host.url("/guest/sleep?ms=500");
        tokio::spawn(async move { client().get(url).send().await.map(|r| r.status().as_u16()) })
    };
    for path in [
        "/guest/trap/panic",
        "/guest/trap/unreachable",
        "/guest/trap/oom",
    ] {
        assert_eq!(status(&host, path).await, 500, "{path}");
        assert_eq!(status(&host, "/guest/echo").await, 200, "after {path}");
    }
    assert_eq!(slow_neighbour.await.expect("join").expect("request"), 200);
    // Normal allocation under the limit works.
    assert_eq!(status(&host, "/guest/alloc?mb=16").await, 200);
    let metrics = host.metrics().await;
    assert!(
        metrics.contains("spinshop_host_traps_total{component=\"guest\"} 3"),
        "{metrics}"
    );
    host.wait_for_log(|l| l["message"] == "component trapped" && l["component"] == "guest");
}

#[tokio::test]
async fn runaway_and_slow_requests_stop_at_the_time_limit() {
    let app = guest_app("", "");
    let host = Host::start(HostSpec::new(&app).arg("--request-timeout").arg("1"));
    let started = Instant::now();
    let (looping, sleeping, healthy) = tokio::join!(
        status(&host, "/guest/trap/loop"),
        status(&host, "/guest/sleep?ms=5000"),
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            status(&host, "/guest/echo").await
        }
    );
    assert_eq!(looping, 500);
    assert_eq!(sleeping, 500);
    assert_eq!(healthy, 200, "a busy guest does not starve others");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stopped near the limit: {:?}",
        started.elapsed()
    );
    let metrics = host.metrics().await;
    assert!(
        metrics.contains("spinshop_host_timeouts_total{component=\"guest\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn many_concurrent_requests_are_all_served() {
    let app = guest_app("", "");
    let host = Host::start(HostSpec::new(&app));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let url = host.url(&format!("/guest/echo?i={i}"));
        tasks.push(tokio::spawn(async move {
            let r = client().get(url).send().await.expect("request");
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.expect("json");
            (
                status,
                body["uri"]
                    .as_str()
                    .unwrap_or_default()
                    .ends_with(&format!("i={i}")),
            )
        }));
    }
    for t in tasks {
        let (status, own_answer) = t.await.expect("join");
        assert_eq!(status, 200);
        assert!(own_answer, "each request got its own answer");
    }
}

#[tokio::test]
async fn beyond_the_instance_limit_requests_get_503() {
    let app = guest_app("", "");
    let host = Host::start(HostSpec::new(&app).arg("--max-instances").arg("2"));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = host.url("/guest/sleep?ms=800");
        tasks.push(tokio::spawn(async move {
            client().get(url).send().await.expect("request")
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        let r = t.await.expect("join");
        if r.status() == 503 {
            assert_eq!(
                r.headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap_or("")),
                Some("1")
            );
        }
        statuses.push(r.status().as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 200, 503, 503]);
    assert_eq!(
        status(&host, "/guest/echo").await,
        200,
        "capacity comes back"
    );
    assert!(host
        .metrics()
        .await
        .contains("spinshop_host_rejected_total 2"));
}
