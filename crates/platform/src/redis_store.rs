//! The component's Redis connection (address from the `redis_url` variable)
//! and the few commands the platform needs, with Lua scripts run by
//! `EVALSHA` so the script text crosses the wire only once per server.

use spin_sdk::redis::{Connection, Error as RedisError, RedisParameter, RedisResult};

use crate::problem::ApiError;

/// Name of the Spin variable holding the Redis address: sessions, rate
/// limits, breakers, revocations (state that must never be evicted).
pub const REDIS_URL_VARIABLE: &str = "redis_url";
/// Name of the Spin variable holding the cache's Redis address: a Redis of
/// its own, bounded in memory and evicting least recently used keys, so
/// that whatever anonymous readers make the cache hold never crowds out
/// the state above.
pub const CACHE_REDIS_URL_VARIABLE: &str = "cache_redis_url";

/// An open Redis connection.
pub struct Redis {
    conn: Connection,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").finish_non_exhaustive()
    }
}

impl Redis {
    /// Opens the Redis named by the `redis_url` variable: 503 when it cannot
    /// be reached, 500 when the variable is missing (a deployment bug).
    pub fn open() -> Result<Self, ApiError> {
        Self::open_variable(REDIS_URL_VARIABLE)
    }

    /// Opens the Redis whose address the variable `name` holds.
    pub fn open_variable(name: &str) -> Result<Self, ApiError> {
        let url = spin_sdk::variables::get(name)
            .map_err(|e| ApiError::internal(format!("variable {name}: {e}")))?;
        Self::open_url(&url)
    }

    /// Opens the Redis at `url` (`redis://host:port`).
    pub fn open_url(url: &str) -> Result<Self, ApiError> {
        Connection::open(url)
            .map(|conn| Self { conn })
            .map_err(|e| unavailable("connect", &e))
    }

    /// The raw connection, for commands this type does not wrap.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The value at `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ApiError> {
        self.conn.get(key).map_err(|e| unavailable("GET", &e))
    }

    /// `SET key value EX ttl`; a TTL below one second is raised to one
    /// (Redis rejects `EX 0`).
    pub fn set_ex(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), ApiError> {
        self.execute("SET", set_ex_params(key, value, ttl_secs))
            .map(|_| ())
    }

    /// Whether `key` exists.
    pub fn exists(&self, key: &str) -> Result<bool, ApiError> {
        let reply = self.execute("EXISTS", vec![bin(key)])?;
        Ok(matches!(reply.first(), Some(RedisResult::Int64(n)) if *n > 0))
    }

    /// Deletes `keys`; returns how many existed.
    pub fn del(&self, keys: &[String]) -> Result<u32, ApiError> {
        if keys.is_empty() {
            return Ok(0);
        }
        self.conn.del(keys).map_err(|e| unavailable("DEL", &e))
    }

    /// Runs any command.
    pub fn execute(
        &self,
        command: &str,
        params: Vec<RedisParameter>,
    ) -> Result<Vec<RedisResult>, ApiError> {
        self.conn
            .execute(command, &params)
            .map_err(|e| unavailable(command, &e))
    }

    /// Runs a Lua script atomically: `EVALSHA` first, `EVAL` when the server
    /// does not know the script yet (after a restart or `SCRIPT FLUSH`).
    pub fn eval(
        &self,
        script: &str,
        keys: &[&str],
        args: &[RedisParameter],
    ) -> Result<Vec<RedisResult>, ApiError> {
        let by_sha = eval_params(bin(script_sha1(script)), keys, args);
        match self.conn.execute("EVALSHA", &by_sha) {
            Ok(reply) => Ok(reply),
            Err(e) if is_noscript(&e) => {
                let by_text = eval_params(bin(script), keys, args);
                self.conn
                    .execute("EVAL", &by_text)
                    .map_err(|e| unavailable("EVAL", &e))
            }
            Err(e) => Err(unavailable("EVALSHA", &e)),
        }
    }
}

/// Lua that sets `now` (Unix ms) from `ARGV[n]`, or from the Redis
/// server's clock when the caller sent no time (see [`now_arg`]).
macro_rules! lua_now {
    ($n:literal) => {
        concat!(
            "local now = tonumber(ARGV[",
            $n,
            "])\nif not now then\n  local t = redis.call('TIME')\n",
            "  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\nend\n"
        )
    };
}
pub(crate) use lua_now;

/// The time for a script that reads the clock: this request's when it may
/// be moved, else empty (the script then asks the Redis server's clock,
/// which every instance shares).
pub fn now_arg() -> RedisParameter {
    if crate::clock::is_moved() {
        RedisParameter::Int64(crate::clock::now_ms())
    } else {
        bin("")
    }
}

/// A string or bytes as a command argument.
pub fn bin(value: impl AsRef<[u8]>) -> RedisParameter {
    RedisParameter::Binary(value.as_ref().to_vec())
}

/// An integer reply, also accepting one sent as a bulk string.
pub fn reply_int(reply: &RedisResult) -> Option<i64> {
    match reply {
        RedisResult::Int64(n) => Some(*n),
        RedisResult::Binary(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        RedisResult::Status(s) => s.trim().parse().ok(),
        RedisResult::Nil => None,
    }
}

/// Hex SHA-1 of a script, the name `EVALSHA` knows it by.
pub fn script_sha1(script: &str) -> String {
    hmac_sha1_compact::Hash::hash(script.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `script-or-sha numkeys key... arg...`.
fn eval_params(
    first: RedisParameter,
    keys: &[&str],
    args: &[RedisParameter],
) -> Vec<RedisParameter> {
    let mut params = Vec::with_capacity(2 + keys.len() + args.len());
    params.push(first);
    params.push(RedisParameter::Int64(keys.len() as i64));
    params.extend(keys.iter().map(bin));
    params.extend(args.iter().cloned());
    params
}

fn set_ex_params(key: &str, value: &[u8], ttl_secs: u64) -> Vec<RedisParameter> {
    let ttl = i64::try_from(ttl_secs.max(1)).unwrap_or(i64::MAX);
    vec![bin(key), bin(value), bin("EX"), RedisParameter::Int64(ttl)]
}

/// The server does not have the script cached. Hosts word the error
/// differently (`NOSCRIPT No matching script`, `NoScriptError: ...`), so
/// match case-insensitively.
fn is_noscript(e: &RedisError) -> bool {
    match e {
        RedisError::Other(msg) => msg.to_ascii_lowercase().contains("noscript"),
        _ => false,
    }
}

/// A 503 for a failed Redis call; the cause goes to the log, not the client.
fn unavailable(what: &str, e: &RedisError) -> ApiError {
    log_warning("redis_unavailable", &format!("{what}: {e}"));
    unavailable_error()
}

/// The 503 of a request that needs Redis when it cannot be reached.
pub fn unavailable_error() -> ApiError {
    ApiError::Unavailable("a backing store is unavailable; try again shortly".into())
}

/// Writes one JSON warning line to stderr (the component log).
pub fn log_warning(event: &str, detail: &str) {
    eprintln!(
        "{}",
        serde_json::json!({ "level": "warn", "event": event, "detail": detail })
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_the_known_vector() {
        assert_eq!(
            script_sha1("abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(script_sha1(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn eval_arguments_are_sha_numkeys_keys_args() {
        let p = eval_params(
            bin("sha"),
            &["k1", "k2"],
            &[RedisParameter::Int64(7), bin("x")],
        );
        assert_eq!(p.len(), 6);
        assert!(matches!(&p[1], RedisParameter::Int64(2)));
        assert!(matches!(&p[2], RedisParameter::Binary(b) if b == b"k1"));
        assert!(matches!(&p[4], RedisParameter::Int64(7)));
        assert!(matches!(&p[5], RedisParameter::Binary(b) if b == b"x"));
    }

    #[test]
    fn set_ex_never_sends_a_zero_ttl() {
        let p = set_ex_params("k", b"v", 0);
        assert!(matches!(&p[2], RedisParameter::Binary(b) if b == b"EX"));
        assert!(matches!(&p[3], RedisParameter::Int64(1)));
        let p = set_ex_params("k", b"v", u64::MAX);
        assert!(matches!(&p[3], RedisParameter::Int64(i64::MAX)));
    }

    #[test]
    fn noscript_is_recognised_however_the_host_words_it() {
        assert!(is_noscript(&RedisError::Other(
            "NOSCRIPT No matching script. Please use EVAL.".into()
        )));
        assert!(is_noscript(&RedisError::Other(
            "An error was signalled by the server - NoScriptError: No matching script".into()
        )));
        assert!(!is_noscript(&RedisError::Other(
            "connection refused".into()
        )));
        assert!(!is_noscript(&RedisError::TypeError));
    }

    #[test]
    fn integer_replies_parse_from_any_shape() {
        assert_eq!(reply_int(&RedisResult::Int64(5)), Some(5));
        assert_eq!(reply_int(&RedisResult::Binary(b"12".to_vec())), Some(12));
        assert_eq!(reply_int(&RedisResult::Status("OK".into())), None);
        assert_eq!(reply_int(&RedisResult::Nil), None);
    }

    #[test]
    fn redis_failures_are_503_without_internals() {
        let e = unavailable("GET", &RedisError::Other("secret-host:6379 refused".into()));
        assert_eq!(e.status(), 503);
        assert!(!e.problem("r").to_string().contains("secret-host"));
    }
}
