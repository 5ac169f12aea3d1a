//! A component's part of the OpenAPI document, built from its route
//! table: one operation per route, with the schemas its types name.

use schemars::generate::{Contract, SchemaSettings};
use serde_json::{json, Map, Value};

use super::schemas::{self, PREFIX};
use super::{Access, Content, Location, Param, Reply, RouteDoc, SchemaGenerator};
use crate::domain::Id;
use crate::problem::{ApiError, Problem};
use crate::request::Method;
use crate::response::Response;
use crate::router::{Limit, Route};

/// Where request schemas are named until they join the response schemas
/// (a type may be read and written differently, see [`Contract`]).
const REQUEST_PREFIX: &str = "#/x-request-schemas/";

/// How callers prove who they are, by the names operations use.
pub fn security_schemes() -> Value {
    json!({
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from `POST /api/auth/login` or `POST /api/auth/refresh` \
                (EdDSA-signed JWT, 15 minutes). Operations that need an admin list the role \
                `admin`; a customer's token is refused there with 403.",
        },
        "pspApiKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "The sandbox payment provider's merchant API key (`psp_api_key`), \
                which only the payments component holds.",
        },
        "mlAccessToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "A MercadoLibre access token (`APP_USR-...`, 6 hours) from the sandbox \
                MercadoLibre API's `POST /sandbox/ml/oauth/token`, as the real API takes one.",
        },
    })
}

/// `GET /internal/<component>/openapi`: the component's part of the
/// document; a route without documentation is a 500 naming it.
pub fn serve(
    component: &str,
    routes: &[Route],
    default_limit: Option<&str>,
) -> Result<Response, ApiError> {
    let fragment = fragment(component, routes, default_limit).map_err(ApiError::internal)?;
    Ok(Response::json(200, &fragment))
}

/// The OpenAPI document of one component's public routes (a whole,
/// valid document: `ops` merges them). `default_limit` is the component's
/// rate-limit group for routes that name none.
pub fn fragment(
    component: &str,
    routes: &[Route],
    default_limit: Option<&str>,
) -> Result<Value, String> {
    let mut requests = generator(Contract::Deserialize, REQUEST_PREFIX);
    let mut responses = generator(Contract::Serialize, PREFIX);
    let mut paths = Map::new();
    for route in routes {
        let method = route.method.as_str().to_ascii_lowercase();
        let doc = route.doc.ok_or_else(|| {
            format!(
                "{method} {} has no documentation: give its route .doc(&RouteDoc {{ .. }})",
                route.path
            )
        })?;
        let limited = match route.limit {
            Limit::Unlimited => false,
            Limit::Default => default_limit.is_some(),
            Limit::Group(_) | Limit::Own(..) => true,
        };
        let operation = Operation {
            component,
            route,
            doc,
            limited,
        }
        .build(&mut requests, &mut responses)
        .map_err(|e| format!("{method} {}: {e}", route.path))?;
        let item = paths
            .entry(openapi_path(route.path))
            .or_insert_with(|| json!({}));
        if item.get(&method).is_some() {
            return Err(format!("{method} {} is in the table twice", route.path));
        }
        item[method.as_str()] = operation;
    }
    let mut paths = Value::Object(paths);
    let mut named = responses.take_definitions(true);
    let names = schemas::merge(
        &mut named,
        requests.take_definitions(true),
        REQUEST_PREFIX,
        "Input",
    );
    schemas::rewrite(&mut paths, REQUEST_PREFIX, &names);
    Ok(json!({
        "openapi": "3.1.0",
        "info": { "title": format!("spinshop: {component}"), "version": env!("CARGO_PKG_VERSION") },
        "tags": [{ "name": component }],
        "paths": paths,
        "components": { "schemas": named, "securitySchemes": security_schemes() },
    }))
}

fn generator(contract: Contract, prefix: &str) -> SchemaGenerator {
    let path = prefix
        .trim_start_matches('#')
        .trim_end_matches('/')
        .to_string();
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = path.into();
            s.meta_schema = None;
            s.contract = contract;
        })
        .into_generator()
}

/// `/api/orders/:id` -> `/api/orders/{id}`.
pub(super) fn openapi_path(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|s| match s.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The `:name` parameters of a pattern.
fn path_params(pattern: &str) -> Vec<&str> {
    pattern
        .split('/')
        .filter_map(|s| s.strip_prefix(':'))
        .collect()
}

/// `GET /api/orders/:id/status` -> `getApiOrdersByIdStatus`.
pub(super) fn operation_id(method: Method, pattern: &str) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    for segment in pattern.split('/').filter(|s| !s.is_empty()) {
        let word = match segment.strip_prefix(':') {
            Some(name) => {
                id.push_str("By");
                name
            }
            None => segment,
        };
        for part in word.split(['-', '_', '.']).filter(|p| !p.is_empty()) {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                id.extend(first.to_uppercase());
                id.push_str(chars.as_str());
            }
        }
    }
    id
}

/// One route's operation.
struct Operation<'a> {
    component: &'a str,
    route: &'a Route,
    doc: &'static RouteDoc,
    limited: bool,
}

impl Operation<'_> {
    fn build(
        &self,
        requests: &mut SchemaGenerator,
        responses: &mut SchemaGenerator,
    ) -> Result<Value, String> {
        let doc = self.doc;
        let mut operation = json!({
            "tags": [self.component],
            "summary": doc.summary,
            "operationId": operation_id(self.route.method, self.route.path),
            "security": security(doc.access),
        });
        if !doc.description.is_empty() {
            operation["description"] = json!(doc.description);
        }
        let parameters = self.parameters(requests)?;
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if let Some(body) = &doc.body {
            (body.parse)(body.example.as_bytes())
                .map_err(|e| format!("the body's example does not parse: {e}"))?;
            let example: Value = serde_json::from_str(body.example)
                .map_err(|e| format!("the body's example is not JSON: {e}"))?;
            let schema = (body.schema)(requests);
            let mut request_body = json!({
                "required": body.required,
                "content": { "application/json": {
                    "schema": schema.clone(),
                    "example": example,
                }},
            });
            if body.form {
                request_body["content"]["application/x-www-form-urlencoded"] =
                    json!({ "schema": schema });
            }
            if !body.description.is_empty() {
                request_body["description"] = json!(body.description);
            }
            operation["requestBody"] = request_body;
        }
        operation["responses"] = self.responses(responses);
        Ok(operation)
    }

    /// Path parameters in the pattern's order (ids unless declared), then
    /// the declared query and header parameters, then paging.
    fn parameters(&self, requests: &mut SchemaGenerator) -> Result<Vec<Value>, String> {
        let doc = self.doc;
        let in_path = path_params(self.route.path);
        if let Some(stray) = doc
            .params
            .iter()
            .find(|p| p.location == Location::Path && !in_path.contains(&p.name))
        {
            return Err(format!("no :{} in the path", stray.name));
        }
        let mut out = Vec::new();
        for name in in_path {
            let declared = doc
                .params
                .iter()
                .find(|p| p.location == Location::Path && p.name == name);
            let param = declared.copied().unwrap_or(Param {
                example: Some("0198c3a0-7e3c-7d1e-9b2a-5f0c1d2e3f40"),
                ..Param::path::<Id>(name, "")
            });
            out.push(parameter(&param, requests));
        }
        for param in doc.params.iter().filter(|p| p.location != Location::Path) {
            out.push(parameter(param, requests));
        }
        if let Some(page) = doc.page {
            out.push(json!({
                "name": "limit", "in": "query", "required": false,
                "description": "How many items a page holds.",
                "schema": { "type": "integer", "minimum": 1, "maximum": page.max, "default": page.default },
            }));
            out.push(json!({
                "name": "cursor", "in": "query", "required": false,
                "description": "Where the page starts: the `next_cursor` of the page before.",
                "schema": { "type": "string" },
            }));
        }
        Ok(out)
    }

    fn responses(&self, responses: &mut SchemaGenerator) -> Value {
        let mut out = Map::new();
        for reply in self.doc.replies {
            out.insert(reply.status.to_string(), reply_json(reply, responses));
        }
        let problem = responses.subschema_for::<Problem>();
        for (status, why) in self.errors() {
            out.entry(status.to_string()).or_insert_with(|| {
                let mut answer = json!({
                    "description": why,
                    "content": { "application/problem+json": { "schema": problem.clone() } },
                });
                let header = match status {
                    401 => Some(("WWW-Authenticate", "`Bearer`")),
                    429 => Some(("Retry-After", "seconds until a retry may succeed")),
                    _ => None,
                };
                if let Some((name, description)) = header {
                    answer["headers"] = json!({ name: {
                        "description": description, "schema": { "type": "string" },
                    }});
                }
                answer
            });
        }
        Value::Object(out)
    }

    /// The route's error statuses: declared first (their reasons win),
    /// then what its parameters, body, credentials and limit imply.
    fn errors(&self) -> Vec<(u16, &'static str)> {
        let doc = self.doc;
        let mut errors: Vec<(u16, &'static str)> = doc.errors.to_vec();
        for param in doc.params {
            errors.extend_from_slice(param.errors);
        }
        if doc.body.is_some() {
            errors.extend([
                (400, "the body is not JSON of the expected shape (the problem's `field` names where)"),
                (413, "the body is larger than the component accepts"),
                (415, "the body is not `application/json`"),
            ]);
        }
        let has_path_params = self.route.path.contains(':');
        if doc.body.is_some() || has_path_params || doc.page.is_some() || !doc.params.is_empty() {
            errors.push((422, "a value is invalid (the problem's `field` names it)"));
        }
        if has_path_params {
            errors.push((404, "no such resource, or not the caller's to see"));
        }
        match doc.access {
            Access::Anyone => {}
            Access::Optional | Access::User | Access::Admin => {
                errors.push((401, "the bearer token is missing (where one is needed), invalid, expired or revoked"));
                errors.push((
                    503,
                    "the token cannot be checked now (the revocation list is unreachable)",
                ));
            }
            Access::Merchant => {
                errors.push((401, "the merchant API key is missing or wrong"));
                errors.push((503, "the merchant API key is not configured"));
            }
            // Its 401 is MercadoLibre's shape, declared among the replies.
            Access::MercadoLibre => {}
        }
        if doc.access == Access::Admin {
            errors.push((403, "the caller is not an admin"));
        }
        if self.limited {
            errors.push((429, "the caller's rate limit for this route is spent"));
        }
        let mut seen = Vec::new();
        errors.retain(|(status, _)| {
            let first = !seen.contains(status);
            seen.push(*status);
            first
        });
        errors
    }
}

fn parameter(param: &Param, requests: &mut SchemaGenerator) -> Value {
    let schema = if param.values.is_empty() {
        (param.schema)(requests).to_value()
    } else {
        json!({ "type": "string", "enum": param.values })
    };
    let mut out = json!({
        "name": param.name,
        "in": param.location.as_str(),
        "required": param.required,
        "schema": schema,
    });
    if !param.description.is_empty() {
        out["description"] = json!(param.description);
    }
    if let Some(example) = param.example {
        out["example"] = json!(example);
    }
    out
}

fn reply_json(reply: &Reply, responses: &mut SchemaGenerator) -> Value {
    let mut out = json!({ "description": reply.description });
    let media = match reply.content {
        Content::Empty => None,
        Content::Json(schema) => Some(("application/json", schema(responses).to_value())),
        Content::Problem(schema) => {
            Some(("application/problem+json", schema(responses).to_value()))
        }
        Content::Text(media_type) => Some((media_type, json!({ "type": "string" }))),
    };
    if let Some((media_type, schema)) = media {
        let mut content = json!({ "schema": schema });
        if let Some(example) = reply.example {
            content["example"] = example();
        }
        out["content"] = json!({ media_type: content });
    }
    if !reply.headers.is_empty() {
        let headers: Map<String, Value> = reply
            .headers
            .iter()
            .map(|h| {
                let header =
                    json!({ "description": h.description, "schema": { "type": "string" } });
                (h.name.to_string(), header)
            })
            .collect();
        out["headers"] = Value::Object(headers);
    }
    out
}

/// The security requirement of an access level (OpenAPI 3.1 lets an
/// `http` scheme list the roles it needs).
fn security(access: Access) -> Value {
    match access {
        Access::Anyone => json!([]),
        Access::Optional => json!([{}, { "bearerAuth": [] }]),
        Access::User => json!([{ "bearerAuth": [] }]),
        Access::Admin => json!([{ "bearerAuth": ["admin"] }]),
        Access::Merchant => json!([{ "pspApiKey": [] }]),
        Access::MercadoLibre => json!([{ "mlAccessToken": [] }]),
    }
}
