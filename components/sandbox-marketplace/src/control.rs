//! The control routes, for admins: the failure-injection settings and the
//! counters, a simulated sale on MercadoLibre, and the notifications (to
//! inspect, and to send one again with the same `_id`). They answer in
//! our own problem+json, like every route of ours.

use platform::clock::now_ms;
use platform::db::Db;
use platform::{ApiError, Context, Request, Response};

use crate::domain::{ControlPatch, Sale, SiteId, UserId};
use crate::items;
use crate::store::catalog::{self, SaleOutcome};
use crate::store::control::{self as settings, count, Counter};
use crate::store::notifications::{self, Redelivery};
use crate::views::{
    ControlView, Counters, ItemView, NotificationCounts, NotificationList, NotificationView,
    TokenGrants,
};
use crate::webhooks;

/// Most notifications the listing answers.
const LIST_LIMIT: u32 = 200;

fn view(db: &Db) -> Result<ControlView, ApiError> {
    let counters = settings::counters(db)?;
    let notes = notifications::counts(db)?;
    Ok(ControlView {
        settings: settings::control(db)?,
        stats: Counters {
            token_grants: TokenGrants {
                authorization_code: count(&counters, Counter::AuthorizationCodeGrant),
                refresh_token: count(&counters, Counter::RefreshTokenGrant),
            },
            refused_grants: count(&counters, Counter::RefusedGrant),
            resource_requests: count(&counters, Counter::ResourceRequest),
            rate_limited: count(&counters, Counter::RateLimited),
            injected_failures: count(&counters, Counter::InjectedFailure),
            notifications: NotificationCounts {
                delivered: notes.delivered,
                pending: notes.pending,
                failed: notes.failed,
            },
        },
    })
}

/// `GET /sandbox/ml/control`.
pub fn get_control(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    Ok(Response::json(200, &view(ctx.db()?)?))
}

/// `PUT /sandbox/ml/control`: the fields given change.
pub fn put_control(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let patch: ControlPatch = req.json()?;
    let db = ctx.db()?;
    db.transaction(|db| {
        let named = patch.approve_user_id.and_then(UserId::from_i64);
        let known = match named {
            Some(user) if catalog::user_exists(db, user)? => Some(user),
            _ => None,
        };
        let next = patch.apply(settings::control(db)?, |user| Some(user) == known)?;
        settings::set_control(db, &next)
    })?;
    Ok(Response::json(200, &view(db)?))
}

/// `POST /sandbox/ml/control/items/{item_id}/sell`: a sale on
/// MercadoLibre, notified to the seller's application.
pub fn sell(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let raw = req.param("item_id");
    let unknown = || ApiError::NotFound(format!("no item {raw}"));
    let id = SiteId::parse(raw).ok_or_else(unknown)?;
    let quantity = req.json::<Sale>()?.quantity()?;
    let db = ctx.db()?;
    match items::sell(db, &id, quantity, webhooks::application_id(), now_ms())? {
        SaleOutcome::Sold(item) => Ok(Response::json(200, &ItemView::from(item))),
        SaleOutcome::NotEnough { available } => Err(ApiError::Conflict(format!(
            "only {available} units of {raw} are available"
        ))),
        SaleOutcome::Unknown => Err(unknown()),
    }
}

/// `GET /sandbox/ml/control/notifications`.
pub fn list_notifications(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let items = notifications::recent(ctx.db()?, LIST_LIMIT)?
        .into_iter()
        .map(NotificationView::from)
        .collect();
    Ok(Response::json(200, &NotificationList { items }))
}

/// `POST /sandbox/ml/control/notifications/{notification_id}/redeliver`:
/// a delivered notification goes out again on the next tick, with the
/// same `_id`.
pub fn redeliver(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let id = req.id("notification_id")?;
    match notifications::redeliver(ctx.db()?, id.as_str(), now_ms())? {
        Redelivery::Queued(n) => Ok(Response::json(202, &NotificationView::from(n))),
        Redelivery::NotDelivered(status) => Err(ApiError::Conflict(format!(
            "notification {id} is {status}: only a delivered one is sent again"
        ))),
        Redelivery::Unknown => Err(ApiError::NotFound(format!("no notification {id}"))),
    }
}
