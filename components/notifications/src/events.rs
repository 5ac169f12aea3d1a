//! Events in: what users, orders, payments and stock do becomes
//! notifications; `notification.requested` commands ask for one directly.
//!
//! A command with an unknown template (or data its template cannot
//! render) is recorded as a `failed` notification with the reason and
//! answered 2xx: the recipient and channel are valid, so the failure is
//! visible in that user's history and the partition moves on. A command
//! that names no valid recipient, channel or priority, or whose data is
//! not a JSON object, is a 422, which the bridge dead-letters.

use platform::db::{now_ms, Db};
use platform::events::{
    Event, LowStock, NotificationRequested, OrderCancelled, OrderConfirmed, OrderCreated,
    PaymentFailed, PaymentRefunded, UserRegistered,
};
use platform::{inbox, validate, ApiError, Context, Request, Response};
use serde_json::{json, Value};

use crate::compose::{self, Created, Draft};
use crate::delivery::{self, Providers};
use crate::domain::{self, Channel, Priority, ADMINS};
use crate::store::{self, Contact, OrderInfo};
use crate::templates;

/// Longest template name kept from a command (an unknown one is stored as
/// given, for the record).
const MAX_TEMPLATE_NAME: usize = 64;

/// `POST /internal/notifications/events`: records the event's
/// notifications in its transaction, then delivers them.
pub async fn deliver(
    req: &Request,
    ctx: &Context,
    db: &Db,
    providers: &Providers,
) -> Result<Response, ApiError> {
    let event = inbox::parse(req)?;
    let mut created = Vec::new();
    let outcome = inbox::process_once(db, &event, |db| {
        created = apply(db, &event, providers, now_ms())?;
        Ok(())
    })?;
    delivery::deliver_all(db, ctx, providers, &created).await;
    Ok(inbox::reply(&event, outcome))
}

/// The effects of one event; other event types change nothing.
pub fn apply(
    db: &Db,
    event: &Event,
    providers: &Providers,
    now: i64,
) -> Result<Vec<Created>, ApiError> {
    let drafts = match event.0.type_.as_str() {
        "user.registered" => {
            let p: UserRegistered = event.payload()?;
            let contact = Contact {
                user_id: domain::user_id("payload.user_id", &p.user_id)?,
                email: validate::email("payload.email", &p.email)?,
                name: validate::required_text("payload.name", &p.name, 200)?,
            };
            store::upsert_contact(db, &contact, now)?;
            compose::from_template(
                &contact.user_id,
                &[Channel::Email],
                "welcome",
                Priority::Normal,
                &json!({ "name": contact.name }),
            )
        }
        "order.created" => {
            let p: OrderCreated = event.payload()?;
            let info = OrderInfo {
                user_id: domain::user_id("payload.user_id", &p.user_id)?,
                total_cents: Some(p.total_cents),
                currency: p.currency,
            };
            store::remember_order(db, &order_id(&p.order_id)?, &info, now)?;
            Vec::new()
        }
        "order.confirmed" => {
            let p: OrderConfirmed = event.payload()?;
            let order_id = order_id(&p.order_id)?;
            let user_id = domain::user_id("payload.user_id", &p.user_id)?;
            let currency = store::order(db, &order_id)?
                .map(|o| o.currency)
                .unwrap_or_default();
            transactional(
                db,
                &user_id,
                "order_confirmed",
                Priority::Normal,
                json!({
                    "order_id": order_id,
                    "total_cents": p.total_cents,
                    "currency": currency,
                    "payment_id": p.payment_id,
                }),
            )?
        }
        "order.cancelled" => {
            let p: OrderCancelled = event.payload()?;
            let user_id = domain::user_id("payload.user_id", &p.user_id)?;
            transactional(
                db,
                &user_id,
                "order_cancelled",
                Priority::High,
                json!({ "order_id": order_id(&p.order_id)?, "reason": p.reason }),
            )?
        }
        "payment.failed" => {
            let p: PaymentFailed = event.payload()?;
            let order_id = order_id(&p.order_id)?;
            match owner(db, &order_id, event)? {
                Some(o) => transactional(
                    db,
                    &o.user_id,
                    "payment_failed",
                    Priority::High,
                    json!({ "order_id": order_id, "reason": p.reason }),
                )?,
                None => Vec::new(),
            }
        }
        "payment.refunded" => {
            let p: PaymentRefunded = event.payload()?;
            let order_id = order_id(&p.order_id)?;
            match owner(db, &order_id, event)? {
                Some(o) => transactional(
                    db,
                    &o.user_id,
                    "payment_refunded",
                    Priority::Normal,
                    json!({
                        "order_id": order_id,
                        "payment_id": p.payment_id,
                        "amount_cents": p.amount_cents,
                        "currency": o.currency,
                    }),
                )?,
                None => Vec::new(),
            }
        }
        "inventory.low_stock" => {
            let p: LowStock = event.payload()?;
            let data = json!({
                "product_id": p.product_id,
                "available": p.available,
                "threshold": p.threshold,
            });
            admins(db, providers)?
                .iter()
                .flat_map(|user_id| {
                    compose::from_template(
                        user_id,
                        &[Channel::Email],
                        "low_stock",
                        Priority::High,
                        &data,
                    )
                })
                .collect()
        }
        "notification.requested" => requested(db, event)?,
        // Other events on subscribed topics are not ours to act on.
        _ => Vec::new(),
    };
    compose::record(
        db,
        drafts,
        Some((event.0.id.as_str(), event.0.type_.as_str())),
        providers,
        now,
    )
}

fn order_id(id: &str) -> Result<String, ApiError> {
    domain::user_id("payload.order_id", id)
}

/// The order's owner, as remembered from `order.created`. An order never
/// seen is logged and its event ignored: there is nobody to tell.
fn owner(db: &Db, order_id: &str, event: &Event) -> Result<Option<OrderInfo>, ApiError> {
    let info = store::order(db, order_id)?;
    if info.is_none() {
        platform::redis_store::log_warning(
            "notification_unknown_order",
            &format!(
                "{} for unknown order {order_id}: nobody to notify",
                event.0.type_
            ),
        );
    }
    Ok(info)
}

/// An order or payment notification on the user's transactional channels.
fn transactional(
    db: &Db,
    user_id: &str,
    template: &str,
    priority: Priority,
    data: Value,
) -> Result<Vec<Draft>, ApiError> {
    let channels = store::preferences(db, user_id)?.transactional_channels();
    let data = compose::with_name(db, user_id, data)?;
    Ok(compose::from_template(
        user_id, &channels, template, priority, &data,
    ))
}

/// The admins: users whose remembered address is `admin_email`, else the
/// audience `admins`.
fn admins(db: &Db, providers: &Providers) -> Result<Vec<String>, ApiError> {
    let known = if providers.admin_email.is_empty() {
        Vec::new()
    } else {
        store::contacts_by_email(db, &providers.admin_email)?
    };
    Ok(if known.is_empty() {
        vec![ADMINS.to_string()]
    } else {
        known.into_iter().map(|c| c.user_id).collect()
    })
}

/// `notification.requested`: one notification as the command says.
fn requested(db: &Db, event: &Event) -> Result<Vec<Draft>, ApiError> {
    let p: NotificationRequested = event.payload()?;
    let user_id = if p.user_id == ADMINS {
        p.user_id
    } else {
        domain::user_id("payload.user_id", &p.user_id)?
    };
    let channel = Channel::parse("payload.channel", &p.channel)?;
    let priority = Priority::parse("payload.priority", Some(&p.priority))?;
    let data: Value = if p.data.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(&p.data)
            .map_err(|_| ApiError::invalid("payload.data", "must be a JSON object"))?
    };
    if !data.is_object() {
        return Err(ApiError::invalid("payload.data", "must be a JSON object"));
    }
    let template: String = p.template.chars().take(MAX_TEMPLATE_NAME).collect();
    let data = compose::with_name(db, &user_id, data)?;
    Ok(vec![Draft {
        content: templates::render(&template, channel, &data),
        user_id,
        channel,
        template,
        priority,
    }])
}
