//! End-to-end tests: notifications.
