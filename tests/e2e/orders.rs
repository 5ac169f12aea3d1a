//! End-to-end tests: orders.
