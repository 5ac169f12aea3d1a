//! Checkout through the real saga (orders, inventory, payments, with
//! every event through the broker and the bridge): the cart's holds
//! become the order's reservation, so the stock moves exactly once; a
//! repeated key answers with the same order; and holds that are not the
//! customer's own are never used for their order.

use std::time::Duration;

use serde_json::{json, Value};
use spinshop_tests::{client, wait_for, EventStack, Stack};

use super::{reservation, stock, Shopper};

const UNLIMITED: (&str, &str) = ("rate_limit_default", "1000000/1000000");

/// Registers and signs in a customer; returns the access token.
async fn customer(stack: &Stack, email: &str) -> String {
    crate::saga::customer(stack, email).await.0
}

async fn order(stack: &Stack, token: &str, id: &str) -> Value {
    stack
        .get_json(&format!("/api/orders/{id}"), Some(token))
        .await
}

/// Waits for the order to leave PENDING and its stock to settle.
async fn settled(stack: &Stack, token: &str, id: &str) -> Value {
    wait_for!(
        format!("order {id} to settle"),
        Duration::from_secs(90),
        async {
            let o = order(stack, token, id).await;
            (o["status"] != "PENDING").then_some(o)
        }
        .await
    )
}

async fn hold(stack: &Stack, token: &str, product: &str, quantity: u32) -> String {
    let r = client()
        .post(stack.url("/api/inventory/reservations"))
        .bearer_auth(token)
        .json(&json!({"lines": [{"product_id": product, "quantity": quantity}]}))
        .send()
        .await
        .expect("hold");
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.expect("json");
    body["reservation_id"].as_str().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_confirms_an_order_whose_reservation_is_the_carts_holds() {
    let es = EventStack::start(&[UNLIMITED], |c| c);
    let stack = &es.stack;
    let admin = stack.token("admin-1", platform::auth::Role::Admin);
    let kettle = stack.create_product(&admin, "Kettle", 12.5, 5).await;
    let mug = stack.create_product(&admin, "Mug", 4.0, 3).await;
    stack.wait_for_stock(&kettle).await;
    stack.wait_for_stock(&mug).await;
    let ann_token = customer(stack, "ann@example.com").await;
    let ann = Shopper::user(&ann_token);

    ann.add(stack, &kettle, 2).await;
    let cart = ann.add(stack, &mug, 1).await;
    assert_eq!(
        cart.lines(),
        [(kettle.clone(), 2, true), (mug.clone(), 1, true)]
    );
    let holds: Vec<String> = [&kettle, &mug]
        .iter()
        .map(|p| cart.line(p)["hold_id"].as_str().expect("hold").to_string())
        .collect();
    assert_eq!(stock(stack, &kettle).await, (3, 2, 0));

    let placed = ann.checkout(stack, "checkout-1").await;
    assert_eq!(placed.status, 202, "{:?}", placed.body);
    let id = placed.body["id"].as_str().expect("order id").to_string();
    assert_eq!(
        placed.headers["location"],
        format!("/api/orders/{id}").as_str()
    );
    assert_eq!(placed.body["total_cents"], 2500 + 400, "priced by orders");
    assert_eq!(
        ann.cart(stack).await.lines(),
        [],
        "the order exists: the cart is empty"
    );

    let confirmed = settled(stack, &ann_token, &id).await;
    assert_eq!(confirmed["status"], "CONFIRMED", "{confirmed}");
    wait_for!(
        "the sale to be committed",
        Duration::from_secs(30),
        async { (stock(stack, &kettle).await == (3, 0, 2)).then_some(()) }.await
    );
    assert_eq!(stock(stack, &mug).await, (2, 0, 1), "taken once, sold once");
    for hold in &holds {
        let r = reservation(stack, &ann_token, hold).await;
        assert_eq!(r["status"], "transferred", "{r}");
    }
    let reserved = confirmed["reservation_id"].as_str().expect("reservation");
    assert!(!holds.iter().any(|h| h == reserved));

    // The same key answers with the same order, and places nothing.
    let again = ann.checkout(stack, "checkout-1").await;
    assert_eq!((again.status, &again.body["id"]), (202, &json!(id)));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let orders = stack.get_json("/api/orders", Some(&ann_token)).await;
    assert_eq!(orders["items"].as_array().map(Vec::len), Some(1));
    // A new key with an empty cart has nothing to order.
    assert_eq!(ann.checkout(stack, "checkout-2").await.status, 409);

    // Bob holds a kettle. Ann names his hold in an order of her own: it is
    // ignored (the order reserves its own), and Bob's hold stays his.
    let bob_token = customer(stack, "bob@example.com").await;
    let bobs = hold(stack, &bob_token, &kettle, 1).await;
    assert_eq!(stock(stack, &kettle).await, (2, 1, 2));
    let r = client()
        .post(stack.url("/api/orders"))
        .bearer_auth(&ann_token)
        .json(&json!({"items": [{"product_id": kettle, "quantity": 1}], "hold_ids": [bobs]}))
        .send()
        .await
        .expect("order");
    assert_eq!(r.status(), 202);
    let theirs: Value = r.json().await.expect("json");
    let theirs = settled(stack, &ann_token, theirs["id"].as_str().expect("id")).await;
    assert_eq!(theirs["status"], "CONFIRMED", "{theirs}");
    wait_for!(
        "Ann's second kettle to be sold from free stock",
        Duration::from_secs(30),
        async { (stock(stack, &kettle).await == (1, 1, 3)).then_some(()) }.await
    );
    assert_eq!(
        reservation(stack, &bob_token, &bobs).await["status"],
        "active"
    );

    // A hold of another quantity than the order's line is not used either.
    let own = hold(stack, &ann_token, &mug, 2).await;
    let r = client()
        .post(stack.url("/api/orders"))
        .bearer_auth(&ann_token)
        .json(&json!({"items": [{"product_id": mug, "quantity": 1}], "hold_ids": [own]}))
        .send()
        .await
        .expect("order");
    let other: Value = r.json().await.expect("json");
    let other = settled(stack, &ann_token, other["id"].as_str().expect("id")).await;
    assert_eq!(
        other["status"], "CANCELLED",
        "2 held + 1 ordered > 2 left: {other}"
    );
    assert_eq!(
        reservation(stack, &ann_token, &own).await["status"],
        "active"
    );
    assert_eq!(stock(stack, &mug).await, (0, 2, 1));
}
