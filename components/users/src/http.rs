//! The public HTTP API: the route table, registration and profiles
//! (sessions are in `session`).
//!
//! `POST /api/auth/oauth/start` and `GET|POST /api/auth/callback` (the
//! marketplace OAuth flow) are not served yet: they answer 404 like any
//! unknown route until that flow is built.

use platform::auth::{password, Role};
use platform::db::Db;
use platform::events::UserRegistered;
use platform::openapi::{Access, Body, Paging, Param, Reply, LOCATION};
use platform::pagination::{Page, PageRequest};
use platform::{outbox, ApiError, Context, Handler, Id, Request, Response, Route, RouteDoc};

use crate::domain::{
    self, LoginRequest, LogoutRequest, ProfileUpdate, RefreshRequest, RegisterRequest,
};
use crate::session::{self, TokenGrant};
use crate::store::{self, User};

/// For other components: the marketplace signs people in with
/// MercadoLibre through it.
pub const INTERNAL_ROUTES: &[Route] = &[Route::post(
    "/internal/users/federated-sessions",
    Handler::Sync(session::federated),
)];

/// Users' routes. A registration costs an argon2 hash, so it has a small
/// limit of its own per client address; refresh (per address) and logout
/// (per user) have their own too, so that neither can be flooded at the
/// cost of the rest; login throttles itself (see `throttle`). These
/// limits are their own variables or the defaults here, never
/// `rate_limit_default`.
pub const ROUTES: &[Route] = &[
    Route::post("/api/auth/register", Handler::Sync(register))
        .limit_or("register", "10/0.1")
        .doc(&RouteDoc {
            summary: "Register an account",
            description: "A customer account; with the admin bootstrap token, and only while \
                no admin exists, the first admin. Tokens come from login.",
            params: &[Param::header::<String>(
                "X-Admin-Bootstrap-Token",
                "the deployment's admin bootstrap token: makes the account the first admin",
            )
            .errors(&[(
                403,
                "the bootstrap token is wrong, or bootstrap is not enabled",
            )])],
            body: Some(Body::json::<RegisterRequest>(
                r#"{"email": "ann@example.com", "password": "another long secret", "name": "Ann"}"#,
            )),
            replies: &[Reply::json::<User>(201, "The account").headers(&[LOCATION])],
            errors: &[(
                409,
                "the address has an account, or (bootstrap) an admin exists",
            )],
            ..RouteDoc::BASE
        }),
    Route::post("/api/auth/login", Handler::Sync(session::login))
        .unlimited()
        .doc(&RouteDoc {
            summary: "Sign in: an access token and a refresh token",
            description: "Starts a session (90 days at most). Attempts are limited per client \
                address, per account and address, and per account.",
            body: Some(Body::json::<LoginRequest>(
                r#"{"email": "ann@example.com", "password": "another long secret"}"#,
            )),
            replies: &[Reply::json::<TokenGrant>(200, "Signed in")],
            errors: &[
                (401, "invalid email or password"),
                (
                    429,
                    "too many attempts from this address or for this account",
                ),
                (
                    503,
                    "attempts cannot be counted (Redis is unreachable): login fails closed",
                ),
            ],
            ..RouteDoc::BASE
        }),
    Route::post("/api/auth/refresh", Handler::Sync(session::refresh))
        .limit_or("refresh", "30/0.5")
        .doc(&RouteDoc {
            summary: "Trade a refresh token for new tokens",
            description: "Refresh tokens are single use: a spent one presented again revokes \
                every token of its session.",
            body: Some(Body::json::<RefreshRequest>(
                r#"{"refresh_token": "q7nN1c2o8u6m3zH0dB5xWkPj4sR9tVy2aE1fG6hJ8kL"}"#,
            )),
            replies: &[Reply::json::<TokenGrant>(200, "New tokens")],
            errors: &[
                (
                    401,
                    "the refresh token is unknown, expired, revoked or already used",
                ),
                (503, "the revocation list cannot be restored now"),
            ],
            ..RouteDoc::BASE
        }),
    Route::post("/api/auth/logout", Handler::Sync(session::logout))
        .limit_or("logout", "30/0.5")
        .doc(&RouteDoc {
            summary: "Sign out: end the session of the access token",
            description: "Every token of that login stops working at once; a refresh token \
                of the caller's in the body ends its session too.",
            access: Access::User,
            body: Some(
                Body::json::<LogoutRequest>(
                    r#"{"refresh_token": "q7nN1c2o8u6m3zH0dB5xWkPj4sR9tVy2aE1fG6hJ8kL"}"#,
                )
                .optional(),
            ),
            replies: &[Reply::empty(204, "Signed out")],
            ..RouteDoc::BASE
        }),
    Route::get("/api/auth/me", Handler::Sync(me)).doc(&ME),
    Route::get("/api/users/me", Handler::Sync(me)).doc(&ME),
    Route::put("/api/users/me", Handler::Sync(update_me)).doc(&RouteDoc {
        summary: "Change the caller's name",
        access: Access::User,
        body: Some(Body::json::<ProfileUpdate>(r#"{"name": "Ann Lee"}"#)),
        replies: &[Reply::json::<User>(200, "The account")],
        errors: &[(404, "the account no longer exists")],
        ..RouteDoc::BASE
    }),
    Route::get("/api/users", Handler::Sync(list)).doc(&RouteDoc {
        summary: "List accounts",
        access: Access::Admin,
        page: Some(Paging {
            default: 50,
            max: 200,
        }),
        replies: &[Reply::json::<Page<User>>(200, "A page of accounts")],
        ..RouteDoc::BASE
    }),
];

/// `GET /api/auth/me` and `GET /api/users/me`.
const ME: RouteDoc = RouteDoc {
    summary: "The caller's account",
    access: Access::User,
    replies: &[Reply::json::<User>(200, "The account")],
    errors: &[(404, "the account no longer exists")],
    ..RouteDoc::BASE
};

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
