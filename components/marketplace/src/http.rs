//! The public HTTP API: the OAuth start and callback (linking an account,
//! or signing in with MercadoLibre), the link itself, the proxy to
//! MercadoLibre's resources, item-to-product links, health and the
//! webhook.

use platform::cache;
use platform::openapi::{Access, Body, Param, Reply};
use platform::{ApiError, Context, Handler, Request, Response, Route, RouteDoc};
use serde_json::Value;

use crate::api::{self, Ml};
use crate::sealed::SealKey;
use crate::settings::{self, Ttls, USER_LIMIT};
use crate::store::{self, Account};
use crate::views::{
    AuthorizationStart, CallbackBody, Health, ItemUpdate, LinkView, Linked, NotificationAck,
    ProductLink, ProductLinkView, SignedIn,
};
use crate::{oauth, service, tokens};

const ITEM_ID: Param = Param::path::<String>("id", "A MercadoLibre item id")
    .example("MLA123")
    .errors(&[(400, "not an item id (three capital letters and digits)")]);

/// Any JSON MercadoLibre answers, passed on as it is.
type MlJson = Value;

const ML_REPLIES: &[(u16, &str)] = &[
    (
        409,
        "no MercadoLibre account is linked, or the link needs authorising again",
    ),
    (
        503,
        "MercadoLibre cannot be reached (breaker open, back-off after its 429, failures) \
         and no earlier copy is cached",
    ),
];

const ML_ITEMS_REPLIES: &[(u16, &str)] = &[
    (
        403,
        "the id is not the caller's linked MercadoLibre account",
    ),
    (
        409,
        "no MercadoLibre account is linked, or the link needs authorising again",
    ),
    (
        503,
        "MercadoLibre cannot be reached (breaker open, back-off after its 429, failures) \
         and no earlier copy is cached",
    ),
];

pub const ROUTES: &[Route] = &[
    Route::post("/api/auth/oauth/start", Handler::Sync(start))
        .limit_or("oauth", "20/0.2")
        .doc(&RouteDoc {
            summary: "Start linking a MercadoLibre account, or signing in with MercadoLibre",
            description: "With a bearer token: links the caller's account. Without: signs in \
                (creating a local account on the first sign-in). Answers the authorization URL \
                (PKCE S256); the state is valid for ten minutes and once.",
            access: Access::Optional,
            replies: &[Reply::json::<AuthorizationStart>(
                200,
                "Where to send the person",
            )],
            ..RouteDoc::BASE
        }),
    Route::get("/api/auth/callback", platform::handler!(async callback_get))
        .limit_or("oauth", "20/0.2")
        .doc(&CALLBACK_DOC),
    Route::post(
        "/api/auth/callback",
        platform::handler!(async callback_post),
    )
    .limit_or("oauth", "20/0.2")
    .doc(&RouteDoc {
        body: Some(Body::json::<CallbackBody>(
            r#"{"code": "TG-abc", "state": "xyz"}"#,
        )),
        params: &[],
        ..CALLBACK_DOC
    }),
    Route::get("/api/ml/link", Handler::Sync(get_link)).doc(&RouteDoc {
        summary: "The caller's linked MercadoLibre account",
        access: Access::User,
        replies: &[Reply::json::<LinkView>(200, "The link (never its tokens)")],
        errors: &[(404, "no account is linked")],
        ..RouteDoc::BASE
    }),
    Route::delete("/api/ml/link", Handler::Sync(unlink)).doc(&RouteDoc {
        summary: "Unlink the caller's MercadoLibre account and forget its tokens",
        access: Access::User,
        replies: &[Reply::empty(204, "Unlinked")],
        errors: &[(404, "no account is linked")],
        ..RouteDoc::BASE
    }),
    Route::get("/api/ml/user/me", platform::handler!(async user_me))
        .limit_or("ml_user", USER_LIMIT)
        .doc(&RouteDoc {
            summary: "The linked MercadoLibre account's profile (cached)",
            description: CACHE_NOTE,
            access: Access::User,
            replies: &[Reply::json::<MlJson>(200, "MercadoLibre's answer")],
            errors: ML_REPLIES,
            ..RouteDoc::BASE
        }),
    Route::get(
        "/api/ml/users/:id/items",
        platform::handler!(async user_items),
    )
    .limit_or("ml_user", USER_LIMIT)
    .doc(&RouteDoc {
        summary: "The item ids of the caller's own MercadoLibre account (cached)",
        description: CACHE_NOTE,
        access: Access::User,
        params: &[
            Param::path::<u64>("id", "The caller's linked MercadoLibre account's id")
                .example("1001")
                .errors(&[(400, "not a MercadoLibre user id")]),
            Param::query::<u32>("offset", "Items to skip (0 to 10,000)")
                .errors(&[(400, "not a whole number to 10,000")]),
            Param::query::<u32>("limit", "Items per page (1 to 100, default 50)")
                .errors(&[(400, "not a whole number to 100")]),
        ],
        replies: &[Reply::json::<MlJson>(200, "MercadoLibre's answer")],
        errors: ML_ITEMS_REPLIES,
        ..RouteDoc::BASE
    }),
    Route::get("/api/ml/items/:id", platform::handler!(async get_item))
        .limit_or("ml_user", USER_LIMIT)
        .doc(&RouteDoc {
            summary: "A MercadoLibre item (cached)",
            description: ITEM_NOTE,
            access: Access::User,
            params: &[ITEM_ID],
            replies: &[Reply::json::<MlJson>(200, "MercadoLibre's answer")],
            errors: ML_REPLIES,
            ..RouteDoc::BASE
        }),
    Route::put("/api/ml/items/:id", platform::handler!(async put_item))
        .limit_or("ml_user", USER_LIMIT)
        .doc(&RouteDoc {
            summary: "Change a MercadoLibre item (quantity, price, title)",
            description: "Sent once (never retried blindly). The cached copy is replaced by \
                MercadoLibre's answer, and `marketplace.item_synced` is published so that \
                inventory follows a linked product's stock.",
            access: Access::User,
            params: &[ITEM_ID],
            body: Some(Body::json::<ItemUpdate>(r#"{"available_quantity": 5}"#)),
            replies: &[Reply::json::<MlJson>(
                200,
                "The item as MercadoLibre now has it",
            )],
            errors: ML_REPLIES,
            ..RouteDoc::BASE
        }),
    Route::put(
        "/api/ml/items/:id/link",
        platform::handler!(async link_product),
    )
    .doc(&RouteDoc {
        summary: "Link an item of the caller's MercadoLibre account to a catalog product",
        description: "The product's stock is then pushed to MercadoLibre, and MercadoLibre's \
            changes to the item's quantity (sales there, edits) are applied to the product's \
            stock as changes, so sales on both sides at once both count.",
        access: Access::Admin,
        params: &[ITEM_ID],
        body: Some(Body::json::<ProductLink>(
            r#"{"product_id": "0198c3a0-7e3c-7d1e-9b2a-5f0c1d2e3f40"}"#,
        )),
        replies: &[Reply::json::<ProductLinkView>(200, "The link")],
        errors: &[
            (
                403,
                "the item is not sold by the caller's MercadoLibre account",
            ),
            (
                409,
                "the product is linked to another item, or no account is linked",
            ),
            (503, "MercadoLibre cannot be reached"),
        ],
        ..RouteDoc::BASE
    }),
    Route::get("/api/ml/items/:id/link", Handler::Sync(get_product_link)).doc(&RouteDoc {
        summary: "An item's link to a catalog product, and the quantity both sides agree on",
        access: Access::Admin,
        params: &[ITEM_ID],
        replies: &[Reply::json::<ProductLinkView>(200, "The link")],
        errors: &[(404, "the item has no link")],
        ..RouteDoc::BASE
    }),
    Route::delete("/api/ml/items/:id/link", Handler::Sync(unlink_product)).doc(&RouteDoc {
        summary: "Remove an item's link to a catalog product",
        access: Access::Admin,
        params: &[ITEM_ID],
        replies: &[Reply::empty(204, "Removed")],
        errors: &[(404, "the item has no link")],
        ..RouteDoc::BASE
    }),
    Route::get("/api/ml/categories/:id", platform::handler!(async category))
        .limit_or("ml_user", USER_LIMIT)
        .doc(&RouteDoc {
            summary: "A MercadoLibre category (cached)",
            description: CACHE_NOTE,
            access: Access::Optional,
            params: &[Param::path::<String>("id", "A category id")
                .example("MLA1051")
                .errors(&[(400, "not a category id (three capital letters and digits)")])],
            replies: &[Reply::json::<MlJson>(200, "MercadoLibre's answer")],
            errors: ML_REPLIES,
            ..RouteDoc::BASE
        }),
    Route::get("/api/ml/health", Handler::Sync(health))
        .unlimited()
        .doc(&RouteDoc {
            summary: "The MercadoLibre integration's health",
            description: "The breaker, the back-off window, the cache's hit ratio; admins also \
                see every linked account's token status (never a token). 200 whatever the \
                state: an open breaker is information.",
            access: Access::Optional,
            replies: &[Reply::json::<Health>(200, "The integration's state")],
            ..RouteDoc::BASE
        }),
    Route::post("/api/ml/webhooks", Handler::Sync(webhook))
        .limit_or("ml_webhooks", "600/20")
        .doc(&RouteDoc {
            summary: "MercadoLibre's notifications",
            description: "Answered at once; a notification seen before (same `_id`) is \
                acknowledged and not processed again. The resource is then fetched with the \
                seller's token and published as `marketplace.item_synced`.",
            body: Some(Body::json::<crate::views::Notification>(
                r#"{"_id": "f9f08571-1f65-4c46-9e0a-c0f43faac529", "resource": "/items/MLA123",
                    "user_id": 1001, "topic": "items", "application_id": 4242424242,
                    "attempts": 1, "sent": "2026-12-07T10:00:00.000Z",
                    "received": "2026-12-07T10:00:00.000Z"}"#,
            )),
            replies: &[Reply::json::<NotificationAck>(200, "Received")],
            errors: &[(403, "the notification is for another application")],
            ..RouteDoc::BASE
        }),
];

const CACHE_NOTE: &str = "Answered from a cache (`X-Cache: hit|miss`) for a time per kind of \
    resource; `Cache-Control: no-cache` asks MercadoLibre first. When MercadoLibre fails or the \
    breaker is open, the last copy is served with `X-Cache: stale`, `Warning: 110` and its `Age`.";

const ITEM_NOTE: &str = "Items are the same for everyone: a cached copy (`X-Cache: hit`, kept \
    `ml_cache_ttl_items_secs`) answers any signed-in caller, and a miss is fetched with the \
    caller's linked account (409 without one). `Cache-Control: no-cache` asks MercadoLibre \
    first. When MercadoLibre fails or the breaker is open, the last copy is served \
    with `X-Cache: stale`, `Warning: 110` and its `Age`.";

const CALLBACK_DOC: RouteDoc = RouteDoc {
    summary: "Where MercadoLibre sends the person back",
    description: "Checks the state (once only), exchanges the code with the PKCE verifier, \
        then links the account (when a signed-in user started: that user's bearer token must come \
        with the callback) or signs in, answering our own tokens.",
    access: Access::Optional,
    params: &[
        Param::query::<String>("code", "The authorization code"),
        Param::query::<String>("state", "The state the start answered"),
        Param::query::<String>("error", "Set by MercadoLibre when the person refused"),
        Param::query::<String>("error_description", "MercadoLibre's words"),
    ],
    replies: &[
        Reply::json::<Linked>(200, "The account is linked"),
        Reply::json::<SignedIn>(201, "Signed in (the local account is new, or not)"),
    ],
    errors: &[
        (
            400,
            "no such state (unknown, expired or used), or the code was refused",
        ),
        (
            409,
            "the MercadoLibre account is linked to another user, or the email has an account",
        ),
        (503, "MercadoLibre cannot be reached"),
    ],
    ..RouteDoc::BASE
};

/// `POST /api/auth/oauth/start`.
fn start(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let app = settings::App::from_variables()?;
    let user_id = ctx.principal()?.map(|p| p.user_id.clone());
    let verifier = platform::pkce::new_verifier()?;
    let state = platform::random::hex(24)?;
    oauth::remember(
        ctx.redis()?,
        &state,
        &oauth::Pending {
            verifier: verifier.clone(),
            user_id: user_id.clone(),
        },
    )?;
    let body = AuthorizationStart {
        authorization_url: oauth::authorization_url(
            &app,
            &state,
            &platform::pkce::challenge(&verifier),
        ),
        state,
        expires_in: oauth::STATE_TTL_SECS,
        mode: if user_id.is_some() { "link" } else { "sign_in" },
    };
    Ok(Response::json(200, &body).with_header("cache-control", "no-store"))
}

async fn callback_get(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let body = CallbackBody {
        code: req.query_param("code"),
        state: req.query_param("state"),
        error: req.query_param("error"),
        error_description: req.query_param("error_description"),
    };
    service::callback(ctx, body).await
}

async fn callback_post(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    service::callback(ctx, req.json()?).await
}

/// The caller's link.
fn caller_account(ctx: &Context) -> Result<Account, ApiError> {
    let user = ctx.user()?;
    store::account_of_user(ctx.db()?, &user.user_id)?.ok_or_else(|| {
        ApiError::Conflict(
            "no MercadoLibre account is linked: link one with POST /api/auth/oauth/start".into(),
        )
    })
}

fn get_link(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let account = store::account_of_user(ctx.db()?, &user.user_id)?
        .ok_or_else(|| ApiError::NotFound("no MercadoLibre account is linked".into()))?;
    Ok(Response::json(200, &service::link_view(&account)))
}

fn unlink(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let db = ctx.db()?;
    let account = store::account_of_user(db, &user.user_id)?
        .ok_or_else(|| ApiError::NotFound("no MercadoLibre account is linked".into()))?;
    store::unlink(db, &user.user_id)?;
    // Its cached profile goes with it.
    if let Some(redis) = ctx.cache_redis_if_up() {
        let _ = cache::purge(redis, &[format!("ml:users:me:{}", account.ml_user_id)]);
    }
    Ok(Response::empty(204))
}

/// Whose token a read is sent with.
enum Token {
    /// This linked account's.
    Of(Account),
    /// The caller's linked account's, looked up only on a miss: a cached
    /// copy of a resource shared by everyone (an item) answers any
    /// signed-in caller.
    Callers,
    /// None (categories).
    None,
}

/// Reads `path` through the cache at `key`, going to MercadoLibre (with
/// the token `token` says) on a miss, or at once when
/// the client sent `Cache-Control: no-cache` (the stale copy still
/// answers if MercadoLibre cannot).
async fn proxied(
    req: &Request,
    ctx: &Context,
    key: String,
    ttl: u64,
    endpoint: &'static str,
    path: String,
    token: Token,
) -> Result<Response, ApiError> {
    let read = if req.no_cache() {
        cache::Read::Revalidate
    } else {
        cache::Read::Cached
    };
    // Only a miss needs MercadoLibre's settings, the account and a token.
    let load = || async {
        let ml = Ml::from_variables()?;
        let account = match token {
            Token::Of(account) => Some(account),
            Token::Callers => Some(caller_account(ctx)?),
            Token::None => None,
        };
        let token = match account {
            Some(account) => {
                Some(tokens::access_token(ctx, &ml, &SealKey::from_variables()?, account).await?)
            }
            None => None,
        };
        let answer = ml.get(ctx, endpoint, &path, token.as_deref()).await?;
        if answer.status == 200 {
            Ok(answer.body)
        } else {
            Err(api::client_error(&answer))
        }
    };
    let cached = cache::get_or_fetch(ctx.cache_redis_if_up(), &key, ttl, read, load).await?;
    cached.count(ctx, "ml");
    let mut response = Response::json(200, &cached.value);
    cached.apply(&mut response);
    Ok(response)
}

async fn user_me(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let account = caller_account(ctx)?;
    let key = format!("ml:users:me:{}", account.ml_user_id);
    let ttl = Ttls::users();
    proxied(
        req,
        ctx,
        key,
        ttl,
        "/users/me",
        "/users/me".into(),
        Token::Of(account),
    )
    .await
}

fn bounded(req: &Request, name: &str, default: u32, max: u32) -> Result<u32, ApiError> {
    match req.query_param(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|v| *v <= max)
            .ok_or_else(|| ApiError::bad_field(name, format!("must be a whole number to {max}"))),
    }
}

async fn user_items(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let seller = service::seller_id(req.param("id"))?;
    let offset = bounded(req, "offset", 0, 10_000)?;
    let limit = bounded(req, "limit", 50, 100)?.max(1);
    let account = caller_account(ctx)?;
    // A seller's listing (paused and closed items too) is theirs alone;
    // it is cached per seller, so the check cannot be left to MercadoLibre.
    if account.ml_user_id != seller.to_string() {
        return Err(ApiError::Forbidden(
            "only your own MercadoLibre account's items can be listed".into(),
        ));
    }
    let key = format!("ml:users:{seller}:items:{offset}:{limit}");
    let path = format!("/users/{seller}/items/search?offset={offset}&limit={limit}");
    let ttl = Ttls::items();
    proxied(
        req,
        ctx,
        key,
        ttl,
        "/users/:id/items/search",
        path,
        Token::Of(account),
    )
    .await
}

async fn get_item(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let id = service::item_id(req.param("id"))?;
    ctx.user()?;
    let ttl = Ttls::items();
    proxied(
        req,
        ctx,
        service::item_key(&id),
        ttl,
        "/items/:id",
        format!("/items/{id}"),
        Token::Callers,
    )
    .await
}

async fn put_item(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let id = service::item_id(req.param("id"))?;
    let update = service::validate_update(req.json::<ItemUpdate>()?)?;
    let account = caller_account(ctx)?;
    let item = service::update_item(ctx, account, &id, &update).await?;
    Ok(Response::json(200, &item).with_header("x-cache", "miss"))
}

async fn category(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let id = service::category_id(req.param("id"))?;
    let ttl = Ttls::categories();
    proxied(
        req,
        ctx,
        format!("ml:categories:{id}"),
        ttl,
        "/categories/:id",
        format!("/categories/{id}"),
        Token::None,
    )
    .await
}

async fn link_product(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let id = service::item_id(req.param("id"))?;
    let body = req.json::<ProductLink>()?;
    let product = platform::Id::parse("product_id", &body.product_id)?;
    let account = caller_account(ctx)?;
    service::link_product(ctx, account, &id, product.as_str()).await?;
    get_product_link(req, ctx)
}

fn get_product_link(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let id = service::item_id(req.param("id"))?;
    let link = store::link_of_item(ctx.db()?, &id)?
        .ok_or_else(|| ApiError::NotFound(format!("item {id} has no link")))?;
    Ok(Response::json(200, &ProductLinkView::from(link)))
}

fn unlink_product(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let id = service::item_id(req.param("id"))?;
    if !service::unlink_product(ctx, &id)? {
        return Err(ApiError::NotFound(format!("item {id} has no link")));
    }
    Ok(Response::empty(204))
}

fn health(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let admin = ctx.principal().ok().flatten().is_some_and(|p| p.is_admin());
    let body = service::health(ctx, admin)?;
    Ok(Response::json(200, &body).with_header("cache-control", "no-store"))
}

fn webhook(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let duplicate = !service::accept_notification(ctx, req.json()?)?;
    Ok(Response::json(
        200,
        &NotificationAck {
            received: true,
            duplicate,
        },
    ))
}
