//! Guest carts: kept under a cart token the cart issues (header and an
//! HttpOnly cookie), checked against what is available but holding
//! nothing, and merged into the user's cart (quantities adding up, then
//! held) on the first signed-in request that carries the token.

use platform::auth::Role;
use spinshop_tests::Stack;

use super::{stock, stocked_product, Shopper};

const UNLIMITED: (&str, &str) = ("rate_limit_default", "1000000/1000000");

#[tokio::test]
async fn a_guest_cart_holds_nothing_and_joins_the_users_cart_at_sign_in() {
    let stack = Stack::start_with(&[UNLIMITED]);
    let pen = stocked_product(&stack, "Pen", 2.5, 10).await;
    let cup = stocked_product(&stack, "Cup", 1.99, 3).await;

    // A guest without a cart sees an empty one and gets no token for it.
    let nobody = Shopper::guest().cart(&stack).await;
    assert_eq!((nobody.status, nobody.lines().len()), (200, 0));
    assert_eq!(nobody.cart_token, None);

    let first = Shopper::guest().add(&stack, &pen, 2).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["owner"], "guest");
    assert_eq!(
        first.lines(),
        [(pen.clone(), 2, false)],
        "guests hold nothing"
    );
    let token = first.cart_token.clone().expect("X-Cart-Token");
    assert_eq!(token.len(), 64, "256 random bits, in hex");
    let cookie = first.set_cookie.clone().expect("Set-Cookie");
    for part in [
        format!("cart_token={token}"),
        "HttpOnly".into(),
        "SameSite=Lax".into(),
    ] {
        assert!(cookie.contains(&part), "{cookie}");
    }
    assert_eq!(stock(&stack, &pen).await, (10, 0, 0));

    let guest = Shopper {
        cart_token: Some(token.clone()),
        ..Shopper::guest()
    };
    // Availability is checked all the same.
    let beyond = guest.add(&stack, &cup, 4).await;
    assert_eq!(
        (beyond.status, beyond.body["available"].as_u64()),
        (409, Some(3))
    );
    assert_eq!(guest.add(&stack, &cup, 1).await.status, 200);
    let browser = Shopper {
        as_cookie: true,
        ..guest.clone()
    };
    let seen = browser.cart(&stack).await;
    assert_eq!(
        seen.lines(),
        [(pen.clone(), 2, false), (cup.clone(), 1, false)],
        "the cookie names the same cart"
    );
    assert_eq!(seen.body["total_cents"], 500 + 199);
    assert_eq!(seen.etag(), guest.cart(&stack).await.etag());

    // A token the cart never issued names no cart, and is not adopted.
    let made_up = Shopper {
        cart_token: Some("ab".repeat(32)),
        ..Shopper::guest()
    };
    assert_eq!(made_up.cart(&stack).await.lines(), []);
    let own = made_up.add(&stack, &pen, 1).await;
    let issued = own.cart_token.expect("a token of the cart's making");
    assert_ne!(issued, "ab".repeat(32));

    // Ann already has a pen in her cart; signing in with the guest's
    // token merges the carts: quantities add up, and now they are held.
    let ann_token = stack.token("ann", Role::Customer);
    let ann = Shopper::user(&ann_token);
    assert_eq!(ann.add(&stack, &pen, 1).await.status, 200);
    let signed_in = Shopper {
        bearer: Some(ann_token.clone()),
        ..browser.clone()
    };
    let merged = signed_in.cart(&stack).await;
    assert_eq!(merged.status, 200, "{:?}", merged.body);
    assert_eq!(merged.body["owner"], "user");
    assert_eq!(
        merged.lines(),
        [(pen.clone(), 3, true), (cup.clone(), 1, true)]
    );
    assert!(
        merged
            .set_cookie
            .as_deref()
            .is_some_and(|c| c.starts_with("cart_token=;") && c.contains("Max-Age=0")),
        "the spent token's cookie is removed: {:?}",
        merged.set_cookie
    );
    assert_eq!(stock(&stack, &pen).await, (7, 3, 0));
    assert_eq!(stock(&stack, &cup).await, (2, 1, 0));
    // The guest cart is gone: its token names nothing, and merging it
    // again adds nothing.
    assert_eq!(guest.cart(&stack).await.lines(), []);
    assert_eq!(signed_in.cart(&stack).await.lines(), merged.lines());

    // Guests cannot check out: holds and orders are a user's.
    let other = Shopper {
        cart_token: Some(issued),
        ..Shopper::guest()
    };
    let refused = other.checkout(&stack, "guest-1").await;
    assert_eq!(refused.status, 401, "{:?}", refused.body);
}
