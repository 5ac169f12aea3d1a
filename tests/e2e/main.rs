//! End-to-end tests: the application as users and the bridge see it.

mod api_docs;
mod audit;
mod backbone;
mod bad_input;
mod bridge;
mod cart;
mod catalog;
mod clock;
mod component_model;
mod inventory;
mod marketplace;
mod metrics;
mod monitoring;
mod notifications;
mod ops;
mod orders;
mod payments;
mod readme;
mod saga;
mod sandbox_marketplace;
mod search;
mod security;
mod traces;
mod users;
