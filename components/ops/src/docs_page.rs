//! `GET /docs`: the OpenAPI document as a page for a person, rendered
//! here from the same document `GET /api-docs` answers. Server-side HTML
//! needs no script, no front-end build and nothing from npm; minijinja
//! escapes every text the document holds (its template is `.html`).

use minijinja::Environment;
use platform::openapi::schemas::PREFIX;
use platform::{ApiError, Context, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value};

/// The page's template.
const TEMPLATE: &str = include_str!("docs.html");
/// Methods in the order a reader expects them.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `GET /docs`.
pub async fn respond(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let document = crate::api_docs::document(ctx).await?;
    let html = render(&document).map_err(ApiError::internal)?;
    Ok(Response {
        status: 200,
        headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
        body: html.into_bytes(),
    }
    .with_header("cache-control", "no-cache"))
}

/// The page for `document`.
pub fn render(document: &Value) -> Result<String, String> {
    let page = Page::of(document);
    let mut env = Environment::new();
    // The name's `.html` turns on HTML escaping of every value.
    env.add_template("docs.html", TEMPLATE)
        .map_err(|e| e.to_string())?;
    let template = env.get_template("docs.html").map_err(|e| e.to_string())?;
    template
        .render(minijinja::Value::from(minijinja::value::Serde(&page)))
        .map_err(|e| e.to_string())
}

/// What the template shows.
#[derive(Debug, Serialize)]
struct Page {
    title: String,
    version: String,
    description: String,
    groups: Vec<Group>,
    schemas: Vec<Named>,
}

/// The operations of one component.
#[derive(Debug, Serialize)]
struct Group {
    tag: String,
    operations: Vec<Operation>,
}

#[derive(Debug, Serialize)]
struct Operation {
    anchor: String,
    method: String,
    /// The method in lower case, as the page's style names it.
    class: String,
    path: String,
    summary: String,
    description: String,
    access: String,
    params: Vec<Field>,
    body: Option<Field>,
    responses: Vec<Field>,
}

/// A row: a parameter, a body, a response or a schema's property.
#[derive(Debug, Serialize)]
struct Field {
    name: String,
    /// Where it is (`query`, `header`, a media type...).
    place: String,
    required: bool,
    kind: Vec<Part>,
    description: String,
}

/// A piece of a type's text, linked when it names a schema.
#[derive(Debug, Serialize)]
struct Part {
    text: String,
    link: Option<String>,
}

/// A named schema.
#[derive(Debug, Serialize)]
struct Named {
    name: String,
    description: String,
    kind: Vec<Part>,
    fields: Vec<Field>,
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

impl Page {
    fn of(doc: &Value) -> Self {
        let mut groups: Vec<Group> = doc["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| Group {
                tag: text(&t["name"]),
                operations: Vec::new(),
            })
            .collect();
        let empty = Map::new();
        for (path, item) in doc["paths"].as_object().unwrap_or(&empty) {
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let tag = text(&op["tags"][0]);
                let operation = Operation::of(method, path, op);
                match groups.iter_mut().find(|g| g.tag == tag) {
                    Some(group) => group.operations.push(operation),
                    None => groups.push(Group {
                        tag,
                        operations: vec![operation],
                    }),
                }
            }
        }
        let schemas = doc["components"]["schemas"]
            .as_object()
            .unwrap_or(&empty)
            .iter()
            .map(|(name, schema)| Named {
                name: name.clone(),
                description: text(&schema["description"]),
                kind: kind(schema),
                fields: properties(schema),
            })
            .collect();
        Self {
            title: text(&doc["info"]["title"]),
            version: text(&doc["info"]["version"]),
            description: text(&doc["info"]["description"]),
            groups,
            schemas,
        }
    }
}

impl Operation {
    fn of(method: &str, path: &str, op: &Value) -> Self {
        let params = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| Field {
                name: text(&p["name"]),
                place: text(&p["in"]),
                required: p["required"].as_bool().unwrap_or(false),
                kind: kind(&p["schema"]),
                description: text(&p["description"]),
            })
            .collect();
        let body = op.get("requestBody").map(|b| {
            let (media, schema) = first_content(b);
            Field {
                name: "body".into(),
                place: media,
                required: b["required"].as_bool().unwrap_or(false),
                kind: kind(&schema),
                description: text(&b["description"]),
            }
        });
        let responses = op["responses"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(status, r)| {
                let (media, schema) = first_content(r);
                Field {
                    name: status.clone(),
                    place: media,
                    required: false,
                    kind: if schema.is_null() {
                        Vec::new()
                    } else {
                        kind(&schema)
                    },
                    description: text(&r["description"]),
                }
            })
            .collect();
        Self {
            anchor: text(&op["operationId"]),
            method: method.to_ascii_uppercase(),
            class: method.to_string(),
            path: path.to_string(),
            summary: text(&op["summary"]),
            description: text(&op["description"]),
            access: access(&op["security"]),
            params,
            body,
            responses,
        }
    }
}

/// Who may call an operation, from its security requirement.
fn access(security: &Value) -> String {
    let requirements = security.as_array().cloned().unwrap_or_default();
    if requirements.is_empty() {
        return "anyone".into();
    }
    if requirements
        .iter()
        .any(|r| r.as_object().is_some_and(Map::is_empty))
    {
        return "anyone; a signed-in user's token is read when sent".into();
    }
    if requirements.iter().any(|r| r.get("pspApiKey").is_some()) {
        return "the payment provider's merchant API key".into();
    }
    if requirements
        .iter()
        .any(|r| r.get("mlAccessToken").is_some())
    {
        return "a MercadoLibre access token".into();
    }
    let admin = requirements.iter().any(|r| {
        r["bearerAuth"]
            .as_array()
            .is_some_and(|roles| roles.iter().any(|x| x == "admin"))
    });
    if admin {
        "an admin"
    } else {
        "a signed-in user"
    }
    .into()
}

/// The media type and schema of the first content of a body or response.
fn first_content(holder: &Value) -> (String, Value) {
    match holder["content"].as_object().and_then(|c| c.iter().next()) {
        Some((media, content)) => (media.clone(), content["schema"].clone()),
        None => (String::new(), Value::Null),
    }
}

/// The properties of an object schema, as rows.
fn properties(schema: &Value) -> Vec<Field> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, property)| Field {
            name: name.clone(),
            place: String::new(),
            required: required.contains(&name.as_str()),
            kind: kind(property),
            description: text(&property["description"]),
        })
        .collect()
}

/// A schema's type as text: `string`, `array of Product`, `integer or
/// null`, with named schemas linked.
fn kind(schema: &Value) -> Vec<Part> {
    let plain = |t: &str| Part {
        text: t.to_string(),
        link: None,
    };
    let joined = |schemas: &[Value], word: &str| {
        let mut parts = Vec::new();
        for (i, s) in schemas.iter().enumerate() {
            if i > 0 {
                parts.push(plain(word));
            }
            parts.extend(kind(s));
        }
        parts
    };
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.strip_prefix(PREFIX).unwrap_or(reference);
        return vec![Part {
            text: name.to_string(),
            link: Some(format!("schema-{name}")),
        }];
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values.iter().map(Value::to_string).collect();
        return vec![plain(&format!("one of {}", values.join(", ")))];
    }
    if let Some(value) = schema.get("const") {
        return vec![plain(&value.to_string())];
    }
    for (key, word) in [("anyOf", " or "), ("oneOf", " or "), ("allOf", " and ")] {
        if let Some(schemas) = schema[key].as_array() {
            let mut parts = joined(schemas, word);
            if schema.get("properties").is_some() {
                parts.push(plain(" with its own fields"));
            }
            return parts;
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.is_empty() {
        return vec![plain("any JSON")];
    }
    let mut parts = Vec::new();
    for (i, t) in types.iter().enumerate() {
        if i > 0 {
            parts.push(plain(" or "));
        }
        match *t {
            "array" => {
                parts.push(plain("array of "));
                parts.extend(kind(&schema["items"]));
            }
            "object" if schema.get("properties").is_none() => {
                match schema.get("additionalProperties") {
                    Some(values) if values.is_object() => {
                        parts.push(plain("map of "));
                        parts.extend(kind(values));
                    }
                    _ => parts.push(plain("object")),
                }
            }
            "null" => parts.push(plain("null")),
            other => {
                let format = schema["format"]
                    .as_str()
                    .map(|f| format!(" ({f})"))
                    .unwrap_or_default();
                parts.push(plain(&format!("{other}{format}")));
            }
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn types_read_as_text_with_named_schemas_linked() {
        let text = |s: Value| kind(&s).iter().map(|p| p.text.clone()).collect::<String>();
        assert_eq!(
            text(json!({"type": ["integer", "null"], "format": "int64"})),
            "integer (int64) or null"
        );
        assert_eq!(
            text(json!({"type": "array", "items": {"$ref": "#/components/schemas/Product"}})),
            "array of Product"
        );
        assert_eq!(
            kind(&json!({"$ref": "#/components/schemas/Product"}))[0]
                .link
                .as_deref(),
            Some("schema-Product")
        );
        assert_eq!(text(json!({"enum": ["a", "b"]})), r#"one of "a", "b""#);
        assert_eq!(text(json!({})), "any JSON");
    }

    #[test]
    fn every_text_of_the_document_is_escaped() {
        let doc = json!({
            "info": { "title": "shop", "version": "1", "description": "<script>alert(1)</script>" },
            "tags": [{ "name": "things" }],
            "paths": { "/api/things": { "get": {
                "tags": ["things"], "summary": "<b>list</b>", "operationId": "getApiThings",
                "security": [{ "bearerAuth": ["admin"] }],
                "responses": { "200": { "description": "ok",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Thing" } } } } },
            }}},
            "components": { "schemas": { "Thing": {
                "type": "object", "required": ["id"],
                "properties": { "id": { "type": "string", "description": "a \"quoted\" & <id>" } },
            }}},
        });
        let html = render(&doc).expect("renders");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(
            html.contains("&lt;b&gt;list&lt;&#x2f;b&gt;")
                || html.contains("&lt;b&gt;list&lt;/b&gt;")
        );
        assert!(html.contains("an admin"));
        assert!(html.contains("href=\"#schema-Thing\""));
        assert!(html.contains("GET"));
    }
}
