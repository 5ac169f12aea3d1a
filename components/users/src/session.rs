//! Sessions: login issues an access token and the first refresh token of a
//! new family; refresh rotates within the family and treats a spent token
//! as theft; logout revokes the access token at once and, if given, the
//! refresh family.

use platform::auth::{self, password, Principal, TokenIssuer};
use platform::clock::now_ms;
use platform::db::Db;
use platform::{ApiError, Context, Id, Request, Response};
use serde_json::json;

use crate::domain::{
    self, LoginRequest, LogoutRequest, RefreshDecision, RefreshRequest, RejectReason,
    ACCESS_TTL_SECS, REFRESH_TTL_MS,
};
use crate::store::{self, User};
use crate::throttle;

/// The one answer to a failed login, whatever failed.
fn bad_credentials() -> ApiError {
    ApiError::Unauthorized("invalid email or password".into())
}

/// Signs an access token and stores a new refresh token in `family_id`;
/// call inside the transaction that makes the family's previous token (if
/// any) used.
fn issue_tokens(db: &Db, user: &User, family_id: &str) -> Result<serde_json::Value, ApiError> {
    let access =
        TokenIssuer::from_variables()?.issue(&user.id, &user.email, user.role, ACCESS_TTL_SECS)?;
    let refresh = domain::new_refresh_token()?;
    store::insert_refresh(
        db,
        &domain::refresh_token_hash(&refresh),
        family_id,
        &user.id,
        now_ms() + REFRESH_TTL_MS,
    )?;
    Ok(json!({
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TTL_SECS,
        "refresh_token": refresh,
        "user": user,
    }))
}

/// `POST /api/auth/login`. Rate-limit headers are set on every answer
/// that got as far as the limiter, failures included.
pub fn login(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    // Malformed input is refused before the limiter: it costs no hashing
    // and must not use up a legitimate user's attempts.
    let creds = req.json::<LoginRequest>()?.validate()?;
    throttle::login_attempt(req, ctx, &creds.email)?;
    let body = authenticate_and_issue(ctx.db()?, &creds)?;
    Ok(Response::json(200, &body))
}

fn authenticate_and_issue(
    db: &Db,
    creds: &domain::Credentials,
) -> Result<serde_json::Value, ApiError> {
    let Some(account) = store::account_by_email(db, &creds.email)? else {
        // Unknown email: spend the same time as a wrong password would.
        password::equalize_login_timing(&creds.password);
        return Err(bad_credentials());
    };
    if !password::verify_password(&creds.password, &account.password_hash) {
        return Err(bad_credentials());
    }
    if password::needs_rehash(&account.password_hash) {
        // Upgrade to today's argon2 parameters while we have the password.
        let upgraded = password::hash_password(&creds.password)?;
        store::set_password_hash(db, &account.user.id, &upgraded)?;
    }
    let family = Id::generate();
    db.transaction(|db| issue_tokens(db, &account.user, family.as_str()))
}

/// What a refresh attempt came to inside its transaction. Reuse must
/// commit its revocation before the 401 goes out, so refusals are values
/// here, not errors (an error would roll the transaction back).
enum Refreshed {
    Issued(serde_json::Value),
    Refused(&'static str),
}

/// `POST /api/auth/refresh`.
pub fn refresh(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let body: RefreshRequest = req.json()?;
    let hash = domain::refresh_token_hash(domain::presented_refresh_token(&body.refresh_token)?);
    let db = ctx.db()?;
    // BEGIN IMMEDIATE serialises refreshes: of two racing uses of one
    // token, the second sees it used and revokes the family.
    let outcome = db.transaction(|db| {
        let record = store::refresh(db, &hash)?;
        let decision = domain::refresh_decision(record.as_ref().map(|r| r.state), now_ms());
        match (decision, record) {
            (RefreshDecision::Rotate, Some(record)) => {
                let Some(user) = store::user(db, &record.user_id)? else {
                    store::revoke_family(db, &record.family_id)?;
                    return Ok(Refreshed::Refused("the account no longer exists"));
                };
                if !store::mark_used(db, &hash)? {
                    return Err(ApiError::internal("refresh token changed under its lock"));
                }
                issue_tokens(db, &user, &record.family_id).map(Refreshed::Issued)
            }
            (RefreshDecision::RevokeFamily, Some(record)) => {
                store::revoke_family(db, &record.family_id)?;
                Ok(Refreshed::Refused(
                    "refresh token was already used; every session of this login has been revoked",
                ))
            }
            (RefreshDecision::Reject(RejectReason::Expired), _) => {
                Ok(Refreshed::Refused("refresh token expired"))
            }
            (RefreshDecision::Reject(RejectReason::Revoked), _) => {
                Ok(Refreshed::Refused("refresh token was revoked"))
            }
            // Rotation and revocation are only ever decided for a stored token.
            (RefreshDecision::Reject(RejectReason::Unknown), _) | (_, None) => {
                Ok(Refreshed::Refused("refresh token is not valid"))
            }
        }
    })?;
    match outcome {
        Refreshed::Issued(body) => Ok(Response::json(200, &body)),
        Refreshed::Refused(why) => Err(ApiError::Unauthorized(why.into())),
    }
}

/// `POST /api/auth/logout`: the access token goes on the deny-list (so it
/// fails everywhere at once), and the refresh family named by an optional
/// `{refresh_token}` is revoked. A refresh token that is unknown or not the
/// caller's is ignored: there is nothing of theirs to revoke.
pub fn logout(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let body = if req.body_is_empty() {
        None
    } else {
        Some(req.json::<LogoutRequest>()?)
    };
    let refresh_token = match body.and_then(|b| b.refresh_token) {
        Some(t) => Some(domain::presented_refresh_token(&t)?.to_string()),
        None => None,
    };
    if let Some(token) = refresh_token {
        revoke_own_family(ctx.db()?, principal, &token)?;
    }
    auth::deny_token(ctx.redis()?, &principal.token_id, principal.expires_at)?;
    Ok(Response::empty(204))
}

fn revoke_own_family(db: &Db, principal: &Principal, token: &str) -> Result<(), ApiError> {
    let hash = domain::refresh_token_hash(token);
    db.transaction(|db| {
        if let Some(record) = store::refresh(db, &hash)? {
            if record.user_id == principal.user_id {
                store::revoke_family(db, &record.family_id)?;
            }
        }
        Ok(())
    })
}
