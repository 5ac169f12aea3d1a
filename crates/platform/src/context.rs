//! What a request carries besides itself: its correlation (the request id
//! and W3C trace context, accepted from the caller or created, passed into
//! outbound calls and events), the one JSON log line written per request,
//! and the request's resources opened once on first use: the caller (from
//! the bearer token), the Redis connection and the component's database.

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;
use std::time::Instant;

use crate::auth::{self, Principal};
use crate::db::{Db, Migration};
use crate::problem::ApiError;
use crate::redis_store::Redis;
use crate::request::Request;

/// A component's SQLite database: its label and migrations.
#[derive(Debug, Clone, Copy)]
pub struct Database {
    pub label: &'static str,
    pub migrations: &'static [Migration],
}

impl Database {
    /// Opens the database (and brings its schema up to date).
    pub fn open(&self) -> Result<Db, ApiError> {
        Db::open(self.label, self.migrations)
    }
}

/// What identifies a request across services, and its resources.
#[derive(Debug, Clone)]
pub struct Context {
    pub component: &'static str,
    pub request_id: String,
    /// Our `traceparent`: the caller's trace id with a span id of our own.
    pub traceparent: String,
    pub client_addr: String,
    pub started: Instant,
    /// Shared by the context's clones.
    state: Rc<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Headers for the answer whatever it turns out to be, success or
    /// problem (rate-limit state, for one).
    response_headers: RefCell<Vec<(String, String)>>,
    authorization: Option<String>,
    database: Option<Database>,
    principal: OnceCell<Option<Principal>>,
    /// `None` once an attempt to connect has failed.
    redis: OnceCell<Option<Redis>>,
    /// The cache's Redis; `None` when unset or unreachable.
    cache_redis: OnceCell<Option<Redis>>,
    /// The route pattern that answered (for metrics), once routed.
    route: Cell<Option<&'static str>>,
    /// What the request adds to its component's metrics.
    tally: RefCell<crate::request_metrics::Tally>,
    db: OnceCell<Db>,
}

impl Context {
    /// The context of a request to a component without a database.
    pub fn from_request(component: &'static str, req: &Request) -> Self {
        Self::for_component(component, None, req)
    }

    /// The context of a request to a component with `database`.
    pub fn for_component(
        component: &'static str,
        database: Option<Database>,
        req: &Request,
    ) -> Self {
        let request_id = req
            .header("x-request-id")
            .filter(|v| valid_request_id(v))
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let trace_id = req
            .header("traceparent")
            .and_then(parse_trace_id)
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let span_id = &uuid::Uuid::new_v4().simple().to_string()[..16];
        let client_addr = req
            .header("spin-client-addr")
            .unwrap_or_default()
            .to_string();
        Self {
            component,
            request_id,
            traceparent: format!("00-{trace_id}-{span_id}-01"),
            client_addr,
            started: Instant::now(),
            state: Rc::new(State {
                authorization: req.header("authorization").map(str::to_string),
                database,
                ..State::default()
            }),
        }
    }

    /// The caller, if the request carries a bearer token (see
    /// [`auth::authenticate`]); verified once per request.
    pub fn principal(&self) -> Result<Option<&Principal>, ApiError> {
        if let Some(known) = self.state.principal.get() {
            return Ok(known.as_ref());
        }
        let found = auth::authenticate(self.state.authorization.as_deref(), || self.redis())?;
        Ok(self.state.principal.get_or_init(|| found).as_ref())
    }

    /// The authenticated caller, or 401.
    pub fn user(&self) -> Result<&Principal, ApiError> {
        self.principal()?.ok_or_else(auth::missing_credentials)
    }

    /// An authenticated admin: 401 without a token, 403 for a customer.
    pub fn admin(&self) -> Result<&Principal, ApiError> {
        let user = self.user()?;
        if user.is_admin() {
            Ok(user)
        } else {
            Err(auth::admin_required())
        }
    }

    /// The request's Redis connection, opened on first use: 503 when Redis
    /// cannot be reached (or could not earlier in this request).
    pub fn redis(&self) -> Result<&Redis, ApiError> {
        self.redis_if_up()
            .ok_or_else(crate::redis_store::unavailable_error)
    }

    /// The request's Redis connection, or `None` when it cannot be reached:
    /// for callers that go on without it (they fail open).
    pub fn redis_if_up(&self) -> Option<&Redis> {
        self.state.redis.get_or_init(|| Redis::open().ok()).as_ref()
    }

    /// The cache's Redis (the `cache_redis_url` variable), or `None` when
    /// the component has none or it cannot be reached: reads then go to
    /// the origin.
    pub fn cache_redis_if_up(&self) -> Option<&Redis> {
        self.state
            .cache_redis
            .get_or_init(|| {
                spin_sdk::variables::get(crate::redis_store::CACHE_REDIS_URL_VARIABLE)
                    .ok()
                    .filter(|url| !url.trim().is_empty())
                    .and_then(|url| Redis::open_url(&url).ok())
            })
            .as_ref()
    }

    /// The component's database, opened (and migrated) on first use.
    pub fn db(&self) -> Result<&Db, ApiError> {
        if let Some(db) = self.state.db.get() {
            return Ok(db);
        }
        let database = self.state.database.ok_or_else(|| {
            ApiError::internal(format!("component {} declares no database", self.component))
        })?;
        let db = database.open()?;
        Ok(self.state.db.get_or_init(|| db))
    }

    /// Records the route pattern that answers this request.
    pub fn set_route(&self, pattern: &'static str) {
        self.state.route.set(Some(pattern));
    }

    /// The route pattern that answered, or `unmatched`.
    pub fn route(&self) -> &'static str {
        self.state.route.get().unwrap_or("unmatched")
    }

    /// Adds one to the component's counter `name{component, labels}`
    /// (recorded with the request's other metrics after the answer).
    pub fn count(&self, name: &str, labels: &[(&str, &str)]) {
        let labels = self.labelled(labels);
        self.state.tally.borrow_mut().count(name, &labels);
    }

    /// Records `seconds` in the component's histogram
    /// `name{component, labels}`.
    pub fn observe(&self, name: &str, labels: &[(&str, &str)], seconds: f64) {
        let labels = self.labelled(labels);
        self.state
            .tally
            .borrow_mut()
            .observe(name, &labels, seconds);
    }

    /// `labels` after the component's own: the application's document
    /// gathers every component's series, which must stay apart.
    fn labelled<'a>(&'a self, labels: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut all = Vec::with_capacity(labels.len() + 1);
        all.push(("component", self.component));
        all.extend_from_slice(labels);
        all
    }

    /// What the request has counted so far.
    pub fn take_tally(&self) -> crate::request_metrics::Tally {
        std::mem::take(&mut *self.state.tally.borrow_mut())
    }

    /// Adds a header to the eventual response, error or not.
    pub fn add_response_header(&self, name: &str, value: impl Into<String>) {
        self.state
            .response_headers
            .borrow_mut()
            .push((name.to_ascii_lowercase(), value.into()));
    }

    /// The headers added with [`Context::add_response_header`].
    pub fn response_headers(&self) -> Vec<(String, String)> {
        self.state.response_headers.borrow().clone()
    }

    /// The client's IP address without the port.
    pub fn client_ip(&self) -> &str {
        match self.client_addr.rsplit_once(':') {
            Some((ip, _)) => ip.trim_start_matches('[').trim_end_matches(']'),
            None => &self.client_addr,
        }
    }

    /// Headers to forward on an outbound call made for this request.
    pub fn outbound_headers(&self) -> Vec<(String, String)> {
        vec![
            ("x-request-id".into(), self.request_id.clone()),
            ("traceparent".into(), self.traceparent.clone()),
        ]
    }

    /// Writes the request's structured log line (one JSON object on stdout).
    pub fn log(&self, method: &str, path: &str, status: u16, error: Option<&str>) {
        let mut line = serde_json::json!({
            "component": self.component,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": self.started.elapsed().as_secs_f64() * 1000.0,
            "request_id": self.request_id,
            "traceparent": self.traceparent,
        });
        if let Some(e) = error {
            line["error"] = serde_json::json!(e);
        }
        println!("{line}");
    }
}

fn valid_request_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic())
}

/// The trace id of a version-00 `traceparent`, if well-formed and non-zero.
fn parse_trace_id(header: &str) -> Option<String> {
    let mut parts = header.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    if version != "00"
        || parts.next().is_some()
        || !hex(trace, 32)
        || !hex(span, 16)
        || !hex(flags, 2)
    {
        return None;
    }
    if trace.bytes().all(|b| b == b'0') || span.bytes().all(|b| b == b'0') {
        return None;
    }
    Some(trace.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Method;

    #[test]
    fn keeps_the_callers_trace_and_request_id() {
        let req = Request::new(
            Method::Get,
            "/",
            &[
                (
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
                ("x-request-id", "abc-123"),
                ("spin-client-addr", "10.1.2.3:5555"),
            ],
            b"",
        );
        let ctx = Context::from_request("test", &req);
        assert_eq!(ctx.request_id, "abc-123");
        assert!(ctx
            .traceparent
            .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(
            !ctx.traceparent.contains("00f067aa0ba902b7"),
            "a new span id"
        );
        assert_eq!(ctx.client_ip(), "10.1.2.3");
    }

    #[test]
    fn creates_ids_when_missing_or_malformed() {
        let req = Request::new(
            Method::Get,
            "/",
            &[("traceparent", "garbage"), ("x-request-id", "has space")],
            b"",
        );
        let ctx = Context::from_request("test", &req);
        assert_ne!(ctx.request_id, "has space");
        assert_eq!(ctx.traceparent.len(), 55);
        assert!(
            parse_trace_id("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none()
        );
    }

    #[test]
    fn an_anonymous_request_has_no_caller_and_no_database() {
        let ctx = Context::from_request("test", &Request::new(Method::Get, "/", &[], b""));
        assert_eq!(ctx.principal().expect("anonymous"), None);
        assert_eq!(ctx.user().expect_err("401").status(), 401);
        assert_eq!(ctx.admin().expect_err("401").status(), 401);
        assert_eq!(ctx.db().expect_err("no database").status(), 500);
    }
}
