//! The public HTTP API: a user's history and preferences, and the
//! admin's send.

use platform::auth::Principal;
use platform::clock::now_ms;
use platform::idempotency::Idempotency;
use platform::pagination::PageRequest;
use platform::{ApiError, Context, Handler, Id, Request, Response, Route};
use serde_json::json;

use crate::compose;
use crate::delivery::{self, Providers};
use crate::domain::{PreferencesUpdate, ADMINS};
use crate::send::SendRequest;
use crate::store;

/// Notifications' routes (all in the component's rate-limit group).
pub const ROUTES: &[Route] = &[
    Route::get("/api/notifications/history", Handler::Sync(history)),
    Route::get(
        "/api/notifications/preferences",
        Handler::Sync(get_preferences),
    ),
    Route::put(
        "/api/notifications/preferences",
        Handler::Sync(put_preferences),
    ),
    Route::post("/api/notifications/send", platform::handler!(async send)),
];

/// `GET /api/notifications/history`: the caller's notifications, newest
/// first; an admin may ask for anyone's with `user_id=`.
fn history(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let user_id = whose(principal, req.query_param("user_id"))?;
    let page = PageRequest::standard(req)?;
    if let Some(after) = &page.after {
        // Cursors are notification ids.
        Id::parse("cursor", after)
            .map_err(|_| ApiError::invalid("cursor", "is not a cursor this API issued"))?;
    }
    let rows = store::history(ctx.db()?, &user_id, page.after.as_deref(), page.fetch())?;
    let page = page.page(rows, |n| n.id.clone());
    Ok(Response::json(200, &page.map(|n| n.to_json())))
}

/// The user whose history is asked for: one's own, or (admins) anyone's.
fn whose(principal: &Principal, asked: Option<String>) -> Result<String, ApiError> {
    let Some(asked) = asked else {
        return Ok(principal.user_id.clone());
    };
    let asked = if asked == ADMINS {
        asked
    } else {
        Id::parse("user_id", &asked)?.into_string()
    };
    if !principal.can_access(&asked) {
        return Err(ApiError::Forbidden(
            "only admins may read another user's notifications".into(),
        ));
    }
    Ok(asked)
}

fn get_preferences(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let prefs = store::preferences(ctx.db()?, &principal.user_id)?;
    Ok(Response::json(200, &prefs.to_json()))
}

fn put_preferences(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let update: PreferencesUpdate = req.json()?;
    let prefs = ctx.db()?.transaction(|db| {
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
    let admin = ctx.admin()?;
    let idempotency = Idempotency::of(req, &admin.user_id)?;
    let send = req.json::<SendRequest>()?.validate()?;
    let providers = Providers::from_variables();
    let db = ctx.db()?;
    let mut created = Vec::new();
    let response = db.transaction(|db| {
        if let Some(saved) = idempotency.begin(db)? {
            return Ok(saved);
        }
        let drafts = send.drafts(db)?;
        created = compose::record(db, drafts, None, &providers, now_ms())?;
        let response = Response::json(
            202,
            &json!({
                "notifications": created
                    .iter()
                    .map(|c| c.notification.to_json())
                    .collect::<Vec<_>>(),
            }),
        );
        idempotency.finish(db, &response)?;
        Ok(response)
    })?;
    delivery::deliver_all(db, ctx, &providers, &created).await;
    Ok(response)
}
