//! spinshop-host integration tests: a real host process serving a real
//! guest component, with a real `redis-server`, driven over HTTP.

mod harness;

mod chaining;
mod imports;
mod isolation;
mod key_value;
mod lifecycle;
mod outbound;
mod redis;
mod routing;
mod sqlite;
mod traces;
mod variables;
