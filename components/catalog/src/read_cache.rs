//! The catalog's Redis read-through cache: one key per product, and list
//! keys (lists, featured, categories) under a generation number that every
//! write bumps, so one `INCR` retires every list a write may have changed.
//! Entries live in the cache's own Redis (bounded, least recently used
//! keys evicted: any anonymous query makes an entry); the generation lives
//! in the state Redis, which never evicts, so an eviction can never bring
//! back an older generation's lists. Either Redis being down only means
//! reads go to SQLite.

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

/// Where the list described by `what` is cached now: the cache's Redis
/// and the key, or `None` for the Redis when the generation cannot be read
/// from `state` (the list then comes from SQLite, uncached).
pub fn list_key<'r>(
    state: Option<&Redis>,
    cache: Option<&'r Redis>,
    what: &str,
) -> (Option<&'r Redis>, String) {
    let generation = state.and_then(|r| match r.get(GENERATION_KEY) {
        Ok(None) => Some(0),
        Ok(Some(bytes)) => std::str::from_utf8(&bytes).ok()?.trim().parse::<i64>().ok(),
        Err(_) => None,
    });
    match (generation, cache) {
        (Some(g), Some(cache)) => (Some(cache), format!("catalog:lists:{g}:{what}")),
        _ => (None, String::new()),
    }
}

/// After a committed write: drops the product's cached copy (`purge` also
/// drops the stale fallback, for a deleted product) from `cache` and
/// retires every cached list (the generation, in `state`). Failures are
/// logged; TTLs bound what they leave behind.
pub fn after_write(
    state: Option<&Redis>,
    cache: Option<&Redis>,
    product_id: Option<&str>,
    purge: bool,
) {
    let result = (|| -> Result<(), ApiError> {
        if let (Some(id), Some(cache)) = (product_id, cache) {
            let keys = [product_key(id)];
            if purge {
                cache::purge(cache, &keys)?;
            } else {
                cache::invalidate(Some(cache), &keys)?;
            }
        }
        let state = state.ok_or_else(|| ApiError::Unavailable("redis unavailable".into()))?;
        let reply = state.execute("INCR", vec![bin(GENERATION_KEY)])?;
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
