//! The guest that `spinshop-host`'s integration tests run.
//!
//! One component, mounted by test manifests under several routes
//! (`/guest/...`), that exercises every host capability on demand. It
//! dispatches on the `spin-path-info` header, so the same wasm works whatever
//! prefix a manifest gives it. See [`route::Route`] for the routes.

mod codec;
mod config;
mod echo;
mod faults;
mod kv;
mod outbound;
mod redis;
mod reply;
mod route;
mod sqlite;

use spin_sdk::http::{Request, Response};

use route::Route;

/// The `wasi:http/incoming-handler` export.
///
/// The SDK's export glue is generated `unsafe` code (`export_name`, raw
/// handles), so only this module opts out of the workspace's
/// `deny(unsafe_code)`. It exists only in wasm builds: native linkers reject
/// the WIT export names (`wasi:http/incoming-handler@0.2.0#handle`) in a
/// cdylib, and native builds are only for unit tests.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod export {
    #[spin_sdk::http_component]
    async fn handle(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
        super::handle(req).await
    }
}

/// Routes one request.
pub async fn handle(req: Request) -> Response {
    let path_info = path_info(&req);
    match Route::parse(req.method(), &path_info) {
        Route::Ok => reply::text(200, "ok"),
        Route::Echo => echo::echo(&req),
        Route::Variable(name) => config::variable(&name),
        Route::Env(name) => config::env(&name),
        Route::KvGet { label, key } => kv::get(&label, &key),
        Route::KvSet { label, key } => kv::set(&label, &key, req.body()),
        Route::KvDelete { label, key } => kv::delete(&label, &key),
        Route::KvKeys { label } => kv::keys(&label),
        Route::Sqlite { label } => sqlite::run_v3(&label, req.body()),
        Route::SqliteV2 { label } => sqlite::run_v2(&label, req.body()),
        Route::Redis => redis::run(req.body()),
        Route::Outbound => outbound::forward(&req).await,
        Route::Stdio => faults::stdio(),
        Route::Trap(trap) => faults::trap(trap),
        Route::Sleep => faults::sleep(req.query()),
        Route::Alloc => faults::alloc(req.query()),
        Route::NotFound => reply::error_message(404, "no such guest route"),
    }
}

/// The path below the component's route prefix, as Spin passes it.
///
/// Falls back to the request path when the header is missing (a host that
/// forgot it will then show up as 404s rather than as a trap).
fn path_info(req: &Request) -> String {
    match req.header("spin-path-info") {
        Some(value) => value.clone().into_utf8_lossy(),
        None => req.path().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use serde_json::{json, Value};
    use spin_sdk::http::Method;

    use super::*;

    /// Runs a handler that never waits on the host (no outbound HTTP).
    fn run_ready(future: impl Future<Output = Response>) -> Response {
        let mut future = pin!(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(response) => response,
            Poll::Pending => panic!("handler waited on the host"),
        }
    }

    fn body_json(response: &Response) -> Value {
        serde_json::from_slice(response.body()).expect("JSON body")
    }

    #[test]
    fn echo_reflects_the_request() {
        let req = Request::builder()
            .method(Method::Post)
            .uri("http://localhost:3000/guest/echo?x=1")
            .header("Spin-Path-Info", "/echo")
            .header("X-Thing", "yes")
            .body("hello")
            .build();
        let response = run_ready(handle(req));
        assert_eq!(*response.status(), 200);
        let body = body_json(&response);
        assert_eq!(body["method"], "POST");
        assert_eq!(body["uri"], "http://localhost:3000/guest/echo?x=1");
        assert_eq!(body["headers"]["x-thing"], "yes");
        assert_eq!(body["body"], "hello");
    }

    #[test]
    fn unknown_routes_are_404() {
        let req = Request::builder()
            .method(Method::Get)
            .uri("/guest/nothing")
            .header("spin-path-info", "/nothing")
            .build();
        let response = run_ready(handle(req));
        assert_eq!(*response.status(), 404);
        assert_eq!(
            body_json(&response),
            json!({"error": "no such guest route"})
        );
    }
}
