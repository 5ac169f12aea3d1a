//! sandbox-marketplace: a stand-in for the MercadoLibre API that we own,
//! served under `/sandbox/ml` so that the real API's paths sit below that
//! prefix. It is an OAuth 2.0 authorization server (authorization code
//! with PKCE, single-use rotating refresh tokens), serves the users, items
//! and categories resources in MercadoLibre's shapes and errors, sends
//! MercadoLibre's notifications to a callback URL on its tick, and lets
//! an admin inject latency, failures, outages and a rate limit.

mod api;
mod control;
pub mod domain;
mod gate;
mod grants;
mod http;
mod items;
pub mod ml_error;
pub mod oauth;
pub mod store;
mod views;
mod webhooks;

use platform::{Component, Database, Tick};

/// The sandbox MercadoLibre API as the platform serves it: public routes
/// and a tick that delivers notifications (it takes no events and
/// publishes none).
pub static COMPONENT: Component = Component {
    name: "sandbox-marketplace",
    database: Some(Database {
        label: "sandbox_ml",
        migrations: store::MIGRATIONS,
    }),
    routes: http::ROUTES,
    tick: Some(Tick::Async(webhooks::tick)),
    ..Component::BASE
};

platform::export!(COMPONENT);
