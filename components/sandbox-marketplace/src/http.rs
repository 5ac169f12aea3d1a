//! The sandbox's routes: MercadoLibre's paths under `/sandbox/ml` (the
//! authorization endpoint, the token endpoint, the resources), and the
//! admin's control under `/sandbox/ml/control`.

use platform::openapi::{Access, Body, Header, Param, Reply, LOCATION};
use platform::{Handler, Route, RouteDoc};

use crate::domain::{ControlPatch, ItemUpdate, Sale};
use crate::ml_error::MlError;
use crate::views::{
    CategoryView, ControlView, ItemSearch, ItemView, NotificationList, NotificationView,
    TokenGranted, TokenRequestBody, UserView,
};
use crate::{api, control};

/// `Retry-After` on a 429.
const RETRY_AFTER: Header = Header {
    name: "Retry-After",
    description: "seconds until the next minute's window opens",
};

/// What the control can make any resource or token call answer.
const LIMITED: Reply = Reply::json::<MlError>(
    429,
    "the control's rate limit for this minute is spent; the body is exactly \
     {\"message\":\"Too Many Requests\",\"error\":\"too_many_requests\",\"status\":429}",
)
.headers(&[RETRY_AFTER]);
const FAILED: Reply =
    Reply::json::<MlError>(500, "an injected failure (the control's failure_rate)");
const OUTAGE: Reply = Reply::json::<MlError>(503, "an injected outage (the control's outage)");
const UNAUTHORIZED: Reply = Reply::json::<MlError>(
    401,
    "no access token, or one unknown or expired (`invalid access token`)",
);
const ITEM_NOT_FOUND: Reply =
    Reply::json::<MlError>(404, "no such item (`Item with id ... not found`)");

/// An item id in the path.
const ITEM_ID: Param =
    Param::path::<String>("item_id", "a MercadoLibre item id (MLA and digits)").example("MLA123");

/// The sandbox's routes.
pub const ROUTES: &[Route] = &[
    Route::get("/sandbox/ml/authorization", Handler::Sync(api::authorization)).doc(&RouteDoc {
        summary: "Sandbox MercadoLibre: authorize an application (OAuth 2.0 code with PKCE)",
        description: "No login form: the request is approved at once as the control's \
            `approve_user_id` (or the seeded user `user_id` names) and the browser is sent to \
            `redirect_uri?code=TG-...&state=...`. `client_id` and `redirect_uri` must be the \
            application's (`ml_client_id`, `ml_redirect_uri`) exactly, else a 400 page without \
            a redirect; other mistakes go back to the redirect URI with `error` (OAuth 2.0). A \
            code lasts 10 minutes, is spent once, and is bound to the client, the redirect URI \
            and the `S256` challenge.",
        params: &[
            Param::one_of("response_type", "always `code`", &["code"]).required(),
            Param::query::<String>("client_id", "the application's id (`ml_client_id`)")
                .required()
                .example("4242424242"),
            Param::query::<String>(
                "redirect_uri",
                "the application's registered redirect URI (`ml_redirect_uri`)",
            )
            .required()
            .example("http://127.0.0.1:3000/api/auth/callback"),
            Param::query::<String>("state", "returned as is with the code"),
            Param::query::<String>(
                "code_challenge",
                "PKCE: BASE64URL(SHA256(code_verifier)), 43 to 128 characters",
            ),
            Param::one_of(
                "code_challenge_method",
                "PKCE: `S256`, required with a code_challenge",
                &["S256"],
            ),
            Param::query::<i64>(
                "user_id",
                "sandbox only: approve as this seeded user (1001, 1002) instead of the \
                 control's approve_user_id",
            ),
        ],
        replies: &[Reply::empty(
            302,
            "To `redirect_uri` with `code` and `state`, or with `error` and \
             `error_description`",
        )
        .headers(&[LOCATION])],
        errors: &[(
            400,
            "client_id or redirect_uri is not the application's, a parameter is repeated, or \
             user_id names no seeded user",
        )],
        ..RouteDoc::BASE
    }),
    Route::post("/sandbox/ml/oauth/token", Handler::Sync(api::token)).doc(&RouteDoc {
        summary: "Sandbox MercadoLibre: exchange a code or a refresh token for tokens",
        description: "As MercadoLibre's `POST /oauth/token`: form-encoded (or JSON) \
            `grant_type=authorization_code` with `code`, `redirect_uri` and `code_verifier`, \
            or `grant_type=refresh_token` with `refresh_token`; `client_id` and \
            `client_secret` always. The access token lasts 6 hours; a refresh token is spent \
            once and each refresh answers a new one (of two concurrent refreshes with one \
            token, exactly one succeeds).",
        body: Some(
            Body::json::<TokenRequestBody>(
                r#"{"grant_type": "refresh_token", "client_id": "4242424242", "client_secret": "a-secret-of-at-least-32-bytes-000", "refresh_token": "TG-5b9032b4e23464aed1f959f1-1001"}"#,
            )
            .or_form(),
        ),
        replies: &[
            Reply::json::<TokenGranted>(200, "The tokens"),
            Reply::json::<MlError>(
                400,
                "`invalid_request` (a parameter missing or repeated), `invalid_grant` (the code \
                 or refresh token unknown, used, expired, or not this client's, redirect URI's \
                 or verifier's) or `unsupported_grant_type`",
            ),
            Reply::json::<MlError>(401, "`invalid_client`: the client_id or client_secret is wrong"),
            LIMITED,
            FAILED,
            Reply::json::<MlError>(
                503,
                "an injected outage, or the sandbox's client secret is not configured",
            ),
        ],
        ..RouteDoc::BASE
    }),
    Route::get("/sandbox/ml/users/me", Handler::Sync(api::me)).doc(&RouteDoc {
        summary: "Sandbox MercadoLibre: the access token's user",
        access: Access::MercadoLibre,
        replies: &[
            Reply::json::<UserView>(200, "The user"),
            UNAUTHORIZED,
            LIMITED,
            FAILED,
            OUTAGE,
        ],
        ..RouteDoc::BASE
    }),
    Route::get(
        "/sandbox/ml/users/:user_id/items/search",
        Handler::Sync(api::items_search),
    )
    .doc(&RouteDoc {
        summary: "Sandbox MercadoLibre: a seller's item ids",
        description: "Only the access token's own user: another id is a 403.",
        access: Access::MercadoLibre,
        params: &[
            Param::path::<i64>("user_id", "the seller's id (the token's user)").example("1001"),
            Param::query::<u32>("offset", "where the page starts (from 0, at most 10000)"),
            Param::query::<u32>("limit", "ids a page holds (1 to 100, 50 when not given)"),
        ],
        replies: &[
            Reply::json::<ItemSearch>(200, "The seller's item ids, by id"),
            Reply::json::<MlError>(400, "the user id, offset or limit is not a number in range"),
            UNAUTHORIZED,
            Reply::json::<MlError>(403, "the id is not the token's user"),
            LIMITED,
            FAILED,
            OUTAGE,
        ],
        ..RouteDoc::BASE
    }),
    Route::get("/sandbox/ml/items/:item_id", Handler::Sync(api::item)).doc(&RouteDoc {
        summary: "Sandbox MercadoLibre: an item",
        access: Access::MercadoLibre,
        params: &[ITEM_ID],
        replies: &[
            Reply::json::<ItemView>(200, "The item"),
            UNAUTHORIZED,
            ITEM_NOT_FOUND,
            LIMITED,
            FAILED,
            OUTAGE,
        ],
        ..RouteDoc::BASE
    }),
    Route::put("/sandbox/ml/items/:item_id", Handler::Sync(api::update_item)).doc(&RouteDoc {
        summary: "Sandbox MercadoLibre: change an item's stock, price or title",
        description: "Only the item's seller. Each change is notified to the application \
            (topic `items`) on the sandbox's next tick.",
        access: Access::MercadoLibre,
        params: &[ITEM_ID],
        body: Some(Body::json::<ItemUpdate>(
            r#"{"available_quantity": 18, "price": 15999.0}"#,
        )),
        replies: &[
            Reply::json::<ItemView>(200, "The item, changed"),
            Reply::json::<MlError>(
                400,
                "`bad_request` (not a JSON object of these fields) or `validation_error` \
                 (`cause` names each bad value)",
            ),
            UNAUTHORIZED,
            Reply::json::<MlError>(403, "the item is another seller's"),
            ITEM_NOT_FOUND,
            LIMITED,
            FAILED,
            OUTAGE,
        ],
        ..RouteDoc::BASE
    }),
    Route::get(
        "/sandbox/ml/categories/:category_id",
        Handler::Sync(api::category),
    )
    .doc(&RouteDoc {
        summary: "Sandbox MercadoLibre: a category and its path from the root",
        params: &[
            Param::path::<String>("category_id", "a category id (MLA and digits)")
                .example("MLA3697"),
        ],
        replies: &[
            Reply::json::<CategoryView>(200, "The category"),
            Reply::json::<MlError>(404, "no such category"),
            LIMITED,
            FAILED,
            OUTAGE,
        ],
        ..RouteDoc::BASE
    }),
    Route::get("/sandbox/ml/control", Handler::Sync(control::get_control)).doc(&RouteDoc {
        summary: "Sandbox MercadoLibre: the injected failures and the counters",
        access: Access::Admin,
        replies: &[Reply::json::<ControlView>(200, "The control")],
        ..RouteDoc::BASE
    }),
    Route::put("/sandbox/ml/control", Handler::Sync(control::put_control)).doc(&RouteDoc {
        summary: "Sandbox MercadoLibre: inject latency, failures, outages and a rate limit",
        description: "The fields given change, the others keep their value. They apply to \
            the token endpoint and the resources.",
        access: Access::Admin,
        body: Some(Body::json::<ControlPatch>(
            r#"{"failure_rate": 0, "latency_ms": 0, "outage": false, "rate_limit_per_minute": 0, "approve_user_id": 1001}"#,
        )),
        replies: &[Reply::json::<ControlView>(200, "The control")],
        ..RouteDoc::BASE
    }),
    Route::post(
        "/sandbox/ml/control/items/:item_id/sell",
        Handler::Sync(control::sell),
    )
    .doc(&RouteDoc {
        summary: "Sandbox MercadoLibre: simulate a sale of an item on MercadoLibre",
        description: "Available units down, sold units up, and a notification (topic `items`) \
            queued for the seller's application.",
        access: Access::Admin,
        params: &[ITEM_ID],
        body: Some(Body::json::<Sale>(r#"{"quantity": 1}"#)),
        replies: &[Reply::json::<ItemView>(200, "The item after the sale")],
        errors: &[(409, "fewer units are available")],
        ..RouteDoc::BASE
    }),
    Route::get(
        "/sandbox/ml/control/notifications",
        Handler::Sync(control::list_notifications),
    )
    .doc(&RouteDoc {
        summary: "Sandbox MercadoLibre: the notifications (newest first, 200 at most)",
        access: Access::Admin,
        replies: &[Reply::json::<NotificationList>(200, "The notifications")],
        ..RouteDoc::BASE
    }),
    Route::post(
        "/sandbox/ml/control/notifications/:notification_id/redeliver",
        Handler::Sync(control::redeliver),
    )
    .doc(&RouteDoc {
        summary: "Sandbox MercadoLibre: send a delivered notification again, with the same _id",
        description: "It goes out on the next tick, as MercadoLibre repeats notifications: \
            for testing that the receiver deduplicates.",
        access: Access::Admin,
        replies: &[Reply::json::<NotificationView>(202, "Queued again")],
        errors: &[(409, "the notification has not been delivered")],
        ..RouteDoc::BASE
    }),
];

#[cfg(test)]
mod tests {
    use super::*;
    use platform::{Method, Request};
    use serde_json::Value;

    #[test]
    fn every_route_is_documented_and_the_document_builds() {
        let doc =
            platform::openapi::fragment("sandbox-marketplace", ROUTES, None).expect("documented");
        let put = &doc["paths"]["/sandbox/ml/items/{item_id}"]["put"];
        assert_eq!(
            put["security"],
            serde_json::json!([{ "mlAccessToken": [] }])
        );
        assert_eq!(
            put["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/SandboxMlError"
        );
        let token = &doc["paths"]["/sandbox/ml/oauth/token"]["post"];
        assert!(token["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
        assert!(doc["components"]["schemas"]
            .as_object()
            .expect("schemas")
            .keys()
            .all(|name| name.starts_with("SandboxMl") || name == "Problem"));
    }

    #[test]
    fn unknown_paths_and_methods_are_the_platforms_answers() {
        let answer =
            |method, path: &str| crate::COMPONENT.answer(Request::new(method, path, &[], b""));
        assert_eq!(answer(Method::Get, "/sandbox/ml/nowhere").status, 404);
        let r = answer(Method::Patch, "/sandbox/ml/items/MLA123");
        assert_eq!((r.status, r.header("allow")), (405, Some("GET, PUT")));
        let body: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(body["status"], 405);
    }
}
