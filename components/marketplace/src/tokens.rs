//! A linked account's access token, refreshed before it expires. Refresh
//! tokens are single-use, so of all the instances that find a token due
//! at the same moment exactly one refreshes (it holds a Redis lock for the
//! account) and the others wait for its result in the database. The
//! stored row is also versioned: a refresh is only written over the
//! version it started from.

use platform::clock::now_ms;
use platform::redis_store::{log_warning, Redis};
use platform::{ApiError, Context};
use serde::Deserialize;
use spin_sdk::redis::{RedisParameter, RedisResult};

use crate::api::{self, Ml};
use crate::sealed::SealKey;
use crate::settings;
use crate::store::{self, Account, LinkStatus};

/// How long a refresher may hold the lock.
const LOCK_MS: i64 = 15_000;
/// How long a waiter waits for another instance's refresh.
const WAIT_MS: i64 = 8_000;
const POLL_MS: u64 = 50;

/// MercadoLibre's token answer.
#[derive(Debug, Deserialize)]
pub struct Grant {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub user_id: serde_json::Value,
}

impl Grant {
    /// The MercadoLibre user id, a number in MercadoLibre's answers.
    pub fn ml_user_id(&self) -> Option<String> {
        match &self.user_id {
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    }
}

/// The problem of a link whose refresh MercadoLibre refused.
pub fn reauthorization_required() -> ApiError {
    ApiError::Conflict(
        "the MercadoLibre link needs authorising again: its refresh token was refused \
         (POST /api/auth/oauth/start)"
            .into(),
    )
}

/// Whether the account's access token must be refreshed now.
pub fn is_due(account: &Account, now: i64, margin_ms: i64) -> bool {
    account.expires_at_ms - now <= margin_ms
}

/// The account's access token, refreshed first if it is due.
pub async fn access_token(
    ctx: &Context,
    ml: &Ml,
    key: &SealKey,
    account: Account,
) -> Result<String, ApiError> {
    if account.status == LinkStatus::ReauthorizationRequired {
        return Err(reauthorization_required());
    }
    let margin = settings::refresh_margin_ms();
    if !is_due(&account, now_ms(), margin) {
        return key.open(&account.access_token, &account.ml_user_id);
    }
    let fresh = refresh(ctx, ml, key, &account, margin).await?;
    key.open(&fresh.access_token, &fresh.ml_user_id)
}

/// Refreshes `account` (due within `margin` ms) unless another instance
/// is doing it or has done it; answers the account as it stands afterwards.
pub async fn refresh(
    ctx: &Context,
    ml: &Ml,
    key: &SealKey,
    account: &Account,
    margin: i64,
) -> Result<Account, ApiError> {
    let db = ctx.db()?;
    let lock_key = format!("ml:refresh-lock:{}", account.ml_user_id);
    let holder = platform::random::hex(12)?;
    let redis = ctx.redis_if_up();
    let locked = match redis {
        Some(redis) => try_lock(redis, &lock_key, &holder)?,
        None => {
            log_warning(
                "ml_refresh_unlocked",
                "redis unavailable: refreshing without the single-flight lock",
            );
            true
        }
    };
    if !locked {
        // Someone else is refreshing: wait for the row to move on.
        let deadline = now_ms() + WAIT_MS;
        while now_ms() < deadline {
            platform::outbound::sleep(std::time::Duration::from_millis(POLL_MS)).await;
            let now = usable(db, &account.ml_user_id)?;
            if now.version != account.version && !is_due(&now, now_ms(), margin) {
                ctx.count("ml_token_refreshes_total", &[("outcome", "awaited")]);
                return Ok(now);
            }
        }
        return still_valid(account, "another instance's refresh did not finish");
    }
    let result = refresh_locked(ctx, ml, key, account, margin).await;
    if let Some(redis) = redis {
        unlock(redis, &lock_key, &holder);
    }
    result
}

async fn refresh_locked(
    ctx: &Context,
    ml: &Ml,
    key: &SealKey,
    account: &Account,
    margin: i64,
) -> Result<Account, ApiError> {
    let db = ctx.db()?;
    // It may have been refreshed between our read and our lock.
    let current = usable(db, &account.ml_user_id)?;
    if !is_due(&current, now_ms(), margin) {
        return Ok(current);
    }
    let refresh_token = key.open(&current.refresh_token, &current.ml_user_id)?;
    let answer = ml
        .token(
            ctx,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &ml.app.client_id),
                ("client_secret", &ml.app.client_secret),
                ("refresh_token", &refresh_token),
            ],
        )
        .await;
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            ctx.count("ml_token_refreshes_total", &[("outcome", "failed")]);
            log_warning("ml_refresh_failed", &e.to_string());
            return still_valid(&current, "MercadoLibre could not refresh it");
        }
    };
    if answer.status != 200 {
        ctx.count("ml_token_refreshes_total", &[("outcome", "refused")]);
        if matches!(answer.status, 400 | 401) {
            // invalid_grant: the refresh token is spent or revoked.
            store::require_reauthorization(db, &current.ml_user_id)?;
            return Err(reauthorization_required());
        }
        return Err(ApiError::Unavailable(format!(
            "MercadoLibre refused the refresh: {}",
            api::message(&answer.body)
        )));
    }
    let grant: Grant = serde_json::from_value(answer.body)
        .map_err(|e| ApiError::Unavailable(format!("MercadoLibre's token answer: {e}")))?;
    let expires_at = now_ms() + grant.expires_in.clamp(60, 7 * 24 * 3600) * 1000;
    let access = key.seal(&grant.access_token, &current.ml_user_id)?;
    let refresh = key.seal(&grant.refresh_token, &current.ml_user_id)?;
    if !store::store_refreshed(
        db,
        &current.ml_user_id,
        current.version,
        &access,
        &refresh,
        expires_at,
    )? {
        return Err(ApiError::Conflict(
            "the MercadoLibre link changed while its token was refreshed; retry".into(),
        ));
    }
    ctx.count("ml_token_refreshes_total", &[("outcome", "refreshed")]);
    store::account(db, &current.ml_user_id)?
        .ok_or_else(|| ApiError::internal("the refreshed account vanished"))
}

/// The account as the database has it now, if its link still works.
fn usable(db: &platform::db::Db, ml_user_id: &str) -> Result<Account, ApiError> {
    let account = store::account(db, ml_user_id)?
        .ok_or_else(|| ApiError::NotFound("the MercadoLibre link is gone".into()))?;
    if account.status == LinkStatus::ReauthorizationRequired {
        return Err(reauthorization_required());
    }
    Ok(account)
}

/// The account as it is, if its token has not expired yet; a 503 otherwise.
fn still_valid(account: &Account, why: &str) -> Result<Account, ApiError> {
    if account.expires_at_ms > now_ms() {
        Ok(account.clone())
    } else {
        Err(ApiError::Unavailable(format!(
            "the MercadoLibre token expired and {why}; retry shortly"
        )))
    }
}

fn try_lock(redis: &Redis, key: &str, holder: &str) -> Result<bool, ApiError> {
    let reply = redis.execute(
        "SET",
        vec![
            RedisParameter::Binary(key.as_bytes().to_vec()),
            RedisParameter::Binary(holder.as_bytes().to_vec()),
            RedisParameter::Binary(b"NX".to_vec()),
            RedisParameter::Binary(b"PX".to_vec()),
            RedisParameter::Int64(LOCK_MS),
        ],
    )?;
    Ok(matches!(reply.first(), Some(RedisResult::Status(s)) if s == "OK"))
}

/// Releases the lock if it is still ours.
fn unlock(redis: &Redis, key: &str, holder: &str) {
    const SCRIPT: &str =
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
    let _ = redis.eval(
        SCRIPT,
        &[key],
        &[RedisParameter::Binary(holder.as_bytes().to_vec())],
    );
}

/// Tick work: refreshes every active account due within twice the margin,
/// so requests seldom meet a due token.
pub async fn refresh_due(ctx: &Context) -> Result<u32, ApiError> {
    let db = ctx.db()?;
    let margin = 2 * settings::refresh_margin_ms();
    let due = store::due_for_refresh(db, now_ms() + margin, 20)?;
    if due.is_empty() {
        return Ok(0);
    }
    let ml = Ml::from_variables()?;
    let key = SealKey::from_variables()?;
    let mut refreshed = 0;
    for account in due {
        match refresh(ctx, &ml, &key, &account, margin).await {
            Ok(a) if a.version != account.version => refreshed += 1,
            Ok(_) => {}
            Err(e) => log_warning("ml_tick_refresh", &e.to_string()),
        }
    }
    Ok(refreshed)
}
