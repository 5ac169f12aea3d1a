//! End-to-end tests: saga.
