//! Route tables: a component lists its public routes (method, path
//! pattern with `:name` parameters, rate-limit group, handler) and the
//! serving layer picks the route, applies its rate limit, and answers 404,
//! or 405 with `Allow`, the same way for every component.

use futures::future::LocalBoxFuture;

use crate::context::Context;
use crate::openapi::RouteDoc;
use crate::problem::ApiError;
use crate::request::{Method, Request};
use crate::response::Response;

/// A handler: one that answers at once, or one that awaits (outbound
/// HTTP, local service chaining).
#[derive(Clone, Copy)]
pub enum Handler {
    Sync(fn(&Request, &Context) -> Result<Response, ApiError>),
    Async(for<'a> fn(&'a Request, &'a Context) -> LocalBoxFuture<'a, Result<Response, ApiError>>),
}

impl Handler {
    /// Runs the handler.
    pub async fn call(self, req: &Request, ctx: &Context) -> Result<Response, ApiError> {
        match self {
            Handler::Sync(f) => f(req, ctx),
            Handler::Async(f) => f(req, ctx).await,
        }
    }
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Handler::Sync(_) => "Handler::Sync",
            Handler::Async(_) => "Handler::Async",
        })
    }
}

/// The [`Handler`] of a handler function: `handler!(find)` for one that
/// answers at once, `handler!(async place)` for an `async fn(&Request,
/// &Context) -> Result<Response, ApiError>`.
#[macro_export]
macro_rules! handler {
    (async $f:path) => {{
        fn boxed<'a>(
            req: &'a $crate::Request,
            ctx: &'a $crate::Context,
        ) -> $crate::LocalBoxFuture<'a, Result<$crate::Response, $crate::ApiError>> {
            Box::pin($f(req, ctx))
        }
        $crate::Handler::Async(boxed)
    }};
    ($f:path) => {
        $crate::Handler::Sync($f)
    };
}

/// Which rate-limit bucket a route draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The component's default group, if it has one.
    Default,
    /// This group.
    Group(&'static str),
    /// This group, whose limit is its own variable or else this built-in
    /// `"<capacity>/<refill>"`, never the general `rate_limit_default`
    /// (for routes far costlier or more sensitive than the rest).
    Own(&'static str, &'static str),
    /// None: the route is for monitors or does its own limiting.
    Unlimited,
}

/// One public route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: Method,
    /// `/api/orders/:id/status`: literal segments and `:name` parameters.
    pub path: &'static str,
    pub limit: Limit,
    pub handler: Handler,
    /// What the OpenAPI document says of it (every public route has one).
    pub doc: Option<&'static RouteDoc>,
}

impl Route {
    /// `method path`, in the component's default rate-limit group.
    pub const fn new(method: Method, path: &'static str, handler: Handler) -> Self {
        Self {
            method,
            path,
            limit: Limit::Default,
            handler,
            doc: None,
        }
    }

    /// `GET path`.
    pub const fn get(path: &'static str, handler: Handler) -> Self {
        Self::new(Method::Get, path, handler)
    }

    /// `POST path`.
    pub const fn post(path: &'static str, handler: Handler) -> Self {
        Self::new(Method::Post, path, handler)
    }

    /// `PUT path`.
    pub const fn put(path: &'static str, handler: Handler) -> Self {
        Self::new(Method::Put, path, handler)
    }

    /// `DELETE path`.
    pub const fn delete(path: &'static str, handler: Handler) -> Self {
        Self::new(Method::Delete, path, handler)
    }

    /// The route draws from `group`'s bucket.
    pub const fn limit(mut self, group: &'static str) -> Self {
        self.limit = Limit::Group(group);
        self
    }

    /// The route draws from `group`'s bucket, sized by the variable
    /// `rate_limit_<group>` or else by `default` (see [`Limit::Own`]).
    pub const fn limit_or(mut self, group: &'static str, default: &'static str) -> Self {
        self.limit = Limit::Own(group, default);
        self
    }

    /// The route is not rate limited.
    pub const fn unlimited(mut self) -> Self {
        self.limit = Limit::Unlimited;
        self
    }

    /// Documents the route (see [`crate::openapi`]).
    pub const fn doc(mut self, doc: &'static RouteDoc) -> Self {
        self.doc = Some(doc);
        self
    }
}

/// A path's parameters by name, as a route's pattern names them.
pub type Params = Vec<(&'static str, String)>;
/// Which segments of a pattern are literal: how a match ranks.
type Shape = Vec<bool>;

/// What a path and method came to in a table.
#[derive(Debug)]
pub enum Found<'t, T> {
    /// This entry, with the path's parameters.
    Route(&'t T, Params),
    /// The path exists, not for this method: these are.
    WrongMethod(String),
    NotFound,
}

/// Finds the entry of `table` (whose `(method, pattern)` `key` gives) for
/// `method` and the path `segments`. Where patterns of different shapes
/// match, the one with a literal earliest wins (`/reservations` before
/// `/:product_id`).
pub fn find<'t, T>(
    table: &'t [T],
    key: impl Fn(&T) -> (Method, &'static str),
    method: Method,
    segments: &[&str],
) -> Found<'t, T> {
    let matches: Vec<(&T, Shape, Params)> = table
        .iter()
        .filter_map(|entry| {
            let (_, pattern) = key(entry);
            let (shape, params) = match_pattern(pattern, segments)?;
            Some((entry, shape, params))
        })
        .collect();
    let Some(best) = matches.iter().map(|(_, shape, _)| shape).max().cloned() else {
        return Found::NotFound;
    };
    let mut allowed = Vec::new();
    for (entry, shape, params) in matches {
        if shape != best {
            continue;
        }
        let (entry_method, _) = key(entry);
        if entry_method == method {
            return Found::Route(entry, params);
        }
        if !allowed.contains(&entry_method.as_str()) {
            allowed.push(entry_method.as_str());
        }
    }
    Found::WrongMethod(allowed.join(", "))
}

/// The pattern's parameters if it matches, and its shape (true for each
/// literal segment) to rank it among other matches.
fn match_pattern(pattern: &'static str, segments: &[&str]) -> Option<(Shape, Params)> {
    let parts: Vec<&'static str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut shape = Vec::with_capacity(parts.len());
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        if let Some(name) = part.strip_prefix(':') {
            shape.push(false);
            params.push((name, (*segment).to_string()));
        } else if part == segment {
            shape.push(true);
        } else {
            return None;
        }
    }
    Some((shape, params))
}

/// Routes `req` through `routes`: the rate limit of the route found (or
/// the default group, for a path with no route), then its handler.
pub async fn dispatch(
    routes: &[Route],
    default_limit: Option<&'static str>,
    req: &mut Request,
    ctx: &Context,
) -> Result<Response, ApiError> {
    let found = {
        let segments = req.segments();
        find(routes, |r| (r.method, r.path), req.method, &segments)
    };
    let (route, params) = match found {
        Found::Route(route, params) => {
            ctx.set_route(route.path);
            (route, params)
        }
        Found::WrongMethod(allow) => {
            limit(req, ctx, default_limit)?;
            return Err(ApiError::MethodNotAllowed { allow });
        }
        Found::NotFound => {
            limit(req, ctx, default_limit)?;
            return Err(not_found(req));
        }
    };
    match route.limit {
        Limit::Default => limit(req, ctx, default_limit)?,
        Limit::Group(group) => limit(req, ctx, Some(group))?,
        Limit::Own(group, default) => crate::ratelimit::admit_with(
            req,
            ctx,
            group,
            &crate::ratelimit::RateLimit::own(group, default),
        )?,
        Limit::Unlimited => {}
    }
    req.set_params(params);
    route.handler.call(req, ctx).await
}

fn limit(req: &Request, ctx: &Context, group: Option<&'static str>) -> Result<(), ApiError> {
    match group {
        Some(group) => crate::ratelimit::admit(req, ctx, group),
        None => Ok(()),
    }
}

/// The 404 of a path no route serves.
pub fn not_found(req: &Request) -> ApiError {
    ApiError::NotFound(format!("no route for {}", req.path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &Request, _: &Context) -> Result<Response, ApiError> {
        Ok(Response::empty(204))
    }

    const TABLE: &[Route] = &[
        Route::get("/api/inventory", Handler::Sync(ok)),
        Route::post("/api/inventory/reservations", Handler::Sync(ok)),
        Route::get(
            "/api/inventory/reservations/:reservation_id",
            Handler::Sync(ok),
        ),
        Route::delete(
            "/api/inventory/reservations/:reservation_id",
            Handler::Sync(ok),
        ),
        Route::get("/api/inventory/:product_id", Handler::Sync(ok)),
        Route::put("/api/inventory/:product_id", Handler::Sync(ok)).limit("writes"),
    ];

    fn found(method: Method, path: &str) -> Result<(&'static str, Params), String> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match find(TABLE, |r| (r.method, r.path), method, &segments) {
            Found::Route(r, params) => Ok((r.path, params)),
            Found::WrongMethod(allow) => Err(allow),
            Found::NotFound => Err("404".into()),
        }
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        assert_eq!(
            found(Method::Get, "/api/inventory/lamp"),
            Ok((
                "/api/inventory/:product_id",
                vec![("product_id", "lamp".into())]
            ))
        );
        assert_eq!(
            found(Method::Get, "/api/inventory/reservations"),
            Err("POST".into()),
            "the literal route answers, with its own methods"
        );
        assert_eq!(
            found(Method::Delete, "/api/inventory/reservations/r1/"),
            Ok((
                "/api/inventory/reservations/:reservation_id",
                vec![("reservation_id", "r1".into())]
            ))
        );
    }

    #[test]
    fn a_wrong_method_lists_the_right_ones_in_table_order() {
        assert_eq!(
            found(Method::Post, "/api/inventory/lamp"),
            Err("GET, PUT".into())
        );
        assert_eq!(
            found(Method::Put, "/api/inventory/reservations/r1"),
            Err("GET, DELETE".into())
        );
        assert_eq!(
            found(Method::Get, "/api/inventory/a/b/c"),
            Err("404".into())
        );
        assert_eq!(found(Method::Get, "/elsewhere"), Err("404".into()));
    }

    #[test]
    fn routes_say_how_they_are_limited() {
        assert_eq!(TABLE[5].limit, Limit::Group("writes"));
        assert_eq!(TABLE[0].limit, Limit::Default);
        assert_eq!(
            Route::get("/health", Handler::Sync(ok)).unlimited().limit,
            Limit::Unlimited
        );
    }
}
