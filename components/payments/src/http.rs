//! The public HTTP API: payments for their owners and admins, admin
//! refunds and direct charges, and the provider's health as the circuit
//! breaker sees it.

use platform::auth::Principal;
use platform::clock::rfc3339_from_ms;
use platform::db::Db;
use platform::idempotency::Idempotency;
use platform::openapi::{Access, Body, Paging, Param, Reply, IDEMPOTENCY_KEY, LOCATION};
use platform::pagination::{Page, PageRequest};
use platform::problem::Problem;
use platform::{ApiError, Context, Handler, Id, Request, Response, Route, RouteDoc};
use sha2::{Digest, Sha256};

use crate::domain::{DirectCharge, FailureReason, RefundBody, Status};
use crate::provider::{ChargeOutcome, Provider};
use crate::service;
use crate::store::{self, Payment};
use crate::views::{BreakerView, ChargeProblem, PaymentView, ProviderHealth};

/// Payments' routes; health is for monitors: not rate limited, no
/// credentials.
pub const ROUTES: &[Route] = &[
    Route::get("/api/payments/health", Handler::Sync(health))
        .unlimited()
        .doc(&RouteDoc {
            summary: "The payment provider's health, as the circuit breaker sees it",
            description: "200 whatever the breaker says: an open breaker is information. \
                Admins also see the provider's address.",
            access: Access::Optional,
            replies: &[Reply::json::<ProviderHealth>(200, "The breaker's state")],
            ..RouteDoc::BASE
        }),
    Route::get("/api/payments", Handler::Sync(list)).doc(&RouteDoc {
        summary: "List payments (the caller's; anyone's for an admin), newest first",
        access: Access::User,
        params: &[
            Param::query::<Id>("order_id", "the payments of this order"),
            Param::query::<Id>(
                "user_id",
                "this user's payments (admins only; ignored otherwise)",
            ),
        ],
        page: Some(Paging::STANDARD),
        replies: &[Reply::json::<Page<PaymentView>>(200, "A page of payments")],
        ..RouteDoc::BASE
    }),
    Route::post("/api/payments", platform::handler!(async charge)).doc(&RouteDoc {
        summary: "Charge a user directly (outside any order)",
        access: Access::Admin,
        params: &[IDEMPOTENCY_KEY],
        body: Some(Body::json::<DirectCharge>(
            r#"{"user_id": "0198c3a0-7e3c-7d1e-9b2a-5f0c1d2e3f40", "amount_cents": 1250,
                "currency": "USD", "reference": "manual-2026-04-01"}"#,
        )),
        replies: &[
            Reply::json::<PaymentView>(201, "Charged").headers(&[LOCATION]),
            Reply::problem::<ChargeProblem>(402, "The provider declined the charge"),
            Reply::problem::<ChargeProblem>(
                503,
                "The provider is unavailable (or the breaker is open); retry later with the \
                 same key",
            ),
        ],
        ..RouteDoc::BASE
    }),
    Route::get("/api/payments/:id", Handler::Sync(get)).doc(&RouteDoc {
        summary: "A payment",
        access: Access::User,
        replies: &[Reply::json::<PaymentView>(200, "The payment")],
        ..RouteDoc::BASE
    }),
    Route::post("/api/payments/:id/refund", platform::handler!(async refund)).doc(&RouteDoc {
        summary: "Refund a succeeded payment",
        access: Access::Admin,
        body: Some(Body::json::<RefundBody>(r#"{"reason": "damaged in transit"}"#).optional()),
        replies: &[Reply::json::<PaymentView>(200, "The payment, refunded")],
        errors: &[
            (
                409,
                "the payment is not a succeeded one, or was refunded meanwhile",
            ),
            (
                503,
                "the provider cannot refund now, or the token cannot be checked",
            ),
        ],
        ..RouteDoc::BASE
    }),
];

fn not_found(id: &Id) -> ApiError {
    ApiError::NotFound(format!("no payment {id}"))
}

/// The payment, if `principal` may see it (its owner, or an admin).
fn visible(db: &Db, principal: &Principal, id: &Id) -> Result<Payment, ApiError> {
    match store::get(db, id.as_str())? {
        Some(p) if principal.can_access(&p.user_id) => Ok(p),
        _ => Err(not_found(id)),
    }
}

fn get(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let id = req.id("id")?;
    let payment = visible(ctx.db()?, principal, &id)?;
    Ok(Response::json(200, &PaymentView::from(&payment)))
}

fn list(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let principal = ctx.user()?;
    let page = PageRequest::standard(req)?;
    let order_id = req.query_id("order_id")?;
    // Customers see their own; an admin sees everyone's, or one user's.
    let user_id = if principal.is_admin() {
        req.query_id("user_id")?.map(Id::into_string)
    } else {
        Some(principal.user_id.clone())
    };
    let rows = store::list(
        ctx.db()?,
        user_id.as_deref(),
        order_id.as_ref().map(Id::as_str),
        page.after.as_deref(),
        page.fetch(),
    )?;
    let page = page.page(rows, |p| p.id.clone());
    Ok(Response::json(200, &page.map(|p| PaymentView::from(&p))))
}

/// `POST /api/payments`: an admin charges a user directly. With an
/// `Idempotency-Key` a retry answers the first result and charges once.
/// Direct charges belong to no order, so they publish no saga events.
async fn charge(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let admin = ctx.admin()?;
    let idempotency = Idempotency::of(req, &admin.user_id)?;
    let spec = req.json::<DirectCharge>()?.validate()?;
    let db = ctx.db()?;
    if let Some(saved) = idempotency.begin(db)? {
        return Ok(saved);
    }
    // The provider's key: stable across retries of this request when the
    // client sent a key, fresh otherwise.
    let provider_key = match idempotency.key() {
        Some(k) => format!("api-{}", hex_sha256(&format!("{}\n{k}", admin.user_id))),
        None => format!("api-{}", Id::generate()),
    };
    let outcome = Provider::from_variables()
        .charge(ctx, &provider_key, &spec)
        .await;
    db.transaction(|db| {
        // A concurrent retry of the same request may have finished first.
        if let Some(saved) = idempotency.begin(db)? {
            return Ok(saved);
        }
        let payment = service::record_charge(db, ctx, None, None, &spec, &outcome)?;
        let response = charge_response(&payment, &outcome, ctx);
        // Successes and declines are final; an unavailable provider is
        // worth retrying under the same key.
        if matches!(response.status, 201 | 402) {
            idempotency.finish(db, &response)?;
        }
        Ok(response)
    })
}

/// 201 with the payment, or the problem that says why it failed (with
/// the failed payment's id).
fn charge_response(payment: &Payment, outcome: &ChargeOutcome, ctx: &Context) -> Response {
    let (status, detail) = match outcome {
        ChargeOutcome::Succeeded { .. } => {
            return Response::json(201, &PaymentView::from(payment))
                .with_header("location", format!("/api/payments/{}", payment.id));
        }
        ChargeOutcome::Failed {
            reason: FailureReason::Declined,
            ..
        } => (402, "the payment provider declined the charge"),
        ChargeOutcome::Failed {
            reason: FailureReason::ProviderUnavailable,
            ..
        } => (
            503,
            "the payment provider is unavailable (circuit open); retry later",
        ),
        ChargeOutcome::Failed { .. } => (503, "the payment provider failed to answer; retry later"),
    };
    let problem = ChargeProblem {
        problem: Problem::new(status, detail, &ctx.request_id),
        reason: payment.reason.clone(),
        payment_id: payment.id.clone(),
    };
    Response::json(status, &problem).with_header("content-type", "application/problem+json")
}

fn hex_sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `POST /api/payments/:id/refund` (admin): refunds a succeeded payment.
async fn refund(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let id = req.id("id")?;
    let body: RefundBody = if req.body_is_empty() {
        RefundBody::default()
    } else {
        req.json()?
    };
    let reason = body.reason()?;
    let db = ctx.db()?;
    let payment = store::get(db, id.as_str())?.ok_or_else(|| not_found(&id))?;
    if payment.status != Status::Succeeded {
        return Err(ApiError::Conflict(format!(
            "payment {id} is {}; only a succeeded payment can be refunded",
            payment.status.as_str()
        )));
    }
    let refund_ref = service::refund_at_provider(ctx, &payment).await?;
    let refunded = service::record_refund(db, ctx, None, &payment, &refund_ref, &reason)?;
    let refunded = refunded.ok_or_else(|| {
        ApiError::Conflict(format!("payment {id} was refunded by another request"))
    })?;
    Ok(Response::json(200, &PaymentView::from(&refunded)))
}

/// `GET /api/payments/health`: 200 whatever the breaker says; an open
/// breaker is information, not a failure of this component. The
/// provider's address is shown to admins only.
fn health(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let provider = Provider::from_variables();
    let breaker = provider.breaker(ctx);
    let config = breaker.config();
    let time = |ms: Option<i64>| ms.map(rfc3339_from_ms);
    let settings = |state, failures| BreakerView {
        state,
        failures,
        threshold: config.failure_threshold,
        window_secs: config.window_secs,
        open_secs: config.open_secs,
        half_open_probes: config.half_open_probes,
        opened_at: None,
        probe_at: None,
        detail: None,
    };
    let (status, breaker) = match breaker.state() {
        Ok(s) => (
            if s.state == "closed" {
                "ok"
            } else {
                "degraded"
            },
            BreakerView {
                opened_at: time(s.opened_at_ms),
                probe_at: time(s.probe_at_ms),
                ..settings(s.state, Some(s.failures))
            },
        ),
        Err(_) => (
            "degraded",
            BreakerView {
                detail: Some(
                    "the breaker's state store (Redis) is unreachable; calls go through unguarded",
                ),
                ..settings("unknown", None)
            },
        ),
    };
    let admin = ctx.principal().ok().flatten().is_some_and(|p| p.is_admin());
    let body = ProviderHealth {
        status,
        breaker,
        provider: admin.then(|| provider.url().to_string()),
    };
    Ok(Response::json(200, &body))
}
