//! Prices at order time, from the catalog through local service chaining
//! (`http://catalog.spin.internal`), never from the client.

use futures::stream::{self, StreamExt, TryStreamExt};
use platform::{ApiError, Context};
use serde::Deserialize;

use crate::domain::{self, PricedLine, RequestedLine};

/// The catalog as seen from inside the application.
const CATALOG_URL: &str = "http://catalog.spin.internal/api/catalog";
/// Product lookups in flight at once.
const CONCURRENCY: usize = 8;
/// Attempts per lookup: a GET is idempotent, so a failed one is retried once.
const ATTEMPTS: usize = 2;

/// The part of the catalog's product document an order needs.
#[derive(Debug, Deserialize)]
struct CatalogProduct {
    id: String,
    price: f64,
}

/// What one lookup found.
#[derive(Debug)]
enum Found {
    Price(i64),
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
    stream::iter(lines.iter().enumerate())
        .map(|(i, line)| async move {
            match lookup(ctx, authorization, &line.product_id).await? {
                Found::Price(unit_price_cents) => Ok(PricedLine {
                    product_id: line.product_id.clone(),
                    quantity: line.quantity,
                    unit_price_cents,
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
    ctx: &Context,
    authorization: Option<&str>,
    product_id: &str,
) -> Result<Found, ApiError> {
    let mut last_error = String::new();
    for _ in 0..ATTEMPTS {
        match get_once(ctx, authorization, product_id).await {
            Ok(found) => return Ok(found),
            Err(Retry(e)) => last_error = e,
        }
    }
    Err(ApiError::Unavailable(format!(
        "the catalog could not price the order: {last_error}"
    )))
}

/// A failure worth another try.
#[derive(Debug)]
struct Retry(String);

async fn get_once(
    ctx: &Context,
    authorization: Option<&str>,
    product_id: &str,
) -> Result<Found, Retry> {
    let mut request = spin_sdk::http::Request::get(format!("{CATALOG_URL}/{product_id}"));
    request.header("accept", "application/json");
    if let Some(credential) = authorization {
        request.header("authorization", credential);
    }
    for (name, value) in ctx.outbound_headers() {
        request.header(name, value);
    }
    let response: spin_sdk::http::Response = spin_sdk::http::send(request.build())
        .await
        .map_err(|e| Retry(format!("catalog unreachable: {e}")))?;
    read_answer(*response.status(), response.body(), product_id)
}

/// What the catalog's answer about `product_id` means.
fn read_answer(status: u16, body: &[u8], product_id: &str) -> Result<Found, Retry> {
    match status {
        200 => {
            let product: CatalogProduct = serde_json::from_slice(body)
                .map_err(|e| Retry(format!("unreadable catalog answer: {e}")))?;
            if !product.id.eq_ignore_ascii_case(product_id) {
                return Err(Retry(format!(
                    "catalog answered for {} instead of {product_id}",
                    product.id
                )));
            }
            domain::price_cents(product.price)
                .map(Found::Price)
                .ok_or_else(|| Retry(format!("catalog price {} is not a price", product.price)))
        }
        // 404: no such product; 400/422: an id the catalog would never issue.
        404 | 400 | 422 => Ok(Found::Unknown),
        status => Err(Retry(format!("catalog answered {status}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, body: &str) -> Result<Option<i64>, String> {
        match read_answer(status, body.as_bytes(), "p-1") {
            Ok(Found::Price(cents)) => Ok(Some(cents)),
            Ok(Found::Unknown) => Ok(None),
            Err(Retry(why)) => Err(why),
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
