//! End-to-end tests: payments.
