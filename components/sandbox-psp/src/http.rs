//! The sandbox provider's HTTP API: charges and refunds with idempotency
//! keys for the merchant (payments, holding the API key), inspection and
//! the failure-injection controls for admins.

use std::time::Duration;

use platform::db::Db;
use platform::domain::{Id, Reference};
use platform::idempotency::Idempotency;
use platform::openapi::{Access, Body, Param, Reply, IDEMPOTENCY_KEY_REQUIRED, LOCATION};
use platform::{ApiError, Context, Handler, Request, Response, Route, RouteDoc};

use crate::domain::{self, ChargeRequest, Control, ControlPatch, Fate, Operation, RefundRequest};
use crate::store;
use crate::views::{
    CallList, CallView, ChargeCreated, ChargeList, ChargeView, Declined, RefundCreated,
};

/// Every idempotency key belongs to the one merchant account the sandbox
/// has, whose API key only payments holds.
const ACCOUNT: &str = "sandbox";
/// The variable holding the merchant's API key (payments' `psp_api_key`).
const API_KEY_VARIABLE: &str = "api_key";
/// Most rows an inspection listing returns.
const LIST_LIMIT: u32 = 200;
/// Why a charge or refund without a key is refused.
const KEY_REQUIRED: &str = "charges and refunds require an Idempotency-Key header";

/// The sandbox provider's routes.
pub const ROUTES: &[Route] = &[
    Route::get("/sandbox/psp/charges", Handler::Sync(list_charges)).doc(&RouteDoc {
        summary: "Sandbox provider: list charges (newest first, 200 at most)",
        access: Access::Admin,
        params: &[REFERENCE],
        replies: &[Reply::json::<ChargeList>(200, "The charges")],
        ..RouteDoc::BASE
    }),
    Route::post("/sandbox/psp/charges", Handler::Sync(charge)).doc(&RouteDoc {
        summary: "Sandbox provider: capture a charge",
        description: "As a real provider: the merchant's API key, an Idempotency-Key on every \
            call (a repeat answers the first result; a reused key with another body is \
            refused), and the failures the control injects.",
        access: Access::Merchant,
        params: &[IDEMPOTENCY_KEY_REQUIRED],
        body: Some(Body::json::<ChargeRequest>(
            r#"{"amount_cents": 398, "currency": "USD", "reference": "0198c3a0-7e3c-7d1e-9b2a-5f0c1d2e3f40"}"#,
        )),
        replies: &[
            Reply::json::<ChargeCreated>(201, "Captured").headers(&[LOCATION]),
            Reply::json::<Declined>(402, "Declined (injected)"),
        ],
        errors: &[(503, "an injected outage or failure; retry with the same key")],
        ..RouteDoc::BASE
    }),
    Route::get("/sandbox/psp/charges/:charge_id", Handler::Sync(get_charge)).doc(&RouteDoc {
        summary: "Sandbox provider: a charge",
        access: Access::Merchant,
        replies: &[Reply::json::<ChargeView>(200, "The charge")],
        ..RouteDoc::BASE
    }),
    Route::post(
        "/sandbox/psp/charges/:charge_id/refunds",
        Handler::Sync(refund),
    )
    .doc(&RouteDoc {
        summary: "Sandbox provider: refund a charge, whole or in part",
        access: Access::Merchant,
        params: &[IDEMPOTENCY_KEY_REQUIRED],
        body: Some(
            Body::json::<RefundRequest>(r#"{"amount_cents": 100, "reason": "requested"}"#)
                .optional(),
        ),
        replies: &[
            Reply::json::<RefundCreated>(201, "Refunded"),
            Reply::json::<Declined>(402, "Declined (injected)"),
        ],
        errors: &[
            (409, "the charge is already fully refunded"),
            (503, "an injected outage or failure; retry with the same key"),
        ],
        ..RouteDoc::BASE
    }),
    Route::get("/sandbox/psp/control", Handler::Sync(get_control)).doc(&RouteDoc {
        summary: "Sandbox provider: the injected failures",
        access: Access::Admin,
        replies: &[Reply::json::<Control>(200, "The control")],
        ..RouteDoc::BASE
    }),
    Route::put("/sandbox/psp/control", Handler::Sync(put_control)).doc(&RouteDoc {
        summary: "Sandbox provider: inject outages, failures, declines and latency",
        description: "The fields given change, the others keep their value.",
        access: Access::Admin,
        body: Some(Body::json::<ControlPatch>(
            r#"{"outage": false, "failure_rate": 0, "decline_rate": 0, "latency_ms": 0}"#,
        )),
        replies: &[Reply::json::<Control>(200, "The control")],
        ..RouteDoc::BASE
    }),
    Route::get("/sandbox/psp/calls", Handler::Sync(list_calls)).doc(&RouteDoc {
        summary: "Sandbox provider: the calls it was sent (newest first, 200 at most)",
        access: Access::Admin,
        params: &[REFERENCE],
        replies: &[Reply::json::<CallList>(200, "The calls")],
        ..RouteDoc::BASE
    }),
];

/// `?reference=`: one merchant reference's charges or calls.
const REFERENCE: Param = Param::query::<String>("reference", "this merchant reference only");

/// The merchant's credential, as a real provider checks its API key: the
/// money routes answer only payments, never a customer who has seen a
/// charge id.
fn merchant(req: &Request) -> Result<(), ApiError> {
    let key = spin_sdk::variables::get(API_KEY_VARIABLE).unwrap_or_default();
    platform::internal::check_secret(req, &key, "psp_api_key")
}

/// Waits the configured latency, then draws the call's fate. Nothing has
/// been written yet, so a failed call changes nothing.
fn injected(db: &Db, op: Operation) -> Result<Fate, ApiError> {
    let control = store::control(db)?;
    if control.latency_ms > 0 {
        std::thread::sleep(Duration::from_millis(u64::from(control.latency_ms)));
    }
    let draw = platform::random::draw;
    Ok(domain::fate(&control, op, draw(), draw()))
}

/// The answer for an injected failure.
fn failure(fate: Fate) -> Option<Result<Response, ApiError>> {
    match fate {
        Fate::Serve => None,
        Fate::Unavailable => Some(Err(ApiError::Unavailable(
            "the payment provider is unavailable; retry with the same Idempotency-Key".into(),
        ))),
        Fate::Declined => Some(Ok(Response::json(
            402,
            &Declined {
                status: "declined",
                reason: "card_declined",
            },
        ))),
    }
}

/// The status a handler's result is answered with, for the call log.
fn status_of(result: &Result<Response, ApiError>) -> u16 {
    match result {
        Ok(r) => r.status,
        Err(e) => e.status(),
    }
}

fn charge(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    merchant(req)?;
    let idempotency = Idempotency::required(req, ACCOUNT, KEY_REQUIRED)?;
    let body: ChargeRequest = req.json()?;
    let charge = body.validate()?;
    let db = ctx.db()?;
    let result = match failure(injected(db, Operation::Charge)?) {
        Some(injected) => injected,
        None => db.transaction(|db| {
            if let Some(saved) = idempotency.begin(db)? {
                return Ok(saved);
            }
            let record = store::insert_charge(db, Id::generate().as_str(), &charge)?;
            let response = Response::json(
                201,
                &ChargeCreated {
                    id: record.id.clone(),
                    status: record.status.clone(),
                    amount_cents: record.amount_cents,
                    currency: record.currency.clone(),
                    reference: record.reference.clone(),
                },
            )
            .with_header("location", format!("/sandbox/psp/charges/{}", record.id));
            idempotency.finish(db, &response)?;
            Ok(response)
        }),
    };
    let key = idempotency.key().unwrap_or_default();
    store::log_call(
        db,
        "charge",
        charge.reference.as_str(),
        key,
        status_of(&result),
    )?;
    result
}

fn refund(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    merchant(req)?;
    let idempotency = Idempotency::required(req, ACCOUNT, KEY_REQUIRED)?;
    let charge_id = req.id("charge_id")?;
    let body: RefundRequest = if req.body_is_empty() {
        RefundRequest::default()
    } else {
        req.json()?
    };
    let db = ctx.db()?;
    let result = match failure(injected(db, Operation::Refund)?) {
        Some(injected) => injected,
        None => db.transaction(|db| {
            if let Some(saved) = idempotency.begin(db)? {
                return Ok(saved);
            }
            let charge = store::charge(db, charge_id.as_str())?
                .ok_or_else(|| ApiError::NotFound(format!("no charge {charge_id}")))?;
            let amount = body.amount(charge.amount_cents - charge.refunded_cents)?;
            let id = Id::generate();
            store::refund(db, id.as_str(), &charge, amount)?;
            let response = Response::json(
                201,
                &RefundCreated {
                    id: id.into_string(),
                    charge_id: charge.id.clone(),
                    status: "refunded",
                    amount_cents: amount,
                },
            );
            idempotency.finish(db, &response)?;
            Ok(response)
        }),
    };
    let key = idempotency.key().unwrap_or_default();
    store::log_call(db, "refund", charge_id.as_str(), key, status_of(&result))?;
    result
}

fn get_charge(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    merchant(req)?;
    let id = req.id("charge_id")?;
    let charge = store::charge(ctx.db()?, id.as_str())?
        .ok_or_else(|| ApiError::NotFound(format!("no charge {id}")))?;
    Ok(Response::json(200, &ChargeView::from(&charge)))
}

/// The `reference` query parameter, checked.
fn reference_param(req: &Request) -> Result<Option<Reference>, ApiError> {
    req.query_param("reference")
        .map(|r| Reference::parse("reference", &r))
        .transpose()
}

fn list_charges(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let reference = reference_param(req)?;
    let charges = store::charges(
        ctx.db()?,
        reference.as_ref().map(Reference::as_str),
        LIST_LIMIT,
    )?;
    Ok(Response::json(
        200,
        &ChargeList {
            items: charges.iter().map(ChargeView::from).collect(),
        },
    ))
}

fn list_calls(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let reference = reference_param(req)?;
    let calls = store::calls(
        ctx.db()?,
        reference.as_ref().map(Reference::as_str),
        LIST_LIMIT,
    )?;
    let items = calls.iter().map(CallView::from).collect();
    Ok(Response::json(200, &CallList { items }))
}

fn get_control(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    Ok(Response::json(200, &store::control(ctx.db()?)?))
}

fn put_control(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let patch: ControlPatch = req.json()?;
    let control = ctx.db()?.transaction(|db| {
        let next = patch.apply(store::control(db)?)?;
        store::set_control(db, &next)?;
        Ok(next)
    })?;
    Ok(Response::json(200, &control))
}
