//! The public HTTP API: search (also at seed 001's
//! `/api/catalog/search/:query`), suggestions, recommendations, and for
//! admins the analytics and the rebuild.

use platform::openapi::{Access, Paging, Param, Reply, LOCATION};
use platform::pagination::{self, PageRequest};
use platform::{ApiError, Context, Handler, Id, Request, Response, Route, RouteDoc};

use crate::analytics::{self, Kind, Summary};
use crate::domain::{self, SearchRequest, Sort, MAX_SUGGESTIONS};
use crate::service;
use crate::store;
use crate::views::{self, Facets, RebuildView, Recommendations, SearchResults, Suggestions};

/// Search's routes (all in the component's rate-limit group).
pub const ROUTES: &[Route] = &[
    Route::get("/api/search", Handler::Sync(search)).doc(&SEARCH),
    Route::get("/api/catalog/search/:query", Handler::Sync(search)).doc(&RouteDoc {
        summary: "Search products (seed 001's path: the query in the path)",
        params: &[
            Param::path::<String>("query", "the words to search for").example("blue pen"),
            SEARCH_PARAMS[1],
            SEARCH_PARAMS[2],
            SEARCH_PARAMS[3],
            SEARCH_PARAMS[4],
            SEARCH_PARAMS[5],
            SEARCH_PARAMS[6],
            SEARCH_PARAMS[7],
        ],
        ..SEARCH
    }),
    Route::get("/api/search/suggest", Handler::Sync(suggest)).doc(&RouteDoc {
        summary: "Suggestions as the user types",
        description: "Products whose names hold every word typed (the last as a prefix), most \
            popular first, then the typed words completed; from the third letter.",
        params: &[Param::query::<String>("q", "what has been typed").example("pe")],
        page: None,
        replies: &[Reply::json::<Suggestions>(200, "The suggestions")],
        ..RouteDoc::BASE
    }),
    Route::get(
        "/api/search/recommendations",
        Handler::Sync(recommendations),
    )
    .doc(&RouteDoc {
        summary: "Recommendations for a product, or for the caller",
        description: "`product_id`: what is bought with it and what is like it; `for=me` \
            (signed in): from the caller's purchases. One of the two.",
        access: Access::Optional,
        params: &[
            Param::query::<Id>("product_id", "recommend for this product"),
            Param::one_of("for", "`me`: for the caller (needs a token)", &["me"]),
            Param::query::<u32>("limit", "how many (1 to 20, 10 by default)"),
        ],
        replies: &[Reply::json::<Recommendations>(200, "The recommendations")],
        errors: &[(404, "no such product in the search index")],
        ..RouteDoc::BASE
    }),
    Route::get("/api/search/analytics", Handler::Sync(analytics_summary)).doc(&RouteDoc {
        summary: "What shoppers search for",
        access: Access::Admin,
        params: &[
            Param::query::<u32>("days", "over how many days, today included (1 by default)"),
            Param::query::<u32>("top", "how many top queries (1 to 50, 10 by default)"),
        ],
        replies: &[Reply::json::<Summary>(200, "The analytics")],
        errors: &[(
            503,
            "the analytics store (Redis) is unreachable, or the token cannot be checked",
        )],
        ..RouteDoc::BASE
    }),
    Route::post("/api/search/rebuild", Handler::Sync(rebuild)).doc(&RouteDoc {
        summary: "Rebuild the index from the catalog",
        description: "Carried out a few pages a second on the component's tick.",
        access: Access::Admin,
        replies: &[
            Reply::json::<RebuildView>(202, "Started").headers(&[LOCATION]),
            Reply::json::<RebuildView>(200, "A rebuild is already running: that one")
                .headers(&[LOCATION]),
        ],
        ..RouteDoc::BASE
    }),
    Route::get("/api/search/rebuild", Handler::Sync(rebuild_status)).doc(&RouteDoc {
        summary: "The latest rebuild",
        access: Access::Admin,
        replies: &[Reply::json::<RebuildView>(200, "The latest rebuild")],
        errors: &[(404, "no rebuild has run")],
        ..RouteDoc::BASE
    }),
];

/// The query, filters and sort of a search.
const SEARCH_PARAMS: [Param; 8] = [
    Param::query::<String>("q", "the words to search for (never query syntax)").example("blue pen"),
    Param::query::<String>("category", "this category only"),
    Param::query::<String>("brand", "this brand only"),
    Param::query::<f64>("min_price", "at least this price"),
    Param::query::<f64>("max_price", "at most this price"),
    Param::query::<bool>("in_stock", "only products in stock (`true`) or out of it"),
    Param::one_of("sort", "the order (relevance by default)", Sort::NAMES),
    Param::one_of(
        "from",
        "`suggest`: the query is a suggestion picked",
        &["suggest"],
    ),
];

/// `GET /api/search`.
const SEARCH: RouteDoc = RouteDoc {
    summary: "Search products",
    description: "Ranked (bm25: name above brand and tags above description), filtered, with \
        facet counts per category and brand over every match; a misspelt word is corrected \
        and the answer says so.",
    params: &SEARCH_PARAMS,
    page: Some(Paging::STANDARD),
    replies: &[Reply::json::<SearchResults>(200, "The results")],
    ..RouteDoc::BASE
};

/// Most recommendations one call returns.
const MAX_RECOMMENDATIONS: u32 = 20;

/// A path segment, percent-decoded.
fn decoded(segment: &str) -> String {
    form_urlencoded::parse(format!("q={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
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
    let elapsed = ctx.started.elapsed().as_secs_f64();
    ctx.count("search_queries_total", &[("kind", "search")]);
    ctx.observe("search_duration_seconds", &[("kind", "search")], elapsed);
    analytics::record(
        ctx.redis_if_up(),
        Kind::Search,
        &request.terms.join(" "),
        results.total,
        elapsed * 1000.0,
        request.from_suggestion,
    );
    Ok(Response::json(
        200,
        &SearchResults {
            query: request.text,
            sort: request.sort.as_str(),
            total: results.total,
            items: views::hits(&results.hits),
            next_cursor,
            facets: Facets {
                category: views::counts(&results.categories),
                brand: views::counts(&results.brands),
            },
            corrections: found.corrections,
        },
    ))
}

/// `GET /api/search/suggest?q=&limit=`: completions as the user types.
fn suggest(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let q = req.query_param("q").unwrap_or_default();
    let words = domain::suggest_terms(&q)?;
    let limit = pagination::limit(req, MAX_SUGGESTIONS, MAX_SUGGESTIONS)?;
    let suggestions = service::suggest(ctx.db()?, &words, limit)?;
    let elapsed = ctx.started.elapsed().as_secs_f64();
    ctx.count("search_queries_total", &[("kind", "suggest")]);
    ctx.observe("search_duration_seconds", &[("kind", "suggest")], elapsed);
    analytics::record(
        ctx.redis_if_up(),
        Kind::Suggest,
        &words.join(" "),
        suggestions.len() as i64,
        elapsed * 1000.0,
        false,
    );
    Ok(Response::json(
        200,
        &Suggestions {
            query: domain::plain_text(q.trim()),
            suggestions,
        },
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
                &Recommendations::ForProduct {
                    product_id: id.into_string(),
                    bought_together: views::hits(&together),
                    similar: views::hits(&similar),
                },
            ))
        }
        (None, Some("me")) => {
            let user = ctx.user()?;
            let (picks, basis) = service::for_customer(db, &user.user_id, limit)?;
            Ok(Response::json(
                200,
                &Recommendations::ForCustomer {
                    for_whom: "me",
                    basis,
                    items: views::hits(&picks),
                },
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

/// `POST /api/search/rebuild` (admin): 202 with the job, which the tick
/// carries out; a rebuild already running is answered instead of a new
/// one.
fn rebuild(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let (job, started) = service::start_rebuild(ctx.db()?)?;
    Ok(
        Response::json(if started { 202 } else { 200 }, &RebuildView::from(&job))
            .with_header("location", "/api/search/rebuild"),
    )
}

/// `GET /api/search/rebuild` (admin): the latest rebuild.
fn rebuild_status(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let job = store::latest_rebuild(ctx.db()?)?
        .ok_or_else(|| ApiError::NotFound("no rebuild has run".into()))?;
    Ok(Response::json(200, &RebuildView::from(&job)))
}
