//! The catalog's Redis read-through cache: one key per product, and list
//! keys (lists, featured, categories) under a generation number that every
//! write bumps, so one `INCR` retires every list a write may have changed.
//! Redis being down only means reads go to SQLite.

use platform::cache;
use platform::redis_store::{bin, log_warning, reply_int, Redis};
use platform::ApiError;

/// How long a product stays cached (writes invalidate it sooner).
pub const PRODUCT_TTL_SECS: u64 = 300;
/// How long a list stays cached (writes retire it sooner).
pub const LIST_TTL_SECS: u64 = 60;

const GENERATION_KEY: &str = "catalog:lists:generation";

/// The cache key of one product.
pub fn product_key(id: &str) -> String {
    format!("catalog:product:{id}")
}

/// Where the list described by `what` is cached now: the Redis to use and
/// the key, or `None` for the Redis when the generation cannot be read
/// (the list then comes from SQLite, uncached).
pub fn list_key<'r>(redis: Option<&'r Redis>, what: &str) -> (Option<&'r Redis>, String) {
    let generation = redis.and_then(|r| match r.get(GENERATION_KEY) {
        Ok(None) => Some(0),
        Ok(Some(bytes)) => std::str::from_utf8(&bytes).ok()?.trim().parse::<i64>().ok(),
        Err(_) => None,
    });
    match generation {
        Some(g) => (redis, format!("catalog:lists:{g}:{what}")),
        None => (None, String::new()),
    }
}

/// After a committed write: drops the product's cached copy (`purge` also
/// drops the stale fallback, for a deleted product) and retires every
/// cached list. Failures are logged; TTLs bound what they leave behind.
pub fn after_write(redis: Option<&Redis>, product_id: Option<&str>, purge: bool) {
    let result = (|| -> Result<(), ApiError> {
        let redis = redis.ok_or_else(|| ApiError::Unavailable("redis unavailable".into()))?;
        if let Some(id) = product_id {
            let keys = [product_key(id)];
            if purge {
                cache::purge(redis, &keys)?;
            } else {
                cache::invalidate(Some(redis), &keys)?;
            }
        }
        let reply = redis.execute("INCR", vec![bin(GENERATION_KEY)])?;
        reply
            .first()
            .and_then(reply_int)
            .map(|_| ())
            .ok_or_else(|| ApiError::internal("INCR gave no integer"))
    })();
    if let Err(e) = result {
        log_warning(
            "cache_invalidation_failed",
            &format!("product {product_id:?}: {e}"),
        );
    }
}
