//! Circuit breaker for an outbound dependency, its state in Redis so every
//! instance (each request is a fresh one) agrees.
//!
//! closed -> open after `failure_threshold` failures within `window_secs`;
//! after `open_secs` the next `half_open_probes` callers get through as
//! probes while the others fail fast; a probe's success closes the breaker,
//! a probe's failure opens it for another `open_secs`. Each admission check
//! and each recorded outcome is one atomic Lua script run with the Redis
//! server's clock. Settings come from the variables `breaker_*`.
//!
//! Without Redis the breaker fails open: calls go through unguarded and a
//! warning is logged (losing the breaker must not stop the shop).

use serde::Serialize;
use spin_sdk::redis::{RedisParameter, RedisResult};

use crate::context::Context;
use crate::problem::ApiError;
use crate::redis_store::{log_warning, lua_now, now_arg, reply_int, Redis};

/// A probe granted but never reported (its instance died) is given up
/// after this long at the least, so the breaker cannot stay half-open for
/// ever.
const MIN_PROBE_LEASE_MS: i64 = 30_000;

/// Each script takes the time as its last argument when the caller's
/// clock may be moved (see `clock`), and reads the Redis server's clock
/// otherwise, so that every instance agrees.
///
/// Decides whether a call may go out. Replies `{allowed, probe, wait_ms}`:
/// `wait_ms` is how long until a call could be admitted when refused.
/// An `open` breaker turns `half_open` here, lazily, once its interval is up.
const ADMIT_SCRIPT: &str = concat!(
    r#"
if redis.replicate_commands then redis.replicate_commands() end
local open_ms = tonumber(ARGV[1])
local max_probes = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
"#,
    lua_now!("5"),
    r#"local s = redis.call('HMGET', KEYS[1], 'state', 'opened_at', 'probes', 'probe_granted_at')
local state = s[1] or 'closed'
if state == 'closed' then return {1, 0, 0} end
local granted = tonumber(s[3]) or 0
local granted_at = tonumber(s[4]) or 0
if state == 'open' then
  local probe_at = (tonumber(s[2]) or now) + open_ms
  if now < probe_at then return {0, 0, probe_at - now} end
  state = 'half_open'
  granted = 0
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probes', 0)
end
if granted >= max_probes and now - granted_at >= lease then granted = 0 end
if granted < max_probes then
  redis.call('HSET', KEYS[1], 'probes', granted + 1, 'probe_granted_at', now)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {1, 1, 0}
end
return {0, 0, math.max(granted_at + lease - now, 1)}
"#
);

/// Records one call's outcome. ARGV: `success` (1/0), `probe` (1/0),
/// threshold, window ms, ttl ms. Replies `{state, failures_in_window,
/// opened}` (`opened` is 1 when this outcome opened the breaker).
/// Outcomes of calls that were not probes change nothing while the
/// breaker is open or half-open (they were admitted before it opened).
const RECORD_SCRIPT: &str = concat!(
    r#"
if redis.replicate_commands then redis.replicate_commands() end
local success = ARGV[1] == '1'
local probe = ARGV[2] == '1'
local threshold = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
"#,
    lua_now!("6"),
    r#"local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if state == 'half_open' and probe then
  if success then
    redis.call('DEL', KEYS[1], KEYS[2])
    return {'closed', 0, 0}
  end
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', now, 'probes', 0)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {'open', redis.call('ZCARD', KEYS[2]), 1}
end
if state ~= 'closed' or success then
  return {state, redis.call('ZCARD', KEYS[2]), 0}
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('ZADD', KEYS[2], now, now .. '-' .. seq)
redis.call('PEXPIRE', KEYS[2], window + 1000)
local failures = redis.call('ZCARD', KEYS[2])
local opened = 0
if failures >= threshold then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', now, 'probes', 0)
  state = 'open'
  opened = 1
end
redis.call('PEXPIRE', KEYS[1], ttl)
return {state, failures, opened}
"#
);

/// Reads the state: `{state, opened_at, probes, probe_granted_at,
/// failures_in_window, now}` (empty strings for what is unset).
const STATE_SCRIPT: &str = concat!(
    r#"
"#,
    lua_now!("2"),
    r#"local s = redis.call('HMGET', KEYS[1], 'state', 'opened_at', 'probes', 'probe_granted_at')
local failures = redis.call('ZCOUNT', KEYS[2], now - tonumber(ARGV[1]), '+inf')
return {s[1] or '', s[2] or '', s[3] or '', s[4] or '', failures, now}
"#
);

/// A breaker's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub window_secs: u32,
    pub open_secs: u32,
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            window_secs: 30,
            open_secs: 10,
            half_open_probes: 1,
        }
    }
}

impl BreakerConfig {
    /// From the variables `breaker_failure_threshold`, `breaker_window_secs`,
    /// `breaker_open_secs` and `breaker_half_open_probes`.
    pub fn from_variables() -> Self {
        Self::from_variables_prefixed("breaker", Self::default())
    }

    /// From the variables `<prefix>_failure_threshold`, ... (a dependency
    /// with settings of its own), `defaults` where one is unset.
    pub fn from_variables_prefixed(prefix: &str, defaults: Self) -> Self {
        Self::resolve_prefixed(prefix, defaults, |name| spin_sdk::variables::get(name).ok())
    }

    /// `from_variables` with the lookup passed in: a missing or invalid
    /// value (logged) keeps the default.
    pub fn resolve(read: impl Fn(&str) -> Option<String>) -> Self {
        Self::resolve_prefixed("breaker", Self::default(), read)
    }

    /// [`Self::resolve`] for the variables `<prefix>_*`, from `d`.
    pub fn resolve_prefixed(prefix: &str, d: Self, read: impl Fn(&str) -> Option<String>) -> Self {
        let setting = |suffix: &str, default: u32, max: u32| {
            let name = format!("{prefix}_{suffix}");
            match read(&name) {
                None => default,
                Some(raw) => match raw.trim().parse::<u32>() {
                    Ok(v) if (1..=max).contains(&v) => v,
                    _ => {
                        log_warning(
                            "breaker_config",
                            &format!(
                                "variable {name}={raw:?} is not a whole number from 1 to {max}"
                            ),
                        );
                        default
                    }
                },
            }
        };
        Self {
            failure_threshold: setting("failure_threshold", d.failure_threshold, 10_000),
            window_secs: setting("window_secs", d.window_secs, 86_400),
            open_secs: setting("open_secs", d.open_secs, 86_400),
            half_open_probes: setting("half_open_probes", d.half_open_probes, 1_000),
        }
    }

    fn window_ms(&self) -> i64 {
        i64::from(self.window_secs) * 1000
    }

    fn open_ms(&self) -> i64 {
        i64::from(self.open_secs) * 1000
    }

    /// How long a granted probe holds its slot without a reported outcome.
    fn probe_lease_ms(&self) -> i64 {
        self.open_ms().max(MIN_PROBE_LEASE_MS)
    }

    /// How long the state outlives its last change.
    fn ttl_ms(&self) -> i64 {
        self.window_ms() + self.open_ms() + self.probe_lease_ms() + 60_000
    }
}

/// Whether a call may go out, and in what capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub allowed: bool,
    /// The call is a half-open probe: its outcome decides the state.
    pub probe: bool,
    /// Milliseconds until a call could be admitted (refusals only).
    pub retry_after_ms: u64,
    /// False when Redis could not be asked and the call was let through.
    pub enforced: bool,
}

impl Admission {
    /// A pass given without a breaker to ask.
    pub const UNGUARDED: Self = Self {
        allowed: true,
        probe: false,
        retry_after_ms: 0,
        enforced: false,
    };
}

/// The state as health output shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// `closed`, `open` or `half_open`, as last recorded: an `open`
    /// breaker whose interval is up turns `half_open` when the next call
    /// asks (`probe_at` is then in the past).
    pub state: &'static str,
    /// Failures within the window.
    pub failures: u32,
    /// Unix ms when it last opened (`None` while closed).
    pub opened_at_ms: Option<i64>,
    /// Unix ms from which a probe will be let through (`None` while closed).
    pub probe_at_ms: Option<i64>,
}

/// One dependency's breaker.
pub struct Breaker<'r> {
    name: String,
    config: BreakerConfig,
    redis: Option<&'r Redis>,
}

impl std::fmt::Debug for Breaker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<'r> Breaker<'r> {
    /// The breaker named `name` (e.g. `psp`), configured from variables,
    /// on the request's Redis (if it can be reached).
    pub fn open(name: &str, ctx: &'r Context) -> Self {
        Self::new(name, BreakerConfig::from_variables(), ctx.redis_if_up())
    }

    /// The breaker `name` with `config`, its state on `redis`.
    pub fn new(name: &str, config: BreakerConfig, redis: Option<&'r Redis>) -> Self {
        Self {
            name: name.to_string(),
            config,
            redis,
        }
    }

    /// The dependency it guards.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its settings.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    fn keys(&self) -> [String; 2] {
        let state = format!("breaker:{}", self.name);
        let failures = format!("{state}:failures");
        [state, failures]
    }

    /// Asks whether a call may go out now. Fails open (logged) when Redis
    /// cannot answer.
    pub fn admit(&self) -> Admission {
        let Some(redis) = self.redis else {
            log_warning(
                "breaker_unguarded",
                &format!("{}: redis unavailable; call allowed", self.name),
            );
            return Admission::UNGUARDED;
        };
        let [state, failures] = self.keys();
        let c = &self.config;
        let args = [
            RedisParameter::Int64(c.open_ms()),
            RedisParameter::Int64(i64::from(c.half_open_probes)),
            RedisParameter::Int64(c.probe_lease_ms()),
            RedisParameter::Int64(c.ttl_ms()),
            now_arg(),
        ];
        match redis.eval(ADMIT_SCRIPT, &[&state, &failures], &args) {
            Ok(reply) => parse_admission(&reply).unwrap_or_else(|| {
                log_warning(
                    "breaker_unguarded",
                    &format!("{}: unexpected admit reply {reply:?}", self.name),
                );
                Admission::UNGUARDED
            }),
            // `Redis` has logged the cause.
            Err(_) => Admission::UNGUARDED,
        }
    }

    /// Records a call's outcome: `success` means the dependency answered
    /// as a healthy one does (a decline is a success here). Best effort: a
    /// Redis failure is logged and otherwise ignored.
    pub fn record(&self, admission: &Admission, success: bool) {
        let Some(redis) = self.redis else { return };
        if !admission.enforced {
            return;
        }
        let [state, failures] = self.keys();
        let c = &self.config;
        let args = [
            RedisParameter::Int64(i64::from(success)),
            RedisParameter::Int64(i64::from(admission.probe)),
            RedisParameter::Int64(i64::from(c.failure_threshold)),
            RedisParameter::Int64(c.window_ms()),
            RedisParameter::Int64(c.ttl_ms()),
            now_arg(),
        ];
        if let Ok(reply) = redis.eval(RECORD_SCRIPT, &[&state, &failures], &args) {
            if let [_, failures, opened] = reply.as_slice() {
                if reply_int(opened) == Some(1) {
                    log_warning(
                        "breaker_opened",
                        &format!(
                            "{}: {} failures; calls fail fast for {} s",
                            self.name,
                            reply_int(failures).unwrap_or_default(),
                            c.open_secs
                        ),
                    );
                }
            }
        }
    }

    /// The current state; 503 when Redis cannot be read.
    pub fn state(&self) -> Result<Snapshot, ApiError> {
        let redis = self.redis.ok_or_else(|| {
            ApiError::Unavailable("the breaker's state store is unavailable".into())
        })?;
        let [state, failures] = self.keys();
        let reply = redis.eval(
            STATE_SCRIPT,
            &[&state, &failures],
            &[RedisParameter::Int64(self.config.window_ms()), now_arg()],
        )?;
        parse_snapshot(&reply, &self.config)
            .ok_or_else(|| ApiError::internal(format!("unexpected breaker reply {reply:?}")))
    }
}

/// Reads the admit script's `{allowed, probe, wait_ms}`.
fn parse_admission(reply: &[RedisResult]) -> Option<Admission> {
    let [allowed, probe, wait] = reply else {
        return None;
    };
    let flag = |r: &RedisResult| match reply_int(r)? {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    };
    Some(Admission {
        allowed: flag(allowed)?,
        probe: flag(probe)?,
        retry_after_ms: u64::try_from(reply_int(wait)?).unwrap_or(0),
        enforced: true,
    })
}

/// A reply element as text (`""` for nil).
fn reply_text(r: &RedisResult) -> Option<String> {
    match r {
        RedisResult::Binary(b) => String::from_utf8(b.clone()).ok(),
        RedisResult::Status(s) => Some(s.clone()),
        RedisResult::Int64(n) => Some(n.to_string()),
        RedisResult::Nil => Some(String::new()),
    }
}

/// Turns the state script's reply into a snapshot.
fn parse_snapshot(reply: &[RedisResult], config: &BreakerConfig) -> Option<Snapshot> {
    let [state, opened_at, probes, granted_at, failures, now] = reply else {
        return None;
    };
    let number = |r: &RedisResult| -> Option<Option<i64>> {
        let text = reply_text(r)?;
        if text.is_empty() {
            Some(None)
        } else {
            text.trim().parse().ok().map(Some)
        }
    };
    let failures = u32::try_from(reply_int(failures)?.max(0)).unwrap_or(u32::MAX);
    let now = reply_int(now)?;
    let opened_at = number(opened_at)?;
    let probes = number(probes)?.unwrap_or(0);
    let granted_at = number(granted_at)?.unwrap_or(0);
    let (state, probe_at) = match reply_text(state)?.as_str() {
        "" | "closed" => ("closed", None),
        "open" => ("open", Some(opened_at.unwrap_or(now) + config.open_ms())),
        "half_open" => {
            let full = probes >= i64::from(config.half_open_probes);
            let next = if full {
                granted_at + config.probe_lease_ms()
            } else {
                now
            };
            ("half_open", Some(next))
        }
        _ => return None,
    };
    Some(Snapshot {
        state,
        failures,
        opened_at_ms: if state == "closed" { None } else { opened_at },
        probe_at_ms: probe_at,
    })
}

#[cfg(test)]
mod tests;
