//! The public HTTP API: a user's history and preferences, and the
//! admin's send.

use platform::auth::Principal;
use platform::clock::now_ms;
use platform::idempotency::Idempotency;
use platform::openapi::{Access, Body, Paging, Param, Reply, IDEMPOTENCY_KEY};
use platform::pagination::{Page, PageRequest};
use platform::{ApiError, Context, Handler, Id, Request, Response, Route, RouteDoc};

use crate::compose;
use crate::delivery::{self, Providers};
use crate::domain::{Preferences, PreferencesUpdate, ADMINS};
use crate::send::SendRequest;
use crate::store;
use crate::views::{NotificationView, Sent};

/// Notifications' routes (all in the component's rate-limit group).
pub const ROUTES: &[Route] = &[
    Route::get("/api/notifications/history", Handler::Sync(history)).doc(&RouteDoc {
        summary: "The caller's notifications, newest first",
        access: Access::User,
        params: &[Param::query::<String>(
            "user_id",
            "whose (admins only): a user id, or `admins` for the operators' alerts",
        )
        .errors(&[(403, "only admins may read another user's notifications")])],
        page: Some(Paging::STANDARD),
        replies: &[Reply::json::<Page<NotificationView>>(
            200,
            "A page of notifications",
        )],
        ..RouteDoc::BASE
    }),
    Route::get(
        "/api/notifications/preferences",
        Handler::Sync(get_preferences),
    )
    .doc(&RouteDoc {
        summary: "The caller's notification preferences",
        access: Access::User,
        replies: &[Reply::json::<Preferences>(200, "The preferences")],
        ..RouteDoc::BASE
    }),
    Route::put(
        "/api/notifications/preferences",
        Handler::Sync(put_preferences),
    )
    .doc(&RouteDoc {
        summary: "Change the caller's notification preferences",
        description: "The fields given change, the others keep their value; \
            `\"quiet_hours\": null` clears the window.",
        access: Access::User,
        body: Some(Body::json::<PreferencesUpdate>(
            r#"{"sms": true, "quiet_hours": {"start": "22:00", "end": "07:00"}}"#,
        )),
        replies: &[Reply::json::<Preferences>(200, "The preferences")],
        ..RouteDoc::BASE
    }),
    Route::post("/api/notifications/send", platform::handler!(async send)).doc(&RouteDoc {
        summary: "Send a user a notification",
        description: "From a template with its data, or a custom subject and body; on one \
            channel, or on the user's transactional channels. Delivery follows at once; the \
            history shows its outcome.",
        access: Access::Admin,
        params: &[IDEMPOTENCY_KEY],
        body: Some(Body::json::<SendRequest>(
            r#"{"user_id": "0198c3a0-7e3c-7d1e-9b2a-5f0c1d2e3f40", "channel": "email",
                "subject": "Your order", "body": "It ships today.", "priority": "normal"}"#,
        )),
        replies: &[Reply::json::<Sent>(
            202,
            "Accepted: the notifications, one per channel",
        )],
        ..RouteDoc::BASE
    }),
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
    Ok(Response::json(
        200,
        &page.map(|n| NotificationView::from(&n)),
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
    Ok(Response::json(200, &prefs))
}

fn put_preferences(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let update: PreferencesUpdate = req.json()?;
    let prefs = ctx.db()?.transaction(|db| {
        let prefs = update.apply(store::preferences(db, &principal.user_id)?)?;
        store::save_preferences(db, &principal.user_id, &prefs, now_ms())?;
        Ok(prefs)
    })?;
    Ok(Response::json(200, &prefs))
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
        let sent = Sent {
            notifications: created
                .iter()
                .map(|c| NotificationView::from(&c.notification))
                .collect(),
        };
        let response = Response::json(202, &sent);
        idempotency.finish(db, &response)?;
        Ok(response)
    })?;
    delivery::deliver_all(db, ctx, &providers, &created).await;
    Ok(response)
}
