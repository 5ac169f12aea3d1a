//! The public HTTP API: the route table, registration and profiles
//! (sessions are in `session`).
//!
//! `POST /api/auth/oauth/start` and `GET|POST /api/auth/callback` (the
//! marketplace OAuth flow) are not served yet: they answer 404 like any
//! unknown route until that flow is built.

use platform::auth::{password, Role};
use platform::db::Db;
use platform::events::UserRegistered;
use platform::pagination::PageRequest;
use platform::{outbox, ApiError, Context, Handler, Id, Request, Response, Route};

use crate::domain::{self, ProfileUpdate, RegisterRequest};
use crate::session;
use crate::store::{self, User};

/// Users' routes. A registration costs an argon2 hash, so it has a small
/// limit of its own per client address; refresh (per address) and logout
/// (per user) have their own too, so that neither can be flooded at the
/// cost of the rest; login throttles itself (see `throttle`). These
/// limits are their own variables or the defaults here, never
/// `rate_limit_default`.
pub const ROUTES: &[Route] = &[
    Route::post("/api/auth/register", Handler::Sync(register)).limit_or("register", "10/0.1"),
    Route::post("/api/auth/login", Handler::Sync(session::login)).unlimited(),
    Route::post("/api/auth/refresh", Handler::Sync(session::refresh)).limit_or("refresh", "30/0.5"),
    Route::post("/api/auth/logout", Handler::Sync(session::logout)).limit_or("logout", "30/0.5"),
    Route::get("/api/auth/me", Handler::Sync(me)),
    Route::get("/api/users/me", Handler::Sync(me)),
    Route::put("/api/users/me", Handler::Sync(update_me)),
    Route::get("/api/users", Handler::Sync(list)),
];

/// The admin role a registration asks for with the bootstrap token, if
/// it carries one: 403 for a wrong token, and while the deployment has no
/// bootstrap token configured (the variable `admin_bootstrap_token`).
fn requested_role(req: &Request) -> Result<Role, ApiError> {
    let Some(presented) = req.header(domain::BOOTSTRAP_HEADER) else {
        return Ok(Role::Customer);
    };
    let expected = spin_sdk::variables::get("admin_bootstrap_token").unwrap_or_default();
    if expected.len() < platform::internal::MIN_SECRET_BYTES {
        return Err(ApiError::Forbidden(
            "admin bootstrap is not enabled on this deployment".into(),
        ));
    }
    if platform::internal::same_secret(presented, &expected) {
        Ok(Role::Admin)
    } else {
        Err(ApiError::Forbidden(
            "the admin bootstrap token is not valid".into(),
        ))
    }
}

/// `POST /api/auth/register`: 201 with the user, and `user.registered`
/// in the same transaction. Tokens come from login. An address that
/// already has an account is a 409, found before any hashing (see the
/// README on why the answer says so). With the admin bootstrap token
/// (`X-Admin-Bootstrap-Token`), and only while no admin exists, the
/// account is the first admin.
fn register(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let account = req.json::<RegisterRequest>()?.validate()?;
    let role = requested_role(req)?;
    let db = ctx.db()?;
    let taken = || ApiError::Conflict("an account with this email already exists".into());
    if store::account_by_email(db, &account.email)?.is_some() {
        return Err(taken());
    }
    if role == Role::Admin && store::admin_exists(db)? {
        return Err(admin_exists());
    }
    // Hash before taking the write lock: argon2 is the slow part.
    let hash = password::hash_password(&account.password)?;
    let id = Id::generate();
    let user = db.transaction(|db| {
        if role == Role::Admin && store::admin_exists(db)? {
            return Err(admin_exists());
        }
        if !store::create_user(db, id.as_str(), &account.email, &account.name, role, &hash)? {
            return Err(taken());
        }
        let user = current_user(db, id.as_str())?;
        let registered = UserRegistered {
            user_id: user.id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
        };
        outbox::publish(db, ctx, &registered, None)?;
        Ok(user)
    })?;
    Ok(Response::json(201, &user).with_header("location", "/api/users/me"))
}

/// The bootstrap token is for the first admin only.
fn admin_exists() -> ApiError {
    ApiError::Conflict(
        "an admin already exists; the bootstrap token only creates the first one".into(),
    )
}

fn current_user(db: &Db, user_id: &str) -> Result<User, ApiError> {
    // A valid token for a user that is gone: the account was removed.
    store::user(db, user_id)?
        .ok_or_else(|| ApiError::NotFound("the account no longer exists".into()))
}

/// `GET /api/auth/me` and `GET /api/users/me`.
fn me(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    Ok(Response::json(
        200,
        &current_user(ctx.db()?, &principal.user_id)?,
    ))
}

/// `PUT /api/users/me` with `{name}`.
fn update_me(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let name = req.json::<ProfileUpdate>()?.validate()?;
    let user = ctx.db()?.transaction(|db| {
        if !store::set_name(db, &principal.user_id, &name)? {
            return Err(ApiError::NotFound("the account no longer exists".into()));
        }
        current_user(db, &principal.user_id)
    })?;
    Ok(Response::json(200, &user))
}

/// `GET /api/users?limit=&cursor=` (admin).
fn list(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let page = PageRequest::from_request(req, 50, 200)?;
    let users = store::list_users(ctx.db()?, page.after.as_deref(), page.fetch())?;
    Ok(Response::json(200, &page.page(users, |u| u.id.clone())))
}
