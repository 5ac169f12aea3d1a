//! End-to-end tests: the application as users and the bridge see it.

mod bad_input;
mod bridge;
mod catalog;
mod inventory;
mod ops;
mod users;
