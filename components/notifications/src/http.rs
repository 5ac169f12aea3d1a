//! The public HTTP API: a user's history and preferences, and the
//! admin's send.

use platform::auth::{self, Principal};
use platform::db::{now_ms, Db};
use platform::idempotency::{self, Lookup};
use platform::pagination::{self, PageRequest};
use platform::ratelimit;
use platform::{ApiError, Context, Method, Request, Response};
use serde_json::json;

use crate::compose::{self, Created};
use crate::delivery::{self, Providers};
use crate::domain::{self, PreferencesUpdate, ADMINS};
use crate::send::SendRequest;
use crate::store;

/// The rate-limit group of every route.
const GROUP: &str = "notifications";
/// Page sizes of the history.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

pub async fn route(req: &Request, ctx: &Context, segments: &[&str]) -> Result<Response, ApiError> {
    let ["api", "notifications", rest @ ..] = segments else {
        return Err(ApiError::NotFound(format!("no route for {}", req.path)));
    };
    match (req.method, rest) {
        (Method::Get, ["history"]) => ratelimit::limited(req, ctx, GROUP, || history(req)),
        (Method::Get, ["preferences"]) => {
            ratelimit::limited(req, ctx, GROUP, || get_preferences(req))
        }
        (Method::Put, ["preferences"]) => {
            ratelimit::limited(req, ctx, GROUP, || put_preferences(req))
        }
        (Method::Post, ["send"]) => send(req, ctx).await,
        (_, ["history"]) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        (_, ["preferences"]) => Err(ApiError::MethodNotAllowed { allow: "GET, PUT" }),
        (_, ["send"]) => Err(ApiError::MethodNotAllowed { allow: "POST" }),
        _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
    }
}

/// `GET /api/notifications/history`: the caller's notifications, newest
/// first; an admin may ask for anyone's with `user_id=`.
fn history(req: &Request) -> Result<Response, ApiError> {
    let principal = auth::require_user(req)?;
    let user_id = whose(&principal, req.query_param("user_id"))?;
    let page = PageRequest::from_request(req, DEFAULT_LIMIT, MAX_LIMIT)?;
    if let Some(after) = &page.after {
        // Cursors are notification ids.
        domain::user_id("cursor", after)
            .map_err(|_| ApiError::invalid("cursor", "is not a cursor this API issued"))?;
    }
    let db = crate::open_db()?;
    let mut items = store::history(&db, &user_id, page.after.as_deref(), page.limit + 1)?;
    let more = items.len() > page.limit as usize;
    items.truncate(page.limit as usize);
    let next_cursor = if more {
        items.last().map(|n| pagination::encode(&n.id))
    } else {
        None
    };
    Ok(Response::json(
        200,
        &json!({
            "items": items.iter().map(store::Notification::to_json).collect::<Vec<_>>(),
            "next_cursor": next_cursor,
        }),
    ))
}

/// The user whose history is asked for: one's own, or (admins) anyone's.
fn whose(principal: &Principal, asked: Option<String>) -> Result<String, ApiError> {
    let Some(asked) = asked else {
        return Ok(principal.user_id.clone());
    };
    let asked = if asked == ADMINS {
        asked
    } else {
        domain::user_id("user_id", &asked)?
    };
    if !principal.can_access(&asked) {
        return Err(ApiError::Forbidden(
            "only admins may read another user's notifications".into(),
        ));
    }
    Ok(asked)
}

fn get_preferences(req: &Request) -> Result<Response, ApiError> {
    let principal = auth::require_user(req)?;
    let db = crate::open_db()?;
    let prefs = store::preferences(&db, &principal.user_id)?;
    Ok(Response::json(200, &prefs.to_json()))
}

fn put_preferences(req: &Request) -> Result<Response, ApiError> {
    let principal = auth::require_user(req)?;
    let update: PreferencesUpdate = req.json()?;
    let db = crate::open_db()?;
    let prefs = db.transaction(|db| {
        let prefs = update.apply(store::preferences(db, &principal.user_id)?)?;
        store::save_preferences(db, &principal.user_id, &prefs, now_ms())?;
        Ok(prefs)
    })?;
    Ok(Response::json(200, &prefs.to_json()))
}

/// `POST /api/notifications/send` (admin): 202 with the notifications as
/// accepted (one per channel); their delivery follows at once, and the
/// history shows its outcome. An `Idempotency-Key` makes a retry replay
/// the first answer instead of sending again.
async fn send(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let providers = Providers::from_variables();
    let db = crate::open_db()?;
    let mut created = Vec::new();
    let response = ratelimit::limited(req, ctx, GROUP, || {
        accept(req, &db, &providers, &mut created)
    })?;
    delivery::deliver_all(&db, ctx, &providers, &created).await;
    Ok(response)
}

fn accept(
    req: &Request,
    db: &Db,
    providers: &Providers,
    created: &mut Vec<Created>,
) -> Result<Response, ApiError> {
    let admin = auth::require_admin(req)?;
    let key = idempotency::key_from(req)?;
    let send = req.json::<SendRequest>()?.validate()?;
    let hash = idempotency::request_hash(req);
    db.transaction(|db| {
        if let Some(key) = &key {
            match idempotency::lookup(db.connection(), &admin.user_id, key, &hash)? {
                Lookup::Replay(saved) => return Ok(saved),
                Lookup::Mismatch => return Err(idempotency::mismatch_error()),
                Lookup::New => {}
            }
        }
        let drafts = send.drafts(db)?;
        *created = compose::record(db, drafts, None, providers, now_ms())?;
        let response = Response::json(
            202,
            &json!({
                "notifications": created
                    .iter()
                    .map(|c| c.notification.to_json())
                    .collect::<Vec<_>>(),
            }),
        );
        if let Some(key) = &key {
            idempotency::store(db.connection(), &admin.user_id, key, &hash, &response)?;
        }
        Ok(response)
    })
}
