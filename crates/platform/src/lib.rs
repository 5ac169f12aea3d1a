//! The platform every spinshop component links: one way to do each
//! cross-cutting thing (errors, input, correlation, auth, rate limiting,
//! idempotency, caching, the outbox and idempotent event handling).

pub mod auth;
pub mod breaker;
pub mod cache;
pub mod conditional;
pub mod context;
pub mod db;
pub mod events;
pub mod idempotency;
pub mod inbox;
pub mod internal;
pub mod outbound;
pub mod outbox;
pub mod pagination;
pub mod problem;
pub mod ratelimit;
pub mod redis_store;
pub mod request;
pub mod response;
pub mod serve;
pub mod validate;

pub use context::Context;
pub use problem::ApiError;
pub use request::{Method, Request};
pub use response::Response;
