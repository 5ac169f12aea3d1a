//! The sandbox provider's HTTP API: charges and refunds with idempotency
//! keys, inspection for admins, and the failure-injection controls.

use std::time::Duration;

use platform::auth;
use platform::db::Db;
use platform::events::{new_id, rfc3339_from_ms};
use platform::idempotency::{self, Lookup};
use platform::{ApiError, Context, Method, Request, Response};
use serde_json::json;

use crate::domain::{self, ChargeRequest, ControlPatch, Fate, Operation, RefundRequest};
use crate::store::{self, ChargeRecord};
use crate::DATABASE;

/// Every idempotency key belongs to the one merchant account the sandbox has.
const ACCOUNT: &str = "sandbox";
/// Most rows an inspection listing returns.
const LIST_LIMIT: u32 = 200;

pub fn route(req: &Request, _ctx: &Context, rest: &[&str]) -> Result<Response, ApiError> {
    match (req.method, rest) {
        (Method::Post, ["charges"]) => charge(req),
        (Method::Get, ["charges"]) => list_charges(req),
        (_, ["charges"]) => Err(ApiError::MethodNotAllowed { allow: "GET, POST" }),
        (Method::Get, ["charges", id]) => get_charge(id),
        (_, ["charges", _]) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        (Method::Post, ["charges", id, "refunds"]) => refund(req, id),
        (_, ["charges", _, "refunds"]) => Err(ApiError::MethodNotAllowed { allow: "POST" }),
        (Method::Get, ["control"]) => get_control(),
        (Method::Put, ["control"]) => put_control(req),
        (_, ["control"]) => Err(ApiError::MethodNotAllowed { allow: "GET, PUT" }),
        (Method::Get, ["calls"]) => list_calls(req),
        (_, ["calls"]) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
    }
}

fn open_db() -> Result<Db, ApiError> {
    Db::open(DATABASE, store::MIGRATIONS)
}

/// The key a charge or refund must carry: 400 naming the header without it.
fn required_key(req: &Request) -> Result<String, ApiError> {
    idempotency::key_from(req)?.ok_or_else(|| {
        ApiError::bad_field(
            idempotency::HEADER,
            "charges and refunds require an Idempotency-Key header",
        )
    })
}

fn charge_json(c: &ChargeRecord) -> serde_json::Value {
    json!({
        "id": c.id,
        "status": c.status,
        "amount_cents": c.amount_cents,
        "refunded_cents": c.refunded_cents,
        "currency": c.currency,
        "reference": c.reference,
        "created_at": rfc3339_from_ms(c.created_at_ms),
    })
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

fn charge(req: &Request) -> Result<Response, ApiError> {
    let key = required_key(req)?;
    let body: ChargeRequest = req.json()?;
    let charge = body.validate()?;
    let db = open_db()?;
    let result = match failure(injected(&db, Operation::Charge)?) {
        Some(injected) => injected,
        None => {
            let hash = idempotency::request_hash(req);
            db.transaction(|db| {
                match idempotency::lookup(db.connection(), ACCOUNT, &key, &hash)? {
                    Lookup::Replay(saved) => return Ok(saved),
                    Lookup::Mismatch => return Err(idempotency::mismatch_error()),
                    Lookup::New => {}
                }
                let record = store::insert_charge(db, &new_id(), &charge)?;
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
                idempotency::store(db.connection(), ACCOUNT, &key, &hash, &response)?;
                Ok(response)
            })
        }
    };
    store::log_call(&db, "charge", &charge.reference, &key, status_of(&result))?;
    result
}

fn refund(req: &Request, charge_id: &str) -> Result<Response, ApiError> {
    let key = required_key(req)?;
    let charge_id = domain::id("charge_id", charge_id)?;
    let body: RefundRequest = if req.body.iter().all(u8::is_ascii_whitespace) && !req.body_too_large
    {
        RefundRequest::default()
    } else {
        req.json()?
    };
    let db = open_db()?;
    let result = match failure(injected(&db, Operation::Refund)?) {
        Some(injected) => injected,
        None => {
            let hash = idempotency::request_hash(req);
            db.transaction(|db| {
                match idempotency::lookup(db.connection(), ACCOUNT, &key, &hash)? {
                    Lookup::Replay(saved) => return Ok(saved),
                    Lookup::Mismatch => return Err(idempotency::mismatch_error()),
                    Lookup::New => {}
                }
                let charge = store::charge(db, &charge_id)?
                    .ok_or_else(|| ApiError::NotFound(format!("no charge {charge_id}")))?;
                let amount = body.amount(charge.amount_cents - charge.refunded_cents)?;
                let id = new_id();
                store::refund(db, &id, &charge, amount)?;
                let response = Response::json(
                    201,
                    &json!({
                        "id": id,
                        "charge_id": charge.id,
                        "status": "refunded",
                        "amount_cents": amount,
                    }),
                );
                idempotency::store(db.connection(), ACCOUNT, &key, &hash, &response)?;
                Ok(response)
            })
        }
    };
    store::log_call(&db, "refund", &charge_id, &key, status_of(&result))?;
    result
}

fn get_charge(id: &str) -> Result<Response, ApiError> {
    let id = domain::id("charge_id", id)?;
    let charge = store::charge(&open_db()?, &id)?
        .ok_or_else(|| ApiError::NotFound(format!("no charge {id}")))?;
    Ok(Response::json(200, &charge_json(&charge)))
}

/// The `reference` query parameter, checked.
fn reference_param(req: &Request) -> Result<Option<String>, ApiError> {
    req.query_param("reference")
        .map(|r| domain::reference("reference", &r))
        .transpose()
}

fn list_charges(req: &Request) -> Result<Response, ApiError> {
    auth::require_admin(req)?;
    let reference = reference_param(req)?;
    let charges = store::charges(&open_db()?, reference.as_deref(), LIST_LIMIT)?;
    Ok(Response::json(
        200,
        &json!({ "items": charges.iter().map(charge_json).collect::<Vec<_>>() }),
    ))
}

fn list_calls(req: &Request) -> Result<Response, ApiError> {
    auth::require_admin(req)?;
    let reference = reference_param(req)?;
    let calls = store::calls(&open_db()?, reference.as_deref(), LIST_LIMIT)?;
    let items: Vec<_> = calls
        .iter()
        .map(|c| {
            json!({
                "operation": c.operation,
                "reference": c.reference,
                "idempotency_key": c.idempotency_key,
                "status": c.status,
                "at": rfc3339_from_ms(c.at_ms),
            })
        })
        .collect();
    Ok(Response::json(200, &json!({ "items": items })))
}

fn get_control() -> Result<Response, ApiError> {
    Ok(Response::json(200, &store::control(&open_db()?)?))
}

fn put_control(req: &Request) -> Result<Response, ApiError> {
    auth::require_admin(req)?;
    let patch: ControlPatch = req.json()?;
    let db = open_db()?;
    let control = db.transaction(|db| {
        let next = patch.apply(store::control(db)?)?;
        store::set_control(db, &next)?;
        Ok(next)
    })?;
    Ok(Response::json(200, &control))
}
