//! Inventory, for the cart: holds on stock for a user's lines (made,
//! resized, renewed and released as the customer, so they are that
//! customer's holds under inventory's hold policy), and what is
//! available, for a guest's lines (guests cannot hold stock).

use std::time::Duration;

use platform::outbound::{Client, Exchange, RetryPolicy};
use platform::{ApiError, Context, Method};
use serde_json::{json, Value};

use super::{on_behalf, unavailable};

const INVENTORY: &str = "http://inventory.spin.internal/api/inventory";
/// Each attempt; a cart's request makes a few of these at once.
const TIMEOUT: Duration = Duration::from_secs(3);

/// What inventory said about a hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldAnswer {
    /// It holds `quantity` until `expires_at_ms`.
    Held {
        id: String,
        quantity: u32,
        expires_at_ms: i64,
    },
    /// Not enough stock: the line could hold at most `available`.
    Short { available: u32 },
    /// The customer holds as much as one customer may.
    Limit { limit: String, max: u64 },
    /// Inventory does not stock the product.
    NotStocked,
    /// The hold is no longer open (expired, released, or unknown).
    Gone,
    /// Inventory refused the call itself (`status`): credentials, or a bug.
    Refused(u16),
}

fn client() -> Client {
    Client::new().timeout(TIMEOUT).retries(RetryPolicy {
        max_attempts: 2,
        ..RetryPolicy::default()
    })
}

async fn send(
    ctx: &Context,
    exchange: Exchange,
    quantity: u32,
    product_id: &str,
) -> Result<HoldAnswer, ApiError> {
    client()
        .send(ctx, exchange, |status, body| {
            read_hold(status, body, product_id, quantity)
        })
        .await
        .map(|answer| answer.value)
        .map_err(|e| unavailable("inventory", e))
}

fn lines(product_id: &str, quantity: u32) -> Value {
    json!({ "lines": [{ "product_id": product_id, "quantity": quantity }] })
}

/// A new hold of `quantity` units of `product_id`, as long as the hold
/// policy allows.
pub async fn hold(
    ctx: &Context,
    authorization: Option<&str>,
    product_id: &str,
    quantity: u32,
) -> Result<HoldAnswer, ApiError> {
    let exchange = Exchange::post_json(
        format!("{INVENTORY}/reservations"),
        &lines(product_id, quantity),
    );
    send(
        ctx,
        on_behalf(exchange, authorization),
        quantity,
        product_id,
    )
    .await
}

/// Hold `hold_id` changed to `quantity` units (and renewed), in one step.
pub async fn resize(
    ctx: &Context,
    authorization: Option<&str>,
    hold_id: &str,
    product_id: &str,
    quantity: u32,
) -> Result<HoldAnswer, ApiError> {
    let mut exchange = Exchange::post_json(
        format!("{INVENTORY}/reservations/{hold_id}"),
        &lines(product_id, quantity),
    );
    exchange.method = Method::Put;
    send(
        ctx,
        on_behalf(exchange, authorization),
        quantity,
        product_id,
    )
    .await
}

/// Hold `hold_id` renewed for as long as the hold policy allows.
pub async fn extend(
    ctx: &Context,
    authorization: Option<&str>,
    hold_id: &str,
    product_id: &str,
    quantity: u32,
) -> Result<HoldAnswer, ApiError> {
    let exchange = Exchange::post_json(
        format!("{INVENTORY}/reservations/{hold_id}/extend"),
        &json!({}),
    );
    send(
        ctx,
        on_behalf(exchange, authorization),
        quantity,
        product_id,
    )
    .await
}

/// Releases hold `hold_id`; one already gone is fine.
pub async fn release(
    ctx: &Context,
    authorization: Option<&str>,
    hold_id: &str,
) -> Result<(), ApiError> {
    let mut exchange = Exchange::get(format!("{INVENTORY}/reservations/{hold_id}"));
    exchange.method = Method::Delete;
    client()
        .send(
            ctx,
            on_behalf(exchange, authorization),
            |status, _| match status {
                204 | 404 | 409 => Ok(()),
                status => Err(format!("inventory answered {status}")),
            },
        )
        .await
        .map(|_| ())
        .map_err(|e| unavailable("inventory", e))
}

/// Units of `product_id` available now; `None` when inventory does not
/// stock it.
pub async fn available(ctx: &Context, product_id: &str) -> Result<Option<u32>, ApiError> {
    let exchange = Exchange::get(format!("{INVENTORY}/{product_id}"));
    client()
        .send(ctx, exchange, read_available)
        .await
        .map(|answer| answer.value)
        .map_err(|e| unavailable("inventory", e))
}

fn read_available(status: u16, body: &[u8]) -> Result<Option<u32>, String> {
    match status {
        200 => serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["available"].as_u64())
            .map(|n| Some(u32::try_from(n).unwrap_or(u32::MAX)))
            .ok_or_else(|| "unreadable stock record".to_string()),
        404 | 422 => Ok(None),
        status => Err(format!("inventory answered {status}")),
    }
}

/// What an answer about a hold of `quantity` units of `product_id`
/// means; `Err` for a failure worth another try.
fn read_hold(
    status: u16,
    body: &[u8],
    product_id: &str,
    quantity: u32,
) -> Result<HoldAnswer, String> {
    let doc: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match status {
        200 | 201 => {
            let id = doc["reservation_id"]
                .as_str()
                .or_else(|| doc["id"].as_str())
                .ok_or("a hold without an id")?;
            let expires_at_ms = doc["expires_at_ms"]
                .as_i64()
                .ok_or("a hold without an expiry")?;
            Ok(HoldAnswer::Held {
                id: id.to_string(),
                quantity,
                expires_at_ms,
            })
        }
        409 => Ok(read_conflict(&doc, product_id)),
        404 => Ok(HoldAnswer::Gone),
        401 | 403 | 400 | 405 | 413 | 415 | 422 => Ok(HoldAnswer::Refused(status)),
        status => Err(format!("inventory answered {status}")),
    }
}

/// A 409: a limit, lines that cannot be had, or a hold no longer open.
fn read_conflict(doc: &Value, product_id: &str) -> HoldAnswer {
    if let (Some(limit), Some(max)) = (doc["limit"].as_str(), doc["max"].as_u64()) {
        return HoldAnswer::Limit {
            limit: limit.to_string(),
            max,
        };
    }
    let failure = doc["failures"].as_array().and_then(|failures| {
        failures
            .iter()
            .find(|f| f["product_id"].as_str() == Some(product_id))
    });
    match failure {
        Some(f) if f["reason"] == "unknown_product" => HoldAnswer::NotStocked,
        Some(f) => HoldAnswer::Short {
            available: f["available"]
                .as_u64()
                .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        },
        None => HoldAnswer::Gone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, body: Value) -> Result<HoldAnswer, String> {
        read_hold(status, body.to_string().as_bytes(), "pen", 3)
    }

    #[test]
    fn inventorys_answers_become_what_the_cart_does_next() {
        assert_eq!(
            read(201, json!({"reservation_id": "h1", "expires_at_ms": 5})),
            Ok(HoldAnswer::Held {
                id: "h1".into(),
                quantity: 3,
                expires_at_ms: 5
            })
        );
        assert_eq!(
            read(200, json!({"id": "h1", "expires_at_ms": 9})),
            Ok(HoldAnswer::Held {
                id: "h1".into(),
                quantity: 3,
                expires_at_ms: 9
            })
        );
        assert_eq!(
            read(
                409,
                json!({"failures": [{"product_id": "pen", "reason": "insufficient_stock", "available": 2}]})
            ),
            Ok(HoldAnswer::Short { available: 2 })
        );
        assert_eq!(
            read(
                409,
                json!({"failures": [{"product_id": "pen", "reason": "unknown_product", "available": 0}]})
            ),
            Ok(HoldAnswer::NotStocked)
        );
        assert_eq!(
            read(409, json!({"limit": "hold_max_units_per_user", "max": 100})),
            Ok(HoldAnswer::Limit {
                limit: "hold_max_units_per_user".into(),
                max: 100
            })
        );
        assert_eq!(
            read(409, json!({"detail": "reservation h1 has expired"})),
            Ok(HoldAnswer::Gone)
        );
        assert_eq!(read(404, json!({})), Ok(HoldAnswer::Gone));
        assert_eq!(read(401, json!({})), Ok(HoldAnswer::Refused(401)));
        for (status, body) in [
            (500, json!({})),
            (503, json!({})),
            (429, json!({})),
            (201, json!({"expires_at_ms": 1})),
        ] {
            assert!(read(status, body).is_err(), "{status}");
        }
    }

    #[test]
    fn availability_reads_the_stock_record() {
        assert_eq!(
            read_available(200, br#"{"available": 4, "reserved": 1}"#),
            Ok(Some(4))
        );
        assert_eq!(read_available(404, b""), Ok(None));
        assert!(read_available(200, b"{}").is_err());
        assert!(read_available(503, b"").is_err());
    }
}
