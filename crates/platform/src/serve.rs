//! The entry point every request runs through: read the request (with a
//! body limit), install its clock, build its context, let the component
//! answer, turn errors into problem+json, add correlation headers, log,
//! respond, and then wake the bridge if outbox rows were committed.

use serde::Deserialize;
use serde_json::json;
use spin_sdk::http::{IncomingRequest, ResponseOutparam};

use crate::clock;
use crate::component::Component;
use crate::context::Context;
use crate::events::EventSet;
use crate::problem::ApiError;
use crate::redis_store::bin;
use crate::request::Request;
use crate::response::Response;

/// Serves one request for `component` and writes its response.
pub async fn serve<E: EventSet + 'static>(
    component: &'static Component<E>,
    incoming: IncomingRequest,
    out: ResponseOutparam,
) {
    let req = Request::read(incoming, component.body_limit).await;
    let ctx = Context::for_component(component.name, component.database, &req);
    install_clock(&ctx);
    let (method, path) = (req.method, req.path.clone());
    let result = component.handle(req, &ctx).await;
    let response = respond(result, &ctx, method.as_str(), &path);
    let elapsed = ctx.started.elapsed().as_secs_f64();
    let status = response.status;
    response.send(out).await;
    // After the answer has gone: the bridge also polls, so a wake-up that
    // fails is only later, never lost.
    if crate::outbox::take_committed() {
        crate::outbox::wake(ctx.redis_if_up(), component.name);
    }
    if request_metrics_on() {
        let mut tally = ctx.take_tally();
        let status = status.to_string();
        let route = ctx.route();
        tally.count(
            "http_requests_total",
            &[
                ("component", component.name),
                ("route", route),
                ("method", method.as_str()),
                ("status", &status),
            ],
        );
        tally.observe(
            "http_request_duration_seconds",
            &[("component", component.name), ("route", route)],
            elapsed,
        );
        crate::request_metrics::record(ctx.redis_if_up(), component.name, &tally);
    }
}

/// Whether requests are counted (the `request_metrics` variable is not
/// `off`).
fn request_metrics_on() -> bool {
    !spin_sdk::variables::get(crate::request_metrics::SWITCH_VARIABLE)
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("off"))
}

/// Renders a handler's result, logging it; separate so tests can use it.
pub fn respond(
    result: Result<Response, ApiError>,
    ctx: &Context,
    method: &str,
    path: &str,
) -> Response {
    let (mut response, error) = match result {
        Ok(r) => (r, None),
        Err(e) => {
            let detail = match &e {
                ApiError::Internal(inner) => format!("{inner:#}"),
                other => other.to_string(),
            };
            (error_response(&e, ctx), Some(detail))
        }
    };
    for (name, value) in ctx.response_headers() {
        response.set_header(&name, value);
    }
    response.set_header("x-request-id", ctx.request_id.clone());
    response.set_header("traceparent", ctx.traceparent.clone());
    ctx.log(method, path, response.status, error.as_deref());
    response
}

/// The problem+json response for an error.
pub fn error_response(e: &ApiError, ctx: &Context) -> Response {
    let mut r = Response::json(e.status(), &e.problem(&ctx.request_id))
        .with_header("content-type", "application/problem+json");
    for (k, v) in e.headers() {
        r.set_header(k, v);
    }
    r
}

/// Whether this stack lets time be moved (the `clock_override` variable).
pub fn clock_can_move() -> bool {
    spin_sdk::variables::get(clock::OVERRIDE_VARIABLE)
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Installs the request's clock: the system time, moved by the stack's
/// offset where time may be moved.
fn install_clock(ctx: &Context) {
    if !clock_can_move() {
        clock::install(None);
        return;
    }
    let offset = ctx
        .redis_if_up()
        .and_then(|r| r.get(clock::OFFSET_KEY).ok().flatten())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    clock::install(Some(offset));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    advance_ms: u64,
}

/// `POST /internal/<component>/clock` with `{"advance_ms": N}`: moves the
/// stack's time forward for every component (offered only where time may
/// be moved).
pub fn advance_clock(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let Advance { advance_ms } = req.json()?;
    let advance = i64::try_from(advance_ms)
        .ok()
        .filter(|ms| *ms <= 366 * 24 * 3_600_000)
        .ok_or_else(|| ApiError::invalid("advance_ms", "must be at most a year"))?;
    let reply = ctx.redis()?.execute(
        "INCRBY",
        vec![
            bin(clock::OFFSET_KEY),
            spin_sdk::redis::RedisParameter::Int64(advance),
        ],
    )?;
    let offset = reply
        .first()
        .and_then(crate::redis_store::reply_int)
        .ok_or_else(|| ApiError::internal("INCRBY gave no integer"))?;
    clock::install(Some(offset));
    Ok(Response::json(
        200,
        &json!({ "offset_ms": offset, "now": clock::now_rfc3339() }),
    ))
}
