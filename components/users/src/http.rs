//! The public HTTP API: the route table, registration and profiles
//! (sessions are in `session`).
//!
//! `POST /api/auth/oauth/start` and `GET|POST /api/auth/callback` (the
//! marketplace OAuth flow) are not served yet: they answer 404 like any
//! unknown route until that flow is built.

use platform::auth::{self, password};
use platform::db::Db;
use platform::pagination::{self, PageRequest};
use platform::{ApiError, Context, Method, Request, Response};
use serde_json::json;

use crate::domain::{self, ProfileUpdate, RegisterRequest};
use crate::store::{self, User};
use crate::{events, session, DATABASE};

pub fn route(req: &Request, ctx: &Context, segments: &[&str]) -> Result<Response, ApiError> {
    let post_only = || Err(ApiError::MethodNotAllowed { allow: "POST" });
    match (req.method, segments) {
        (Method::Post, ["api", "auth", "register"]) => {
            // Each registration costs an argon2 hash: limit it per client.
            platform::ratelimit::limited(req, ctx, "register", || register(req, ctx))
        }
        (_, ["api", "auth", "register"]) => post_only(),
        (Method::Post, ["api", "auth", "login"]) => session::login(req, ctx),
        (_, ["api", "auth", "login"]) => post_only(),
        (Method::Post, ["api", "auth", "refresh"]) => session::refresh(req),
        (_, ["api", "auth", "refresh"]) => post_only(),
        (Method::Post, ["api", "auth", "logout"]) => session::logout(req),
        (_, ["api", "auth", "logout"]) => post_only(),
        (Method::Get, ["api", "auth", "me"]) => me(req),
        (_, ["api", "auth", "me"]) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        (Method::Get, ["api", "users", "me"]) => me(req),
        (Method::Put, ["api", "users", "me"]) => update_me(req),
        (_, ["api", "users", "me"]) => Err(ApiError::MethodNotAllowed { allow: "GET, PUT" }),
        (Method::Get, ["api", "users"]) => list(req),
        (_, ["api", "users"]) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
    }
}

fn db() -> Result<Db, ApiError> {
    Db::open(DATABASE, store::MIGRATIONS)
}

fn admin_email() -> Option<String> {
    spin_sdk::variables::get("admin_email").ok()
}

/// `POST /api/auth/register`: 201 with the user. Tokens come from login.
fn register(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let account = req.json::<RegisterRequest>()?.validate()?;
    let role = domain::role_for(&account.email, admin_email().as_deref());
    // Hash before taking the write lock: argon2 is the slow part.
    let hash = password::hash_password(&account.password)?;
    let id = platform::events::new_id();
    let db = db()?;
    let user = db.transaction(|db| {
        if !store::create_user(db, &id, &account.email, &account.name, role, &hash)? {
            return Err(ApiError::Conflict(
                "an account with this email already exists".into(),
            ));
        }
        let user = store::user(db, &id)?.ok_or_else(|| ApiError::internal("new user vanished"))?;
        events::registered(db, ctx, &user)?;
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
fn me(req: &Request) -> Result<Response, ApiError> {
    let principal = auth::require_user(req)?;
    Ok(Response::json(
        200,
        &current_user(&db()?, &principal.user_id)?,
    ))
}

/// `PUT /api/users/me` with `{name}`.
fn update_me(req: &Request) -> Result<Response, ApiError> {
    let principal = auth::require_user(req)?;
    let name = req.json::<ProfileUpdate>()?.validate()?;
    let db = db()?;
    let user = db.transaction(|db| {
        if !store::set_name(db, &principal.user_id, &name)? {
            return Err(ApiError::NotFound("the account no longer exists".into()));
        }
        current_user(db, &principal.user_id)
    })?;
    Ok(Response::json(200, &user))
}

/// `GET /api/users?limit=&cursor=` (admin).
fn list(req: &Request) -> Result<Response, ApiError> {
    auth::require_admin(req)?;
    let page = PageRequest::from_request(req, 50, 200)?;
    let mut items = store::list_users(&db()?, page.after.as_deref(), page.limit + 1)?;
    let more = items.len() > page.limit as usize;
    items.truncate(page.limit as usize);
    let next_cursor = if more {
        items.last().map(|u| pagination::encode(&u.id))
    } else {
        None
    };
    Ok(Response::json(
        200,
        &json!({ "items": items, "next_cursor": next_cursor }),
    ))
}
