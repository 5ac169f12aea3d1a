//! `ops`: operational endpoints of spinshop — `GET /health` (liveness),
//! `GET /ready` (dependency checks) and `GET /api` (the public route table
//! of the application).

mod health;
mod routes;

use platform::{Component, Handler, Route};

/// Operations as the platform serves them: public routes, not rate
/// limited (monitors call them).
pub static COMPONENT: Component = Component {
    name: "ops",
    body_limit: 16 * 1024,
    routes: ROUTES,
    ..Component::BASE
};

const ROUTES: &[Route] = &[
    Route::get("/health", Handler::Sync(|_, _| Ok(health::live()))),
    Route::get(
        "/ready",
        Handler::Sync(|req, _| Ok(health::ready(operator(req)))),
    ),
    Route::get("/api", Handler::Sync(|_, _| routes::respond())),
];

/// Whether the caller holds the internal credential (the bridge, an
/// operator): it may see why a check failed.
fn operator(req: &platform::Request) -> bool {
    req.header("authorization").is_some() && platform::internal::require_internal(req).is_ok()
}

platform::export!(COMPONENT);

#[cfg(test)]
mod tests {
    use platform::{Method, Response};
    use serde_json::Value;

    use super::*;

    fn call(method: Method, path: &str) -> Response {
        COMPONENT.answer(platform::Request::new(method, path, &[], b""))
    }

    fn body_json(response: &Response) -> Value {
        serde_json::from_slice(&response.body).expect("JSON body")
    }

    #[test]
    fn api_lists_the_public_manifest_routes() {
        let response = call(Method::Get, "/api");
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("application/json"));
        let body = body_json(&response);
        assert_eq!(body["name"], "spinshop");
        let routes = body["routes"].as_array().expect("routes array");
        assert!(routes.contains(&serde_json::json!({"route": "/health", "component": "ops"})));
        assert!(routes.contains(&serde_json::json!({"route": "/ready", "component": "ops"})));
        assert!(routes.contains(&serde_json::json!({"route": "/api", "component": "ops"})));
        assert!(
            !routes.iter().any(|r| r["route"]
                .as_str()
                .is_some_and(|r| r.starts_with("/internal/"))),
            "the bridge's routes are not advertised"
        );
    }

    #[test]
    fn trailing_slash_is_the_same_route() {
        assert_eq!(call(Method::Get, "/api/").status, 200);
    }

    #[test]
    fn other_methods_are_405_with_allow() {
        for path in ["/health", "/ready", "/api"] {
            let response = call(Method::Post, path);
            assert_eq!(response.status, 405, "{path}");
            assert_eq!(response.header("allow"), Some("GET"));
            assert_eq!(
                response.header("content-type"),
                Some("application/problem+json")
            );
            let body = body_json(&response);
            assert_eq!(body["status"], 405);
            assert_eq!(body["type"], "about:blank");
        }
    }

    #[test]
    fn unknown_paths_are_404_problems() {
        let response = call(Method::Get, "/api/nothing");
        assert_eq!(response.status, 404);
        let body = body_json(&response);
        assert_eq!(body["title"], "Not Found");
        assert_eq!(body["detail"], "no route for /api/nothing");
        assert!(response.header("x-request-id").is_some());
    }
}
