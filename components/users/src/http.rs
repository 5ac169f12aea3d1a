//! The public HTTP API: the route table, registration and profiles
//! (sessions are in `session`).
//!
//! `POST /api/auth/oauth/start` and `GET|POST /api/auth/callback` (the
//! marketplace OAuth flow) are not served yet: they answer 404 like any
//! unknown route until that flow is built.

use platform::auth::password;
use platform::db::Db;
use platform::events::UserRegistered;
use platform::pagination::PageRequest;
use platform::{outbox, ApiError, Context, Handler, Id, Request, Response, Route};

use crate::domain::{self, ProfileUpdate, RegisterRequest};
use crate::session;
use crate::store::{self, User};

/// Users' routes. Each registration costs an argon2 hash, so it is
/// limited per client; login throttles itself per account and address.
pub const ROUTES: &[Route] = &[
    Route::post("/api/auth/register", Handler::Sync(register)).limit("register"),
    Route::post("/api/auth/login", Handler::Sync(session::login)),
    Route::post("/api/auth/refresh", Handler::Sync(session::refresh)),
    Route::post("/api/auth/logout", Handler::Sync(session::logout)),
    Route::get("/api/auth/me", Handler::Sync(me)),
    Route::get("/api/users/me", Handler::Sync(me)),
    Route::put("/api/users/me", Handler::Sync(update_me)),
    Route::get("/api/users", Handler::Sync(list)),
];

fn admin_email() -> Option<String> {
    spin_sdk::variables::get("admin_email").ok()
}

/// `POST /api/auth/register`: 201 with the user, and `user.registered`
/// in the same transaction. Tokens come from login.
fn register(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let account = req.json::<RegisterRequest>()?.validate()?;
    let role = domain::role_for(&account.email, admin_email().as_deref());
    // Hash before taking the write lock: argon2 is the slow part.
    let hash = password::hash_password(&account.password)?;
    let id = Id::generate();
    let user = ctx.db()?.transaction(|db| {
        if !store::create_user(db, id.as_str(), &account.email, &account.name, role, &hash)? {
            return Err(ApiError::Conflict(
                "an account with this email already exists".into(),
            ));
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
