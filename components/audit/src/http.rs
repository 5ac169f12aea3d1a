//! The public HTTP API: `GET /api/audit/events` for admins.

use platform::openapi::{Access, Paging, Param, Reply};
use platform::pagination::Page;
use platform::{ApiError, Context, Handler, Request, Response, Route, RouteDoc};

use crate::domain::{self, LogQuery, AGGREGATE_TYPES};
use crate::store::{self, AuditEvent};

/// The audit log's routes.
pub const ROUTES: &[Route] =
    &[
        Route::get("/api/audit/events", Handler::Sync(list)).doc(&RouteDoc {
            summary: "Query the event log",
            description: "Every event of every topic, once, in the order recorded (or occurred). \
        Filters combine; an unknown or repeated parameter is refused.",
            access: Access::Admin,
            params: &[
                Param::query::<String>(
                    "aggregate_id",
                    "events of this aggregate (an order id, ...)",
                ),
                Param::one_of(
                    "aggregate_type",
                    "events of this kind of aggregate",
                    AGGREGATE_TYPES,
                ),
                Param::query::<String>("type", "events of this type").example("order.created"),
                Param::query::<String>("correlation_id", "events of one request's causal chain"),
                Param::query::<String>("from", "occurred at or after this time (RFC 3339)"),
                Param::query::<String>("to", "occurred before this time (RFC 3339)"),
                Param::one_of(
                    "order",
                    "`recorded` (default) or `occurred`",
                    &["recorded", "occurred"],
                ),
            ],
            page: Some(Paging {
                default: domain::DEFAULT_LIMIT,
                max: domain::MAX_LIMIT,
            }),
            replies: &[Reply::json::<Page<AuditEvent>>(200, "A page of events")],
            errors: &[(400, "an unknown or repeated query parameter")],
            ..RouteDoc::BASE
        }),
    ];

fn list(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(req.query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let page = domain::page_request(req)?;
    let query = LogQuery::parse(&pairs, page.clone())?;
    let rows = store::query(ctx.db()?, &query, page.fetch())?;
    let page = page.page(rows, |e| domain::cursor_key(&query, e.at));
    Ok(Response::json(200, &page.map(|e| e.event)))
}
