//! The time components read: the system's wall clock, which a test stack
//! can move forward so time-driven work (expiries, timeouts, a breaker's
//! open interval) happens without anyone waiting for it.
//!
//! Moving time is honoured only where the Spin variable `clock_override`
//! is `true` (the end-to-end stack sets it; no deployment does). Then the
//! application-wide offset lives in Redis under [`OFFSET_KEY`], so every
//! component, and the Lua scripts that keep rate limits and breakers, agree
//! on one moved "now"; `POST /internal/<component>/clock` advances it.
//!
//! Each request is a fresh instance, so the clock is per request: the
//! serving layer installs it with [`install`] before the handler runs.
//! Native tests pin it with [`pin`].

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// The Redis key of the offset, in milliseconds, added to the system time.
pub const OFFSET_KEY: &str = "spinshop:clock:offset_ms";
/// The Spin variable that lets a stack move time.
pub const OVERRIDE_VARIABLE: &str = "clock_override";

thread_local! {
    /// `Some(offset)` when time may be moved in this request.
    static OFFSET_MS: Cell<Option<i64>> = const { Cell::new(None) };
    /// A fixed instant, for native tests.
    static PINNED_MS: Cell<Option<i64>> = const { Cell::new(None) };
}

/// Milliseconds since the Unix epoch, as this request sees them.
pub fn now_ms() -> i64 {
    if let Some(pinned) = PINNED_MS.with(Cell::get) {
        return pinned;
    }
    system_ms().saturating_add(OFFSET_MS.with(Cell::get).unwrap_or(0))
}

/// Seconds since the Unix epoch, as this request sees them.
pub fn now_secs() -> u64 {
    u64::try_from(now_ms() / 1000).unwrap_or(0)
}

/// The current time in RFC 3339 UTC with exactly three fractional digits.
pub fn now_rfc3339() -> String {
    rfc3339_from_ms(now_ms())
}

/// Whether this request's time can differ from the system's: callers that
/// would otherwise read a server's clock (Redis `TIME` in scripts) pass
/// [`now_ms`] instead.
pub fn is_moved() -> bool {
    PINNED_MS.with(Cell::get).is_some() || OFFSET_MS.with(Cell::get).is_some()
}

/// Installs the request's clock: `None` for the system time as it is,
/// `Some(offset)` for a stack whose time may be moved.
pub fn install(offset_ms: Option<i64>) {
    OFFSET_MS.with(|c| c.set(offset_ms));
}

/// Pins the clock of this thread at `ms` until the guard is dropped.
pub fn pin(ms: i64) -> Pinned {
    let previous = PINNED_MS.with(|c| c.replace(Some(ms)));
    Pinned { previous }
}

/// Restores the clock a [`pin`] replaced.
#[derive(Debug)]
#[must_use = "the clock is unpinned when the guard is dropped"]
pub struct Pinned {
    previous: Option<i64>,
}

impl Pinned {
    /// Moves the pinned time forward.
    pub fn advance(&self, ms: i64) {
        PINNED_MS.with(|c| c.set(c.get().map(|t| t.saturating_add(ms))));
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        PINNED_MS.with(|c| c.set(self.previous));
    }
}

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Unix milliseconds as RFC 3339 UTC with exactly three fractional digits
/// (`2026-11-22T08:52:34.740Z`), so that timestamps sort as text in time
/// order.
pub fn rfc3339_from_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(format_ms)
        .unwrap_or_default()
}

/// An RFC 3339 timestamp (any offset) as Unix milliseconds.
pub fn parse_rfc3339(value: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(value.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

fn format_ms(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_fixed_width_milliseconds_and_sort_as_text() {
        assert_eq!(rfc3339_from_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_from_ms(1_795_337_554_740),
            "2026-11-22T08:52:34.740Z"
        );
        let times: Vec<String> = [737, 740, 747, 1_000]
            .iter()
            .map(|ms| rfc3339_from_ms(1_795_337_554_000 + ms))
            .collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(sorted, times);
        let now = now_rfc3339();
        assert_eq!(now.len(), 24, "{now}");
        assert!(parse_rfc3339(&now).is_some());
        assert_eq!(
            parse_rfc3339("2026-11-22T10:00:00.250+01:00"),
            Some(1_795_338_000_250)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn a_pinned_clock_moves_only_when_told() {
        assert!(!is_moved());
        {
            let pinned = pin(1_000);
            assert!(is_moved());
            assert_eq!(now_ms(), 1_000);
            pinned.advance(500);
            assert_eq!((now_ms(), now_secs()), (1_500, 1));
        }
        assert!(!is_moved());
        assert!(now_ms() > 1_700_000_000_000, "back to the system time");
    }

    #[test]
    fn an_installed_offset_moves_the_system_time() {
        let before = now_ms();
        install(Some(3_600_000));
        let moved = now_ms();
        install(None);
        assert!(moved - before >= 3_600_000, "{moved} {before}");
        assert!(now_ms() - before < 3_600_000);
    }
}
