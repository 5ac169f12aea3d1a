//! sandbox-psp: a stand-in payment provider. Charges and refunds behave
//! like a real provider's (idempotency keys required, a repeated key
//! answers the first result, a reused key with another body is refused),
//! and an admin can inject outages, failures, declines and latency, read
//! from SQLite on every call.

pub mod domain;
mod http;
pub mod store;
mod views;

use platform::{Component, Database};

/// The sandbox provider as the platform serves it: public routes only (it
/// takes no events and publishes none).
pub static COMPONENT: Component = Component {
    name: "sandbox-psp",
    database: Some(Database {
        label: "psp",
        migrations: store::MIGRATIONS,
    }),
    routes: http::ROUTES,
    ..Component::BASE
};

platform::export!(COMPONENT);
