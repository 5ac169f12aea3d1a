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
use crate::problem::ApiError;
use crate::redis_store::{bin, log_warning, reply_int, Redis};
use crate::request::Request;
use crate::response::Response;

/// The limit when no variable sets one.
pub const DEFAULT_LIMIT: &str = "100/50";

/// Refills the bucket for the time elapsed since its last update, then
/// takes one token if there is one. Replies
/// `{allowed, tokens_left, ms_until_full, ms_until_next_token}`.
/// Fractional tokens are kept as strings (Lua numbers would be truncated
/// to integers in the reply, not in storage).
const SCRIPT: &str = r#"
if redis.replicate_commands then redis.replicate_commands() end
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
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
"#;

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

/// Runs `handler` if the request's client (the verified user, else the
/// client address) has a token left in `group`'s bucket, or answers 429.
/// The bucket's `X-RateLimit-*` headers go on whatever the answer is,
/// problems included.
pub fn limited(
    req: &Request,
    ctx: &crate::Context,
    group: &str,
    handler: impl FnOnce() -> Result<Response, ApiError>,
) -> Result<Response, ApiError> {
    // An invalid token is the handler's to reject; here it only means the
    // client is counted by address.
    let principal = crate::auth::authenticate(req).ok().flatten();
    let redis = Redis::open().ok();
    let decision = check(
        redis.as_ref(),
        &identity_of(principal.as_ref(), req),
        group,
        &RateLimit::for_group(group),
    );
    let mut headers = Response::empty(0);
    decision.apply(&mut headers);
    for (name, value) in headers.headers {
        ctx.add_response_header(&name, value);
    }
    if decision.allowed {
        handler()
    } else {
        Err(decision.into_error())
    }
}

#[cfg(test)]
mod tests {
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
            expires_at: 0,
        };
        assert_eq!(identity_of(Some(&p), &req("10.0.0.7:1")), "user:u-9");
    }
}
