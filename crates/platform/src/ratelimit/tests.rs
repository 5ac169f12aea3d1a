//! Tests of `ratelimit`.

use super::*;
use crate::auth::Role;
use crate::request::Method;

fn ints(values: &[i64]) -> Vec<RedisResult> {
    values.iter().map(|v| RedisResult::Int64(*v)).collect()
}

#[test]
fn limits_parse_and_reject_nonsense() {
    assert_eq!(
        RateLimit::parse(" 100 / 50 "),
        Ok(RateLimit {
            capacity: 100,
            refill_per_sec: 50.0
        })
    );
    assert_eq!(
        RateLimit::parse("5/0.1")
            .expect("fractional")
            .refill_per_sec,
        0.1
    );
    for bad in [
        "", "100", "0/1", "-1/1", "10/0", "10/-1", "10/abc", "1.5/1", "10/NaN", "10/inf",
    ] {
        assert!(RateLimit::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(RateLimit::parse(DEFAULT_LIMIT), Ok(RateLimit::default()));
}

#[test]
fn group_variable_then_default_variable_then_builtin() {
    let vars = |name: &str| match name {
        "rate_limit_login" => Some("5/0.1".to_string()),
        "rate_limit_broken" => Some("lots".to_string()),
        "rate_limit_default" => Some("20/10".to_string()),
        _ => None,
    };
    assert_eq!(RateLimit::resolve("login", vars).capacity, 5);
    assert_eq!(RateLimit::resolve("catalog", vars).capacity, 20);
    assert_eq!(RateLimit::resolve("broken", vars).capacity, 20);
    assert_eq!(RateLimit::resolve("Bad-Name", vars).capacity, 20);
    assert_eq!(
        RateLimit::resolve("catalog", |_| None),
        RateLimit::default()
    );
}

#[test]
fn script_replies_become_decisions() {
    let limit = RateLimit::parse("100/50").expect("limit");
    let d = parse_reply(&ints(&[1, 99, 20, 0]), &limit).expect("allowed");
    assert_eq!(
        (
            d.allowed,
            d.limit,
            d.remaining,
            d.reset_secs,
            d.retry_after_secs
        ),
        (true, 100, 99, 1, 0)
    );
    let d = parse_reply(&ints(&[0, 0, 2000, 20]), &limit).expect("denied");
    assert_eq!(
        (d.allowed, d.remaining, d.reset_secs, d.retry_after_secs),
        (false, 0, 2, 1)
    );
    let d = parse_reply(&ints(&[0, 0, 60_000, 10_001]), &limit).expect("slow refill");
    assert_eq!(d.retry_after_secs, 11);
    let binary = vec![
        RedisResult::Binary(b"1".to_vec()),
        RedisResult::Int64(3),
        RedisResult::Int64(0),
        RedisResult::Int64(0),
    ];
    assert!(parse_reply(&binary, &limit).expect("binary ints").allowed);
    assert_eq!(parse_reply(&ints(&[1, 2, 3]), &limit), None);
    assert_eq!(parse_reply(&ints(&[2, 0, 0, 0]), &limit), None);
    let nils = vec![
        RedisResult::Nil,
        RedisResult::Nil,
        RedisResult::Nil,
        RedisResult::Nil,
    ];
    assert_eq!(parse_reply(&nils, &limit), None);
}

#[test]
fn decisions_set_headers_and_errors() {
    let limit = RateLimit::parse("10/1").expect("limit");
    let denied = parse_reply(&ints(&[0, 0, 10_000, 1_000]), &limit).expect("denied");
    let mut resp = Response::empty(429);
    denied.apply(&mut resp);
    assert_eq!(resp.header("X-RateLimit-Limit"), Some("10"));
    assert_eq!(resp.header("X-RateLimit-Remaining"), Some("0"));
    assert_eq!(resp.header("X-RateLimit-Reset"), Some("10"));
    let err = denied.into_error();
    assert_eq!(err.status(), 429);
    assert_eq!(err.headers(), vec![("retry-after", "1".to_string())]);
}

#[test]
fn without_redis_requests_pass_unmarked() {
    let limit = RateLimit::default();
    let d = check(None, "ip:1.2.3.4", "catalog", &limit);
    assert!(d.allowed && !d.enforced);
    let mut resp = Response::empty(200);
    d.apply(&mut resp);
    assert_eq!(resp.header("x-ratelimit-limit"), None);
}

#[test]
fn identities_use_the_user_or_the_bare_client_address() {
    let req = |addr: &str| Request::new(Method::Get, "/", &[("spin-client-addr", addr)], b"");
    assert_eq!(identity_of(None, &req("10.0.0.7:51234")), "ip:10.0.0.7");
    assert_eq!(
        identity_of(None, &req("[2001:db8::1]:443")),
        "ip:2001:db8::1"
    );
    assert_eq!(identity_of(None, &req("2001:db8::1")), "ip:2001:db8::1");
    assert_eq!(identity_of(None, &req("10.0.0.7")), "ip:10.0.0.7");
    assert_eq!(
        identity_of(None, &Request::new(Method::Get, "/", &[], b"")),
        "ip:unknown"
    );
    let p = Principal {
        user_id: "u-9".into(),
        email: "e@x.y".into(),
        role: Role::Customer,
        token_id: "t".into(),
        session_id: "s".into(),
        expires_at: 0,
    };
    assert_eq!(identity_of(Some(&p), &req("10.0.0.7:1")), "user:u-9");
}
