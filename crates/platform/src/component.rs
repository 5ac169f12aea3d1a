//! The component model: a component declares itself once (its name, its
//! database, its public routes, the events it takes and how, its tick work
//! and its metrics) and the platform serves everything from that
//! declaration: the public routes through their table, and the bridge's
//! routes `/internal/<component>/{outbox, outbox/ack, events, tick,
//! metrics, openapi}` behind the internal credential, with the same 404 and 405
//! answers for every component.
//!
//! ```ignore
//! pub static COMPONENT: Component<Inbound> = Component {
//!     name: "inventory",
//!     database: Some(Database { label: "inventory", migrations: store::MIGRATIONS }),
//!     routes: http::ROUTES,
//!     rate_limit: Some("inventory"),
//!     events: Some(Consumer::in_transaction(events::apply).batches()),
//!     tick: Some(Tick::Sync(service::tick)),
//!     ..Component::BASE
//! };
//! platform::export!(COMPONENT);
//! ```

use futures::future::LocalBoxFuture;
use serde_json::{json, Map, Value};

use crate::context::{Context, Database};
use crate::db::Db;
use crate::events::{EventSet, NoEvents, Topic};
use crate::inbox::{Delivered, Delivery};
use crate::metrics::Metric;
use crate::problem::ApiError;
use crate::request::{Method, Request, DEFAULT_BODY_LIMIT};
use crate::response::Response;
use crate::router::{self, Found, Route};

/// What a tick reports, as JSON fields (`{"released": 2}`).
pub type Report = Map<String, Value>;

/// A report from a JSON object (anything else reports nothing).
pub fn report(value: Value) -> Report {
    match value {
        Value::Object(fields) => fields,
        _ => Report::new(),
    }
}

/// Reads a component's business metrics from its state.
pub type MetricsHook = fn(&Context) -> Result<Vec<Metric>, ApiError>;
/// Handles one event inside the inbox's transaction.
pub type TransactionalHandler<E> = fn(&Db, &Context, Delivered<'_, E>) -> Result<(), ApiError>;
/// Handles one event that calls out before it commits.
pub type StagedHandler<E> =
    for<'d> fn(&'d Context, Delivery<'d, E>) -> LocalBoxFuture<'d, Result<(), ApiError>>;

/// A component, as it declares itself.
pub struct Component<E: 'static = NoEvents> {
    /// Its name: in logs, in its internal routes, in `bridge.toml`.
    pub name: &'static str,
    pub database: Option<Database>,
    /// The largest request body read.
    pub body_limit: usize,
    /// The rate-limit group of its public routes that name none (and of
    /// its 404 and 405 answers).
    pub rate_limit: Option<&'static str>,
    pub routes: &'static [Route],
    /// Routes of its own under `/internal/<name>/` (full paths), for other
    /// components through service chaining: behind the internal
    /// credential, never rate limited, not in the public document.
    pub internal_routes: &'static [Route],
    /// The events it takes, if any.
    pub events: Option<Consumer<E>>,
    /// Time-driven work, run on `POST /internal/<name>/tick`.
    pub tick: Option<Tick>,
    /// Business metrics read from its state.
    pub metrics: Option<MetricsHook>,
}

/// How a component takes its events.
pub struct Consumer<E: 'static> {
    /// Whether the bridge may send several events in one delivery.
    pub batches: bool,
    pub handler: EventHandler<E>,
}

/// An event handler.
pub enum EventHandler<E: 'static> {
    /// Works inside the inbox's transaction (which records the event as
    /// processed): a whole batch commits once.
    InTransaction(TransactionalHandler<E>),
    /// Calls out first (never inside a transaction), then commits its
    /// effects through the [`Delivery`]: one transaction per event.
    Staged(StagedHandler<E>),
}

impl<E: 'static> Consumer<E> {
    /// Events handled inside the inbox's transaction.
    pub const fn in_transaction(handler: TransactionalHandler<E>) -> Self {
        Self {
            batches: false,
            handler: EventHandler::InTransaction(handler),
        }
    }

    /// Events handled by a handler that calls out before it commits.
    pub const fn staged(handler: StagedHandler<E>) -> Self {
        Self {
            batches: false,
            handler: EventHandler::Staged(handler),
        }
    }

    /// The bridge may send batches (`batch = N` in `bridge.toml`).
    pub const fn batches(mut self) -> Self {
        self.batches = true;
        self
    }
}

/// A component's own tick work.
#[derive(Clone, Copy)]
pub enum Tick {
    Sync(fn(&Context) -> Result<Report, ApiError>),
    Async(for<'a> fn(&'a Context) -> LocalBoxFuture<'a, Result<Report, ApiError>>),
}

impl<E: EventSet + 'static> Component<E> {
    /// The defaults to complete a declaration with (`..Component::BASE`).
    pub const BASE: Self = Self {
        name: "",
        database: None,
        body_limit: DEFAULT_BODY_LIMIT,
        rate_limit: None,
        routes: &[],
        internal_routes: &[],
        events: None,
        tick: None,
        metrics: None,
    };

    /// Answers one request.
    pub async fn handle(&self, mut req: Request, ctx: &Context) -> Result<Response, ApiError> {
        let internal: Option<Vec<String>> = match req.segments().as_slice() {
            ["internal", name, rest @ ..] if *name == self.name => {
                Some(rest.iter().map(|s| (*s).to_string()).collect())
            }
            _ => None,
        };
        match internal {
            Some(rest) => {
                crate::internal::require_internal(&req)?;
                let own = !matches!(
                    router::find(
                        self.internal_routes,
                        |r| (r.method, r.path),
                        req.method,
                        &req.segments()
                    ),
                    Found::NotFound
                );
                if own {
                    return router::dispatch(self.internal_routes, None, &mut req, ctx).await;
                }
                let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
                self.internal(&req, ctx, &rest).await
            }
            None => router::dispatch(self.routes, self.rate_limit, &mut req, ctx).await,
        }
    }

    /// Answers `req` as the serving layer does (without installing a clock
    /// or waking the bridge): for native tests of a component's routing.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn answer(&self, req: Request) -> Response {
        let ctx = Context::for_component(self.name, self.database, &req);
        let (method, path) = (req.method, req.path.clone());
        let result = futures::executor::block_on(self.handle(req, &ctx));
        crate::serve::respond(result, &ctx, method.as_str(), &path)
    }

    /// What the component offers the bridge: `bridge.toml` is checked
    /// against it.
    pub fn declaration(&self) -> Declaration {
        let creates = |table: &str| {
            self.database
                .iter()
                .flat_map(|d| d.migrations.iter())
                .flat_map(|m| m.iter())
                .any(|statement| *statement == table)
        };
        Declaration {
            name: self.name,
            outbox: creates(crate::outbox::MIGRATION[0]),
            inbox: creates(crate::inbox::MIGRATION[0]),
            idempotency_keys: creates(crate::idempotency::SCHEMA),
            consumes: self.events.as_ref().map(|c| Consumes {
                types: E::TYPES,
                batches: c.batches,
            }),
            tick: self.tick.is_some(),
        }
    }

    async fn internal(
        &self,
        req: &Request,
        ctx: &Context,
        rest: &[&str],
    ) -> Result<Response, ApiError> {
        let declaration = self.declaration();
        let offered: Vec<Internal> = Internal::ALL
            .into_iter()
            .filter(|r| r.offered(&declaration))
            .collect();
        let route = match router::find(&offered, |r| r.key(), req.method, rest) {
            Found::Route(route, _) => {
                ctx.set_route(route.key().1);
                *route
            }
            Found::WrongMethod(allow) => return Err(ApiError::MethodNotAllowed { allow }),
            Found::NotFound => return Err(router::not_found(req)),
        };
        match route {
            Internal::Outbox => crate::outbox::drain(req, ctx.db()?),
            Internal::OutboxAck => crate::outbox::ack(req, ctx.db()?),
            Internal::Events => self.deliver(req, ctx).await,
            Internal::Tick => self.tick(ctx, &declaration).await,
            Internal::Metrics => self.metrics(ctx, &declaration),
            Internal::Clock => crate::serve::advance_clock(req, ctx),
            Internal::OpenApi => crate::openapi::serve(self.name, self.routes, self.rate_limit),
        }
    }

    async fn deliver(&self, req: &Request, ctx: &Context) -> Result<Response, ApiError> {
        let consumer = self.events.as_ref().ok_or_else(|| router::not_found(req))?;
        let db = ctx.db()?;
        match consumer.handler {
            EventHandler::InTransaction(apply) => {
                crate::inbox::deliver_in_transaction(req, db, consumer.batches, |db, event| {
                    apply(db, ctx, event)
                })
            }
            EventHandler::Staged(handle) => {
                crate::inbox::deliver_staged(req, db, consumer.batches, |delivery| {
                    handle(ctx, delivery)
                })
                .await
            }
        }
    }

    async fn tick(&self, ctx: &Context, declaration: &Declaration) -> Result<Response, ApiError> {
        let mut report = match self.tick {
            None => Report::new(),
            Some(Tick::Sync(work)) => work(ctx)?,
            Some(Tick::Async(work)) => work(ctx).await?,
        };
        if declaration.idempotency_keys {
            let purged = crate::idempotency::purge_expired(ctx.db()?)?;
            report.insert("idempotency_keys_purged".into(), json!(purged));
        }
        Ok(Response::json(200, &report))
    }

    fn metrics(&self, ctx: &Context, declaration: &Declaration) -> Result<Response, ApiError> {
        let mut metrics = match self.metrics {
            Some(read) => read(ctx)?,
            None => Vec::new(),
        };
        if declaration.outbox {
            metrics.push(crate::metrics::outbox_backlog(ctx.db()?, self.name)?);
        }
        if declaration.inbox {
            metrics.push(crate::metrics::processed_events(ctx.db()?, self.name)?);
        }
        let mut text = crate::metrics::render(&metrics);
        // The request counters live in Redis; without it the rest still
        // answers.
        if let Some(redis) = ctx.redis_if_up() {
            text.push_str(&crate::request_metrics::render(
                &crate::request_metrics::read(redis, self.name)?,
            ));
        }
        Ok(Response::prometheus(text))
    }
}

/// The bridge's routes under `/internal/<component>/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Internal {
    Outbox,
    OutboxAck,
    Events,
    Tick,
    Metrics,
    Clock,
    /// The component's part of the OpenAPI document (for `ops`).
    OpenApi,
}

impl Internal {
    const ALL: [Internal; 7] = [
        Internal::Outbox,
        Internal::OutboxAck,
        Internal::Events,
        Internal::Tick,
        Internal::Metrics,
        Internal::Clock,
        Internal::OpenApi,
    ];

    fn key(&self) -> (Method, &'static str) {
        match self {
            Internal::Outbox => (Method::Get, "/outbox"),
            Internal::OutboxAck => (Method::Post, "/outbox/ack"),
            Internal::Events => (Method::Post, "/events"),
            Internal::Tick => (Method::Post, "/tick"),
            Internal::Metrics => (Method::Get, "/metrics"),
            Internal::Clock => (Method::Post, "/clock"),
            Internal::OpenApi => (Method::Get, "/openapi"),
        }
    }

    /// Whether a component so declared offers the route.
    fn offered(&self, d: &Declaration) -> bool {
        match self {
            Internal::Outbox | Internal::OutboxAck => d.outbox,
            Internal::Events => d.consumes.is_some(),
            Internal::Tick | Internal::Metrics | Internal::OpenApi => true,
            Internal::Clock => crate::serve::clock_can_move(),
        }
    }
}

/// What a component offers the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub name: &'static str,
    /// Its migrations create an outbox: it publishes events.
    pub outbox: bool,
    /// Its migrations create `processed_events`: it can take events.
    pub inbox: bool,
    /// Its migrations create `idempotency_keys` (purged on tick).
    pub idempotency_keys: bool,
    pub consumes: Option<Consumes>,
    /// It has tick work of its own.
    pub tick: bool,
}

/// The events a component takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumes {
    /// `None`: every event, whatever its type.
    pub types: Option<&'static [(&'static str, Topic)]>,
    pub batches: bool,
}

impl Consumes {
    /// Whether it takes some events of `topic`.
    pub fn takes_from(&self, topic: &str) -> bool {
        match self.types {
            None => true,
            Some(types) => types.iter().any(|(_, t)| t.as_str() == topic),
        }
    }
}

/// Declares a component's `wasi:http/incoming-handler` export, serving
/// every request from its declaration (`platform::export!(COMPONENT);`),
/// and a native test that `kafka-bridge/bridge.toml` agrees with the
/// declaration.
///
/// The export exists only in wasm builds (native builds are for unit
/// tests, and native linkers reject the WIT export names); the SDK's glue
/// is generated `unsafe` code, so only this module opts out of the
/// workspace's `deny(unsafe_code)`.
#[macro_export]
macro_rules! export {
    ($component:path) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        mod __spinshop_export {
            #[allow(unused_imports)]
            use super::*;

            #[::spin_sdk::http_component]
            async fn handle(
                req: ::spin_sdk::http::IncomingRequest,
                out: ::spin_sdk::http::ResponseOutparam,
            ) {
                $crate::serve::serve(&$component, req, out).await;
            }
        }

        #[cfg(test)]
        mod __spinshop_wiring {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn the_declaration_agrees_with_kafka_bridge_toml() {
                let bridge = include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../kafka-bridge/bridge.toml"
                ));
                $crate::wiring::assert_agrees(&$component.declaration(), bridge);
            }
        }
    };
}
