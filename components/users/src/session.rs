//! Sessions: login starts a session (a refresh family, the access tokens'
//! `sid`) that ends after [`SESSION_MAX_MS`] whatever happens, and issues
//! an access token and the family's first refresh token; refresh rotates
//! within the family and treats a spent token as theft, revoking the
//! session; logout revokes the session it is called with (and, if given,
//! the family of a refresh token of the caller's), so every token of that
//! login stops working at once.

use platform::auth::{password, Principal, TokenIssuer};
use platform::clock::now_ms;
use platform::db::Db;
use platform::{ApiError, Context, Id, Request, Response};
use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::{
    self, LoginRequest, LogoutRequest, RefreshDecision, RefreshRequest, RejectReason,
    ACCESS_TTL_SECS, SESSION_MAX_MS,
};
use crate::store::{self, User};
use crate::{revocation, throttle};

/// The one answer to a failed login, whatever failed.
fn bad_credentials() -> ApiError {
    ApiError::Unauthorized("invalid email or password".into())
}

/// The answer to a login or a refresh: a new access token, the session's
/// next refresh token, and the account.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TokenGrant {
    /// The access token (a JWT), sent as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token is valid for.
    pub expires_in: u64,
    /// Single use: `POST /api/auth/refresh` answers the next one; a spent
    /// one presented again revokes the whole session.
    pub refresh_token: String,
    pub user: User,
}

/// Signs an access token in session `session` and stores a new refresh
/// token in its family; call inside the transaction that makes the
/// family's previous token (if any) used.
fn issue_tokens(db: &Db, user: &User, session: &store::Session) -> Result<TokenGrant, ApiError> {
    let access = TokenIssuer::from_variables()?.issue_in_session(
        &user.id,
        &user.email,
        user.role,
        &session.id,
        ACCESS_TTL_SECS,
    )?;
    let refresh = domain::new_refresh_token()?;
    store::insert_refresh(
        db,
        &domain::refresh_token_hash(&refresh),
        &session.id,
        &user.id,
        domain::refresh_expiry(now_ms(), session.ends_at_ms),
    )?;
    Ok(TokenGrant {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECS,
        refresh_token: refresh,
        user: user.clone(),
    })
}

/// `POST /api/auth/login`. Rate-limit headers are set on every answer
/// that got as far as the limiter, failures included.
pub fn login(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    // Malformed input is refused before the limiter: it costs no hashing
    // and must not use up a legitimate user's attempts.
    let creds = req.json::<LoginRequest>()?.validate()?;
    let outcome = throttle::login_attempt(req, ctx, &creds.email)
        .and_then(|()| revocation::ensure_loaded(ctx))
        .and_then(|()| authenticate_and_issue(ctx.db()?, &creds));
    let result = match &outcome {
        Ok(_) => "success",
        Err(ApiError::TooManyRequests { .. }) => "throttled",
        Err(ApiError::Unauthorized(_)) => "failure",
        Err(_) => "error",
    };
    ctx.count("user_authentications_total", &[("result", result)]);
    Ok(token_response(&outcome?))
}

fn authenticate_and_issue(db: &Db, creds: &domain::Credentials) -> Result<TokenGrant, ApiError> {
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
    let session = store::Session {
        id: Id::generate().into_string(),
        user_id: account.user.id.clone(),
        ends_at_ms: now_ms().saturating_add(SESSION_MAX_MS),
        revoked_at_ms: None,
    };
    db.transaction(|db| {
        store::create_session(db, &session.id, &session.user_id, session.ends_at_ms)?;
        issue_tokens(db, &account.user, &session)
    })
}

/// `POST /internal/users/federated-sessions` (service chaining, behind the
/// internal credential): signs in the account a provider's identity
/// belongs to, creating a customer account without a password on its
/// first sign-in. An email that already has an account of its own is not
/// taken over: its owner logs in with the password and links the
/// provider from there. 201 when the account was created, 200 otherwise.
pub fn federated(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let person = req.json::<domain::FederatedLogin>()?.validate()?;
    revocation::ensure_loaded(ctx)?;
    let (grant, created) = ctx.db()?.transaction(|db| {
        let known = match store::identity_user(db, person.provider, &person.subject)? {
            Some(id) => Some(id),
            None => match &person.user_id {
                Some(id) if store::user(db, id.as_str())?.is_some() => {
                    store::add_identity(db, person.provider, &person.subject, id.as_str())?;
                    Some(id.as_str().to_string())
                }
                _ => None,
            },
        };
        let (user, created) = match known {
            Some(id) => match store::user(db, &id)? {
                Some(user) => (user, false),
                None => return Err(ApiError::internal("an identity without its account")),
            },
            None => {
                let id = Id::generate();
                if !store::create_user(
                    db,
                    id.as_str(),
                    &person.email,
                    &person.name,
                    platform::auth::Role::Customer,
                    domain::NO_PASSWORD,
                )? {
                    return Err(ApiError::Conflict(format!(
                        "an account with the email {} already exists: log in to it and link \
                         {} from there",
                        person.email, person.provider
                    )));
                }
                store::add_identity(db, person.provider, &person.subject, id.as_str())?;
                let Some(user) = store::user(db, id.as_str())? else {
                    return Err(ApiError::internal("the new account is missing"));
                };
                let registered = platform::events::UserRegistered {
                    user_id: user.id.clone(),
                    email: user.email.clone(),
                    name: user.name.clone(),
                };
                platform::outbox::publish(db, ctx, &registered, None)?;
                (user, true)
            }
        };
        let session = store::Session {
            id: Id::generate().into_string(),
            user_id: user.id.clone(),
            ends_at_ms: now_ms().saturating_add(SESSION_MAX_MS),
            revoked_at_ms: None,
        };
        store::create_session(db, &session.id, &session.user_id, session.ends_at_ms)?;
        Ok((issue_tokens(db, &user, &session)?, created))
    })?;
    ctx.count(
        "user_authentications_total",
        &[("result", "success"), ("provider", person.provider)],
    );
    let mut response = token_response(&grant);
    if created {
        response.status = 201;
    }
    Ok(response)
}

/// What a refresh attempt came to inside its transaction. Reuse must
/// commit its revocation before the 401 goes out, so refusals are values
/// here, not errors (an error would roll the transaction back).
enum Refreshed {
    Issued(TokenGrant),
    Refused(&'static str),
    /// The session was revoked (reuse, or the account is gone) and must
    /// leave Redis's copy too; the refusal says why.
    Revoked(String, &'static str),
}

/// Why an unusable refresh token is refused, when a read is enough to
/// know (no write lock is taken for it).
fn refusal(state: Option<domain::RefreshState>) -> Option<&'static str> {
    match domain::refresh_decision(state, now_ms()) {
        RefreshDecision::Reject(RejectReason::Expired) => Some("refresh token expired"),
        RefreshDecision::Reject(RejectReason::Revoked) => Some("refresh token was revoked"),
        RefreshDecision::Reject(RejectReason::Unknown) => Some("refresh token is not valid"),
        RefreshDecision::Rotate | RefreshDecision::RevokeFamily => None,
    }
}

/// `POST /api/auth/refresh`.
pub fn refresh(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let body: RefreshRequest = req.json()?;
    let hash = domain::refresh_token_hash(domain::presented_refresh_token(&body.refresh_token)?);
    let db = ctx.db()?;
    // A token that is unknown, expired or revoked is refused on a plain
    // read: a flood of made-up tokens never takes the write lock that
    // logins need.
    if let Some(why) = refusal(store::refresh(db, &hash)?.map(|r| r.state)) {
        return Err(ApiError::Unauthorized(why.into()));
    }
    revocation::ensure_loaded(ctx)?;
    // BEGIN IMMEDIATE serialises refreshes: of two racing uses of one
    // token, the second sees it used and revokes the family.
    let outcome = db.transaction(|db| {
        let record = store::refresh(db, &hash)?;
        let decision = domain::refresh_decision(record.as_ref().map(|r| r.state), now_ms());
        match (decision, record) {
            (RefreshDecision::Rotate, Some(record)) => {
                let Some(user) = store::user(db, &record.user_id)? else {
                    store::revoke_family(db, &record.family_id)?;
                    return Ok(Refreshed::Revoked(
                        record.family_id,
                        "the account no longer exists",
                    ));
                };
                let Some(session) = store::session(db, &record.family_id)? else {
                    return Err(ApiError::internal("refresh token without a session"));
                };
                if !store::mark_used(db, &hash)? {
                    return Err(ApiError::internal("refresh token changed under its lock"));
                }
                issue_tokens(db, &user, &session).map(Refreshed::Issued)
            }
            (RefreshDecision::RevokeFamily, Some(record)) => {
                store::revoke_family(db, &record.family_id)?;
                Ok(Refreshed::Revoked(
                    record.family_id,
                    "refresh token was already used; every session of this login has been revoked",
                ))
            }
            (decision, record) => Ok(Refreshed::Refused(
                refusal(record.map(|r| r.state))
                    .filter(|_| matches!(decision, RefreshDecision::Reject(_)))
                    .unwrap_or("refresh token is not valid"),
            )),
        }
    })?;
    match outcome {
        Refreshed::Issued(body) => Ok(token_response(&body)),
        Refreshed::Refused(why) => Err(ApiError::Unauthorized(why.into())),
        Refreshed::Revoked(session, why) => {
            // The database has the revocation; the copy may fail to land
            // (then the tokens already issued live out their minutes).
            if let Err(e) = ctx.redis().and_then(|r| revocation::publish(r, &session)) {
                platform::redis_store::log_warning("revocation_not_copied", &e.to_string());
            }
            Err(ApiError::Unauthorized(why.into()))
        }
    }
}

/// A body carrying tokens: never stored by a cache.
pub fn token_response(body: &TokenGrant) -> Response {
    Response::json(200, body)
        .with_header("cache-control", "no-store")
        .with_header("pragma", "no-cache")
}

/// `POST /api/auth/logout`: revokes the session the access token belongs
/// to (every token of that login fails everywhere at once), and the
/// family of an optional `{refresh_token}` if it is the caller's (one
/// that is unknown or someone else's is ignored: there is nothing of
/// theirs to revoke). The database records it first, so it survives
/// Redis losing its copy; 503 if the copy cannot be written, since until
/// it is the access token would still pass (retrying is safe).
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
    let db = ctx.db()?;
    let mut sessions = vec![principal.session_id.clone()];
    db.transaction(|db| {
        store::revoke_family(db, &principal.session_id)?;
        if let Some(token) = &refresh_token {
            if let Some(family) = own_family(db, principal, token)? {
                store::revoke_family(db, &family)?;
                sessions.push(family);
            }
        }
        Ok(())
    })?;
    let redis = ctx.redis()?;
    for session in &sessions {
        revocation::publish(redis, session)?;
    }
    Ok(Response::empty(204))
}

/// The family of `token` if it is `principal`'s.
fn own_family(db: &Db, principal: &Principal, token: &str) -> Result<Option<String>, ApiError> {
    let hash = domain::refresh_token_hash(token);
    Ok(store::refresh(db, &hash)?
        .filter(|record| record.user_id == principal.user_id)
        .map(|record| record.family_id))
}
