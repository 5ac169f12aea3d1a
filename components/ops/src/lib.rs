//! `ops`: operational endpoints of spinshop — `GET /health` (liveness),
//! `GET /ready` (dependency checks), `GET /api` (the public route table
//! of the application), `GET /api-docs` (its OpenAPI document, gathered
//! from every component) and `GET /docs` (that document as a page).

pub mod api_docs;
pub mod docs_page;
mod exposition;
mod health;
mod metrics;
pub mod routes;

use platform::openapi::{Param, Reply};
use platform::{Component, Handler, Route, RouteDoc};

/// Operations as the platform serves them: public routes, not rate
/// limited (monitors call them).
pub static COMPONENT: Component = Component {
    name: "ops",
    body_limit: 16 * 1024,
    routes: ROUTES,
    ..Component::BASE
};

/// Ops' routes; the API documents are rate limited, as each gathers
/// every component's part.
pub const ROUTES: &[Route] = &[
    Route::get("/health", Handler::Sync(|_, _| Ok(health::live()))).doc(&RouteDoc {
        summary: "Liveness: 200 whenever the application answers",
        replies: &[Reply::json::<health::Liveness>(200, "Alive")],
        ..RouteDoc::BASE
    }),
    Route::get(
        "/ready",
        Handler::Sync(|req, _| Ok(health::ready(operator(req)))),
    )
    .doc(&RouteDoc {
        summary: "Readiness: SQLite and Redis answer",
        description: "Why a check failed is shown only with the internal credential.",
        replies: &[
            Reply::json::<health::HealthReport>(200, "Ready"),
            Reply::json::<health::HealthReport>(503, "Not ready: the failing check is named"),
        ],
        ..RouteDoc::BASE
    }),
    Route::get("/api", Handler::Sync(|_, _| routes::respond())).doc(&RouteDoc {
        summary: "The application's public routes, as spin.toml routes them",
        replies: &[Reply::json::<routes::ApiIndex>(200, "The route index")],
        ..RouteDoc::BASE
    }),
    Route::get("/metrics", platform::handler!(async metrics::respond)).doc(&RouteDoc {
        summary: "Every component's metrics, as one Prometheus text document",
        params: &[Param::header::<String>(
            "Authorization",
            "`Bearer <metrics_token>` when the deployment sets `metrics_token`",
        )],
        replies: &[Reply::text(200, "The metrics", "text/plain")],
        errors: &[(
            401,
            "the deployment sets `metrics_token` and it was not sent",
        )],
        ..RouteDoc::BASE
    }),
    Route::get("/api-docs", platform::handler!(async api_docs::respond))
        .limit_or("api_docs", "30/2")
        .doc(&RouteDoc {
            summary: "This OpenAPI 3.1 document",
            replies: &[Reply::json::<serde_json::Map<String, serde_json::Value>>(
                200,
                "The document",
            )],
            errors: &[(503, "some component's part cannot be had now")],
            ..RouteDoc::BASE
        }),
    Route::get("/docs", platform::handler!(async docs_page::respond))
        .limit_or("api_docs", "30/2")
        .doc(&RouteDoc {
            summary: "This document as a page for a person",
            replies: &[Reply::text(200, "The page", "text/html")],
            errors: &[(503, "some component's part cannot be had now")],
            ..RouteDoc::BASE
        }),
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
        for path in ["/health", "/ready", "/api", "/api-docs", "/docs"] {
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
