//! `ops`: operational endpoints of spinshop — `GET /health` (dependency
//! checks) and `GET /api` (the public route table of the application).

mod health;
mod routes;

use platform::{ApiError, Context, Method, Request, Response};

/// The component's name in logs.
pub const COMPONENT: &str = "ops";

platform::http_component!(crate::COMPONENT, 16 * 1024, crate::route);

/// Routes one request.
pub fn route(req: &Request, _ctx: &Context) -> Result<Response, ApiError> {
    let path = normalise(&req.path);
    let known = matches!(path, "/health" | "/api");
    match (req.method, path) {
        (Method::Get, "/health") => Ok(health::respond()),
        (Method::Get, "/api") => routes::respond(),
        _ if known => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        (_, path) => Err(ApiError::NotFound(format!("no route for {path}"))),
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

    fn call(method: Method, path: &str) -> Response {
        let req = Request::new(method, path, &[], b"");
        let ctx = Context::from_request(COMPONENT, &req);
        platform::serve::respond(route(&req, &ctx), &ctx, method.as_str(), path)
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
        for path in ["/health", "/api"] {
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

    #[test]
    fn normalise_trims_one_trailing_slash() {
        assert_eq!(normalise("/health/"), "/health");
        assert_eq!(normalise("/health"), "/health");
        assert_eq!(normalise("/"), "/");
        assert_eq!(normalise(""), "");
    }
}
