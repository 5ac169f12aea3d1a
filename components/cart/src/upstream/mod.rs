//! The services the cart calls through local service chaining, always
//! through the platform's outbound client (deadline, retries of
//! idempotent calls, correlation headers) and, where the call is made for
//! a user, with that user's own `Authorization`: inventory's holds are
//! then the customer's own holds, within their limits, and the catalog
//! and inventory count the calls against the customer's rate limits.

pub mod catalog;
pub mod inventory;
pub mod orders;

use platform::outbound::{CallError, Exchange};
use platform::ApiError;

/// Adds the caller's credential to a call made on their behalf.
fn on_behalf(exchange: Exchange, authorization: Option<&str>) -> Exchange {
    match authorization {
        Some(credential) => exchange.header("authorization", credential),
        None => exchange,
    }
}

/// The 503 of a dependency that gave no usable answer.
fn unavailable(service: &str, e: CallError) -> ApiError {
    let why = match e {
        CallError::Unavailable { .. } => "is unavailable".to_string(),
        CallError::Failed { last, .. } => format!("did not answer: {last}"),
    };
    platform::redis_store::log_warning("cart_dependency_failed", &format!("{service} {why}"));
    ApiError::Unavailable(format!(
        "the {service} service is unavailable; try again shortly"
    ))
}
