//! Orders, for the cart's checkout: the order is placed as the customer,
//! with an idempotency key derived from theirs, so a retried checkout
//! gets the order the first attempt placed.

use std::time::Duration;

use platform::outbound::{Client, Exchange};
use platform::{ApiError, Context, Method};

use super::{on_behalf, unavailable};

const ORDERS: &str = "http://orders.spin.internal/api/orders";
/// Orders prices the order from the catalog before it answers.
const TIMEOUT: Duration = Duration::from_secs(8);

/// What orders answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// The order, placed now or by an earlier attempt with the key.
    Order(Vec<u8>),
    /// Orders refused the order (`status`, its problem document).
    Refused(u16, Vec<u8>),
}

/// Places the order `order_request` (JSON, sent exactly as given, so
/// that a retry matches the first attempt) under `key`.
pub async fn place(
    ctx: &Context,
    authorization: Option<&str>,
    key: &str,
    order_request: &str,
) -> Result<Placed, ApiError> {
    let exchange = Exchange {
        method: Method::Post,
        url: ORDERS.to_string(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("accept".into(), "application/json".into()),
        ],
        body: order_request.as_bytes().to_vec(),
        idempotency_key: Some(key.to_string()),
    };
    Client::new()
        .timeout(TIMEOUT)
        .send(ctx, on_behalf(exchange, authorization), read_answer)
        .await
        .map(|answer| answer.value)
        .map_err(|e| unavailable("orders", e))
}

fn read_answer(status: u16, body: &[u8]) -> Result<Placed, String> {
    match status {
        200..=202 => Ok(Placed::Order(body.to_vec())),
        408 | 429 => Err(format!("orders answered {status}")),
        400..=499 => Ok(Placed::Refused(status, body.to_vec())),
        status => Err(format!("orders answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_a_refusal_or_a_retry() {
        assert_eq!(read_answer(202, b"{}"), Ok(Placed::Order(b"{}".to_vec())));
        assert_eq!(
            read_answer(422, b"{}"),
            Ok(Placed::Refused(422, b"{}".to_vec()))
        );
        for status in [429, 500, 503] {
            assert!(read_answer(status, b"").is_err(), "{status}");
        }
    }
}
