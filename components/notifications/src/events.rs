//! Events in: what users, orders, payments and stock do becomes
//! notifications; `notification.requested` commands ask for one directly.
//!
//! A command with an unknown template (or data its template cannot
//! render) is recorded as a `failed` notification with the reason and
//! answered 2xx: the recipient and channel are valid, so the failure is
//! visible in that user's history and the partition moves on. A command
//! that names no valid recipient, channel or priority, or whose data is
//! not a JSON object, is a 422, which the bridge dead-letters.

use platform::clock::now_ms;
use platform::db::Db;
use platform::domain::{Email, Id};
use platform::events::{Envelope, NotificationRequested};
use platform::inbox::Delivery;
use platform::{validate, ApiError, Context, LocalBoxFuture};
use serde_json::{json, Value};

use crate::compose::{self, Draft};
use crate::delivery::{self, Providers};
use crate::domain::{Channel, Priority, ADMINS};
use crate::store::{self, Contact, OrderInfo};
use crate::templates;

/// Longest template name kept from a command (an unknown one is stored as
/// given, for the record).
const MAX_TEMPLATE_NAME: usize = 64;

platform::event_set! {
    /// What notifications react to.
    pub enum Inbound {
        UserRegistered,
        OrderCreated,
        OrderConfirmed,
        OrderCancelled,
        PaymentFailed,
        PaymentRefunded,
        LowStock,
        NotificationRequested,
    }
}

/// Records the event's notifications in its transaction, then delivers
/// them (outbound calls, after the commit).
pub fn handle<'d>(
    ctx: &'d Context,
    delivery: Delivery<'d, Inbound>,
) -> LocalBoxFuture<'d, Result<(), ApiError>> {
    Box::pin(async move {
        let providers = Providers::from_variables();
        let created = delivery
            .commit(|db| {
                apply(
                    db,
                    delivery.envelope(),
                    &delivery.event,
                    &providers,
                    now_ms(),
                )
            })?
            .unwrap_or_default();
        delivery::deliver_all(delivery.db, ctx, &providers, &created).await;
        Ok(())
    })
}

fn user_id(field: &str, value: &str) -> Result<String, ApiError> {
    Id::parse(field, value).map(Id::into_string)
}

/// The effects of one event: what it tells whom.
pub fn apply(
    db: &Db,
    envelope: &Envelope,
    event: &Inbound,
    providers: &Providers,
    now: i64,
) -> Result<Vec<compose::Created>, ApiError> {
    let drafts = match event {
        Inbound::UserRegistered(p) => {
            let contact = Contact {
                user_id: user_id("payload.user_id", &p.user_id)?,
                email: Email::parse("payload.email", &p.email)?.into_string(),
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
        Inbound::OrderCreated(p) => {
            let info = OrderInfo {
                user_id: user_id("payload.user_id", &p.user_id)?,
                total_cents: Some(p.total_cents),
                currency: p.currency.clone(),
            };
            store::remember_order(db, &order_id(&p.order_id)?, &info, now)?;
            Vec::new()
        }
        Inbound::OrderConfirmed(p) => {
            let order_id = order_id(&p.order_id)?;
            let user_id = user_id("payload.user_id", &p.user_id)?;
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
        Inbound::OrderCancelled(p) => {
            let user_id = user_id("payload.user_id", &p.user_id)?;
            transactional(
                db,
                &user_id,
                "order_cancelled",
                Priority::High,
                json!({ "order_id": order_id(&p.order_id)?, "reason": p.reason }),
            )?
        }
        Inbound::PaymentFailed(p) => {
            let order_id = order_id(&p.order_id)?;
            match owner(db, &order_id, envelope)? {
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
        Inbound::PaymentRefunded(p) => {
            let order_id = order_id(&p.order_id)?;
            match owner(db, &order_id, envelope)? {
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
        Inbound::LowStock(p) => {
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
        Inbound::NotificationRequested(p) => requested(db, p)?,
    };
    compose::record(
        db,
        drafts,
        Some((envelope.id.as_str(), envelope.type_.as_str())),
        providers,
        now,
    )
}

fn order_id(id: &str) -> Result<String, ApiError> {
    user_id("payload.order_id", id)
}

/// The order's owner, as remembered from `order.created`. An order never
/// seen is logged and its event ignored: there is nobody to tell.
fn owner(db: &Db, order_id: &str, event: &Envelope) -> Result<Option<OrderInfo>, ApiError> {
    let info = store::order(db, order_id)?;
    if info.is_none() {
        platform::redis_store::log_warning(
            "notification_unknown_order",
            &format!(
                "{} for unknown order {order_id}: nobody to notify",
                event.type_
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
fn requested(db: &Db, p: &NotificationRequested) -> Result<Vec<Draft>, ApiError> {
    let user_id = if p.user_id == ADMINS {
        p.user_id.clone()
    } else {
        user_id("payload.user_id", &p.user_id)?
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
