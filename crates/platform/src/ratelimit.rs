//! Rate limiting: a token bucket per client identity and route group, kept
//! in Redis and updated by one atomic Lua script per request, with the
//! Redis server's clock so every instance agrees.
//!
//! Limits come from Spin variables `rate_limit_<group>` (falling back to
//! `rate_limit_default`, then to [`DEFAULT_LIMIT`]) written as
//! `"<capacity>/<refill_per_second>"`: `"100/50"` allows a burst of 100
//! requests and refills 50 tokens a second; the refill may be fractional
//! (`"5/0.1"`: a burst of 5, then one request every 10 s).
//!
//! When Redis is unreachable the request is allowed (fail open) and a
//! warning line is logged: an outage of the limiter must not take the shop
//! down with it.

use spin_sdk::redis::{RedisParameter, RedisResult};

use crate::auth::Principal;
use crate::context::Context;
use crate::problem::ApiError;
use crate::redis_store::{bin, log_warning, lua_now, now_arg, reply_int, Redis};
use crate::request::Request;
use crate::response::Response;

/// The limit when no variable sets one.
pub const DEFAULT_LIMIT: &str = "100/50";

/// Refills the bucket for the time elapsed since its last update, then
/// takes one token if there is one. `ARGV[3]` is the time when the
/// caller's clock may be moved, empty to use the server's. Replies
/// `{allowed, tokens_left, ms_until_full, ms_until_next_token}`.
/// Fractional tokens are kept as strings (Lua numbers would be truncated
/// to integers in the reply, not in storage).
const SCRIPT: &str = concat!(
    r#"
if redis.replicate_commands then redis.replicate_commands() end
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
"#,
    lua_now!("3"),
    r#"local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate / 1000)
  ts = now
end
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
local full = math.ceil((capacity - tokens) * 1000 / rate)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], full + 1000)
return {allowed, math.floor(tokens), full, wait}
"#
);

/// A bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub capacity: u32,
    pub refill_per_sec: f64,
}

impl RateLimit {
    /// Parses `"<capacity>/<refill_per_second>"`: capacity a whole number
    /// from 1, refill a positive number.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (capacity, refill) = spec
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("{spec:?}: expected <capacity>/<refill_per_second>"))?;
        let capacity: u32 = capacity
            .trim()
            .parse()
            .ok()
            .filter(|c| *c >= 1)
            .ok_or_else(|| format!("{spec:?}: capacity must be a whole number from 1"))?;
        let refill_per_sec: f64 = refill
            .trim()
            .parse()
            .ok()
            .filter(|r: &f64| r.is_finite() && *r >= 0.001 && *r <= 1e6)
            .ok_or_else(|| format!("{spec:?}: refill must be a number from 0.001 to 1000000"))?;
        Ok(Self {
            capacity,
            refill_per_sec,
        })
    }

    /// The limit of a route group, from variables (see the module docs).
    pub fn for_group(group: &str) -> Self {
        let read = |name: &str| spin_sdk::variables::get(name).ok();
        Self::resolve(group, read)
    }

    /// The limit of a group that never falls back to `rate_limit_default`:
    /// its own variable `rate_limit_<group>` if set and valid, else
    /// `default` (a built-in spec, which must parse).
    pub fn own(group: &str, default: &str) -> Self {
        Self::resolve_own(group, default, |name| spin_sdk::variables::get(name).ok())
    }

    /// `own` with the variable lookup passed in.
    pub fn resolve_own(group: &str, default: &str, read: impl Fn(&str) -> Option<String>) -> Self {
        let name = format!("rate_limit_{group}");
        if let Some(spec) = read(&name) {
            match Self::parse(&spec) {
                Ok(limit) => return limit,
                Err(e) => log_warning("rate_limit_config", &format!("variable {name}: {e}")),
            }
        }
        Self::parse(default).unwrap_or_default()
    }

    /// `for_group` with the variable lookup passed in.
    fn resolve(group: &str, read: impl Fn(&str) -> Option<String>) -> Self {
        let mut candidates = Vec::with_capacity(2);
        if is_variable_suffix(group) {
            candidates.push(format!("rate_limit_{group}"));
        }
        candidates.push("rate_limit_default".to_string());
        for name in candidates {
            if let Some(spec) = read(&name) {
                match Self::parse(&spec) {
                    Ok(limit) => return limit,
                    Err(e) => log_warning("rate_limit_config", &format!("variable {name}: {e}")),
                }
            }
        }
        Self::default()
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            capacity: 100,
            refill_per_sec: 50.0,
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Seconds until a retry can succeed (0 when allowed).
    pub retry_after_secs: u64,
    /// False when Redis was unreachable and the request was let through.
    pub enforced: bool,
}

impl Decision {
    /// A pass given without asking Redis.
    fn unenforced(limit: &RateLimit) -> Self {
        Self {
            allowed: true,
            limit: limit.capacity,
            remaining: limit.capacity,
            reset_secs: 0,
            retry_after_secs: 0,
            enforced: false,
        }
    }

    /// Sets `X-RateLimit-Limit`, `-Remaining` and `-Reset` (seconds until
    /// full). Apply it to the 429 as well as to successes; nothing is set
    /// when the limiter was not consulted.
    pub fn apply(&self, response: &mut Response) {
        if !self.enforced {
            return;
        }
        response.set_header("x-ratelimit-limit", self.limit.to_string());
        response.set_header("x-ratelimit-remaining", self.remaining.to_string());
        response.set_header("x-ratelimit-reset", self.reset_secs.to_string());
    }

    /// Puts the bucket's headers on the request's eventual answer, and
    /// refuses the request (429) if the bucket was empty.
    pub fn enforce(self, ctx: &Context) -> Result<(), ApiError> {
        let mut headers = Response::empty(0);
        self.apply(&mut headers);
        for (name, value) in headers.headers {
            ctx.add_response_header(&name, value);
        }
        if self.allowed {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }

    /// How the bucket stood: `refused`, `near_limit` (allowed with at
    /// most a tenth of the bucket left, i.e. more than 90 % used) or
    /// `allowed`; what the rate-limit utilisation alert counts.
    pub fn outcome(&self) -> &'static str {
        if !self.allowed {
            "refused"
        } else if u64::from(self.remaining) * 10 <= u64::from(self.limit) {
            "near_limit"
        } else {
            "allowed"
        }
    }

    /// The 429 (with `Retry-After`) for a refused request.
    pub fn into_error(self) -> ApiError {
        ApiError::TooManyRequests {
            retry_after: self.retry_after_secs.max(1),
        }
    }
}

/// Takes one token from the bucket of `identity` in `group`. Fails open:
/// without Redis (`None`) or when the script fails, the request is allowed
/// and a warning is logged.
pub fn check(redis: Option<&Redis>, identity: &str, group: &str, limit: &RateLimit) -> Decision {
    let Some(redis) = redis else {
        log_warning("rate_limit_skipped", "redis unavailable; request allowed");
        return Decision::unenforced(limit);
    };
    let key = format!("ratelimit:{group}:{identity}");
    let args = [
        RedisParameter::Int64(i64::from(limit.capacity)),
        bin(limit.refill_per_sec.to_string()),
        now_arg(),
    ];
    match redis.eval(SCRIPT, &[&key], &args) {
        Ok(reply) => parse_reply(&reply, limit).unwrap_or_else(|| {
            log_warning(
                "rate_limit_skipped",
                &format!("unexpected script reply {reply:?}"),
            );
            Decision::unenforced(limit)
        }),
        // `Redis` has already logged the cause.
        Err(_) => Decision::unenforced(limit),
    }
}

/// Reads the script's flattened reply `[allowed, tokens, ms_full, ms_wait]`.
fn parse_reply(reply: &[RedisResult], limit: &RateLimit) -> Option<Decision> {
    let [allowed, tokens, ms_full, ms_wait] = reply else {
        return None;
    };
    let allowed = reply_int(allowed)?;
    let tokens = reply_int(tokens)?;
    let ms_full = reply_int(ms_full)?;
    let ms_wait = reply_int(ms_wait)?;
    let allowed = match allowed {
        0 => false,
        1 => true,
        _ => return None,
    };
    let secs = |ms: i64| u64::try_from(ms).unwrap_or(0).div_ceil(1000);
    Some(Decision {
        allowed,
        limit: limit.capacity,
        remaining: u32::try_from(tokens.max(0))
            .unwrap_or(u32::MAX)
            .min(limit.capacity),
        reset_secs: secs(ms_full),
        retry_after_secs: if allowed { 0 } else { secs(ms_wait).max(1) },
        enforced: true,
    })
}

/// Whose bucket a request draws from: `user:<id>` when authenticated,
/// otherwise `ip:<client address>` (Spin's `spin-client-addr`, port
/// stripped).
pub fn identity_of(principal: Option<&Principal>, req: &Request) -> String {
    match principal {
        Some(p) => format!("user:{}", p.user_id),
        None => format!(
            "ip:{}",
            client_ip(req.header("spin-client-addr").unwrap_or_default())
        ),
    }
}

/// `1.2.3.4:5678` -> `1.2.3.4`, `[::1]:5678` -> `::1`, a bare address as is.
fn client_ip(addr: &str) -> &str {
    let addr = addr.trim();
    if addr.is_empty() {
        return "unknown";
    }
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(ip, _)| ip);
    }
    match addr.split_once(':') {
        // Exactly one colon: IPv4 with a port. More: a bare IPv6 address.
        Some((ip, port)) if !port.contains(':') => ip,
        _ => addr,
    }
}

/// Spin variable names allow lowercase letters, digits and underscores.
fn is_variable_suffix(group: &str) -> bool {
    !group.is_empty()
        && group
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Takes one token from `group`'s bucket for the request's client (the
/// verified user, else the client address), as the serving layer does
/// before every handler of a rate-limited route: 429 when the bucket is
/// empty. The bucket's `X-RateLimit-*` headers go on whatever the answer
/// is, problems included.
pub fn admit(req: &Request, ctx: &Context, group: &str) -> Result<(), ApiError> {
    admit_with(req, ctx, group, &RateLimit::for_group(group))
}

/// `admit` with the group's limit given.
pub fn admit_with(
    req: &Request,
    ctx: &Context,
    group: &str,
    limit: &RateLimit,
) -> Result<(), ApiError> {
    // An invalid token is the handler's to reject; here it only means the
    // client is counted by address.
    let principal = ctx.principal().ok().flatten();
    let decision = check(
        ctx.redis_if_up(),
        &identity_of(principal, req),
        group,
        limit,
    );
    if decision.enforced {
        ctx.count(
            "rate_limit_decisions_total",
            &[("group", group), ("outcome", decision.outcome())],
        );
    }
    decision.enforce(ctx)
}

#[cfg(test)]
mod tests;
