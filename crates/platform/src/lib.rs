//! The platform every spinshop component links: the component model (a
//! component declares itself once and the platform serves it) and one way
//! to do each cross-cutting thing: errors, input, ids and other domain
//! values, correlation, auth, rate limiting, idempotency, pagination,
//! caching, outbound calls, the clock, the outbox and idempotent event
//! handling.

pub mod auth;
pub mod breaker;
pub mod cache;
pub mod clock;
pub mod component;
pub mod conditional;
pub mod context;
pub mod db;
pub mod domain;
pub mod events;
pub mod idempotency;
pub mod inbox;
pub mod internal;
pub mod metrics;
pub mod openapi;
pub mod outbound;
pub mod outbox;
pub mod pagination;
pub mod pkce;
pub mod problem;
pub mod random;
pub mod ratelimit;
pub mod redis_store;
pub mod request;
pub mod request_metrics;
pub mod response;
pub mod router;
pub mod serve;
pub mod validate;
#[cfg(not(target_arch = "wasm32"))]
pub mod wiring;

pub use component::{Component, Consumer, Report, Tick};
pub use context::{Context, Database};
pub use domain::Id;
pub use futures::future::LocalBoxFuture;
pub use openapi::RouteDoc;
pub use problem::ApiError;
pub use request::{Method, Request};
pub use response::Response;
pub use router::{Handler, Route};
