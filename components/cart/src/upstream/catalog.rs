//! The catalog, for the cart: each line's product name and live price,
//! looked up concurrently. A cart shows what its lines cost now; what an
//! order costs is decided by orders, from the catalog, at checkout.

use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use platform::domain::Money;
use platform::outbound::{Client, Exchange};
use platform::{ApiError, Context};
use serde::Deserialize;

use super::{on_behalf, unavailable};

const CATALOG: &str = "http://catalog.spin.internal/api/catalog";
/// Lookups in flight at once.
const CONCURRENCY: usize = 8;
const TIMEOUT: Duration = Duration::from_secs(3);

/// A product as a cart line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub name: String,
    pub price: Money,
}

#[derive(Debug, Deserialize)]
struct CatalogProduct {
    id: String,
    name: String,
    price: f64,
}

/// Each product of `product_ids`, in order; `None` for one the catalog no
/// longer has. 503 when the catalog cannot answer.
pub async fn products(
    ctx: &Context,
    authorization: Option<&str>,
    product_ids: &[String],
) -> Result<Vec<Option<Product>>, ApiError> {
    let client = Client::new().timeout(TIMEOUT);
    let client = &client;
    stream::iter(product_ids)
        .map(|id| async move {
            let exchange = on_behalf(Exchange::get(format!("{CATALOG}/{id}")), authorization);
            client
                .send(ctx, exchange, |status, body| read_product(status, body, id))
                .await
                .map(|answer| answer.value)
                .map_err(|e| unavailable("catalog", e))
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await
}

fn read_product(status: u16, body: &[u8], product_id: &str) -> Result<Option<Product>, String> {
    match status {
        200 => {
            let p: CatalogProduct = serde_json::from_slice(body)
                .map_err(|e| format!("unreadable catalog answer: {e}"))?;
            if !p.id.eq_ignore_ascii_case(product_id) {
                return Err(format!("the catalog answered for {}", p.id));
            }
            let price = Money::from_decimal(p.price)
                .ok_or_else(|| format!("{} is not a price", p.price))?;
            Ok(Some(Product {
                name: p.name,
                price,
            }))
        }
        404 | 400 | 422 => Ok(None),
        status => Err(format!("catalog answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogs_answer_is_a_product_none_or_a_retry() {
        assert_eq!(
            read_product(200, br#"{"id":"PEN","name":"Pen","price":1.99}"#, "pen"),
            Ok(Some(Product {
                name: "Pen".into(),
                price: Money::from_cents(199)
            }))
        );
        assert_eq!(read_product(404, b"", "pen"), Ok(None));
        for (status, body) in [
            (200, r#"{"id":"cup","name":"Cup","price":1}"#),
            (200, r#"{"id":"pen","name":"Pen","price":-1}"#),
            (200, "nope"),
            (500, ""),
            (429, ""),
        ] {
            assert!(
                read_product(status, body.as_bytes(), "pen").is_err(),
                "{status} {body}"
            );
        }
    }
}
