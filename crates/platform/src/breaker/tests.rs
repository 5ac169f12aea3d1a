//! Tests of `breaker`.

use super::*;

fn ints(values: &[i64]) -> Vec<RedisResult> {
    values.iter().map(|v| RedisResult::Int64(*v)).collect()
}

fn snapshot_reply(
    state: &str,
    opened: &str,
    probes: &str,
    granted: &str,
    failures: i64,
    now: i64,
) -> Vec<RedisResult> {
    let b = |s: &str| RedisResult::Binary(s.as_bytes().to_vec());
    vec![
        b(state),
        b(opened),
        b(probes),
        b(granted),
        RedisResult::Int64(failures),
        RedisResult::Int64(now),
    ]
}

#[test]
fn settings_come_from_variables_and_nonsense_keeps_the_default() {
    let vars = |name: &str| match name {
        "breaker_failure_threshold" => Some("3".to_string()),
        "breaker_window_secs" => Some(" 60 ".to_string()),
        "breaker_open_secs" => Some("0".to_string()),
        "breaker_half_open_probes" => Some("lots".to_string()),
        _ => None,
    };
    assert_eq!(
        BreakerConfig::resolve(vars),
        BreakerConfig {
            failure_threshold: 3,
            window_secs: 60,
            open_secs: 10,
            half_open_probes: 1,
        }
    );
    assert_eq!(BreakerConfig::resolve(|_| None), BreakerConfig::default());
}

#[test]
fn a_lost_probe_is_given_up_after_its_lease() {
    let short = BreakerConfig {
        open_secs: 2,
        ..BreakerConfig::default()
    };
    assert_eq!(short.probe_lease_ms(), MIN_PROBE_LEASE_MS);
    let long = BreakerConfig {
        open_secs: 120,
        ..BreakerConfig::default()
    };
    assert_eq!(long.probe_lease_ms(), 120_000);
    assert!(long.ttl_ms() > long.window_ms() + long.open_ms() + long.probe_lease_ms());
}

#[test]
fn admit_replies_become_admissions() {
    let a = parse_admission(&ints(&[1, 0, 0])).expect("closed");
    assert!(a.allowed && !a.probe && a.enforced);
    let a = parse_admission(&ints(&[1, 1, 0])).expect("probe");
    assert!(a.allowed && a.probe);
    let a = parse_admission(&ints(&[0, 0, 1500])).expect("open");
    assert_eq!((a.allowed, a.retry_after_ms), (false, 1500));
    assert_eq!(parse_admission(&ints(&[2, 0, 0])), None);
    assert_eq!(parse_admission(&ints(&[1, 0])), None);
    assert_eq!(
        parse_admission(&[RedisResult::Nil, RedisResult::Nil, RedisResult::Nil]),
        None
    );
}

#[test]
fn without_redis_calls_pass_and_nothing_is_recorded() {
    let breaker = Breaker::new("psp", BreakerConfig::default(), None);
    let a = breaker.admit();
    assert!(a.allowed && !a.enforced && !a.probe);
    breaker.record(&a, false);
    assert_eq!(breaker.state().expect_err("no store").status(), 503);
}

#[test]
fn a_closed_breaker_has_no_times() {
    let c = BreakerConfig::default();
    let s = parse_snapshot(&snapshot_reply("", "", "", "", 2, 1_000), &c).expect("closed");
    assert_eq!(
        s,
        Snapshot {
            state: "closed",
            failures: 2,
            opened_at_ms: None,
            probe_at_ms: None
        }
    );
}

#[test]
fn an_open_breaker_probes_after_its_interval() {
    let c = BreakerConfig {
        open_secs: 2,
        ..BreakerConfig::default()
    };
    let s = parse_snapshot(&snapshot_reply("open", "10000", "0", "", 3, 10_500), &c).expect("open");
    assert_eq!(
        (s.state, s.failures, s.opened_at_ms, s.probe_at_ms),
        ("open", 3, Some(10_000), Some(12_000))
    );
}

#[test]
fn a_half_open_breaker_waits_for_its_probe() {
    let c = BreakerConfig {
        open_secs: 2,
        half_open_probes: 1,
        ..BreakerConfig::default()
    };
    let taken = parse_snapshot(
        &snapshot_reply("half_open", "10000", "1", "12100", 3, 12_200),
        &c,
    )
    .expect("probing");
    assert_eq!(taken.state, "half_open");
    assert_eq!(taken.probe_at_ms, Some(12_100 + MIN_PROBE_LEASE_MS));
    let free = parse_snapshot(
        &snapshot_reply("half_open", "10000", "0", "", 3, 12_200),
        &c,
    )
    .expect("free slot");
    assert_eq!(free.probe_at_ms, Some(12_200));
    assert_eq!(
        parse_snapshot(&snapshot_reply("weird", "", "", "", 0, 1), &c),
        None
    );
    assert_eq!(
        parse_snapshot(&snapshot_reply("open", "x", "", "", 0, 1), &c),
        None
    );
}

#[test]
fn the_scripts_take_the_arguments_the_calls_send() {
    // Each script reads exactly the ARGV slots the Rust side fills.
    let max_arg = |script: &str| {
        (1..=9)
            .filter(|i| script.contains(&format!("ARGV[{i}]")))
            .max()
            .unwrap_or(0)
    };
    assert_eq!(max_arg(ADMIT_SCRIPT), 5);
    assert_eq!(max_arg(RECORD_SCRIPT), 6);
    assert_eq!(max_arg(STATE_SCRIPT), 2);
}
