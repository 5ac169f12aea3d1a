//! The MercadoLibre API's handlers: the authorization endpoint (a
//! browser's redirect), the token endpoint and the resources. Everything
//! but the authorization page answers in MercadoLibre's shapes.

use platform::clock::now_ms;
use platform::db::Db;
use platform::{ApiError, Context, Request, Response};

use crate::domain::{SearchPage, SiteId, UserId};
use crate::grants;
use crate::ml_error::{answer, MlError, MlResult, OAuthError};
use crate::oauth::{self, Params, Refusal};
use crate::store::catalog;
use crate::store::control::{self as settings, bump, Counter};
use crate::store::oauth as tokens;
use crate::views::{CategoryView, ItemSearch, ItemView, Paging, UserView};
use crate::{gate, items, webhooks};

/// A redirect the browser follows, never cached.
fn found(location: String) -> Response {
    Response::empty(302)
        .with_header("location", location)
        .with_header("cache-control", "no-store")
}

/// `GET /sandbox/ml/authorization`: approves at once as the test user (no
/// login form) and sends the browser back with a code.
pub fn authorization(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let client = grants::client();
    let params: Params = form_urlencoded::parse(req.query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let request = match oauth::authorize(&params, &client) {
        Ok(request) => request,
        Err(Refusal::Page(why)) => {
            return Err(ApiError::BadRequest {
                detail: why,
                field: None,
            })
        }
        Err(Refusal::Redirect {
            redirect_uri,
            state,
            error,
            description,
        }) => {
            let mut pairs = vec![
                ("error", error),
                ("error_description", description.as_str()),
            ];
            if let Some(state) = &state {
                pairs.push(("state", state.as_str()));
            }
            return Ok(found(oauth::redirect_to(&redirect_uri, &pairs)));
        }
    };
    let db = ctx.db()?;
    let approve_as = settings::control(db)?.approve_user_id;
    match grants::approve(db, &client, &request, approve_as, now_ms())? {
        Some(location) => Ok(found(location)),
        None => Err(ApiError::BadRequest {
            detail: "user_id (or the control's approve_user_id) must name a seeded user".into(),
            field: None,
        }),
    }
}

/// `POST /sandbox/ml/oauth/token`.
pub fn token(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    answer(exchange(req, ctx))
}

fn exchange(req: &Request, ctx: &Context) -> MlResult {
    let db = ctx.db()?;
    let control = gate::admit(ctx, db)?;
    let client = grants::client();
    if !client.configured() {
        return Err(MlError {
            message: "the sandbox's client_secret (ml_client_secret) must hold at least 32 bytes"
                .into(),
            ..MlError::unavailable()
        });
    }
    let request = if req.body_too_large {
        Err(OAuthError::InvalidRequest("the body is too large".into()))
    } else {
        oauth::token_params(req.header("content-type"), &req.body)
            .and_then(|params| oauth::token_request(&params, &client))
    };
    let granted = match request {
        Ok(request) => grants::exchange(db, &request, control.revoke_refresh_tokens, now_ms())?,
        Err(refused) => Err(refused),
    };
    match granted {
        Ok(tokens) => Ok(Response::json(200, &tokens)
            .with_header("cache-control", "no-store")
            .with_header("pragma", "no-cache")),
        Err(refused) => {
            bump(db, Counter::RefusedGrant)?;
            Err(refused.into())
        }
    }
}

/// A resource call past the gate, counted.
fn served(ctx: &Context) -> Result<&Db, MlError> {
    let db = ctx.db()?;
    gate::admit(ctx, db)?;
    bump(db, Counter::ResourceRequest)?;
    Ok(db)
}

/// The user of the request's access token: 401 without a live one.
fn caller(req: &Request, db: &Db) -> Result<UserId, MlError> {
    let token = oauth::bearer(req.header("authorization")).ok_or_else(MlError::unauthorized)?;
    tokens::access_token_user(db, token, now_ms())?.ok_or_else(MlError::unauthorized)
}

/// `GET /sandbox/ml/users/me`.
pub fn me(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    answer(me_ml(req, ctx))
}

fn me_ml(req: &Request, ctx: &Context) -> MlResult {
    let db = served(ctx)?;
    let user = caller(req, db)?;
    let found =
        catalog::user(db, user)?.ok_or_else(|| MlError::user_not_found(&user.to_string()))?;
    Ok(Response::json(200, &UserView::from(found)))
}

/// `GET /sandbox/ml/users/{user_id}/items/search`: the caller's own items.
pub fn items_search(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    answer(items_search_ml(req, ctx))
}

fn items_search_ml(req: &Request, ctx: &Context) -> MlResult {
    let db = served(ctx)?;
    let user = caller(req, db)?;
    let asked = UserId::parse(req.param("user_id"))
        .ok_or_else(|| MlError::bad_request("the user id must be a positive number"))?;
    if asked != user {
        return Err(MlError::forbidden("caller.id does not match owner.id"));
    }
    let page = SearchPage::parse(
        req.query_param("offset").as_deref(),
        req.query_param("limit").as_deref(),
    )?;
    let (results, total) = catalog::seller_items(db, user, page)?;
    Ok(Response::json(
        200,
        &ItemSearch {
            seller_id: user.to_string(),
            results,
            paging: Paging {
                total,
                offset: page.offset,
                limit: page.limit,
            },
        },
    ))
}

/// `GET /sandbox/ml/items/{item_id}`.
pub fn item(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    answer(item_ml(req, ctx))
}

fn item_ml(req: &Request, ctx: &Context) -> MlResult {
    let db = served(ctx)?;
    caller(req, db)?;
    let raw = req.param("item_id");
    let found = SiteId::parse(raw)
        .map(|id| catalog::item(db, &id))
        .transpose()?
        .flatten()
        .ok_or_else(|| MlError::item_not_found(raw))?;
    Ok(Response::json(200, &ItemView::from(found)))
}

/// `PUT /sandbox/ml/items/{item_id}`: the seller's change, notified.
pub fn update_item(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    answer(update_item_ml(req, ctx))
}

fn update_item_ml(req: &Request, ctx: &Context) -> MlResult {
    let db = served(ctx)?;
    let user = caller(req, db)?;
    let raw = req.param("item_id");
    let id = SiteId::parse(raw).ok_or_else(|| MlError::item_not_found(raw))?;
    let current = catalog::item(db, &id)?.ok_or_else(|| MlError::item_not_found(raw))?;
    if current.seller_id != user.get() {
        return Err(MlError::forbidden(
            "the item belongs to another seller: only its owner may change it",
        ));
    }
    let change = req.json::<crate::domain::ItemUpdate>()?.validate()?;
    let updated = items::update(db, &id, &change, webhooks::application_id(), now_ms())?
        .ok_or_else(|| MlError::item_not_found(raw))?;
    Ok(Response::json(200, &ItemView::from(updated)))
}

/// `GET /sandbox/ml/categories/{category_id}`: no token needed.
pub fn category(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    answer(category_ml(req, ctx))
}

fn category_ml(req: &Request, ctx: &Context) -> MlResult {
    let db = served(ctx)?;
    let raw = req.param("category_id");
    let found = SiteId::parse(raw)
        .map(|id| catalog::category(db, &id))
        .transpose()?
        .flatten()
        .ok_or_else(|| MlError::category_not_found(raw))?;
    Ok(Response::json(200, &CategoryView::from(found)))
}
