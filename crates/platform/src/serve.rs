//! The entry point every component's handler runs through: read the
//! request (with a body limit), build its context, run the handler, turn
//! errors into problem+json, add correlation headers, log, respond.

use std::future::Future;

use spin_sdk::http::{IncomingRequest, ResponseOutparam};

use crate::context::Context;
use crate::problem::ApiError;
use crate::request::Request;
use crate::response::Response;

/// Runs `handler` for one request and writes its response.
pub async fn serve<F, Fut>(
    component: &'static str,
    incoming: IncomingRequest,
    out: ResponseOutparam,
    body_limit: usize,
    handler: F,
) where
    F: FnOnce(Request, Context) -> Fut,
    Fut: Future<Output = Result<Response, ApiError>>,
{
    let req = Request::read(incoming, body_limit).await;
    let ctx = Context::from_request(component, &req);
    let (method, path) = (req.method, req.path.clone());
    let response = respond(
        handler(req, ctx.clone()).await,
        &ctx,
        method.as_str(),
        &path,
    );
    response.send(out).await;
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

/// Declares a component's `wasi:http/incoming-handler` export, routing
/// every request through [`serve`]:
/// `platform::http_component!("inventory", platform::request::DEFAULT_BODY_LIMIT, crate::route);`
/// where `route` is `fn(&Request, &Context) -> Result<Response, ApiError>`.
///
/// The export exists only in wasm builds (native builds are for unit
/// tests, and native linkers reject the WIT export names); the SDK's glue
/// is generated `unsafe` code, so only this module opts out of the
/// workspace's `deny(unsafe_code)`.
#[macro_export]
macro_rules! http_component {
    ($name:expr, $body_limit:expr, $route:path) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        mod __spinshop_export {
            #[::spin_sdk::http_component]
            async fn handle(
                req: ::spin_sdk::http::IncomingRequest,
                out: ::spin_sdk::http::ResponseOutparam,
            ) {
                $crate::serve::serve($name, req, out, $body_limit, |req, ctx| async move {
                    $route(&req, &ctx)
                })
                .await;
            }
        }
    };
}

/// Like [`http_component!`] for handlers that await (outbound HTTP, local
/// service chaining): `route` is
/// `async fn(Request, Context) -> Result<Response, ApiError>`.
#[macro_export]
macro_rules! http_component_async {
    ($name:expr, $body_limit:expr, $route:path) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        mod __spinshop_export {
            #[::spin_sdk::http_component]
            async fn handle(
                req: ::spin_sdk::http::IncomingRequest,
                out: ::spin_sdk::http::ResponseOutparam,
            ) {
                $crate::serve::serve($name, req, out, $body_limit, |req, ctx| async move {
                    $route(req, ctx).await
                })
                .await;
            }
        }
    };
}
