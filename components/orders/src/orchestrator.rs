//! The saga's service: places orders, carries out the saga's decisions
//! (the order's conditional update, the commands and events it sends
//! through the outbox, and its history row, all in one transaction) and
//! times out steps that waited too long. HTTP handlers, event handlers and
//! the tick all come through here.

use platform::clock::now_ms;
use platform::component::report;
use platform::db::Db;
use platform::events::{
    CommitReservation, Envelope, Event, Line, OrderCancelled, OrderConfirmed, OrderCreated,
    Payload, PaymentRequested, RefundRequested, ReleaseReservation, ReserveStock,
};
use platform::{outbox, ApiError, Context, Id, Report};
use serde_json::json;

use crate::domain::saga::{self, Change, Command, Decision, SagaInput};
use crate::store::{self, HistoryEntry, Order};

/// Orders compensated per tick, at most (the next tick takes the rest).
const TIMEOUT_BATCH: u32 = 200;
/// `saga_step_timeout_secs` when unset or unreadable.
const DEFAULT_STEP_TIMEOUT_SECS: u64 = 60;

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

fn event<P: Payload>(ctx: &Context, cause: Cause<'_>, payload: &P) -> Result<Event, ApiError> {
    let event = Event::new(payload, ctx, cause.event)?;
    Ok(match cause.correlation_id {
        Some(correlation_id) => event.in_chain(correlation_id),
        None => event,
    })
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
            &ReleaseReservation::for_order(id, reservation_id.as_deref(), reason),
        ),
        Command::RequestPayment => event(
            ctx,
            cause,
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
            &CommitReservation::for_order(id, reservation_id.as_deref()),
        ),
        Command::RefundPayment { payment_id, reason } => event(
            ctx,
            cause,
            &RefundRequested {
                payment_id: payment_id.clone(),
                order_id: id.into(),
                reason: reason.clone(),
            },
        ),
        Command::AnnounceConfirmed { payment_id } => event(
            ctx,
            cause,
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
    db: &Db,
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
            at_ms: now_ms(),
            event_type,
            event_id,
            detail: Some(change.detail.clone()),
        },
    )?;
    Ok(true)
}

/// Writes a new order: the order and its lines, its first history row,
/// `order.created` and the `inventory.reserve` command that starts the
/// saga, offering inventory the customer's `hold_ids` (if any) to become
/// the order's reservation.
pub fn start(
    db: &Db,
    ctx: &Context,
    order: &Order,
    reservation_ttl_secs: u32,
    hold_ids: &[Id],
) -> Result<(), ApiError> {
    store::insert(db, order)?;
    let lines: Vec<Line> = order
        .lines
        .iter()
        .map(|l| Line {
            product_id: l.product_id.clone(),
            quantity: l.quantity,
        })
        .collect();
    let cause = Cause::request();
    let created = event(
        ctx,
        cause,
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
        &ReserveStock {
            order_id: order.id.clone(),
            lines,
            ttl_seconds: reservation_ttl_secs,
            user_id: Some(order.user_id.clone()),
            hold_ids: (!hold_ids.is_empty())
                .then(|| hold_ids.iter().map(|id| id.as_str().to_string()).collect()),
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

/// Feeds an answer from inventory or payments to the saga of its order.
/// An answer about an order this component does not have is not its own;
/// it is acknowledged and changes nothing.
pub fn answer(
    db: &Db,
    ctx: &Context,
    envelope: &Envelope,
    order_id: &str,
    input: SagaInput,
) -> Result<(), ApiError> {
    let Some(order) = store::get(db, order_id)? else {
        return Ok(());
    };
    let input = saga::check_reservation(input, &order.lines);
    match saga::decide(&order.saga_state(), &input) {
        Decision::Apply(change) => {
            carry_out(db, ctx, &order, &change, Cause::event(envelope))?;
        }
        Decision::Ignore | Decision::Refuse(_) => {}
    }
    Ok(())
}

/// How long a saga step may wait for its answer.
fn step_timeout_secs() -> u64 {
    spin_sdk::variables::get("saga_step_timeout_secs")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&secs: &u64| secs > 0)
        .unwrap_or(DEFAULT_STEP_TIMEOUT_SECS)
}

/// Tick work: compensates pending orders whose step timed out, one
/// transaction per order (re-read, so an answer that arrived meanwhile
/// wins over the timeout).
pub fn time_out_stalled(ctx: &Context) -> Result<Report, ApiError> {
    let db = ctx.db()?;
    let timeout = step_timeout_secs();
    let limit_ms = i64::try_from(timeout.saturating_mul(1000)).unwrap_or(i64::MAX);
    let candidates = store::stalled(db, now_ms().saturating_sub(limit_ms), TIMEOUT_BATCH)?;
    let mut timed_out = 0u32;
    for id in &candidates {
        let compensated = db.transaction(|db| {
            let Some(order) = store::get(db, id)? else {
                return Ok(false);
            };
            if !saga::timed_out(order.step_started_at_ms, now_ms(), timeout) {
                return Ok(false);
            }
            match saga::decide(&order.saga_state(), &SagaInput::StepTimedOut) {
                Decision::Apply(change) => carry_out(
                    db,
                    ctx,
                    &order,
                    &change,
                    Cause::continuing(&order.correlation_id),
                ),
                Decision::Ignore | Decision::Refuse(_) => Ok(false),
            }
        })?;
        timed_out += u32::from(compensated);
    }
    Ok(report(json!({ "timed_out": timed_out })))
}
