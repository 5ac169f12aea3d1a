//! Outbound calls to a dependency: each attempt asks the dependency's
//! circuit breaker first and reports its outcome to it; failed attempts of
//! an idempotent request are retried with exponential backoff and jitter.
//! The transport is the caller's (a closure), so the policy is testable
//! natively.

use std::time::Duration;

use crate::breaker::{Admission, Breaker};

/// How often and how patiently a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The delay before the first retry (before jitter); doubled for each
    /// further retry.
    pub base_delay_ms: u64,
    /// No delay is longer than this (before jitter).
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    /// Three attempts, waiting 50-100 ms and then 100-200 ms: short enough
    /// to sit inside one request.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay_ms: 100,
            max_delay_ms: 1_000,
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry):
    /// exponential, capped, with "equal jitter" (a uniform pick in the
    /// upper half) so instances that failed together retry apart.
    pub fn backoff(&self, retry: u32, random: u64) -> Duration {
        let exp = self
            .base_delay_ms
            .saturating_mul(1u64 << retry.saturating_sub(1).min(32));
        let delay = exp.min(self.max_delay_ms);
        let half = delay / 2;
        let jitter = if half == 0 { 0 } else { random % (half + 1) };
        Duration::from_millis(delay - half + jitter)
    }
}

/// What guards a dependency: the circuit breaker, or a stand-in in tests.
pub trait Gate {
    fn admit(&self) -> Admission;
    fn record(&self, admission: &Admission, success: bool);
}

impl Gate for Breaker {
    fn admit(&self) -> Admission {
        Breaker::admit(self)
    }

    fn record(&self, admission: &Admission, success: bool) {
        Breaker::record(self, admission, success);
    }
}

/// Why a call produced no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The breaker refused the first attempt: nothing was sent.
    Unavailable { retry_after_ms: u64 },
    /// Every attempt that went out failed (or the breaker opened between
    /// attempts); `last` says how the last one failed.
    Failed { attempts: u32, last: String },
}

/// An answer and how many attempts it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<T> {
    pub value: T,
    pub attempts: u32,
}

/// Calls `attempt` (given its number, from 1) until it answers, through
/// `gate`. `attempt` returns `Ok` for an answer the dependency gave as a
/// healthy one does (a 2xx, or a 4xx such as a decline: not retried, a
/// success for the breaker) and `Err` for a failure worth retrying (5xx,
/// timeout, connection error: recorded as a breaker failure). Only use it
/// for idempotent requests (an idempotency key makes a POST one).
pub fn call<T>(
    gate: &impl Gate,
    policy: &RetryPolicy,
    mut attempt: impl FnMut(u32) -> Result<T, String>,
) -> Result<Answer<T>, CallError> {
    call_with_sleep(gate, policy, &mut attempt, |retry| {
        std::thread::sleep(policy.backoff(retry, random_u64()));
    })
}

fn call_with_sleep<T>(
    gate: &impl Gate,
    policy: &RetryPolicy,
    attempt: &mut impl FnMut(u32) -> Result<T, String>,
    mut sleep: impl FnMut(u32),
) -> Result<Answer<T>, CallError> {
    let max = policy.max_attempts.max(1);
    let mut last = String::new();
    for n in 1..=max {
        let admission = gate.admit();
        if !admission.allowed {
            return Err(if n == 1 {
                CallError::Unavailable {
                    retry_after_ms: admission.retry_after_ms,
                }
            } else {
                CallError::Failed {
                    attempts: n - 1,
                    last: format!("{last}; then the circuit opened"),
                }
            });
        }
        match attempt(n) {
            Ok(value) => {
                gate.record(&admission, true);
                return Ok(Answer { value, attempts: n });
            }
            Err(e) => {
                gate.record(&admission, false);
                last = e;
                if n < max {
                    sleep(n);
                }
            }
        }
    }
    Err(CallError::Failed {
        attempts: max,
        last,
    })
}

fn random_u64() -> u64 {
    getrandom::u64().unwrap_or(0)
}

#[cfg(test)]
mod tests {
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

    fn run<T>(
        gate: &FakeGate,
        mut attempt: impl FnMut(u32) -> Result<T, String>,
    ) -> (Result<Answer<T>, CallError>, Vec<u32>) {
        let mut slept = Vec::new();
        let r = call_with_sleep(gate, &RetryPolicy::default(), &mut attempt, |n| {
            slept.push(n)
        });
        (r, slept)
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
        assert_eq!(slept, vec![1]);
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
        assert_eq!(slept, vec![1, 2], "no wait after the last attempt");
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
}
