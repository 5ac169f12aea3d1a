//! Tests of `outbound`.

use std::cell::RefCell;

use super::*;

/// A gate that admits while `open_after` outcomes have not failed in a
/// row, and remembers what it was told.
struct FakeGate {
    refuse_from: Option<u32>,
    admitted: RefCell<u32>,
    outcomes: RefCell<Vec<bool>>,
}

impl FakeGate {
    fn new(refuse_from: Option<u32>) -> Self {
        Self {
            refuse_from,
            admitted: RefCell::new(0),
            outcomes: RefCell::new(Vec::new()),
        }
    }
}

impl Gate for FakeGate {
    fn admit(&self) -> Admission {
        let n = *self.admitted.borrow() + 1;
        let allowed = self.refuse_from.is_none_or(|from| n < from);
        if allowed {
            *self.admitted.borrow_mut() = n;
        }
        Admission {
            allowed,
            probe: false,
            retry_after_ms: if allowed { 0 } else { 700 },
            enforced: true,
        }
    }

    fn record(&self, _: &Admission, success: bool) {
        self.outcomes.borrow_mut().push(success);
    }
}

/// Runs a call; returns its result and the waits between attempts.
fn run<T>(
    gate: &FakeGate,
    mut attempt: impl FnMut(u32) -> Result<T, String>,
) -> (Result<Answer<T>, CallError>, Vec<Duration>) {
    let slept = RefCell::new(Vec::new());
    let r = futures::executor::block_on(call(
        gate,
        &RetryPolicy::default(),
        |n| std::future::ready(attempt(n)),
        |d| {
            slept.borrow_mut().push(d);
            std::future::ready(())
        },
    ));
    (r, slept.into_inner())
}

fn within(d: Duration, from_ms: u64, to_ms: u64) -> bool {
    (Duration::from_millis(from_ms)..=Duration::from_millis(to_ms)).contains(&d)
}

#[test]
fn backoff_doubles_within_its_cap_and_jitters_in_the_upper_half() {
    let p = RetryPolicy::default();
    assert_eq!(p.backoff(1, 0), Duration::from_millis(50));
    assert_eq!(p.backoff(1, 50), Duration::from_millis(100));
    assert_eq!(p.backoff(1, 51), Duration::from_millis(50), "wraps");
    assert_eq!(p.backoff(2, 0), Duration::from_millis(100));
    assert_eq!(
        p.backoff(2, u64::MAX),
        Duration::from_millis(200 - 100 + u64::MAX % 101)
    );
    assert_eq!(p.backoff(30, 0), Duration::from_millis(500), "capped");
    assert_eq!(p.backoff(u32::MAX, 0), Duration::from_millis(500));
    let none = RetryPolicy {
        base_delay_ms: 0,
        ..p
    };
    assert_eq!(none.backoff(3, 12345), Duration::ZERO);
}

#[test]
fn an_answer_ends_the_call_and_counts_as_a_success() {
    let gate = FakeGate::new(None);
    let (r, slept) = run(&gate, |n| {
        if n < 2 {
            Err("503".into())
        } else {
            Ok("charged")
        }
    });
    assert_eq!(
        r,
        Ok(Answer {
            value: "charged",
            attempts: 2
        })
    );
    assert_eq!(slept.len(), 1);
    assert!(within(slept[0], 50, 100), "{slept:?}");
    assert_eq!(*gate.outcomes.borrow(), vec![false, true]);
}

#[test]
fn failures_are_retried_up_to_the_limit_each_one_recorded() {
    let gate = FakeGate::new(None);
    let (r, slept) = run(&gate, |n| Err::<(), _>(format!("attempt {n}: timeout")));
    assert_eq!(
        r,
        Err(CallError::Failed {
            attempts: 3,
            last: "attempt 3: timeout".into()
        })
    );
    assert_eq!(slept.len(), 2, "no wait after the last attempt");
    assert!(
        within(slept[1], 100, 200),
        "the second wait doubles: {slept:?}"
    );
    assert_eq!(*gate.outcomes.borrow(), vec![false, false, false]);
}

#[test]
fn an_open_breaker_sends_nothing() {
    let gate = FakeGate::new(Some(1));
    let mut called = false;
    let (r, _) = run(&gate, |_| {
        called = true;
        Ok(())
    });
    assert_eq!(
        r,
        Err(CallError::Unavailable {
            retry_after_ms: 700
        })
    );
    assert!(!called);
    assert!(gate.outcomes.borrow().is_empty());
}

#[test]
fn a_breaker_opening_between_attempts_stops_the_retries() {
    let gate = FakeGate::new(Some(2));
    let mut calls = 0;
    let (r, _) = run(&gate, |_| {
        calls += 1;
        Err::<(), _>("503".to_string())
    });
    assert_eq!(calls, 1);
    assert!(
        matches!(&r, Err(CallError::Failed { attempts: 1, last }) if last.contains("circuit opened")),
        "{r:?}"
    );
}

#[test]
fn only_idempotent_exchanges_may_be_retried() {
    assert!(Exchange::get("http://catalog.spin.internal/api/catalog/p1").is_idempotent());
    let post = Exchange::post_json("http://psp/charges", &serde_json::json!({}));
    assert!(!post.is_idempotent());
    let keyed = post.clone().idempotency_key("order-1");
    assert!(keyed.is_idempotent());
    assert_eq!(
        keyed.header("x-extra", "1").headers.last(),
        Some(&("x-extra".to_string(), "1".to_string()))
    );
    for s in [500, 502, 503, 504, 408, 429] {
        assert!(is_retryable(s), "{s}");
    }
    for s in [200, 201, 400, 402, 404, 409, 422] {
        assert!(!is_retryable(s), "{s}");
    }
}
