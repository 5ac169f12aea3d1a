//! Holds over time: renewed while the cart is used (through inventory's
//! extend route), released by inventory's tick once they lapse, noticed
//! by the cart and made again, or reported as no longer held when the
//! stock went to someone else. Time moves through the stack's clock.

use std::time::Duration;

use platform::auth::Role;
use reqwest::Method;
use serde_json::{json, Value};
use spinshop_tests::{assert_all_4xx, client, hostile_bodies, Stack};

use super::{reservation, stock, stocked_product, Shopper};
use crate::clock::{advance, MOVABLE};

const UNLIMITED: (&str, &str) = ("rate_limit_default", "1000000/1000000");
const MINUTE: Duration = Duration::from_secs(60);

/// Runs inventory's tick, as the bridge does every second.
async fn tick_inventory(stack: &Stack) -> Value {
    let r = client()
        .post(stack.url("/internal/inventory/tick"))
        .bearer_auth(&stack.internal_token)
        .send()
        .await
        .expect("tick");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

async fn extend(stack: &Stack, token: &str, id: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = client()
        .post(stack.url(&format!("/api/inventory/reservations/{id}/extend")))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.expect("extend");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn expiry(reservation: &Value) -> i64 {
    reservation["expires_at_ms"]
        .as_i64()
        .expect("expires_at_ms")
}

#[tokio::test]
async fn holds_are_renewed_while_the_cart_is_used_and_made_again_after_they_lapse() {
    let stack = Stack::start_with(&[UNLIMITED, MOVABLE]);
    let lamp = stocked_product(&stack, "Lamp", 30.0, 10).await;
    let ann_token = stack.token("ann", Role::Customer);
    let ann = Shopper::user(&ann_token);

    let added = ann.add(&stack, &lamp, 2).await;
    assert_eq!(added.lines(), [(lamp.clone(), 2, true)]);
    let hold = added.line(&lamp)["hold_id"]
        .as_str()
        .expect("hold id")
        .to_string();
    let first = expiry(&reservation(&stack, &ann_token, &hold).await);

    // Within the first half of its life a look at the cart changes nothing;
    // past it, the cart renews the hold (the same hold, a later expiry).
    advance(&stack, 5 * MINUTE).await;
    ann.cart(&stack).await;
    assert_eq!(expiry(&reservation(&stack, &ann_token, &hold).await), first);
    advance(&stack, 5 * MINUTE).await;
    let renewed = ann.cart(&stack).await;
    assert_eq!(renewed.line(&lamp)["hold_id"], json!(hold));
    assert_eq!(
        renewed.etag(),
        added.etag(),
        "renewing is not a change of lines"
    );
    let later = expiry(&reservation(&stack, &ann_token, &hold).await);
    assert!(later >= first + 9 * 60_000, "{later} vs {first}");

    // Idle past its lifetime, the hold lapses and inventory's tick gives
    // the stock back; the cart notices and holds it again.
    advance(&stack, 16 * MINUTE).await;
    tick_inventory(&stack).await;
    assert_eq!(stock(&stack, &lamp).await, (10, 0, 0));
    assert_eq!(
        reservation(&stack, &ann_token, &hold).await["status"],
        "released"
    );
    let again = ann.cart(&stack).await;
    assert_eq!(again.lines(), [(lamp.clone(), 2, true)]);
    let rehold = again.line(&lamp)["hold_id"]
        .as_str()
        .expect("a new hold")
        .to_string();
    assert_ne!(rehold, hold);
    assert_eq!(stock(&stack, &lamp).await, (8, 2, 0));

    // Lapsed again, and meanwhile Bob takes all but one: the line says it
    // is no longer held, and how many could be.
    advance(&stack, 16 * MINUTE).await;
    tick_inventory(&stack).await;
    let bob = Shopper::user(&stack.token("bob", Role::Customer));
    assert_eq!(bob.add(&stack, &lamp, 9).await.status, 200);
    let short = ann.cart(&stack).await;
    assert_eq!(short.lines(), [(lamp.clone(), 2, false)]);
    assert_eq!(
        short.line(&lamp)["unheld"],
        json!({"reason": "not_enough_stock", "available": 1})
    );
    assert_eq!(stock(&stack, &lamp).await, (1, 9, 0));
    // Asking for what there is holds it again.
    let fixed = ann.set(&stack, &lamp, 1, &short.etag()).await;
    assert_eq!(fixed.lines(), [(lamp.clone(), 1, true)]);
    assert_eq!(stock(&stack, &lamp).await, (0, 10, 0));
}

#[tokio::test]
async fn only_the_owner_extends_an_open_hold_within_the_policy() {
    let stack = Stack::start_with(&[UNLIMITED, MOVABLE, ("hold_max_ttl_secs", "600")]);
    let lamp = stocked_product(&stack, "Lamp", 30.0, 10).await;
    let ann = stack.token("ann", Role::Customer);
    let bob = stack.token("bob", Role::Customer);
    let r = client()
        .post(stack.url("/api/inventory/reservations"))
        .bearer_auth(&ann)
        .json(&json!({"lines": [{"product_id": lamp, "quantity": 1}], "ttl_seconds": 60}))
        .send()
        .await
        .expect("hold");
    assert_eq!(r.status(), 201);
    let hold: Value = r.json().await.expect("json");
    let id = hold["reservation_id"].as_str().expect("id").to_string();
    let made = expiry(&hold);

    advance(&stack, Duration::from_secs(30)).await;
    let (status, renewed) = extend(&stack, &ann, &id, None).await;
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(renewed["status"], "active");
    // Now + the longest hold (600 s), from 30 s after it was made.
    let by = expiry(&renewed) - made;
    assert!(
        (599_000..=602_000).contains(&(by + 60_000 - 30_000)),
        "{by}"
    );
    let (status, shorter) = extend(&stack, &ann, &id, Some(json!({"ttl_seconds": 120}))).await;
    assert_eq!(status, 200);
    assert!(expiry(&shorter) < expiry(&renewed));
    let (status, problem) = extend(&stack, &ann, &id, Some(json!({"ttl_seconds": 86400}))).await;
    assert_eq!((status, &problem["field"]), (422, &json!("ttl_seconds")));
    let (status, _) = extend(&stack, &ann, &id, Some(json!({"until": 1}))).await;
    assert_eq!(status, 400);
    // Hostile bodies are 4xx problems (an absent one is a plain renewal).
    let extend_path = format!("/api/inventory/reservations/{id}/extend");
    let bodies: Vec<_> = hostile_bodies()
        .into_iter()
        .filter(|(body, _)| !body.is_empty())
        .collect();
    assert_all_4xx(&stack, Method::POST, &extend_path, Some(&ann), &[], &bodies).await;
    let hold_path = format!("/api/inventory/reservations/{id}");
    let bodies = hostile_bodies();
    assert_all_4xx(&stack, Method::PUT, &hold_path, Some(&ann), &[], &bodies).await;
    // Someone else's hold does not exist for them: not to renew, nor to
    // change.
    assert_eq!(extend(&stack, &bob, &id, None).await.0, 404);
    let r = client()
        .put(stack.url(&hold_path))
        .bearer_auth(&bob)
        .json(&json!({"lines": [{"product_id": lamp, "quantity": 2}]}))
        .send()
        .await
        .expect("resize");
    assert_eq!(r.status(), 404);
    assert_eq!(extend(&stack, &ann, "no-such-hold", None).await.0, 404);
    // Past its expiry it cannot be brought back, released or not.
    advance(&stack, Duration::from_secs(121)).await;
    let (status, problem) = extend(&stack, &ann, &id, None).await;
    assert_eq!(status, 409, "{problem}");
    tick_inventory(&stack).await;
    assert_eq!(extend(&stack, &ann, &id, None).await.0, 409);
    assert_eq!(stock(&stack, &lamp).await, (10, 0, 0));
}
