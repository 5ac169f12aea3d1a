//! The public HTTP API: search (also at seed 001's
//! `/api/catalog/search/:query`), suggestions, recommendations, and for
//! admins the analytics and the rebuild.

use platform::domain::Money;
use platform::pagination::{self, PageRequest};
use platform::{ApiError, Context, Handler, Request, Response, Route};
use serde_json::{json, Value};

use crate::analytics::{self, Kind};
use crate::domain::{self, marked_html, SearchRequest, MAX_SUGGESTIONS};
use crate::service;
use crate::store::query::Hit;
use crate::store::{self, Rebuild};

/// Search's routes (all in the component's rate-limit group).
pub const ROUTES: &[Route] = &[
    Route::get("/api/search", Handler::Sync(search)),
    Route::get("/api/catalog/search/:query", Handler::Sync(search)),
    Route::get("/api/search/suggest", Handler::Sync(suggest)),
    Route::get(
        "/api/search/recommendations",
        Handler::Sync(recommendations),
    ),
    Route::get("/api/search/analytics", Handler::Sync(analytics_summary)),
    Route::post("/api/search/rebuild", Handler::Sync(rebuild)),
    Route::get("/api/search/rebuild", Handler::Sync(rebuild_status)),
];

/// Most recommendations one call returns.
const MAX_RECOMMENDATIONS: u32 = 20;

/// A path segment, percent-decoded.
fn decoded(segment: &str) -> String {
    form_urlencoded::parse(format!("q={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn hit_json(h: &Hit) -> Value {
    let mut item = json!({
        "id": h.id,
        "name": h.name,
        "brand": h.brand,
        "category": h.category,
        "tags": h.tags,
        "price": Money::from_cents(h.price_cents).to_json(),
        "price_cents": h.price_cents,
        "in_stock": h.in_stock,
        "popularity": h.popularity,
    });
    if let Some(name) = &h.name_marked {
        item["name_html"] = json!(marked_html(name));
    }
    if let Some(snippet) = &h.snippet_marked {
        item["snippet_html"] = json!(marked_html(snippet));
    }
    item
}

fn counts(values: &[(String, i64)]) -> Value {
    json!(values
        .iter()
        .map(|(value, count)| json!({ "value": value, "count": count }))
        .collect::<Vec<_>>())
}

/// `GET /api/search?q=`: ranked, filtered, faceted, paged by offset.
fn search(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let page = PageRequest::standard(req)?;
    let offset = match page.after.as_deref() {
        None => 0,
        Some(o) => o
            .parse::<u32>()
            .map_err(|_| ApiError::invalid("cursor", "is not a cursor this API issued"))?,
    };
    let q = match req.param("query") {
        "" => req.query_param("q"),
        segment => Some(decoded(segment)),
    };
    let param = |name: &str| req.query_param(name);
    let request = SearchRequest::parse(q, &param, page.limit, offset)?;
    let found = service::search(ctx.db()?, &request)?;
    let results = &found.results;
    let reached = u64::from(offset) + results.hits.len() as u64;
    let next_cursor = (reached < results.total.max(0) as u64
        && reached <= u64::from(domain::MAX_OFFSET))
    .then(|| pagination::encode(&reached.to_string()));
    analytics::record(
        ctx.redis_if_up(),
        Kind::Search,
        &request.terms.join(" "),
        results.total,
        ctx.started.elapsed().as_secs_f64() * 1000.0,
        request.from_suggestion,
    );
    Ok(Response::json(
        200,
        &json!({
            "query": request.text,
            "sort": request.sort.as_str(),
            "total": results.total,
            "items": results.hits.iter().map(hit_json).collect::<Vec<_>>(),
            "next_cursor": next_cursor,
            "facets": {
                "category": counts(&results.categories),
                "brand": counts(&results.brands),
            },
            "corrections": found.corrections,
        }),
    ))
}

/// `GET /api/search/suggest?q=&limit=`: completions as the user types.
fn suggest(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let q = req.query_param("q").unwrap_or_default();
    let words = domain::suggest_terms(&q)?;
    let limit = pagination::limit(req, MAX_SUGGESTIONS, MAX_SUGGESTIONS)?;
    let suggestions = service::suggest(ctx.db()?, &words, limit)?;
    analytics::record(
        ctx.redis_if_up(),
        Kind::Suggest,
        &words.join(" "),
        suggestions.len() as i64,
        ctx.started.elapsed().as_secs_f64() * 1000.0,
        false,
    );
    Ok(Response::json(
        200,
        &json!({ "query": domain::plain_text(q.trim()), "suggestions": suggestions }),
    )
    .with_header("cache-control", "public, max-age=30"))
}

/// `GET /api/search/recommendations?product_id=` or `?for=me`.
fn recommendations(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let limit = pagination::limit(req, 10, MAX_RECOMMENDATIONS)?;
    let db = ctx.db()?;
    match (
        req.query_id("product_id")?,
        req.query_param("for").as_deref(),
    ) {
        (Some(id), None) => {
            let (together, similar) = service::for_product(db, &id, limit)?;
            Ok(Response::json(
                200,
                &json!({
                    "product_id": id,
                    "bought_together": together.iter().map(hit_json).collect::<Vec<_>>(),
                    "similar": similar.iter().map(hit_json).collect::<Vec<_>>(),
                }),
            ))
        }
        (None, Some("me")) => {
            let user = ctx.user()?;
            let (picks, basis) = service::for_customer(db, &user.user_id, limit)?;
            Ok(Response::json(
                200,
                &json!({
                    "for": "me",
                    "basis": basis,
                    "items": picks.iter().map(hit_json).collect::<Vec<_>>(),
                }),
            ))
        }
        (None, Some(_)) => Err(ApiError::invalid("for", "must be me")),
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "for",
            "give product_id or for=me, not both",
        )),
        (None, None) => Err(ApiError::invalid(
            "product_id",
            "give product_id, or for=me for your own",
        )),
    }
}

/// `GET /api/search/analytics?days=&top=` (admin).
fn analytics_summary(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let number = |name: &str, default: i64, max: i64| -> Result<i64, ApiError> {
        match req.query_param(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| ApiError::invalid(name, format!("must be 1 to {max}"))),
        }
    };
    let days = number("days", 1, analytics::KEEP_DAYS - 1)?;
    let top = number("top", 10, 50)?;
    let summary = analytics::summary(ctx.redis()?, days, usize::try_from(top).unwrap_or(10))?;
    Ok(Response::json(200, &summary))
}

fn rebuild_json(job: &Rebuild) -> Value {
    json!({
        "id": job.id,
        "state": job.state,
        "indexed": job.indexed,
        "removed": job.removed,
        "started_at": platform::clock::rfc3339_from_ms(job.started_at_ms),
        "finished_at": job.finished_at_ms.map(platform::clock::rfc3339_from_ms),
    })
}

/// `POST /api/search/rebuild` (admin): 202 with the job, which the tick
/// carries out; a rebuild already running is answered instead of a new
/// one.
fn rebuild(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let (job, started) = service::start_rebuild(ctx.db()?)?;
    Ok(
        Response::json(if started { 202 } else { 200 }, &rebuild_json(&job))
            .with_header("location", "/api/search/rebuild"),
    )
}

/// `GET /api/search/rebuild` (admin): the latest rebuild.
fn rebuild_status(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let job = store::latest_rebuild(ctx.db()?)?
        .ok_or_else(|| ApiError::NotFound("no rebuild has run".into()))?;
    Ok(Response::json(200, &rebuild_json(&job)))
}
