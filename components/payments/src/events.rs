//! Events in and out: `payment.requested` charges an order once,
//! `payment.refund_requested` refunds a charge; outcomes go out as
//! `payment.succeeded|failed|refunded` through the outbox.
//!
//! No transaction is held across a provider call: duplicates are looked
//! for first, then the provider is called (its idempotency key makes a
//! repeated call harmless), then the outcome, its event and the
//! processed-event mark are written in one transaction.

use platform::db::Db;
use platform::events::{
    new_id, topics, Envelope, Event, PaymentFailed, PaymentRefunded, PaymentRequested,
    PaymentSucceeded, RefundRequested,
};
use platform::inbox::{self, Outcome};
use platform::{outbox, ApiError, Context, Method, Request, Response};
use serde_json::json;

use crate::domain::{self, ChargeSpec, FailureReason, Status};
use crate::provider::{ChargeOutcome, Provider};
use crate::store::{self, NewPayment, Payment};

/// `POST /internal/payments/events`.
pub fn deliver(req: &Request, ctx: &Context, db: &Db) -> Result<Response, ApiError> {
    if req.method != Method::Post {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    let event = inbox::parse(req)?;
    if store::processed(db, &event.0.id)? {
        return Ok(inbox::reply(&event, Outcome::Duplicate));
    }
    let outcome = match event.0.type_.as_str() {
        "payment.requested" => payment_requested(db, ctx, &event)?,
        "payment.refund_requested" => refund_requested(db, ctx, &event)?,
        // Other events on subscribed topics are not ours to act on.
        _ => inbox::process_once(db, &event, |_| Ok(()))?,
    };
    Ok(inbox::reply(&event, outcome))
}

fn payment_requested(db: &Db, ctx: &Context, event: &Event) -> Result<Outcome, ApiError> {
    let request: PaymentRequested = event.payload()?;
    let (order_id, spec) = domain::requested(&request)?;
    if store::by_order(db, &order_id)?.is_some() {
        // One payment per order: a repeated request changes nothing.
        return inbox::process_once(db, event, |_| Ok(()));
    }
    let (spec, outcome) = match spec {
        Ok(spec) => {
            let outcome = Provider::from_variables().charge(ctx, &order_id, &spec);
            (spec, outcome)
        }
        Err(e) => {
            platform::redis_store::log_warning("payment_invalid", &format!("{order_id}: {e}"));
            let spec = ChargeSpec {
                user_id: request.user_id.clone(),
                // Recorded as asked (within what a column can show).
                amount_cents: request.amount_cents.max(0),
                currency: request.currency.chars().take(8).collect(),
                reference: order_id.clone(),
            };
            let outcome = ChargeOutcome::Failed {
                reason: FailureReason::InvalidRequest,
                attempts: 0,
            };
            (spec, outcome)
        }
    };
    inbox::process_once(db, event, |db| {
        if store::by_order(db, &order_id)?.is_some() {
            // A concurrent delivery recorded it while we called.
            return Ok(());
        }
        record_charge(db, ctx, Some(&event.0), Some(&order_id), &spec, &outcome)?;
        Ok(())
    })
}

/// Records a charge's outcome; for an order's payment also its
/// `payment.succeeded` or `payment.failed`. Call inside a transaction.
pub fn record_charge(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    order_id: Option<&str>,
    spec: &ChargeSpec,
    outcome: &ChargeOutcome,
) -> Result<Payment, ApiError> {
    let id = new_id();
    let (result, attempts) = match outcome {
        ChargeOutcome::Succeeded {
            charge_id,
            attempts,
        } => (Ok(charge_id.as_str()), *attempts),
        ChargeOutcome::Failed { reason, attempts } => (Err(*reason), *attempts),
    };
    let payment = store::insert(
        db,
        &NewPayment {
            id: &id,
            order_id,
            spec,
            outcome: result,
            attempts,
        },
    )?;
    let Some(order_id) = order_id else {
        return Ok(payment);
    };
    let event = match result {
        Ok(_) => Event::new(
            "payment.succeeded",
            topics::PAYMENTS,
            order_id,
            &PaymentSucceeded {
                payment_id: payment.id.clone(),
                order_id: order_id.to_string(),
                amount_cents: payment.amount_cents,
            },
            ctx,
            cause,
        )?,
        Err(reason) => Event::new(
            "payment.failed",
            topics::PAYMENTS,
            order_id,
            &PaymentFailed {
                order_id: order_id.to_string(),
                reason: reason.as_str().to_string(),
            },
            ctx,
            cause,
        )?,
    };
    outbox::append(db, &event)?;
    Ok(payment)
}

fn refund_requested(db: &Db, ctx: &Context, event: &Event) -> Result<Outcome, ApiError> {
    let command: RefundRequested = event.payload()?;
    let payment_id = domain::id("payload.payment_id", &command.payment_id)?;
    let payment = store::get(db, &payment_id)?.ok_or_else(|| {
        ApiError::invalid("payload.payment_id", format!("no payment {payment_id}"))
    })?;
    if payment.order_id.as_deref() != Some(command.order_id.as_str()) {
        return Err(ApiError::invalid(
            "payload.order_id",
            format!(
                "payment {payment_id} does not pay order {}",
                command.order_id
            ),
        ));
    }
    let reason = platform::validate::required_text("payload.reason", &command.reason, 200)
        .unwrap_or_else(|_| "order_cancelled".to_string());
    if payment.status != Status::Succeeded {
        // Already refunded, or never charged: nothing to give back.
        return inbox::process_once(db, event, |_| Ok(()));
    }
    // A provider failure is a 503: the bridge redelivers later.
    let refund_ref = refund_at_provider(ctx, &payment)?;
    inbox::process_once(db, event, |db| {
        record_refund(db, ctx, Some(&event.0), &payment, &refund_ref, &reason).map(|_| ())
    })
}

/// Refunds a payment's charge at the provider; returns the refund id.
pub fn refund_at_provider(ctx: &Context, payment: &Payment) -> Result<String, ApiError> {
    let charge_id = payment
        .provider_ref
        .as_deref()
        .ok_or_else(|| ApiError::internal(format!("payment {} has no charge", payment.id)))?;
    Provider::from_variables().refund(ctx, &format!("refund-{}", payment.id), charge_id)
}

/// Marks a payment refunded and, for an order's payment, emits
/// `payment.refunded`; `None` if it was no longer refundable. Call inside
/// a transaction.
pub fn record_refund(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    payment: &Payment,
    refund_ref: &str,
    reason: &str,
) -> Result<Option<Payment>, ApiError> {
    if !store::mark_refunded(db, &payment.id, refund_ref, reason)? {
        return Ok(None);
    }
    if let Some(order_id) = &payment.order_id {
        let event = Event::new(
            "payment.refunded",
            topics::PAYMENTS,
            order_id,
            &PaymentRefunded {
                payment_id: payment.id.clone(),
                order_id: order_id.clone(),
                amount_cents: payment.amount_cents,
            },
            ctx,
            cause,
        )?;
        outbox::append(db, &event)?;
    }
    store::get(db, &payment.id)
}

/// `POST /internal/payments/tick`: forgets saved idempotent responses past
/// their retention.
pub fn tick(req: &Request, db: &Db) -> Result<Response, ApiError> {
    if req.method != Method::Post {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    let purged = platform::idempotency::purge_expired(db)?;
    Ok(Response::json(
        200,
        &json!({ "idempotency_keys_purged": purged }),
    ))
}
