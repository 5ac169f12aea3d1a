//! Exponential backoff with full jitter: attempt n waits a random time in
//! `[0, min(max, min_delay * 2^n)]`, never less than `min_delay / 2`, so
//! replicas that fail together do not retry together.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
}

impl Backoff {
    pub fn new(min_ms: u64, max_ms: u64) -> Self {
        Self {
            min: Duration::from_millis(min_ms),
            max: Duration::from_millis(max_ms.max(min_ms)),
        }
    }

    /// The ceiling of the wait before retry number `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }

    /// A jittered wait before retry number `attempt`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let floor = self.min / 2;
        let span = ceiling.saturating_sub(floor).as_millis() as u64;
        floor + Duration::from_millis(fastrand::u64(0..=span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_maximum() {
        let b = Backoff::new(100, 1000);
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(1), Duration::from_millis(200));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(4), Duration::from_millis(1000));
        assert_eq!(b.ceiling(63), Duration::from_millis(1000));
    }

    #[test]
    fn delays_are_jittered_within_bounds() {
        let b = Backoff::new(100, 1000);
        let delays: Vec<Duration> = (0..200).map(|_| b.delay(3)).collect();
        assert!(delays
            .iter()
            .all(|d| *d >= Duration::from_millis(50) && *d <= Duration::from_millis(800)));
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 20, "jitter spreads the delays");
    }
}
