//! The public HTTP API: products, their lists, featured products and
//! categories. Reads are rate limited per client and cached in Redis;
//! writes are admin-only and publish through the outbox.

use platform::cache::{self, Cached};
use platform::idempotency::Idempotency;
use platform::openapi::{
    Access, Body, Paging, Param, Reply, ETAG, IDEMPOTENCY_KEY, IF_MATCH, IF_MATCH_REQUIRED,
    IF_NONE_MATCH, LOCATION,
};
use platform::pagination::{Page, PageRequest};
use platform::{ApiError, Context, Handler, Request, Response, Route, RouteDoc};
use serde_json::json;

use crate::domain::{self, Cursor, Filters, NewProduct, ProductReplacement, Sort};
use crate::read_cache::{self, LIST_TTL_SECS, PRODUCT_TTL_SECS};
use crate::service;
use crate::store::{self, CategoryCount, Product};
use crate::views::{CategoryList, ProductView};

/// The rate-limit group of every read.
pub const READ_GROUP: &str = "catalog_read";

/// The catalog's routes: reads are limited per client, admins' writes
/// are not.
pub const ROUTES: &[Route] = &[
    Route::get("/api/catalog", Handler::Sync(list))
        .limit(READ_GROUP)
        .doc(&LIST),
    Route::post("/api/catalog", Handler::Sync(create)).doc(&RouteDoc {
        summary: "Create a product",
        description: "Its stock reaches inventory as the `catalog.product_created` event.",
        access: Access::Admin,
        params: &[IDEMPOTENCY_KEY],
        body: Some(Body::json::<NewProduct>(
            r#"{"name": "Blue pen", "description": "A pen", "price": 1.99, "category": "office",
                "brand": "Acme", "stock": 10, "tags": ["blue"]}"#,
        )),
        replies: &[Reply::json::<ProductView>(201, "The product").headers(&[LOCATION, ETAG])],
        errors: &[(409, "a product with this SKU exists")],
        ..RouteDoc::BASE
    }),
    Route::get("/api/catalog/featured/list", Handler::Sync(featured))
        .limit(READ_GROUP)
        .doc(&RouteDoc {
            summary: "List featured products",
            params: LIST_PARAMS.split_at(1).1,
            ..LIST
        }),
    Route::get("/api/catalog/meta/categories", Handler::Sync(categories))
        .limit(READ_GROUP)
        .doc(&RouteDoc {
            summary: "Categories with products on sale, and how many each has",
            replies: &[Reply::json::<CategoryList<'static>>(200, "The categories")],
            ..RouteDoc::BASE
        }),
    Route::get("/api/catalog/:id", Handler::Sync(get))
        .limit(READ_GROUP)
        .doc(&GET),
    Route::put("/api/catalog/:id", Handler::Sync(replace)).doc(&RouteDoc {
        summary: "Replace a product's fields",
        description: "Every editable field; absent optional fields take their defaults, an \
            absent `sku` keeps the current one.",
        access: Access::Admin,
        params: &[IF_MATCH_REQUIRED],
        body: Some(Body::json::<ProductReplacement>(
            r#"{"name": "Blue pen", "price": 2.49, "category": "office", "brand": "Acme"}"#,
        )),
        replies: &[Reply::json::<ProductView>(200, "The product").headers(&[ETAG])],
        errors: &[(409, "a product with this SKU exists")],
        ..RouteDoc::BASE
    }),
    Route::delete("/api/catalog/:id", Handler::Sync(delete)).doc(&RouteDoc {
        summary: "Take a product off sale",
        access: Access::Admin,
        params: &[IF_MATCH],
        replies: &[Reply::empty(204, "Deleted")],
        ..RouteDoc::BASE
    }),
    // Seed 002's paths for the same reads.
    Route::get("/api/products", Handler::Sync(list))
        .limit(READ_GROUP)
        .doc(&LIST),
    Route::get("/api/products/:id", Handler::Sync(get))
        .limit(READ_GROUP)
        .doc(&GET),
];

/// `Cache-Control: no-cache` (as orders sends to price an order).
const NO_CACHE: Param = Param::header::<String>(
    "Cache-Control",
    "`no-cache`: the current answer, never a cached one",
);

/// The filters and sorts of a list (`featured` first: the featured list
/// has no choice).
const LIST_PARAMS: [Param; 8] = [
    Param::query::<bool>("featured", "only featured products (`true`) or only others"),
    Param::one_of(
        "sort",
        "the order (newest first by default; `-` for descending)",
        Sort::NAMES,
    ),
    Param::query::<String>("category", "this category only (any case)").example("office"),
    Param::query::<String>("brand", "this brand only (any case)"),
    Param::query::<f64>("min_price", "at least this price"),
    Param::query::<f64>("max_price", "at most this price"),
    Param::query::<String>("tag", "products with this tag"),
    Param::query::<String>("q", "names containing this text"),
];

/// `GET /api/catalog` and `GET /api/products`.
const LIST: RouteDoc = RouteDoc {
    summary: "List products",
    params: &LIST_PARAMS,
    page: Some(Paging::STANDARD),
    replies: &[Reply::json::<Page<ProductView>>(200, "A page of products")],
    ..RouteDoc::BASE
};

/// `GET /api/catalog/:id` and `GET /api/products/:id`.
const GET: RouteDoc = RouteDoc {
    summary: "A product",
    params: &[IF_NONE_MATCH, NO_CACHE],
    replies: &[
        Reply::json::<ProductView>(200, "The product").headers(&[ETAG]),
        Reply::empty(304, "Unchanged since the ETag sent").headers(&[ETAG]),
    ],
    ..RouteDoc::BASE
};

fn get(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let id = req.id("id")?;
    // The current answer only (`Cache-Control: no-cache`, as orders asks
    // to price an order): no cached copy, fresh or stale, is served then.
    let cache = if req.no_cache() {
        None
    } else {
        ctx.cache_redis_if_up()
    };
    let cached = cache::get_or_load(
        cache,
        &read_cache::product_key(id.as_str()),
        PRODUCT_TTL_SECS,
        || service::product(ctx.db()?, &id),
    )?;
    let version = cached.value.version;
    let mut response = if platform::conditional::not_modified(req, version) {
        Response::empty(304)
    } else {
        Response::json(200, &ProductView::from(&cached.value))
    };
    response.set_header("etag", domain::etag(version));
    cached.apply(&mut response);
    cached.count(ctx, "catalog");
    Ok(response)
}

fn list(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    list_of(req, ctx, false)
}

fn featured(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    list_of(req, ctx, true)
}

fn list_of(req: &Request, ctx: &Context, featured_only: bool) -> Result<Response, ApiError> {
    let page = PageRequest::standard(req)?;
    let sort = match req.query_param("sort") {
        None => Sort::DEFAULT,
        Some(s) => Sort::parse(&s)?,
    };
    let mut filters = Filters::parse(|name| req.query_param(name))?;
    if featured_only {
        filters.featured = Some(true);
    }
    let after = page
        .after
        .as_deref()
        .map(|raw| Cursor::decode(raw, sort))
        .transpose()?;
    let what = json!([
        "list",
        sort.as_str(),
        page.limit,
        filters.canonical(),
        page.after
    ])
    .to_string();
    let (redis, key) = read_cache::list_key(ctx.redis_if_up(), ctx.cache_redis_if_up(), &what);
    let cached: Cached<Page<Product>> = cache::get_or_load(redis, &key, LIST_TTL_SECS, || {
        let rows = store::list(ctx.db()?, &filters, sort, after.as_ref(), page.fetch())?;
        Ok(page.page(rows, |last| {
            Cursor {
                sort,
                key: last.sort_key(sort),
                id: last.id.clone(),
            }
            .key()
        }))
    })?;
    let mut response = Response::json(200, &cached.value.clone().map(|p| ProductView::from(&p)));
    cached.apply(&mut response);
    cached.count(ctx, "catalog");
    Ok(response)
}

fn categories(_: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let (redis, key) =
        read_cache::list_key(ctx.redis_if_up(), ctx.cache_redis_if_up(), "categories");
    let cached: Cached<Vec<CategoryCount>> =
        cache::get_or_load(redis, &key, LIST_TTL_SECS, || store::categories(ctx.db()?))?;
    let mut response = Response::json(
        200,
        &CategoryList {
            items: &cached.value,
        },
    );
    cached.apply(&mut response);
    cached.count(ctx, "catalog");
    Ok(response)
}

fn create(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let admin = ctx.admin()?;
    let idempotency = Idempotency::of(req, &admin.user_id)?;
    let (fields, stock) = req.json::<NewProduct>()?.validate()?;
    let (response, created) = ctx.db()?.transaction(|db| {
        if let Some(saved) = idempotency.begin(db)? {
            return Ok((saved, false));
        }
        let product = service::create(db, ctx, &fields, stock)?;
        let response = Response::json(201, &ProductView::from(&product))
            .with_header("location", format!("/api/catalog/{}", product.id))
            .with_header("etag", domain::etag(product.version));
        idempotency.finish(db, &response)?;
        Ok((response, true))
    })?;
    if created {
        read_cache::after_write(ctx.redis_if_up(), ctx.cache_redis_if_up(), None, false);
    }
    Ok(response)
}

fn replace(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let id = req.id("id")?;
    let fields = req.json::<ProductReplacement>()?.validate()?;
    let if_match = req.header("if-match").ok_or_else(|| {
        ApiError::PreconditionRequired("send If-Match with the product's ETag".into())
    })?;
    let product = service::replace(ctx.db()?, ctx, &id, &fields, if_match)?;
    read_cache::after_write(
        ctx.redis_if_up(),
        ctx.cache_redis_if_up(),
        Some(id.as_str()),
        false,
    );
    Ok(Response::json(200, &ProductView::from(&product))
        .with_header("etag", domain::etag(product.version)))
}

fn delete(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    ctx.admin()?;
    let id = req.id("id")?;
    service::delete(ctx.db()?, ctx, &id, req.header("if-match"))?;
    read_cache::after_write(
        ctx.redis_if_up(),
        ctx.cache_redis_if_up(),
        Some(id.as_str()),
        true,
    );
    Ok(Response::empty(204))
}
