//! Carries out the saga's decisions: the order's conditional update, the
//! commands and events it sends (appended to the outbox) and its history
//! row, all in the caller's transaction.

use platform::events::{
    topics, CommitReservation, Envelope, Event, OrderCancelled, OrderConfirmed, OrderCreated,
    PaymentRequested, RefundRequested, ReleaseReservation, ReserveStock,
};
use platform::{outbox, ApiError, Context};
use serde::Serialize;

use crate::domain::saga::{Change, Command};
use crate::store::{self, HistoryEntry, Order};

/// Why a change happens: an event being handled, or (for a user's request
/// or a tick) nothing that travels as an event.
#[derive(Debug, Clone, Copy)]
pub struct Cause<'a> {
    /// The event handled; what the saga emits is caused by it and keeps
    /// its correlation id.
    pub event: Option<&'a Envelope>,
    /// Without an event: the correlation id to keep (a timeout continues
    /// the chain its order started); `None` starts a new chain at the
    /// request (a user's cancel is a new user action).
    pub correlation_id: Option<&'a str>,
}

impl<'a> Cause<'a> {
    pub fn event(event: &'a Envelope) -> Self {
        Self {
            event: Some(event),
            correlation_id: None,
        }
    }

    pub fn request() -> Self {
        Self {
            event: None,
            correlation_id: None,
        }
    }

    pub fn continuing(correlation_id: &'a str) -> Self {
        Self {
            event: None,
            correlation_id: Some(correlation_id),
        }
    }
}

fn event<P: Serialize>(
    ctx: &Context,
    cause: Cause<'_>,
    event_type: &str,
    topic: &str,
    order_id: &str,
    payload: &P,
) -> Result<Event, ApiError> {
    let mut event = Event::new(event_type, topic, order_id, payload, ctx, cause.event)?;
    if let Some(correlation_id) = cause.correlation_id {
        event.0.correlation_id = correlation_id.to_string();
    }
    Ok(event)
}

/// The event a command becomes.
fn command_event(
    ctx: &Context,
    cause: Cause<'_>,
    order: &Order,
    command: &Command,
) -> Result<Event, ApiError> {
    let id = order.id.as_str();
    match command {
        Command::ReleaseStock {
            reservation_id,
            reason,
        } => event(
            ctx,
            cause,
            "inventory.release",
            topics::INVENTORY_COMMANDS,
            id,
            &ReleaseReservation {
                order_id: id.into(),
                reservation_id: reservation_id.clone(),
                reason: reason.clone(),
            },
        ),
        Command::RequestPayment => event(
            ctx,
            cause,
            "payment.requested",
            topics::PAYMENTS_COMMANDS,
            id,
            &PaymentRequested {
                order_id: id.into(),
                user_id: order.user_id.clone(),
                amount_cents: order.total_cents,
                currency: order.currency.clone(),
            },
        ),
        Command::CommitStock { reservation_id } => event(
            ctx,
            cause,
            "inventory.commit",
            topics::INVENTORY_COMMANDS,
            id,
            &CommitReservation {
                order_id: id.into(),
                reservation_id: reservation_id.clone(),
            },
        ),
        Command::RefundPayment { payment_id, reason } => event(
            ctx,
            cause,
            "payment.refund_requested",
            topics::PAYMENTS_COMMANDS,
            id,
            &RefundRequested {
                payment_id: payment_id.clone(),
                order_id: id.into(),
                reason: reason.clone(),
            },
        ),
        Command::AnnounceConfirmed { payment_id } => event(
            ctx,
            cause,
            "order.confirmed",
            topics::ORDERS,
            id,
            &OrderConfirmed {
                order_id: id.into(),
                user_id: order.user_id.clone(),
                total_cents: order.total_cents,
                payment_id: payment_id.clone(),
            },
        ),
        Command::AnnounceCancelled { reason } => event(
            ctx,
            cause,
            "order.cancelled",
            topics::ORDERS,
            id,
            &OrderCancelled {
                order_id: id.into(),
                user_id: order.user_id.clone(),
                reason: reason.clone(),
            },
        ),
    }
}

/// Applies `change` to `order` (still as read in this transaction) and
/// sends its commands. False, with nothing written, if the order is no
/// longer where it was read.
pub fn carry_out(
    db: &platform::db::Db,
    ctx: &Context,
    order: &Order,
    change: &Change,
    cause: Cause<'_>,
) -> Result<bool, ApiError> {
    if !store::apply(db, &order.id, (order.status, order.step), change)? {
        return Ok(false);
    }
    // History names the event that caused the step; a request or a tick
    // travels as no event, so it names the announcement it made instead.
    let mut named = cause.event.map(|e| (e.type_.clone(), e.id.clone()));
    for command in &change.commands {
        let event = command_event(ctx, cause, order, command)?;
        outbox::append(db, &event)?;
        let announces = matches!(
            command,
            Command::AnnounceCancelled { .. } | Command::AnnounceConfirmed { .. }
        );
        if named.is_none() && announces {
            named = Some((event.0.type_.clone(), event.0.id.clone()));
        }
    }
    let (status, step) = change.next.unwrap_or((order.status, order.step));
    let (event_type, event_id) = named.unzip();
    store::append_history(
        db,
        &order.id,
        &HistoryEntry {
            step,
            status,
            at_ms: platform::db::now_ms(),
            event_type,
            event_id,
            detail: Some(change.detail.clone()),
        },
    )?;
    Ok(true)
}

/// Writes a new order: the order and its lines, its first history row,
/// `order.created` and the `inventory.reserve` command that starts the saga.
pub fn start(
    db: &platform::db::Db,
    ctx: &Context,
    order: &Order,
    reservation_ttl_secs: u32,
) -> Result<(), ApiError> {
    store::insert(db, order)?;
    let lines: Vec<platform::events::Line> = order
        .lines
        .iter()
        .map(|l| platform::events::Line {
            product_id: l.product_id.clone(),
            quantity: l.quantity,
        })
        .collect();
    let cause = Cause::request();
    let created = event(
        ctx,
        cause,
        "order.created",
        topics::ORDERS,
        &order.id,
        &OrderCreated {
            order_id: order.id.clone(),
            user_id: order.user_id.clone(),
            lines: lines.clone(),
            total_cents: order.total_cents,
            currency: order.currency.clone(),
        },
    )?;
    let reserve = event(
        ctx,
        cause,
        "inventory.reserve",
        topics::INVENTORY_COMMANDS,
        &order.id,
        &ReserveStock {
            order_id: order.id.clone(),
            lines,
            ttl_seconds: reservation_ttl_secs,
        },
    )?;
    outbox::append(db, &created)?;
    outbox::append(db, &reserve)?;
    store::append_history(
        db,
        &order.id,
        &HistoryEntry {
            step: order.step,
            status: order.status,
            at_ms: order.created_at_ms,
            event_type: Some(created.0.type_.clone()),
            event_id: Some(created.0.id.clone()),
            detail: Some("order placed; stock reservation requested".into()),
        },
    )
}
