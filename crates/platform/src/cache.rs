//! Read-through Redis cache with explicit invalidation, and stale copies to
//! serve (marked as such) when the origin is down.
//!
//! A value loaded from the origin is written twice: at `<key>` with the
//! caller's TTL, and at `stale:<key>` for [`STALE_TTL_SECS`]. Writes call
//! [`invalidate`] for the keys they affect, which removes the fresh copy
//! only: the stale one is there precisely for when the origin cannot
//! answer, and is always served with `X-Cache: stale`.

use std::future::Future;

use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::problem::ApiError;
use crate::redis_store::{log_warning, Redis};
use crate::response::Response;

/// How long the fallback copy is kept.
pub const STALE_TTL_SECS: u64 = 24 * 60 * 60;

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A fresh cached copy.
    Cache,
    /// Loaded just now.
    Origin,
    /// The origin failed; this is the last copy it gave.
    Stale,
}

/// A value and its source.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached<T> {
    pub value: T,
    pub source: Source,
    /// For a stale value, seconds since the origin gave it.
    pub age_secs: Option<u64>,
}

impl<T> Cached<T> {
    /// `value` from `source`, of no known age.
    pub fn new(value: T, source: Source) -> Self {
        Self {
            value,
            source,
            age_secs: None,
        }
    }

    /// Sets `X-Cache: hit|miss|stale`, and for a stale value the (RFC 7234)
    /// `Warning: 110 - "Response is Stale"` and its `Age` in seconds.
    pub fn apply(&self, response: &mut Response) {
        let label = match self.source {
            Source::Cache => "hit",
            Source::Origin => "miss",
            Source::Stale => "stale",
        };
        response.set_header("x-cache", label);
        if self.source == Source::Stale {
            response.set_header("warning", "110 - \"Response is Stale\"");
            if let Some(age) = self.age_secs {
                response.set_header("age", age.to_string());
            }
        }
    }
}

impl<T> Cached<T> {
    /// Counts the read in the component's `cache_hits_total` (a fresh or
    /// stale copy answered) or `cache_misses_total` (the origin did),
    /// labelled with `cache`.
    pub fn count(&self, ctx: &crate::Context, cache: &str) {
        let name = match self.source {
            Source::Cache | Source::Stale => "cache_hits_total",
            Source::Origin => "cache_misses_total",
        };
        ctx.count(name, &[("cache", cache)]);
    }
}

/// The key of the fallback copy of `key`.
pub fn stale_key(key: &str) -> String {
    format!("stale:{key}")
}

/// What the cache needs from a store; Redis in production, a map in tests.
trait CacheStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ApiError>;
    fn set_ex(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), ApiError>;
}

impl CacheStore for Redis {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ApiError> {
        Redis::get(self, key)
    }

    fn set_ex(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), ApiError> {
        Redis::set_ex(self, key, value, ttl_secs)
    }
}

/// The value at `key`, from the cache or else from `load` (then cached for
/// `ttl_secs`). Without Redis (`None`, or failing) the origin answers.
/// When the origin fails with a 500 or 503 and a stale copy exists, that
/// copy is returned as [`Source::Stale`]; other origin errors (404, 403,
/// ...) are returned as they are.
pub fn get_or_load<T, F>(
    redis: Option<&Redis>,
    key: &str,
    ttl_secs: u64,
    load: F,
) -> Result<Cached<T>, ApiError>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> Result<T, ApiError>,
{
    // Nothing in it awaits anything that is not ready: it completes at once.
    read_through(redis, key, ttl_secs, Read::Cached, || {
        std::future::ready(load())
    })
    .now_or_never()
    .unwrap_or_else(|| Err(ApiError::internal("a synchronous cache read awaited")))
}

/// How a read treats a fresh cached copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// A fresh copy answers; the origin is asked on a miss.
    Cached,
    /// The origin is asked first (a client's `Cache-Control: no-cache`);
    /// the stale copy still answers if it is down.
    Revalidate,
}

/// [`get_or_load`] for an origin that is called asynchronously (an
/// outbound HTTP request), read as `read` says.
pub async fn get_or_fetch<T, F, Fut>(
    redis: Option<&Redis>,
    key: &str,
    ttl_secs: u64,
    read: Read,
    load: F,
) -> Result<Cached<T>, ApiError>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    read_through(redis, key, ttl_secs, read, load).await
}

/// Caches `value` at `key` as if the origin had just given it (after a
/// write whose answer is the new state).
pub fn put<T: Serialize>(redis: Option<&Redis>, key: &str, ttl_secs: u64, value: &T) {
    if let Some(redis) = redis {
        save(redis, key, ttl_secs, value);
    }
}

async fn read_through<S, T, F, Fut>(
    store: Option<&S>,
    key: &str,
    ttl_secs: u64,
    read: Read,
    load: F,
) -> Result<Cached<T>, ApiError>
where
    S: CacheStore,
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    // A store that failed once in this call is not asked again.
    let store = match (store, read) {
        (Some(store), Read::Cached) => match store.get(key) {
            Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
                Ok(value) => return Ok(Cached::new(value, Source::Cache)),
                // Written by an older shape of `T`: reload and overwrite.
                Err(_) => Some(store),
            },
            Ok(None) => Some(store),
            Err(_) => None,
        },
        (store, _) => store,
    };
    match load().await {
        Ok(value) => {
            if let Some(store) = store {
                save(store, key, ttl_secs, &value);
            }
            Ok(Cached::new(value, Source::Origin))
        }
        Err(e) if origin_is_down(&e) => match store.and_then(|s| stale_copy(s, key)) {
            Some(copy) => {
                log_warning("cache_serving_stale", &format!("{key}: origin failed: {e}"));
                let age_ms = (crate::clock::now_ms() - copy.at_ms).max(0);
                Ok(Cached {
                    value: copy.value,
                    source: Source::Stale,
                    age_secs: Some(u64::try_from(age_ms / 1000).unwrap_or(0)),
                })
            }
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Removes the fresh copies of `keys` (see the module docs). Failures are
/// logged and returned; the copies expire with their TTL regardless.
pub fn invalidate(redis: Option<&Redis>, keys: &[String]) -> Result<(), ApiError> {
    let Some(redis) = redis else {
        log_warning("cache_invalidation_skipped", &keys.join(","));
        return Ok(());
    };
    redis.del(keys).map(|_| ())
}

/// Removes fresh and stale copies, for data that must not be served at
/// all any more (erased personal data, for example).
pub fn purge(redis: &Redis, keys: &[String]) -> Result<(), ApiError> {
    let mut all: Vec<String> = keys.to_vec();
    all.extend(keys.iter().map(|k| stale_key(k)));
    redis.del(&all).map(|_| ())
}

/// Whether an origin error is an outage (serve stale) rather than an answer.
fn origin_is_down(e: &ApiError) -> bool {
    matches!(e.status(), 500 | 503)
}

/// The fallback copy: the value and when the origin gave it, so a stale
/// answer can say how old it is.
#[derive(Serialize, serde::Deserialize)]
struct StaleCopy<T> {
    at_ms: i64,
    value: T,
}

fn save<S: CacheStore, T: Serialize>(store: &S, key: &str, ttl_secs: u64, value: &T) {
    let Ok(bytes) = serde_json::to_vec(value) else {
        return;
    };
    let Ok(stale) = serde_json::to_vec(&StaleCopy {
        at_ms: crate::clock::now_ms(),
        value,
    }) else {
        return;
    };
    // Failing to cache is not failing the request.
    let _ = store
        .set_ex(key, &bytes, ttl_secs)
        .and_then(|()| store.set_ex(&stale_key(key), &stale, STALE_TTL_SECS.max(ttl_secs)));
}

fn stale_copy<S: CacheStore, T: DeserializeOwned>(store: &S, key: &str) -> Option<StaleCopy<T>> {
    let bytes = store.get(&stale_key(key)).ok()??;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    /// An in-memory store that can be switched off.
    #[derive(Default)]
    struct MemoryStore {
        data: RefCell<HashMap<String, (Vec<u8>, u64)>>,
        down: Cell<bool>,
    }

    impl MemoryStore {
        fn fail_if_down(&self) -> Result<(), ApiError> {
            if self.down.get() {
                Err(ApiError::Unavailable("redis down".into()))
            } else {
                Ok(())
            }
        }

        fn ttl(&self, key: &str) -> Option<u64> {
            self.data.borrow().get(key).map(|(_, ttl)| *ttl)
        }
    }

    impl CacheStore for MemoryStore {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ApiError> {
            self.fail_if_down()?;
            Ok(self.data.borrow().get(key).map(|(v, _)| v.clone()))
        }

        fn set_ex(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), ApiError> {
            self.fail_if_down()?;
            self.data
                .borrow_mut()
                .insert(key.to_string(), (value.to_vec(), ttl_secs));
            Ok(())
        }
    }

    fn fetch(
        store: Option<&MemoryStore>,
        load: Result<u32, ApiError>,
    ) -> Result<Cached<u32>, ApiError> {
        read_through(store, "catalog:product:1", 60, Read::Cached, || {
            std::future::ready(load)
        })
        .now_or_never()
        .expect("ready")
    }

    #[test]
    fn a_miss_loads_and_fills_both_copies_then_hits() {
        let store = MemoryStore::default();
        let first = fetch(Some(&store), Ok(7)).expect("miss");
        assert_eq!(first, Cached::new(7, Source::Origin));
        assert_eq!(store.ttl("catalog:product:1"), Some(60));
        assert_eq!(store.ttl("stale:catalog:product:1"), Some(STALE_TTL_SECS));
        let second = read_through(
            Some(&store),
            "catalog:product:1",
            60,
            Read::Cached,
            || async { panic!("origin called on a hit") },
        )
        .now_or_never()
        .expect("ready");
        assert_eq!(second.expect("hit"), Cached::new(7, Source::Cache));
    }

    #[test]
    fn origin_outage_serves_the_stale_copy() {
        let store = MemoryStore::default();
        fetch(Some(&store), Ok(7)).expect("fill");
        store.data.borrow_mut().remove("catalog:product:1"); // expired or invalidated
        let got = fetch(Some(&store), Err(ApiError::Unavailable("db down".into()))).expect("stale");
        assert_eq!((got.value, got.source), (7, Source::Stale));
        assert!(
            got.age_secs.is_some_and(|age| age < 60),
            "{:?}",
            got.age_secs
        );
        let got = fetch(Some(&store), Err(ApiError::internal("boom"))).expect("stale on 500");
        assert_eq!(got.source, Source::Stale);
    }

    #[test]
    fn a_refetch_asks_the_origin_and_falls_back_to_the_stale_copy() {
        let store = MemoryStore::default();
        fetch(Some(&store), Ok(7)).expect("fill");
        let again = |load: Result<u32, ApiError>| {
            read_through(
                Some(&store),
                "catalog:product:1",
                60,
                Read::Revalidate,
                || std::future::ready(load),
            )
            .now_or_never()
            .expect("ready")
        };
        let fresh = again(Ok(8)).expect("origin");
        assert_eq!((fresh.value, fresh.source), (8, Source::Origin));
        let stale = again(Err(ApiError::Unavailable("down".into()))).expect("stale");
        assert_eq!((stale.value, stale.source), (8, Source::Stale));
    }

    #[test]
    fn answers_from_the_origin_are_not_masked_by_stale_data() {
        let store = MemoryStore::default();
        fetch(Some(&store), Ok(7)).expect("fill");
        store.data.borrow_mut().remove("catalog:product:1");
        let err = fetch(Some(&store), Err(ApiError::NotFound("gone".into()))).expect_err("404");
        assert_eq!(err.status(), 404);
    }

    #[test]
    fn no_stale_copy_means_the_origin_error_stands() {
        let store = MemoryStore::default();
        let err =
            fetch(Some(&store), Err(ApiError::Unavailable("db down".into()))).expect_err("503");
        assert_eq!(err.status(), 503);
    }

    #[test]
    fn redis_down_goes_to_the_origin() {
        let store = MemoryStore::default();
        store.down.set(true);
        assert_eq!(
            fetch(Some(&store), Ok(3)).expect("origin").source,
            Source::Origin
        );
        assert_eq!(fetch(None, Ok(3)).expect("no redis").source, Source::Origin);
        let err = fetch(None, Err(ApiError::Unavailable("db down".into()))).expect_err("both down");
        assert_eq!(err.status(), 503);
    }

    #[test]
    fn an_unreadable_cached_value_is_reloaded() {
        let store = MemoryStore::default();
        store
            .set_ex("catalog:product:1", b"{\"old\":\"shape\"}", 60)
            .expect("seed");
        let got = fetch(Some(&store), Ok(9)).expect("reload");
        assert_eq!(got.source, Source::Origin);
        assert_eq!(fetch(Some(&store), Ok(0)).expect("hit").value, 9);
    }

    #[test]
    fn sources_mark_the_response() {
        let mut resp = Response::empty(200);
        Cached {
            value: (),
            source: Source::Stale,
            age_secs: Some(42),
        }
        .apply(&mut resp);
        assert_eq!(resp.header("x-cache"), Some("stale"));
        assert_eq!(resp.header("age"), Some("42"));
        assert!(resp.header("warning").is_some_and(|w| w.starts_with("110")));
        let mut resp = Response::empty(200);
        Cached::new((), Source::Cache).apply(&mut resp);
        assert_eq!(resp.header("x-cache"), Some("hit"));
        assert_eq!(resp.header("warning"), None);
    }
}
