//! Revoked sessions, as every component sees them: the users database is
//! the source of truth (`sessions.revoked_at_ms`), Redis holds the copy
//! that `platform::auth` reads on each authenticated request. A revocation
//! is written to both; the copy is rebuilt from the database whenever
//! Redis has lost it (its "loaded" marker is gone after a flush or a
//! restart without persistence), on tick and before every login and
//! refresh. Until then, components refuse tokens with a 503 rather than
//! accept one that may have been revoked.

use platform::auth::{revocation_ttl, revoked_key, REVOCATIONS_LOADED};
use platform::clock::now_ms;
use platform::component::report;
use platform::db::Db;
use platform::redis_store::Redis;
use platform::{ApiError, Context, Report};
use serde_json::json;

use crate::domain::ACCESS_TTL_SECS;
use crate::store;

/// How long a revoked session must stay in Redis, seconds.
fn ttl_secs() -> u64 {
    revocation_ttl(ACCESS_TTL_SECS)
}

/// Copies one revocation to Redis (after the database has it).
pub fn publish(redis: &Redis, session_id: &str) -> Result<(), ApiError> {
    redis.set_ex(&revoked_key(session_id), b"1", ttl_secs())
}

/// Rebuilds Redis's copy from the database if Redis lost it; returns how
/// many sessions were copied (`None`: the copy was there).
pub fn restore(db: &Db, redis: &Redis) -> Result<Option<usize>, ApiError> {
    if redis.exists(REVOCATIONS_LOADED)? {
        return Ok(None);
    }
    let window_ms = i64::try_from(ttl_secs().saturating_mul(1000)).unwrap_or(i64::MAX);
    let now = now_ms();
    let recent = store::revoked_since(db, now.saturating_sub(window_ms))?;
    for session in &recent {
        let revoked_at = session.revoked_at_ms.unwrap_or(now);
        let left_ms = revoked_at.saturating_add(window_ms).saturating_sub(now);
        let left = u64::try_from(left_ms).unwrap_or(0).div_ceil(1000).max(1);
        redis.set_ex(&revoked_key(&session.id), b"1", left)?;
    }
    // Last: only a complete copy is announced.
    redis.execute(
        "SET",
        vec![
            platform::redis_store::bin(REVOCATIONS_LOADED),
            platform::redis_store::bin(now.to_string()),
        ],
    )?;
    Ok(Some(recent.len()))
}

/// Tick work: restores the copy if Redis lost it.
pub fn tick(ctx: &Context) -> Result<Report, ApiError> {
    let restored = restore(ctx.db()?, ctx.redis()?)?;
    Ok(report(json!({ "revocations_restored": restored })))
}

/// Before a login or refresh: the copy must be complete before new tokens
/// are worth issuing (they would be refused everywhere otherwise).
pub fn ensure_loaded(ctx: &Context) -> Result<(), ApiError> {
    restore(ctx.db()?, ctx.redis()?).map(|_| ())
}
