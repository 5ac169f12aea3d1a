//! Payments' workflows, for the saga's commands and for admins alike:
//! charging through the provider and recording the outcome (with its
//! event, for an order's payment), and refunding. No transaction is held
//! across a provider call: the provider is called first (its idempotency
//! key makes a repeated call harmless), then the outcome and its event are
//! written in one transaction.

use platform::db::Db;
use platform::events::{
    Envelope, PaymentFailed, PaymentRefunded, PaymentRequested, PaymentSucceeded, RefundRequested,
};
use platform::inbox::Delivery;
use platform::{outbox, ApiError, Context, Id};

use crate::domain::{self, ChargeSpec, FailureReason, Status};
use crate::provider::{ChargeOutcome, Provider};
use crate::store::{self, NewPayment, Payment};

/// `payment.requested`: charges the order once. Ids that are not ids are
/// the sender's bug (422, dead-lettered); a bad amount or currency is the
/// payment's failure, answered with `payment.failed`.
pub async fn charge_order<E>(
    ctx: &Context,
    delivery: &Delivery<'_, E>,
    request: &PaymentRequested,
) -> Result<(), ApiError> {
    let db = delivery.db;
    let (order_id, spec) = domain::requested(request)?;
    if store::by_order(db, order_id.as_str())?.is_some() {
        // One payment per order: a repeated request changes nothing.
        return Ok(());
    }
    let (spec, outcome) = match spec {
        Ok(spec) => {
            let outcome = Provider::from_variables()
                .charge(ctx, order_id.as_str(), &spec)
                .await;
            (spec, outcome)
        }
        Err(e) => {
            platform::redis_store::log_warning("payment_invalid", &format!("{order_id}: {e}"));
            let spec = ChargeSpec {
                user_id: request.user_id.clone(),
                // Recorded as asked (within what a column can show).
                amount_cents: request.amount_cents.max(0),
                currency: request.currency.chars().take(8).collect(),
                reference: order_id.to_string(),
            };
            let outcome = ChargeOutcome::Failed {
                reason: FailureReason::InvalidRequest,
                attempts: 0,
            };
            (spec, outcome)
        }
    };
    delivery.commit(|db| {
        if store::by_order(db, order_id.as_str())?.is_some() {
            // A concurrent delivery recorded it while we called.
            return Ok(());
        }
        record_charge(
            db,
            ctx,
            Some(delivery.envelope()),
            Some(order_id.as_str()),
            &spec,
            &outcome,
        )
        .map(|_| ())
    })?;
    Ok(())
}

/// Records a charge's outcome; for an order's payment also its
/// `payment.succeeded` or `payment.failed`.
pub fn record_charge(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    order_id: Option<&str>,
    spec: &ChargeSpec,
    outcome: &ChargeOutcome,
) -> Result<Payment, ApiError> {
    db.transaction(|db| {
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
                id: Id::generate().as_str(),
                order_id,
                spec,
                outcome: result,
                attempts,
            },
        )?;
        let Some(order_id) = order_id else {
            return Ok(payment);
        };
        match result {
            Ok(_) => outbox::publish(
                db,
                ctx,
                &PaymentSucceeded {
                    payment_id: payment.id.clone(),
                    order_id: order_id.to_string(),
                    amount_cents: payment.amount_cents,
                },
                cause,
            )?,
            Err(reason) => outbox::publish(
                db,
                ctx,
                &PaymentFailed {
                    order_id: order_id.to_string(),
                    reason: reason.as_str().to_string(),
                },
                cause,
            )?,
        };
        Ok(payment)
    })
}

/// `payment.refund_requested`: refunds the order's charge, if it still
/// stands. A provider failure is a 503: the bridge redelivers later.
pub async fn refund_order<E>(
    ctx: &Context,
    delivery: &Delivery<'_, E>,
    command: &RefundRequested,
) -> Result<(), ApiError> {
    let payment_id = Id::parse("payload.payment_id", &command.payment_id)?;
    let payment = store::get(delivery.db, payment_id.as_str())?.ok_or_else(|| {
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
        return Ok(());
    }
    let refund_ref = refund_at_provider(ctx, &payment).await?;
    delivery.commit(|db| {
        record_refund(
            db,
            ctx,
            Some(delivery.envelope()),
            &payment,
            &refund_ref,
            &reason,
        )
    })?;
    Ok(())
}

/// Refunds a payment's charge at the provider; returns the refund id.
pub async fn refund_at_provider(ctx: &Context, payment: &Payment) -> Result<String, ApiError> {
    let charge_id = payment
        .provider_ref
        .as_deref()
        .ok_or_else(|| ApiError::internal(format!("payment {} has no charge", payment.id)))?;
    Provider::from_variables()
        .refund(ctx, &format!("refund-{}", payment.id), charge_id)
        .await
}

/// Marks a payment refunded and, for an order's payment, publishes
/// `payment.refunded`; `None` if it was no longer refundable.
pub fn record_refund(
    db: &Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    payment: &Payment,
    refund_ref: &str,
    reason: &str,
) -> Result<Option<Payment>, ApiError> {
    db.transaction(|db| {
        if !store::mark_refunded(db, &payment.id, refund_ref, reason)? {
            return Ok(None);
        }
        if let Some(order_id) = &payment.order_id {
            let refunded = PaymentRefunded {
                payment_id: payment.id.clone(),
                order_id: order_id.clone(),
                amount_cents: payment.amount_cents,
            };
            outbox::publish(db, ctx, &refunded, cause)?;
        }
        store::get(db, &payment.id)
    })
}
