//! `GET /api-docs`: the OpenAPI 3.1 document of every public route. Each
//! component serves its part from its own route table and types
//! (`GET /internal/<component>/openapi`, see `platform::openapi`); this
//! gathers the parts through local service chaining and merges them, so
//! the document is the code's own description of itself.

use std::time::Duration;

use futures::future::join_all;
use platform::openapi::schemas::{self, PREFIX};
use platform::outbound::{CallError, Client, Exchange};
use platform::{ApiError, Context, Request, Response};
use serde_json::{json, Map, Value};

use crate::routes::{self, ApiIndex};

/// Each component's part must come within this.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What the document says before any route: how to call the API.
const DESCRIPTION: &str = "\
spinshop's public HTTP API: every route of every component, generated from the \
components' own route tables and types.

**Credentials.** Most routes need a bearer access token from `POST /api/auth/login` \
(`Authorization: Bearer <token>`); a route's security says whether it needs one, and \
`bearerAuth: [admin]` marks the routes for admins. The sandbox payment provider's \
money routes take its merchant API key instead, and the sandbox MercadoLibre API's \
resources a MercadoLibre access token (they answer MercadoLibre's own error shape, \
`message`, `error`, `status`, `cause`, as the real API does).

**Errors** are RFC 9457 `application/problem+json` documents (`type`, `title`, \
`status`, `detail`, `request_id`, and `field` naming the offending input, `limit` and \
`max` naming a limit met).

**Limits.** Routes are rate limited per client and route group: over the limit, 429 \
with `Retry-After`.

**Correlation.** Every response carries `x-request-id` and `traceparent`; quote the \
request id when reporting a problem.

**Retries.** Writes that take an `Idempotency-Key` answer a repeated key with the \
first answer; versioned records answer an `ETag` and take it back as `If-Match`.";

/// `GET /api-docs`.
pub async fn respond(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    Ok(Response::json(200, &document(ctx).await?).with_header("cache-control", "no-cache"))
}

/// The whole document: ops' own part, and every other component's,
/// fetched at once.
pub async fn document(ctx: &Context) -> Result<Value, ApiError> {
    let index = routes::index()?;
    let own =
        platform::openapi::fragment("ops", crate::ROUTES, None).map_err(ApiError::internal)?;
    let others: Vec<&str> = index
        .components()
        .into_iter()
        .filter(|c| *c != "ops")
        .collect();
    let token = spin_sdk::variables::get("internal_token").unwrap_or_default();
    let client = Client::new().timeout(TIMEOUT);
    let fetched = join_all(others.iter().map(|c| fetch(&client, ctx, c, &token))).await;
    let mut parts = vec![("ops".to_string(), own)];
    let mut missing = Vec::new();
    for (component, part) in others.iter().zip(fetched) {
        match part {
            Ok(part) => parts.push(((*component).to_string(), part)),
            Err(why) => missing.push(format!("{component} ({why})")),
        }
    }
    if !missing.is_empty() {
        // A document without some routes would describe another API.
        return Err(ApiError::Unavailable(format!(
            "the API document cannot be assembled: no part from {}",
            missing.join(", ")
        )));
    }
    merge(index, parts)
        .map(|merged| merged.document)
        .map_err(ApiError::internal)
}

/// One component's part, through local service chaining.
async fn fetch(
    client: &Client,
    ctx: &Context,
    component: &str,
    token: &str,
) -> Result<Value, String> {
    let url = format!("http://{component}.spin.internal/internal/{component}/openapi");
    let exchange = Exchange::get(url).header("authorization", format!("Bearer {token}"));
    let read = |status: u16, body: &[u8]| match status {
        200 => serde_json::from_slice::<Value>(body).map_err(|e| format!("not JSON: {e}")),
        other => Err(format!("status {other}")),
    };
    match client.send(ctx, exchange, read).await {
        Ok(answer) => Ok(answer.value),
        Err(CallError::Failed { last, .. }) => Err(last),
        Err(CallError::Unavailable { .. }) => Err("unavailable".into()),
    }
}

/// The merged document, and the schemas renamed because two components
/// gave one name to different schemas (the native test wants none).
#[derive(Debug)]
pub struct Merged {
    pub document: Value,
    /// `(component, its name, the name in the document)`.
    pub renamed: Vec<(String, String, String)>,
}

/// Merges the components' parts (`(component, part)`, ops' first) into
/// one document: paths side by side (a path and method twice is an
/// error), named schemas shared where identical.
pub fn merge(index: &ApiIndex, parts: Vec<(String, Value)>) -> Result<Merged, String> {
    let mut paths = Map::new();
    let mut named = Map::new();
    let mut renamed = Vec::new();
    let mut tags = Vec::new();
    for (component, mut part) in parts {
        let incoming = match part["components"]["schemas"].take() {
            Value::Object(schemas) => schemas,
            _ => Map::new(),
        };
        let names = schemas::merge(&mut named, incoming, PREFIX, &format!("_{component}"));
        for (from, to) in schemas::renamed(&names) {
            renamed.push((component.clone(), from.to_string(), to.to_string()));
        }
        let mut part_paths = part["paths"].take();
        schemas::rewrite(&mut part_paths, PREFIX, &names);
        let Value::Object(part_paths) = part_paths else {
            return Err(format!("{component}'s part has no paths"));
        };
        for (path, operations) in part_paths {
            let Value::Object(operations) = operations else {
                return Err(format!("{component}: {path} is not a path item"));
            };
            let item = paths.entry(path.clone()).or_insert_with(|| json!({}));
            for (method, operation) in operations {
                if item.get(&method).is_some() {
                    return Err(format!("{method} {path} is documented twice ({component})"));
                }
                item[method.as_str()] = operation;
            }
        }
        tags.push(json!({ "name": component }));
    }
    let document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": index.name,
            "version": index.version.clone().unwrap_or_else(|| env!("CARGO_PKG_VERSION").into()),
            "description": DESCRIPTION,
        },
        "servers": [{ "url": "/" }],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": named,
            "securitySchemes": platform::openapi::security_schemes(),
        },
    });
    Ok(Merged { document, renamed })
}
