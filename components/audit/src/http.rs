//! The public HTTP API: `GET /api/audit/events` for admins.

use platform::auth;
use platform::{ApiError, Context, Method, Request, Response};
use serde_json::json;

use crate::domain::{self, LogQuery};
use crate::store;

pub fn route(req: &Request, ctx: &Context, segments: &[&str]) -> Result<Response, ApiError> {
    match (req.method, segments) {
        (Method::Get, ["api", "audit", "events"]) => {
            platform::ratelimit::limited(req, ctx, "audit", || list(req))
        }
        (_, ["api", "audit", "events"]) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
    }
}

fn list(req: &Request) -> Result<Response, ApiError> {
    auth::require_admin(req)?;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(req.query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let query = LogQuery::parse(&pairs, domain::page_request(req)?)?;
    let db = crate::open_db()?;
    let mut items = store::query(&db, &query, query.limit + 1)?;
    let more = items.len() > query.limit as usize;
    items.truncate(query.limit as usize);
    let next_cursor = if more {
        items.last().map(|e| domain::cursor_after(&query, e.at))
    } else {
        None
    };
    Ok(Response::json(
        200,
        &json!({
            "items": items.into_iter().map(|e| e.json).collect::<Vec<_>>(),
            "next_cursor": next_cursor,
        }),
    ))
}
