//! Prices at order time, from the catalog through local service chaining
//! (`http://catalog.spin.internal`), never from the client.

use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use platform::domain::{Id, Money};
use platform::outbound::{CallError, Client, Exchange};
use platform::{ApiError, Context};
use serde::Deserialize;

use crate::domain::{PricedLine, RequestedLine};

/// The catalog as seen from inside the application.
const CATALOG_URL: &str = "http://catalog.spin.internal/api/catalog";
/// Product lookups in flight at once.
const CONCURRENCY: usize = 8;
/// Each lookup (a GET: retried with backoff) must be answered within this.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The part of the catalog's product document an order needs.
#[derive(Debug, Deserialize)]
struct CatalogProduct {
    id: String,
    price: f64,
}

/// What one lookup found.
#[derive(Debug, PartialEq)]
enum Found {
    Price(Money),
    /// The catalog does not have (or no longer sells) the product.
    Unknown,
}

/// Prices every line, in order: 422 naming `items[i].product_id` for a
/// product the catalog does not know, 503 when the catalog cannot answer.
/// The caller's `Authorization` goes along, so the catalog counts the
/// lookups against that user's rate limit, not one shared by every order.
pub async fn price(
    ctx: &Context,
    authorization: Option<&str>,
    lines: &[RequestedLine],
) -> Result<Vec<PricedLine>, ApiError> {
    let client = Client::new().timeout(TIMEOUT);
    let client = &client;
    stream::iter(lines.iter().enumerate())
        .map(|(i, line)| async move {
            match lookup(client, ctx, authorization, &line.product_id).await? {
                Found::Price(unit_price) => Ok(PricedLine {
                    product_id: line.product_id.to_string(),
                    quantity: line.quantity.get(),
                    unit_price_cents: unit_price.cents(),
                }),
                Found::Unknown => Err(ApiError::invalid(
                    format!("items[{i}].product_id"),
                    format!("no product {} in the catalog", line.product_id),
                )),
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await
}

async fn lookup(
    client: &Client,
    ctx: &Context,
    authorization: Option<&str>,
    product_id: &Id,
) -> Result<Found, ApiError> {
    let exchange = price_request(product_id, authorization);
    let read = |status: u16, body: &[u8]| read_answer(status, body, product_id.as_str());
    match client.send(ctx, exchange, read).await {
        Ok(answer) => Ok(answer.value),
        Err(CallError::Failed { last, .. }) => Err(ApiError::Unavailable(format!(
            "the catalog could not price the order: {last}"
        ))),
        Err(CallError::Unavailable { .. }) => Err(ApiError::Unavailable(
            "the catalog is unavailable; try again shortly".into(),
        )),
    }
}

/// The lookup of a product's price. `Cache-Control: no-cache` asks the
/// catalog for its current answer: an order is priced from the catalog's
/// database or refused (503), never from a cached or stale copy that the
/// catalog would otherwise serve while its database is failing.
fn price_request(product_id: &Id, authorization: Option<&str>) -> Exchange {
    let mut exchange =
        Exchange::get(format!("{CATALOG_URL}/{product_id}")).header("cache-control", "no-cache");
    if let Some(credential) = authorization {
        exchange = exchange.header("authorization", credential);
    }
    exchange
}

/// What the catalog's answer about `product_id` means; `Err` for a
/// failure worth another try.
fn read_answer(status: u16, body: &[u8], product_id: &str) -> Result<Found, String> {
    match status {
        200 => {
            let product: CatalogProduct = serde_json::from_slice(body)
                .map_err(|e| format!("unreadable catalog answer: {e}"))?;
            if !product.id.eq_ignore_ascii_case(product_id) {
                return Err(format!(
                    "catalog answered for {} instead of {product_id}",
                    product.id
                ));
            }
            Money::from_decimal(product.price)
                .map(Found::Price)
                .ok_or_else(|| format!("catalog price {} is not a price", product.price))
        }
        // 404: no such product; 400/422: an id the catalog would never issue.
        404 | 400 | 422 => Ok(Found::Unknown),
        // Anything else (a 5xx, a 429, an auth failure between
        // components) is worth another try.
        status => Err(format!("catalog answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_asked_for_uncached() {
        let id = Id::parse("id", "p-1").expect("id");
        let exchange = price_request(&id, Some("Bearer t"));
        assert_eq!(exchange.url, "http://catalog.spin.internal/api/catalog/p-1");
        assert!(exchange
            .headers
            .contains(&("cache-control".to_string(), "no-cache".to_string())));
        assert!(exchange
            .headers
            .contains(&("authorization".to_string(), "Bearer t".to_string())));
    }

    fn read(status: u16, body: &str) -> Result<Option<i64>, String> {
        match read_answer(status, body.as_bytes(), "p-1") {
            Ok(Found::Price(price)) => Ok(Some(price.cents())),
            Ok(Found::Unknown) => Ok(None),
            Err(why) => Err(why),
        }
    }

    #[test]
    fn the_catalogs_answer_becomes_a_price_an_unknown_product_or_a_retry() {
        assert_eq!(
            read(200, r#"{"id":"p-1","price":19.99,"name":"Pen"}"#),
            Ok(Some(1999))
        );
        assert_eq!(read(200, r#"{"id":"P-1","price":0}"#), Ok(Some(0)));
        assert_eq!(read(404, ""), Ok(None));
        assert_eq!(read(422, "{}"), Ok(None));
        for (status, body) in [
            (500, ""),
            (503, "{}"),
            (429, ""),
            (200, "not json"),
            (200, r#"{"id":"p-2","price":1}"#),
            (200, r#"{"id":"p-1","price":-1}"#),
        ] {
            assert!(read(status, body).is_err(), "{status} {body}");
        }
    }
}
