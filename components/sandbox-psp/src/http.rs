//! The sandbox provider's HTTP API: charges and refunds with idempotency
//! keys for the merchant (payments, holding the API key), inspection and
//! the failure-injection controls for admins.

use std::time::Duration;

use platform::db::Db;
use platform::domain::{Id, Reference};
use platform::idempotency::Idempotency;
use platform::{ApiError, Context, Handler, Request, Response, Route};
use serde_json::json;

use crate::domain::{self, ChargeRequest, ControlPatch, Fate, Operation, RefundRequest};
use crate::store::{self, ChargeRecord};

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
    Route::get("/sandbox/psp/charges", Handler::Sync(list_charges)),
    Route::post("/sandbox/psp/charges", Handler::Sync(charge)),
    Route::get("/sandbox/psp/charges/:charge_id", Handler::Sync(get_charge)),
    Route::post(
        "/sandbox/psp/charges/:charge_id/refunds",
        Handler::Sync(refund),
    ),
    Route::get("/sandbox/psp/control", Handler::Sync(get_control)),
    Route::put("/sandbox/psp/control", Handler::Sync(put_control)),
    Route::get("/sandbox/psp/calls", Handler::Sync(list_calls)),
];

fn charge_json(c: &ChargeRecord) -> serde_json::Value {
    json!({
        "id": c.id,
        "status": c.status,
        "amount_cents": c.amount_cents,
        "refunded_cents": c.refunded_cents,
        "currency": c.currency,
        "reference": c.reference,
        "created_at": platform::clock::rfc3339_from_ms(c.created_at_ms),
    })
}

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
    let draw = || domain::unit_interval(getrandom::u64().unwrap_or(u64::MAX));
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
            &json!({ "status": "declined", "reason": "card_declined" }),
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
                &json!({
                    "id": record.id,
                    "status": record.status,
                    "amount_cents": record.amount_cents,
                    "currency": record.currency,
                    "reference": record.reference,
                }),
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
                &json!({
                    "id": id,
                    "charge_id": charge.id,
                    "status": "refunded",
                    "amount_cents": amount,
                }),
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
    Ok(Response::json(200, &charge_json(&charge)))
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
        &json!({ "items": charges.iter().map(charge_json).collect::<Vec<_>>() }),
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
    let items: Vec<_> = calls
        .iter()
        .map(|c| {
            json!({
                "operation": c.operation,
                "reference": c.reference,
                "idempotency_key": c.idempotency_key,
                "status": c.status,
                "at": platform::clock::rfc3339_from_ms(c.at_ms),
            })
        })
        .collect();
    Ok(Response::json(200, &json!({ "items": items })))
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
