//! The public HTTP API: `GET /api/audit/events` for admins.

use platform::{ApiError, Context, Handler, Request, Response, Route};

use crate::domain::{self, LogQuery};
use crate::store;

/// The audit log's routes.
pub const ROUTES: &[Route] = &[Route::get("/api/audit/events", Handler::Sync(list))];

fn list(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(req.query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let page = domain::page_request(req)?;
    let query = LogQuery::parse(&pairs, page.clone())?;
    let rows = store::query(ctx.db()?, &query, page.fetch())?;
    let page = page.page(rows, |e| domain::cursor_key(&query, e.at));
    Ok(Response::json(200, &page.map(|e| e.json)))
}
