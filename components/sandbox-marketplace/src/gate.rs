//! What every resource and token call goes through before it is served,
//! as the control sets it: the latency, the outage (503), the rate limit
//! (429, a fixed window per minute counted in Redis so every instance
//! shares it) and the failure rate (500).

use std::time::Duration;

use platform::clock::now_ms;
use platform::db::Db;
use platform::redis_store::{log_warning, reply_int};
use platform::{random, Context};
use spin_sdk::redis::RedisParameter;

use crate::domain::{self, Control};
use crate::ml_error::MlError;
use crate::store::control::{self as settings, Counter};

/// Counts a call in its window: the count so far, the first call setting
/// the window's expiry.
const COUNT_SCRIPT: &str = r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"#;

/// Lets a call through, or answers it as the control says; returns the
/// settings in force.
pub fn admit(ctx: &Context, db: &Db) -> Result<Control, MlError> {
    let control = settings::control(db)?;
    if control.latency_ms > 0 {
        std::thread::sleep(Duration::from_millis(u64::from(control.latency_ms)));
    }
    if control.outage {
        settings::bump(db, Counter::InjectedFailure)?;
        return Err(MlError::unavailable());
    }
    if control.rate_limit_per_minute > 0 {
        if let Some(retry_after) = over_limit(ctx, control.rate_limit_per_minute) {
            settings::bump(db, Counter::RateLimited)?;
            return Err(MlError::too_many_requests(retry_after));
        }
    }
    if domain::injected_failure(&control, random::draw()) {
        settings::bump(db, Counter::InjectedFailure)?;
        return Err(MlError::internal());
    }
    Ok(control)
}

/// Seconds until the next window when this call is over `per_minute`.
/// Without Redis the call is let through (a limiter's outage is not the
/// API's).
fn over_limit(ctx: &Context, per_minute: u32) -> Option<u64> {
    let window = domain::window(now_ms());
    let key = format!("sandbox-ml:rate:{}", window.index);
    let redis = ctx.redis_if_up()?;
    let reply = redis
        .eval(
            COUNT_SCRIPT,
            &[&key],
            &[RedisParameter::Int64(window.ttl_ms)],
        )
        .ok()?;
    let Some(count) = reply.first().and_then(reply_int) else {
        log_warning(
            "sandbox_ml_rate_limit",
            &format!("unexpected reply {reply:?}"),
        );
        return None;
    };
    (count > i64::from(per_minute)).then_some(window.retry_after_secs)
}
