//! The public HTTP API: payments for their owners and admins, admin
//! refunds and direct charges, and the provider's health as the circuit
//! breaker sees it.

use platform::auth::{self, Principal};
use platform::db::Db;
use platform::events::{new_id, rfc3339_from_ms};
use platform::idempotency::{self, Lookup};
use platform::pagination::{self, PageRequest};
use platform::validate::cents_to_json;
use platform::{ratelimit, ApiError, Context, Method, Request, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::domain::{self, DirectCharge, FailureReason, RefundBody, Status};
use crate::events::{record_charge, record_refund, refund_at_provider};
use crate::provider::{ChargeOutcome, Provider};
use crate::store::{self, Payment};
use crate::DATABASE;

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

pub fn route(req: &Request, ctx: &Context, segments: &[&str]) -> Result<Response, ApiError> {
    let ["api", "payments", rest @ ..] = segments else {
        return Err(ApiError::NotFound(format!("no route for {}", req.path)));
    };
    match (req.method, rest) {
        // Health is for monitors: not rate limited, no credentials.
        (Method::Get, ["health"]) => health(),
        (_, ["health"]) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        _ => ratelimit::limited(req, ctx, "payments", || dispatch(req, ctx, rest)),
    }
}

fn dispatch(req: &Request, ctx: &Context, rest: &[&str]) -> Result<Response, ApiError> {
    match (req.method, rest) {
        (Method::Get, []) => list(req),
        (Method::Post, []) => create(req, ctx),
        (_, []) => Err(ApiError::MethodNotAllowed { allow: "GET, POST" }),
        (Method::Get, [id]) => get(req, id),
        (_, [_]) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        (Method::Post, [id, "refund"]) => refund(req, ctx, id),
        (_, [_, "refund"]) => Err(ApiError::MethodNotAllowed { allow: "POST" }),
        _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
    }
}

fn open_db() -> Result<Db, ApiError> {
    Db::open(DATABASE, store::MIGRATIONS)
}

/// A payment as clients see it.
pub fn payment_json(p: &Payment) -> serde_json::Value {
    json!({
        "id": p.id,
        "order_id": p.order_id,
        "user_id": p.user_id,
        "amount_cents": p.amount_cents,
        "amount": cents_to_json(p.amount_cents),
        "currency": p.currency,
        "status": p.status.as_str(),
        "reason": p.reason,
        "provider_ref": p.provider_ref,
        "reference": p.reference,
        "refund_ref": p.refund_ref,
        "refund_reason": p.refund_reason,
        "attempts": p.attempts,
        "created_at": rfc3339_from_ms(p.created_at_ms),
        "updated_at": rfc3339_from_ms(p.updated_at_ms),
    })
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no payment {id}"))
}

/// The payment, if `principal` may see it (its owner, or an admin).
fn visible(db: &Db, principal: &Principal, id: &str) -> Result<Payment, ApiError> {
    match store::get(db, id)? {
        Some(p) if principal.can_access(&p.user_id) => Ok(p),
        _ => Err(not_found(id)),
    }
}

fn get(req: &Request, id: &str) -> Result<Response, ApiError> {
    let principal = auth::require_user(req)?;
    let id = domain::id("id", id)?;
    let payment = visible(&open_db()?, &principal, &id)?;
    Ok(Response::json(200, &payment_json(&payment)))
}

fn list(req: &Request) -> Result<Response, ApiError> {
    let principal = auth::require_user(req)?;
    let page = PageRequest::from_request(req, DEFAULT_LIMIT, MAX_LIMIT)?;
    let order_id = req
        .query_param("order_id")
        .map(|o| domain::id("order_id", &o))
        .transpose()?;
    // Customers see their own; an admin sees everyone's, or one user's.
    let user_id = if principal.is_admin() {
        req.query_param("user_id")
            .map(|u| domain::id("user_id", &u))
            .transpose()?
    } else {
        Some(principal.user_id.clone())
    };
    let mut items = store::list(
        &open_db()?,
        user_id.as_deref(),
        order_id.as_deref(),
        page.after.as_deref(),
        page.limit + 1,
    )?;
    let more = items.len() > page.limit as usize;
    items.truncate(page.limit as usize);
    let next_cursor = if more {
        items.last().map(|p| pagination::encode(&p.id))
    } else {
        None
    };
    Ok(Response::json(
        200,
        &json!({
            "items": items.iter().map(payment_json).collect::<Vec<_>>(),
            "next_cursor": next_cursor,
        }),
    ))
}

/// `POST /api/payments`: an admin charges a user directly. With an
/// `Idempotency-Key` a retry answers the first result and charges once.
/// Direct charges belong to no order, so they publish no saga events.
fn create(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let admin = auth::require_admin(req)?;
    let key = idempotency::key_from(req)?;
    let body: DirectCharge = req.json()?;
    let spec = body.validate()?;
    let hash = idempotency::request_hash(req);
    let db = open_db()?;
    if let Some(key) = &key {
        match idempotency::lookup(db.connection(), &admin.user_id, key, &hash)? {
            Lookup::Replay(saved) => return Ok(saved),
            Lookup::Mismatch => return Err(idempotency::mismatch_error()),
            Lookup::New => {}
        }
    }
    // The provider's key: stable across retries of this request when the
    // client sent a key, fresh otherwise.
    let provider_key = match &key {
        Some(k) => format!("api-{}", hex_sha256(&format!("{}\n{k}", admin.user_id))),
        None => format!("api-{}", new_id()),
    };
    let outcome = Provider::from_variables().charge(ctx, &provider_key, &spec);
    db.transaction(|db| {
        if let Some(key) = &key {
            // A concurrent retry of the same request may have finished first.
            match idempotency::lookup(db.connection(), &admin.user_id, key, &hash)? {
                Lookup::Replay(saved) => return Ok(saved),
                Lookup::Mismatch => return Err(idempotency::mismatch_error()),
                Lookup::New => {}
            }
        }
        let payment = record_charge(db, ctx, None, None, &spec, &outcome)?;
        let response = charge_response(&payment, &outcome, ctx);
        // Successes and declines are final; an unavailable provider is
        // worth retrying under the same key.
        if let (Some(key), 201 | 402) = (&key, response.status) {
            idempotency::store(db.connection(), &admin.user_id, key, &hash, &response)?;
        }
        Ok(response)
    })
}

/// 201 with the payment, or the problem that says why it failed (with
/// the failed payment's id).
fn charge_response(payment: &Payment, outcome: &ChargeOutcome, ctx: &Context) -> Response {
    let (status, title, detail) = match outcome {
        ChargeOutcome::Succeeded { .. } => {
            return Response::json(201, &payment_json(payment))
                .with_header("location", format!("/api/payments/{}", payment.id));
        }
        ChargeOutcome::Failed {
            reason: FailureReason::Declined,
            ..
        } => (
            402,
            "Payment Required",
            "the payment provider declined the charge",
        ),
        ChargeOutcome::Failed {
            reason: FailureReason::ProviderUnavailable,
            ..
        } => (
            503,
            "Service Unavailable",
            "the payment provider is unavailable (circuit open); retry later",
        ),
        ChargeOutcome::Failed { .. } => (
            503,
            "Service Unavailable",
            "the payment provider failed to answer; retry later",
        ),
    };
    Response::json(
        status,
        &json!({
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "reason": payment.reason,
            "payment_id": payment.id,
            "request_id": ctx.request_id,
        }),
    )
    .with_header("content-type", "application/problem+json")
}

fn hex_sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `POST /api/payments/:id/refund` (admin): refunds a succeeded payment.
fn refund(req: &Request, ctx: &Context, id: &str) -> Result<Response, ApiError> {
    auth::require_admin(req)?;
    let id = domain::id("id", id)?;
    let body: RefundBody = if req.body.iter().all(u8::is_ascii_whitespace) && !req.body_too_large {
        RefundBody::default()
    } else {
        req.json()?
    };
    let reason = body.reason()?;
    let db = open_db()?;
    let payment = store::get(&db, &id)?.ok_or_else(|| not_found(&id))?;
    if payment.status != Status::Succeeded {
        return Err(ApiError::Conflict(format!(
            "payment {id} is {}; only a succeeded payment can be refunded",
            payment.status.as_str()
        )));
    }
    let refund_ref = refund_at_provider(ctx, &payment)?;
    let refunded =
        db.transaction(|db| record_refund(db, ctx, None, &payment, &refund_ref, &reason))?;
    let refunded = refunded.ok_or_else(|| {
        ApiError::Conflict(format!("payment {id} was refunded by another request"))
    })?;
    Ok(Response::json(200, &payment_json(&refunded)))
}

/// `GET /api/payments/health`: 200 whatever the breaker says; an open
/// breaker is information, not a failure of this component.
fn health() -> Result<Response, ApiError> {
    let provider = Provider::from_variables();
    let config = provider.breaker().config();
    let time = |ms: Option<i64>| ms.map(rfc3339_from_ms);
    let (status, breaker) = match provider.breaker().state() {
        Ok(s) => (
            if s.state == "closed" {
                "ok"
            } else {
                "degraded"
            },
            json!({
                "state": s.state,
                "failures": s.failures,
                "threshold": config.failure_threshold,
                "window_secs": config.window_secs,
                "open_secs": config.open_secs,
                "half_open_probes": config.half_open_probes,
                "opened_at": time(s.opened_at_ms),
                "probe_at": time(s.probe_at_ms),
            }),
        ),
        Err(_) => (
            "degraded",
            json!({
                "state": "unknown",
                "failures": null,
                "threshold": config.failure_threshold,
                "window_secs": config.window_secs,
                "open_secs": config.open_secs,
                "half_open_probes": config.half_open_probes,
                "opened_at": null,
                "probe_at": null,
                "detail": "the breaker's state store (Redis) is unreachable; calls go through unguarded",
            }),
        ),
    };
    Ok(Response::json(
        200,
        &json!({ "status": status, "breaker": breaker, "provider": provider.url() }),
    ))
}
