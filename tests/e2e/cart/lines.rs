//! A user's cart: adding, increasing, updating and removing lines with
//! ETags, each line's stock held as the customer's own hold, racing
//! writers, adds beyond the stock, and hostile input.

use platform::auth::Role;
use reqwest::Method;
use serde_json::json;
use spinshop_tests::{assert_all_4xx, hostile_bodies, Stack};

use super::{stock, stocked_product, Shopper};

const UNLIMITED: (&str, &str) = ("rate_limit_default", "1000000/1000000");

#[tokio::test]
async fn lines_change_with_etags_and_hold_exactly_their_stock() {
    let stack = Stack::start_with(&[UNLIMITED]);
    let pen = stocked_product(&stack, "Pen", 2.5, 10).await;
    let cup = stocked_product(&stack, "Cup", 1.99, 3).await;
    let ann = Shopper::user(&stack.token("ann", Role::Customer));

    let empty = ann.cart(&stack).await;
    assert_eq!(empty.status, 200, "{:?}", empty.body);
    assert_eq!(
        (
            &empty.body["owner"],
            &empty.body["lines"],
            &empty.body["total_cents"]
        ),
        (&json!("user"), &json!([]), &json!(0))
    );
    assert!(empty.etag.is_some());
    assert_eq!(empty.headers["cache-control"], "no-store");

    let added = ann.add(&stack, &pen, 2).await;
    assert_eq!(added.status, 200, "{:?}", added.body);
    assert_eq!(added.lines(), [(pen.clone(), 2, true)]);
    assert_eq!(added.body["total_cents"], 500);
    assert_eq!(added.line(&pen)["name"], "Pen");
    assert_eq!(added.line(&pen)["unit_price_cents"], 250);
    assert_ne!(added.etag(), empty.etag());
    assert_eq!(
        stock(&stack, &pen).await,
        (8, 2, 0),
        "held, as Ann's own hold"
    );

    let more = ann.add(&stack, &pen, 1).await;
    assert_eq!(more.lines(), [(pen.clone(), 3, true)], "an add increases");
    assert_eq!(
        more.line(&pen)["hold_id"],
        added.line(&pen)["hold_id"],
        "one hold per line, resized"
    );
    assert_eq!(stock(&stack, &pen).await, (7, 3, 0));

    // Beyond the stock: 409 with what can be had, and nothing changes.
    let beyond = ann.add(&stack, &cup, 5).await;
    assert_eq!(
        (
            beyond.status,
            &beyond.body["available"],
            &beyond.body["product_id"]
        ),
        (409, &json!(3), &json!(cup))
    );
    assert_eq!(stock(&stack, &cup).await, (3, 0, 0));
    let cart = ann.cart(&stack).await;
    assert_eq!(cart.lines(), [(pen.clone(), 3, true)]);
    assert_eq!(cart.etag(), more.etag(), "a refused add leaves the version");
    let beyond = ann.set(&stack, &pen, 11, &cart.etag()).await;
    assert_eq!(
        (beyond.status, &beyond.body["available"]),
        (409, &json!(10))
    );

    let both = ann.add(&stack, &cup, 3).await;
    assert_eq!(
        both.lines(),
        [(pen.clone(), 3, true), (cup.clone(), 3, true)]
    );
    assert_eq!(both.body["total_cents"], 750 + 597);
    assert_eq!(stock(&stack, &cup).await, (0, 3, 0));

    // Updating and removing need the current ETag.
    let stale = more.etag();
    assert_eq!(ann.set(&stack, &pen, 1, "").await.status, 428);
    assert_eq!(ann.set(&stack, &pen, 1, &stale).await.status, 412);
    let updated = ann.set(&stack, &pen, 1, &both.etag()).await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    assert_eq!(updated.line(&pen)["quantity"], 1);
    assert_eq!(stock(&stack, &pen).await, (9, 1, 0));
    assert_eq!(ann.remove(&stack, &cup, &both.etag()).await.status, 412);
    let removed = ann.remove(&stack, &cup, &updated.etag()).await;
    assert_eq!(removed.lines(), [(pen.clone(), 1, true)]);
    assert_eq!(stock(&stack, &cup).await, (3, 0, 0), "its hold is released");
    let gone = ann.remove(&stack, &cup, &removed.etag()).await;
    assert_eq!(gone.status, 404);

    // Two writers with the same ETag: one wins, the other is told to reload.
    let etag = removed.etag();
    let (a, b) = tokio::join!(
        ann.set(&stack, &pen, 4, &etag),
        ann.set(&stack, &pen, 5, &etag)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412], "{:?} {:?}", a.body, b.body);
    let winner = if a.status == 200 { a } else { b };
    let quantity = winner.line(&pen)["quantity"].as_i64().expect("quantity");
    assert_eq!(stock(&stack, &pen).await, (10 - quantity, quantity, 0));

    // Emptying the cart gives every hold back.
    let cleared = ann.clear(&stack).await;
    assert_eq!((cleared.status, &cleared.body["lines"]), (200, &json!([])));
    assert_eq!(stock(&stack, &pen).await, (10, 0, 0));
    assert_ne!(cleared.etag(), winner.etag());

    // Another customer's cart is their own.
    let bob = Shopper::user(&stack.token("bob", Role::Customer));
    assert_eq!(bob.add(&stack, &pen, 1).await.status, 200);
    assert_eq!(ann.cart(&stack).await.lines(), []);
}

#[tokio::test]
async fn hostile_input_is_a_4xx_problem_never_a_5xx() {
    let stack = Stack::start_with(&[UNLIMITED]);
    let pen = stocked_product(&stack, "Pen", 2.5, 10).await;
    let ann_token = stack.token("ann", Role::Customer);
    let ann = Shopper::user(&ann_token);
    let etag = ann.add(&stack, &pen, 1).await.etag();
    let bodies = hostile_bodies();
    for token in [None, Some(ann_token.as_str())] {
        assert_all_4xx(&stack, Method::POST, "/api/cart/items", token, &[], &bodies).await;
        let item = format!("/api/cart/items/{pen}");
        let if_match = [("if-match", etag.as_str())];
        assert_all_4xx(&stack, Method::PUT, &item, token, &if_match, &bodies).await;
    }
    for (body, field) in [
        (json!({"product_id": pen, "quantity": 0}), "quantity"),
        (json!({"product_id": pen, "quantity": -1}), "quantity"),
        (json!({"product_id": pen, "quantity": 1001}), "quantity"),
        (json!({"product_id": "a b", "quantity": 1}), "product_id"),
        (
            json!({"product_id": "x".repeat(65), "quantity": 1}),
            "product_id",
        ),
        (
            json!({"product_id": "not-stocked", "quantity": 1}),
            "product_id",
        ),
    ] {
        for shopper in [&ann, &Shopper::guest()] {
            let r = shopper
                .send(
                    &stack,
                    Method::POST,
                    "/api/cart/items",
                    Some(body.clone()),
                    &[],
                )
                .await;
            assert_eq!((r.status, &r.body["field"]), (422, &json!(field)), "{body}");
        }
    }
    let r = ann.add(&stack, &pen, 1000).await;
    assert_eq!(
        (r.status, &r.body["field"]),
        (422, &json!("quantity")),
        "1 + 1000 is more than a line takes"
    );
    let r = ann.set(&stack, "a%20b", 1, &etag).await;
    assert_eq!((r.status, &r.body["field"]), (422, &json!("product_id")));
    let r = ann.set(&stack, &pen, 0, &etag).await;
    assert_eq!(r.status, 422);
    let forged = Shopper {
        cart_token: Some("not-a-token".into()),
        ..Shopper::guest()
    };
    let r = forged.cart(&stack).await;
    assert_eq!((r.status, &r.body["field"]), (400, &json!("X-Cart-Token")));
    let r = forged.add(&stack, &pen, 1).await;
    assert_eq!(r.status, 400);
    let r = Shopper::user("not.a.token").cart(&stack).await;
    assert_eq!(r.status, 401);
    // Checkout: a guest must sign in; a user must send a key; an empty
    // cart has nothing to order.
    assert_eq!(Shopper::guest().checkout(&stack, "k").await.status, 401);
    let r = ann
        .send(&stack, Method::POST, "/api/cart/checkout", None, &[])
        .await;
    assert_eq!(
        (r.status, &r.body["field"]),
        (400, &json!("Idempotency-Key"))
    );
    assert_eq!(ann.clear(&stack).await.status, 200);
    assert_eq!(ann.checkout(&stack, "empty-1").await.status, 409);
    // With the cart empty, an absent body is a checkout of nothing (409);
    // every other hostile body is refused as it is.
    let key = [("idempotency-key", "hostile-1")];
    assert_all_4xx(
        &stack,
        Method::POST,
        "/api/cart/checkout",
        Some(&ann_token),
        &key,
        &bodies,
    )
    .await;

    assert_eq!(stock(&stack, &pen).await, (10, 0, 0));
}
