//! End-to-end tests: audit.
