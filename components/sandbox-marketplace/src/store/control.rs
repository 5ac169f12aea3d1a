//! The failure-injection settings and the counters a test reads.

use std::collections::BTreeMap;

use platform::db::{int, text, Db};
use platform::ApiError;
use spin_sdk::sqlite3::Value;

use super::{int_at, text_at};
use crate::domain::Control;

/// What the sandbox counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Tokens granted for a code.
    AuthorizationCodeGrant,
    /// Tokens granted for a refresh token.
    RefreshTokenGrant,
    /// Token requests refused (any OAuth error).
    RefusedGrant,
    /// Resource calls that reached the API (past outage, limit, failures).
    ResourceRequest,
    /// Calls refused by the rate limit.
    RateLimited,
    /// Calls failed on purpose (outage or failure rate).
    InjectedFailure,
}

impl Counter {
    pub fn name(self) -> &'static str {
        match self {
            Counter::AuthorizationCodeGrant => "grant.authorization_code",
            Counter::RefreshTokenGrant => "grant.refresh_token",
            Counter::RefusedGrant => "grant.refused",
            Counter::ResourceRequest => "resource.requests",
            Counter::RateLimited => "rate_limited",
            Counter::InjectedFailure => "injected_failures",
        }
    }
}

pub fn control(db: &Db) -> Result<Control, ApiError> {
    let r = db.execute(
        "SELECT failure_rate, latency_ms, outage, rate_limit_per_minute, approve_user_id,
            revoke_refresh_tokens
         FROM control WHERE id = 1",
        &[],
    )?;
    let Some(row) = r.rows.first() else {
        return Ok(Control::default());
    };
    let v = &row.values;
    let failure_rate = match v.first() {
        Some(Value::Real(f)) => *f,
        Some(Value::Integer(n)) => *n as f64,
        _ => 0.0,
    };
    Ok(Control {
        failure_rate,
        latency_ms: u32::try_from(int_at(v, 1)).unwrap_or(0),
        outage: int_at(v, 2) != 0,
        rate_limit_per_minute: u32::try_from(int_at(v, 3)).unwrap_or(0),
        approve_user_id: int_at(v, 4),
        revoke_refresh_tokens: int_at(v, 5) != 0,
    })
}

pub fn set_control(db: &Db, c: &Control) -> Result<(), ApiError> {
    db.execute(
        "UPDATE control SET failure_rate = ?, latency_ms = ?, outage = ?,
            rate_limit_per_minute = ?, approve_user_id = ?, revoke_refresh_tokens = ?
         WHERE id = 1",
        &[
            Value::Real(c.failure_rate),
            int(c.latency_ms),
            int(i64::from(c.outage)),
            int(c.rate_limit_per_minute),
            int(c.approve_user_id),
            int(i64::from(c.revoke_refresh_tokens)),
        ],
    )?;
    Ok(())
}

/// Adds one to a counter.
pub fn bump(db: &Db, counter: Counter) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO counters (name, value) VALUES (?, 1)
         ON CONFLICT (name) DO UPDATE SET value = value + 1",
        &[text(counter.name())],
    )?;
    Ok(())
}

/// Every counter's value (those never bumped are absent: 0).
pub fn counters(db: &Db) -> Result<BTreeMap<String, i64>, ApiError> {
    let r = db.execute("SELECT name, value FROM counters", &[])?;
    Ok(r.rows
        .iter()
        .map(|row| (text_at(&row.values, 0), int_at(&row.values, 1)))
        .collect())
}

/// A counter's value.
pub fn count(counters: &BTreeMap<String, i64>, counter: Counter) -> i64 {
    counters.get(counter.name()).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory;

    #[test]
    fn control_starts_calm_approving_the_first_seller_and_keeps_what_is_set() {
        let db = memory();
        assert_eq!(control(&db).expect("control"), Control::default());
        let set = Control {
            failure_rate: 0.25,
            latency_ms: 300,
            outage: true,
            rate_limit_per_minute: 7,
            approve_user_id: 1002,
            revoke_refresh_tokens: true,
        };
        set_control(&db, &set).expect("set");
        assert_eq!(control(&db).expect("control"), set);
    }

    #[test]
    fn counters_count_from_zero() {
        let db = memory();
        assert_eq!(
            count(&counters(&db).expect("none"), Counter::RateLimited),
            0
        );
        bump(&db, Counter::RateLimited).expect("bump");
        bump(&db, Counter::RateLimited).expect("bump");
        bump(&db, Counter::RefusedGrant).expect("bump");
        let all = counters(&db).expect("counters");
        assert_eq!(count(&all, Counter::RateLimited), 2);
        assert_eq!(count(&all, Counter::RefusedGrant), 1);
        assert_eq!(count(&all, Counter::ResourceRequest), 0);
    }
}
