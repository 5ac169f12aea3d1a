//! `ops`: operational endpoints of spinshop — `GET /health` (dependency
//! checks) and `GET /api` (the route table of the application).

mod health;
mod problem;
mod routes;

use spin_sdk::http::{Method, Request, Response};

/// The `wasi:http/incoming-handler` export.
///
/// The SDK's export glue is generated `unsafe` code (`export_name`, raw
/// handles), so only this module opts out of the workspace's
/// `deny(unsafe_code)`. It exists only in wasm builds: native linkers reject
/// the WIT export names in a cdylib, and native builds are for unit tests.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod export {
    #[spin_sdk::http_component]
    fn handle(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
        super::handle(&req)
    }
}

/// Routes one request.
pub fn handle(req: &Request) -> Response {
    let get_only = |respond: fn() -> Response| match req.method() {
        Method::Get => respond(),
        other => problem::method_not_allowed(other, &["GET"]),
    };
    match normalise(req.path()) {
        "/health" => get_only(health::respond),
        "/api" => get_only(routes::respond),
        path => problem::not_found(path),
    }
}

/// The request path without a trailing `/` (`/health/` is `/health`).
fn normalise(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn request(method: Method, uri: &str) -> Request {
        Request::builder().method(method).uri(uri).build()
    }

    fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
        response.header(name).and_then(|value| value.as_str())
    }

    fn body_json(response: &Response) -> Value {
        serde_json::from_slice(response.body()).expect("JSON body")
    }

    #[test]
    fn api_lists_the_manifest_routes() {
        let response = handle(&request(Method::Get, "http://localhost:3000/api"));
        assert_eq!(*response.status(), 200);
        assert_eq!(header(&response, "content-type"), Some("application/json"));
        let body = body_json(&response);
        assert_eq!(body["name"], "spinshop");
        let routes = body["routes"].as_array().expect("routes array");
        assert!(routes.contains(&serde_json::json!({"route": "/health", "component": "ops"})));
        assert!(routes.contains(&serde_json::json!({"route": "/api", "component": "ops"})));
    }

    #[test]
    fn trailing_slash_is_the_same_route() {
        let response = handle(&request(Method::Get, "/api/"));
        assert_eq!(*response.status(), 200);
    }

    #[test]
    fn other_methods_are_405_with_allow() {
        for path in ["/health", "/api"] {
            let response = handle(&request(Method::Post, path));
            assert_eq!(*response.status(), 405, "{path}");
            assert_eq!(header(&response, "allow"), Some("GET"));
            assert_eq!(
                header(&response, "content-type"),
                Some("application/problem+json")
            );
            let body = body_json(&response);
            assert_eq!(body["status"], 405);
            assert_eq!(body["type"], "about:blank");
        }
    }

    #[test]
    fn unknown_paths_are_404_problems() {
        let response = handle(&request(Method::Get, "/api/nothing"));
        assert_eq!(*response.status(), 404);
        let body = body_json(&response);
        assert_eq!(body["title"], "Not Found");
        assert_eq!(body["detail"], "no route for /api/nothing");
    }

    #[test]
    fn normalise_trims_one_trailing_slash() {
        assert_eq!(normalise("/health/"), "/health");
        assert_eq!(normalise("/health"), "/health");
        assert_eq!(normalise("/"), "/");
        assert_eq!(normalise(""), "");
    }
}
