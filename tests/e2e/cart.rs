//! The cart end to end: lines with ETags and live prices, holds on stock
//! through inventory (renewed, lapsed, made again), guest carts merged at
//! sign-in, and checkout into an order confirmed by the saga through the
//! real broker and bridge, with the cart's holds as the order's
//! reservation.

mod checkout;
mod guests;
mod holds;
mod lines;

use platform::auth::Role;
use reqwest::Method;
use serde_json::{json, Value};
use spinshop_tests::{client, Stack};

/// What the cart answered.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
    pub etag: Option<String>,
    pub cart_token: Option<String>,
    pub set_cookie: Option<String>,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// `(product_id, quantity, held)` of each line.
    pub fn lines(&self) -> Vec<(String, u64, bool)> {
        self.body["lines"]
            .as_array()
            .map(|lines| {
                lines
                    .iter()
                    .map(|l| {
                        (
                            l["product_id"].as_str().unwrap_or_default().to_string(),
                            l["quantity"].as_u64().unwrap_or_default(),
                            l["held"].as_bool().unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The line of `product`.
    pub fn line(&self, product: &str) -> Value {
        self.body["lines"]
            .as_array()
            .and_then(|lines| lines.iter().find(|l| l["product_id"] == product))
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub fn etag(&self) -> String {
        self.etag.clone().unwrap_or_default()
    }
}

/// Someone using the cart: a user (with a bearer token), a guest (with
/// the cart token the cart gave them, once it has), or both at once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shopper {
    pub bearer: Option<String>,
    pub cart_token: Option<String>,
    /// Send the cart token as the cookie a browser would, not the header.
    pub as_cookie: bool,
}

impl Shopper {
    pub fn user(bearer: &str) -> Self {
        Self {
            bearer: Some(bearer.to_string()),
            ..Self::default()
        }
    }

    pub fn guest() -> Self {
        Self::default()
    }

    pub async fn send(
        &self,
        stack: &Stack,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = client().request(method, stack.url(path));
        if let Some(bearer) = &self.bearer {
            req = req.bearer_auth(bearer);
        }
        if let Some(token) = &self.cart_token {
            req = if self.as_cookie {
                req.header("cookie", format!("theme=dark; cart_token={token}"))
            } else {
                req.header("x-cart-token", token)
            };
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().await.expect("cart request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (etag, cart_token, set_cookie) =
            (header("etag"), header("x-cart-token"), header("set-cookie"));
        let body = r.json().await.unwrap_or(Value::Null);
        if status >= 400 {
            assert_eq!(
                headers["content-type"], "application/problem+json",
                "{status} {body}"
            );
        }
        Reply {
            status,
            body,
            etag,
            cart_token,
            set_cookie,
            headers,
        }
    }

    pub async fn cart(&self, stack: &Stack) -> Reply {
        self.send(stack, Method::GET, "/api/cart", None, &[]).await
    }

    pub async fn add(&self, stack: &Stack, product: &str, quantity: i64) -> Reply {
        let body = json!({"product_id": product, "quantity": quantity});
        self.send(stack, Method::POST, "/api/cart/items", Some(body), &[])
            .await
    }

    pub async fn set(&self, stack: &Stack, product: &str, quantity: i64, etag: &str) -> Reply {
        let headers: &[(&str, &str)] = if etag.is_empty() {
            &[]
        } else {
            &[("if-match", etag)]
        };
        let path = format!("/api/cart/items/{product}");
        self.send(
            stack,
            Method::PUT,
            &path,
            Some(json!({ "quantity": quantity })),
            headers,
        )
        .await
    }

    pub async fn remove(&self, stack: &Stack, product: &str, etag: &str) -> Reply {
        let path = format!("/api/cart/items/{product}");
        self.send(stack, Method::DELETE, &path, None, &[("if-match", etag)])
            .await
    }

    pub async fn clear(&self, stack: &Stack) -> Reply {
        self.send(stack, Method::DELETE, "/api/cart", None, &[])
            .await
    }

    pub async fn checkout(&self, stack: &Stack, key: &str) -> Reply {
        self.send(
            stack,
            Method::POST,
            "/api/cart/checkout",
            Some(json!({"shipping_address": "1 Main St"})),
            &[("idempotency-key", key)],
        )
        .await
    }
}

/// A product in the catalog (as an admin) whose stock record inventory
/// has: the catalog's events delivered to inventory as the bridge would
/// (for stacks without one). Returns its id.
pub(crate) async fn stocked_product(stack: &Stack, name: &str, price: f64, stock: u32) -> String {
    let admin = stack.token("cart-admin", Role::Admin);
    let id = stack.create_product(&admin, name, price, stock).await;
    for event in stack.drain("catalog").await {
        let r = stack.deliver("inventory", &event).await;
        assert_eq!(r.status(), 200, "deliver {}", event["type"]);
    }
    stack.wait_for_stock(&id).await;
    id
}

/// `(available, reserved, sold)` of a product.
pub(crate) async fn stock(stack: &Stack, id: &str) -> (i64, i64, i64) {
    let s = stack.get_json(&format!("/api/inventory/{id}"), None).await;
    (
        s["available"].as_i64().unwrap_or(-1),
        s["reserved"].as_i64().unwrap_or(-1),
        s["sold"].as_i64().unwrap_or(-1),
    )
}

/// A reservation as its owner sees it.
pub(crate) async fn reservation(stack: &Stack, token: &str, id: &str) -> Value {
    stack
        .get_json(&format!("/api/inventory/reservations/{id}"), Some(token))
        .await
}
