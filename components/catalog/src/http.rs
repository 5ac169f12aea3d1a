//! The public HTTP API: products, their lists, featured products and
//! categories. Reads are rate limited per client and cached in Redis;
//! writes are admin-only and publish through the outbox.

use platform::auth;
use platform::cache::{self, Cached};
use platform::db::Db;
use platform::events::{new_id, rfc3339_from_ms};
use platform::idempotency::{self, Lookup};
use platform::pagination::PageRequest;
use platform::ratelimit;
use platform::redis_store::Redis;
use platform::validate::cents_to_json;
use platform::{outbox, ApiError, Context, Method, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::{self, Cursor, Filters, NewProduct, ProductReplacement, Sort};
use crate::read_cache::{self, LIST_TTL_SECS, PRODUCT_TTL_SECS};
use crate::store::{self, CategoryCount, Product};
use crate::{events, DATABASE};

/// The rate-limit group of every read.
pub const READ_GROUP: &str = "catalog_read";
/// Page sizes of lists.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

pub fn route(req: &Request, ctx: &Context, segments: &[&str]) -> Result<Response, ApiError> {
    let ["api", "catalog", rest @ ..] = segments else {
        return Err(ApiError::NotFound(format!("no route for {}", req.path)));
    };
    match (req.method, rest) {
        (Method::Get, _) => read(req, ctx, rest),
        (Method::Post, []) => create(req, ctx),
        (Method::Put, [id]) => replace(req, ctx, id),
        (Method::Delete, [id]) => delete(req, ctx, id),
        (_, []) => Err(ApiError::MethodNotAllowed { allow: "GET, POST" }),
        (_, ["featured", "list"] | ["meta", "categories"]) => {
            Err(ApiError::MethodNotAllowed { allow: "GET" })
        }
        (_, [_]) => Err(ApiError::MethodNotAllowed {
            allow: "GET, PUT, DELETE",
        }),
        _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
    }
}

fn open_db() -> Result<Db, ApiError> {
    Db::open(DATABASE, store::MIGRATIONS)
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no product {id}"))
}

/// A product as clients see it: price as a two-decimal number.
fn product_json(p: &Product) -> serde_json::Value {
    json!({
        "id": p.id,
        "sku": p.sku,
        "name": p.name,
        "description": p.description,
        "price": cents_to_json(p.price_cents),
        "category": p.category,
        "brand": p.brand,
        "tags": p.tags,
        "images": p.images,
        "featured": p.featured,
        "initial_stock": p.initial_stock,
        "version": p.version,
        "created_at": rfc3339_from_ms(p.created_at_ms),
        "updated_at": rfc3339_from_ms(p.updated_at_ms),
    })
}

/// Every read: rate limited per client (user, else address), with the
/// `X-RateLimit-*` headers on every answer, errors included.
fn read(req: &Request, ctx: &Context, rest: &[&str]) -> Result<Response, ApiError> {
    ratelimit::limited(req, ctx, READ_GROUP, || {
        let redis = Redis::open().ok();
        let redis = redis.as_ref();
        match rest {
            [] => list(req, redis, false),
            ["featured", "list"] => list(req, redis, true),
            ["meta", "categories"] => categories(redis),
            [id] => get(req, redis, id),
            _ => Err(ApiError::NotFound(format!("no route for {}", req.path))),
        }
    })
}

fn get(req: &Request, redis: Option<&Redis>, id: &str) -> Result<Response, ApiError> {
    let id = domain::product_id(id)?;
    let cached = cache::get_or_load(
        redis,
        &read_cache::product_key(&id),
        PRODUCT_TTL_SECS,
        || store::get(&open_db()?, &id)?.ok_or_else(|| not_found(&id)),
    )?;
    let version = cached.value.version;
    let etag = domain::etag(version);
    let mut response = if req
        .header("if-none-match")
        .is_some_and(|h| domain::etag_matches(h, version))
    {
        Response::empty(304)
    } else {
        Response::json(200, &product_json(&cached.value))
    };
    response.set_header("etag", etag);
    cached.apply(&mut response);
    Ok(response)
}

/// A page of products as cached.
#[derive(Debug, Serialize, Deserialize)]
struct Page {
    items: Vec<Product>,
    next_cursor: Option<String>,
}

fn list(req: &Request, redis: Option<&Redis>, featured_only: bool) -> Result<Response, ApiError> {
    let page = PageRequest::from_request(req, DEFAULT_LIMIT, MAX_LIMIT)?;
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
    let (redis, key) = read_cache::list_key(redis, &what);
    let cached: Cached<Page> = cache::get_or_load(redis, &key, LIST_TTL_SECS, || {
        let mut items = store::list(&open_db()?, &filters, sort, after.as_ref(), page.limit + 1)?;
        let more = items.len() > page.limit as usize;
        items.truncate(page.limit as usize);
        let next_cursor = more.then(|| items.last()).flatten().map(|last| {
            Cursor {
                sort,
                key: last.sort_key(sort),
                id: last.id.clone(),
            }
            .encode()
        });
        Ok(Page { items, next_cursor })
    })?;
    let mut response = Response::json(
        200,
        &json!({
            "items": cached.value.items.iter().map(product_json).collect::<Vec<_>>(),
            "next_cursor": cached.value.next_cursor,
        }),
    );
    cached.apply(&mut response);
    Ok(response)
}

fn categories(redis: Option<&Redis>) -> Result<Response, ApiError> {
    let (redis, key) = read_cache::list_key(redis, "categories");
    let cached: Cached<Vec<CategoryCount>> = cache::get_or_load(
        redis,
        &key,
        LIST_TTL_SECS,
        || store::categories(&open_db()?),
    )?;
    let mut response = Response::json(200, &json!({ "items": cached.value }));
    cached.apply(&mut response);
    Ok(response)
}

fn create(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let admin = auth::require_admin(req)?;
    let key = idempotency::key_from(req)?;
    let body: NewProduct = req.json()?;
    let (fields, stock) = body.validate()?;
    let hash = idempotency::request_hash(req);
    let db = open_db()?;
    let (response, created) = db.transaction(|db| {
        if let Some(key) = &key {
            match idempotency::lookup(db.connection(), &admin.user_id, key, &hash)? {
                Lookup::Replay(saved) => return Ok((saved, false)),
                Lookup::Mismatch => return Err(idempotency::mismatch_error()),
                Lookup::New => {}
            }
        }
        let id = new_id();
        let sku = fields
            .sku
            .clone()
            .unwrap_or_else(|| domain::generated_sku(&id));
        if store::sku_taken(db, &sku, &id)? {
            return Err(ApiError::Conflict(format!(
                "another product already has sku {sku}"
            )));
        }
        let product = store::insert(db, &id, &sku, &fields, stock)?;
        outbox::append(db, &events::created(ctx, &product, stock)?)?;
        let response = Response::json(201, &product_json(&product))
            .with_header("location", format!("/api/catalog/{id}"))
            .with_header("etag", domain::etag(product.version));
        if let Some(key) = &key {
            idempotency::store(db.connection(), &admin.user_id, key, &hash, &response)?;
        }
        Ok((response, true))
    })?;
    if created {
        read_cache::after_write(Redis::open().ok().as_ref(), None, false);
    }
    Ok(response)
}

fn replace(req: &Request, ctx: &Context, id: &str) -> Result<Response, ApiError> {
    auth::require_admin(req)?;
    let id = domain::product_id(id)?;
    let body: ProductReplacement = req.json()?;
    let fields = body.validate()?;
    let if_match = req
        .header("if-match")
        .ok_or_else(|| {
            ApiError::PreconditionRequired("send If-Match with the product's ETag".into())
        })?
        .to_string();
    let db = open_db()?;
    let product = db.transaction(|db| {
        let current = store::get(db, &id)?.ok_or_else(|| not_found(&id))?;
        if !domain::etag_matches(&if_match, current.version) {
            return Err(stale(current.version));
        }
        let sku = fields.sku.clone().unwrap_or_else(|| current.sku.clone());
        if store::sku_taken(db, &sku, &id)? {
            return Err(ApiError::Conflict(format!(
                "another product already has sku {sku}"
            )));
        }
        if !store::replace(db, &id, &sku, &fields, current.version)? {
            return Err(stale(current.version));
        }
        let product = store::get(db, &id)?.ok_or_else(|| ApiError::internal("product vanished"))?;
        outbox::append(db, &events::updated(ctx, &product)?)?;
        Ok(product)
    })?;
    read_cache::after_write(Redis::open().ok().as_ref(), Some(&id), false);
    Ok(Response::json(200, &product_json(&product))
        .with_header("etag", domain::etag(product.version)))
}

fn delete(req: &Request, ctx: &Context, id: &str) -> Result<Response, ApiError> {
    auth::require_admin(req)?;
    let id = domain::product_id(id)?;
    let if_match = req.header("if-match").map(str::to_string);
    let db = open_db()?;
    db.transaction(|db| {
        let current = store::get(db, &id)?.ok_or_else(|| not_found(&id))?;
        if let Some(h) = &if_match {
            if !domain::etag_matches(h, current.version) {
                return Err(stale(current.version));
            }
        }
        if !store::soft_delete(db, &id, Some(current.version))? {
            return Err(stale(current.version));
        }
        outbox::append(db, &events::deleted(ctx, &id)?)
    })?;
    read_cache::after_write(Redis::open().ok().as_ref(), Some(&id), true);
    Ok(Response::empty(204))
}

fn stale(version: i64) -> ApiError {
    ApiError::PreconditionFailed(format!(
        "the product is at version {version}; reload it and retry"
    ))
}
