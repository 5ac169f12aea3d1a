//! spinshop-host: a Spin-compatible runtime on wasmtime.
//!
//! It reads a Spin manifest (v2) and runtime config, and serves the HTTP
//! trigger with the capabilities Spin gives components: WASI 0.2, outbound
//! HTTP with service chaining, variables, SQLite, key-value and Redis.

pub mod allowed_hosts;
pub mod app;
pub mod bindings;
pub mod compile;
pub mod http_trigger;
pub mod key_value;
pub mod manifest;
pub mod metrics;
pub mod outbound_http;
pub mod redis;
pub mod routing;
pub mod runtime_config;
pub mod sqlite;
pub mod state;
pub mod telemetry;
pub mod variables;

pub use app::{App, HostOptions};
