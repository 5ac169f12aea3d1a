//! Carts in Redis (the state Redis, which never evicts). A cart is a hash
//! of its version `v` and its document `doc`, written only by a Lua
//! script that compares the version first: Spin's Redis interface has no
//! WATCH/MULTI across calls, so the script is the atomic compare-and-set.
//! Every read and write renews the cart's expiry: carts expire after a
//! period without use.
//!
//! Writers of one cart also take a short lock, because a change of lines
//! comes with changes to inventory holds that the compare-and-set cannot
//! undo; the version check stays as the guard should a lock lapse.

use platform::redis_store::{bin, log_warning, reply_int, Redis};
use platform::ApiError;
use spin_sdk::redis::{RedisParameter, RedisResult};

use crate::domain::Cart;
use crate::owner::GuestToken;

/// Reads a cart and renews its expiry. `ARGV[1]`: its lifetime, seconds.
const LOAD: &str = r#"
local r = redis.call('HMGET', KEYS[1], 'v', 'doc')
if r[1] then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
return r
"#;

/// Writes a cart if it is still at the version read. `ARGV`: that
/// version (0: no cart), the document, the lifetime in seconds, `1` to
/// make a new version (a change of lines) or `0` to keep it (renewed
/// holds), and the time in ms. A new version is never below the time, so
/// a cart that expired and came back never repeats an old ETag. Replies
/// `{1, version}` when written, `{0, current version}` when stale.
const SAVE: &str = r#"
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return {0, v} end
local nv = v
if ARGV[4] == '1' then nv = math.max(v + 1, tonumber(ARGV[5])) end
redis.call('HSET', KEYS[1], 'v', string.format('%.0f', nv), 'doc', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return {1, nv}
"#;

/// Reads and deletes a cart at once (a guest's, merging into a user's):
/// of two requests merging one guest cart, only one gets its lines.
const TAKE: &str = r#"
local doc = redis.call('HGET', KEYS[1], 'doc')
redis.call('DEL', KEYS[1])
return doc
"#;

/// Deletes the lock only if it is still the caller's.
const UNLOCK: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// Where a cart is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartKey(String);

impl CartKey {
    /// A user's cart.
    pub fn user(user_id: &str) -> Self {
        Self(format!("cart:user:{user_id}"))
    }

    /// A guest's cart, under a digest of their token.
    pub fn guest(token: &GuestToken) -> Self {
        Self(format!("cart:guest:{}", token.digest()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A cart as read: `version` 0 when there is none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stored {
    pub version: i64,
    pub cart: Cart,
}

/// How a write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Written; the cart is at this version now.
    Written(i64),
    /// Someone else wrote first; the cart is at this version.
    Stale(i64),
}

/// The cart at `key` (an empty one at version 0 if there is none),
/// renewing its expiry to `ttl_secs`.
pub fn load(redis: &Redis, key: &CartKey, ttl_secs: u64) -> Result<Stored, ApiError> {
    let reply = redis.eval(LOAD, &[key.as_str()], &[int(ttl_secs)])?;
    let version = reply.first().and_then(reply_int).unwrap_or(0);
    let cart = match reply.get(1) {
        Some(RedisResult::Binary(doc)) => decode(key, doc),
        _ => Cart::default(),
    };
    Ok(Stored { version, cart })
}

/// Writes `cart` at `key` if it is still at `expected`; `new_version`
/// for a change of lines (a new ETag), not for renewed holds.
pub fn save(
    redis: &Redis,
    key: &CartKey,
    expected: i64,
    cart: &Cart,
    new_version: bool,
    ttl_secs: u64,
) -> Result<Saved, ApiError> {
    let doc = serde_json::to_vec(cart).map_err(ApiError::internal)?;
    let args = [
        RedisParameter::Int64(expected),
        bin(doc),
        int(ttl_secs),
        bin(if new_version { "1" } else { "0" }),
        RedisParameter::Int64(platform::clock::now_ms()),
    ];
    let reply = redis.eval(SAVE, &[key.as_str()], &args)?;
    match (
        reply.first().and_then(reply_int),
        reply.get(1).and_then(reply_int),
    ) {
        (Some(1), Some(version)) => Ok(Saved::Written(version)),
        (Some(0), Some(version)) => Ok(Saved::Stale(version)),
        _ => Err(ApiError::internal(format!(
            "unexpected cart write reply {reply:?}"
        ))),
    }
}

/// Takes the cart at `key` out of Redis, if there is one.
pub fn take(redis: &Redis, key: &CartKey) -> Result<Option<Cart>, ApiError> {
    let reply = redis.eval(TAKE, &[key.as_str()], &[])?;
    Ok(match reply.first() {
        Some(RedisResult::Binary(doc)) => Some(decode(key, doc)),
        _ => None,
    })
}

/// A cart's document; an unreadable one (a format that is no longer
/// ours) reads as empty, logged, rather than leaving its owner with a
/// cart that always fails.
fn decode(key: &CartKey, doc: &[u8]) -> Cart {
    serde_json::from_slice(doc).unwrap_or_else(|e| {
        log_warning("cart_unreadable", &format!("{}: {e}", key.as_str()));
        Cart::default()
    })
}

fn int(n: u64) -> RedisParameter {
    RedisParameter::Int64(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A writer's hold on one cart, released when dropped (or when it lapses
/// after its time, should its holder die).
pub struct Lock<'r> {
    redis: &'r Redis,
    key: String,
    token: String,
}

impl std::fmt::Debug for Lock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock").field("key", &self.key).finish()
    }
}

/// Takes the lock of `key` for `lapse_ms` if nobody holds it.
pub fn try_lock<'r>(
    redis: &'r Redis,
    key: &CartKey,
    lapse_ms: u64,
) -> Result<Option<Lock<'r>>, ApiError> {
    let lock = format!("{}:lock", key.as_str());
    let token = platform::Id::generate().into_string();
    let reply = redis.execute(
        "SET",
        vec![bin(&lock), bin(&token), bin("NX"), bin("PX"), int(lapse_ms)],
    )?;
    Ok(match reply.first() {
        Some(RedisResult::Status(_) | RedisResult::Binary(_)) => Some(Lock {
            redis,
            key: lock,
            token,
        }),
        _ => None,
    })
}

impl Drop for Lock<'_> {
    fn drop(&mut self) {
        // A lock that cannot be released lapses on its own.
        let _ = self
            .redis
            .eval(UNLOCK, &[self.key.as_str()], &[bin(&self.token)]);
    }
}
