use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::fragment::{openapi_path, operation_id};
use super::*;
use crate::request::Method;
use crate::router::{Handler, Route};
use crate::{ApiError, Context, Request, Response};

fn ok(_: &Request, _: &Context) -> Result<Response, ApiError> {
    Ok(Response::empty(204))
}

/// A line to order.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct NewThing {
    name: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// A thing as clients see it.
#[derive(Debug, Serialize, JsonSchema)]
struct Thing {
    id: String,
    name: String,
}

const TABLE: &[Route] = &[
    Route::post("/api/things", Handler::Sync(ok)).doc(&RouteDoc {
        summary: "Make a thing",
        access: Access::Admin,
        params: &[IDEMPOTENCY_KEY],
        body: Some(Body::json::<NewThing>(r#"{"name": "lamp"}"#)),
        replies: &[Reply::json::<Thing>(201, "The thing").headers(&[LOCATION])],
        errors: &[(409, "a thing of that name exists")],
        ..RouteDoc::BASE
    }),
    Route::get("/api/things/:id", Handler::Sync(ok))
        .unlimited()
        .doc(&RouteDoc {
            summary: "A thing",
            replies: &[Reply::json::<Thing>(200, "The thing")],
            ..RouteDoc::BASE
        }),
];

fn doc() -> Value {
    fragment("things", TABLE, Some("things")).expect("documented")
}

#[test]
fn paths_and_operation_ids_read_like_the_routes() {
    assert_eq!(
        openapi_path("/api/orders/:id/status"),
        "/api/orders/{id}/status"
    );
    assert_eq!(
        operation_id(Method::Get, "/api/orders/:id/status"),
        "getApiOrdersByIdStatus"
    );
    assert_eq!(
        operation_id(Method::Post, "/sandbox/psp/charges/:charge_id/refunds"),
        "postSandboxPspChargesByChargeIdRefunds"
    );
    assert_eq!(operation_id(Method::Get, "/api-docs"), "getApiDocs");
}

#[test]
fn an_operation_says_who_may_call_it_and_every_answer() {
    let doc = doc();
    let post = &doc["paths"]["/api/things"]["post"];
    assert_eq!(post["security"], json!([{ "bearerAuth": ["admin"] }]));
    assert_eq!(post["tags"], json!(["things"]));
    let statuses: Vec<&String> = post["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .collect();
    assert_eq!(
        statuses,
        ["201", "400", "401", "403", "409", "413", "415", "422", "429", "503"]
    );
    assert_eq!(
        post["responses"]["409"]["description"],
        "a thing of that name exists"
    );
    assert_eq!(
        post["responses"]["422"]["description"],
        "the Idempotency-Key was used with another request",
        "a declared reason wins over the generic one"
    );
    assert_eq!(
        post["responses"]["400"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    assert_eq!(
        post["requestBody"]["content"]["application/json"]["example"],
        json!({ "name": "lamp" })
    );
    assert!(post["responses"]["201"]["headers"]["Location"].is_object());
    let get = &doc["paths"]["/api/things/{id}"]["get"];
    assert_eq!(get["security"], json!([]));
    assert_eq!(get["parameters"][0]["name"], "id");
    assert_eq!(get["parameters"][0]["in"], "path");
    assert_eq!(get["parameters"][0]["required"], true);
    assert!(
        get["responses"].get("429").is_none(),
        "an unlimited route is never rate limited"
    );
    assert!(get["responses"].get("404").is_some());
}

#[test]
fn schemas_come_from_the_types_as_they_are_read_and_written() {
    let doc = doc();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["NewThing"]["additionalProperties"], false);
    assert_eq!(schemas["NewThing"]["required"], json!(["name"]));
    assert_eq!(schemas["Thing"]["required"], json!(["id", "name"]));
    assert_eq!(
        schemas["Problem"]["required"],
        json!(["type", "title", "status", "detail", "request_id"])
    );
    assert_eq!(
        doc["paths"]["/api/things"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/NewThing",
        "request schemas join the response schemas"
    );
}

#[test]
fn an_undocumented_route_or_a_stale_example_is_refused() {
    let bare = [Route::get("/api/bare", Handler::Sync(ok))];
    let err = fragment("things", &bare, None).expect_err("undocumented");
    assert!(err.contains("get /api/bare has no documentation"), "{err}");
    const STALE: &[Route] = &[
        Route::post("/api/things", Handler::Sync(ok)).doc(&RouteDoc {
            body: Some(Body::json::<NewThing>(
                r#"{"name": "lamp", "colour": "red"}"#,
            )),
            ..RouteDoc::BASE
        }),
    ];
    let err = fragment("things", STALE, None).expect_err("stale example");
    assert!(err.contains("colour"), "{err}");
    const STRAY: &[Route] = &[Route::get("/api/things", Handler::Sync(ok)).doc(&RouteDoc {
        params: &[Param::path::<String>("id", "")],
        ..RouteDoc::BASE
    })];
    assert!(fragment("things", STRAY, None)
        .expect_err("no such path parameter")
        .contains("no :id"));
}

#[test]
fn a_name_given_to_two_different_schemas_is_renamed_with_its_references() {
    let mut into: Map<String, Value> = serde_json::from_value(json!({
        "Line": { "type": "object", "properties": { "sku": { "type": "string" } } },
        "Shared": { "type": "string" },
    }))
    .expect("map");
    let incoming: Map<String, Value> = serde_json::from_value(json!({
        "Line": { "type": "object", "properties": { "qty": { "type": "integer" } } },
        "Order": { "type": "array", "items": { "$ref": "#/x/Line" } },
        "Shared": { "type": "string" },
    }))
    .expect("map");
    let names = schemas::merge(&mut into, incoming, "#/x/", "_orders");
    assert_eq!(schemas::renamed(&names), [("Line", "Line_orders")]);
    assert_eq!(
        into["Order"]["items"]["$ref"],
        "#/components/schemas/Line_orders"
    );
    assert_eq!(into["Line"]["properties"]["sku"]["type"], "string");
    assert_eq!(into["Line_orders"]["properties"]["qty"]["type"], "integer");
    let mut operation = json!({ "schema": { "$ref": "#/x/Line" } });
    schemas::rewrite(&mut operation, "#/x/", &names);
    assert_eq!(
        operation["schema"]["$ref"],
        "#/components/schemas/Line_orders"
    );
}

#[test]
fn a_form_body_and_a_marketplace_token_are_documented_as_such() {
    const FORM: &[Route] = &[
        Route::post("/api/things", Handler::Sync(ok)).doc(&RouteDoc {
            access: Access::MercadoLibre,
            body: Some(Body::json::<NewThing>(r#"{"name": "lamp"}"#).or_form()),
            replies: &[
                Reply::json::<Thing>(201, "The thing"),
                Reply::json::<Thing>(401, "Not with that token"),
            ],
            ..RouteDoc::BASE
        }),
    ];
    let doc = fragment("things", FORM, None).expect("documented");
    let post = &doc["paths"]["/api/things"]["post"];
    assert_eq!(post["security"], json!([{ "mlAccessToken": [] }]));
    let content = &post["requestBody"]["content"];
    assert_eq!(
        content["application/x-www-form-urlencoded"]["schema"],
        content["application/json"]["schema"]
    );
    assert!(
        post["responses"]["401"]["content"]["application/json"].is_object(),
        "the route's own 401, not a problem"
    );
    assert!(doc["components"]["securitySchemes"]["mlAccessToken"].is_object());
}
