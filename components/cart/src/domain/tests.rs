//! Tests of the cart rules.

use super::*;

fn id(s: &str) -> Id {
    Id::parse("product_id", s).expect("id")
}

fn q(n: i64) -> Quantity {
    Quantity::parse("quantity", n).expect("quantity")
}

fn line(product: &str, quantity: u32) -> CartLine {
    CartLine {
        product_id: product.into(),
        quantity,
        hold: None,
        unheld: None,
    }
}

fn held(product: &str, quantity: u32, hold_quantity: u32) -> CartLine {
    CartLine {
        hold: Some(Hold {
            id: format!("h-{product}"),
            quantity: hold_quantity,
            expires_at_ms: 1_000,
            renewed_at_ms: 0,
        }),
        ..line(product, quantity)
    }
}

#[test]
fn adding_increases_a_line_or_appends_one_within_the_limits() {
    let mut cart = Cart::default();
    let pen = id("Pen");
    assert_eq!(cart.after_adding(&pen, q(2)).expect("new"), q(2));
    cart.put(&pen, q(2));
    assert_eq!(cart.after_adding(&pen, q(3)).expect("more"), q(5));
    cart.put(&id("cup"), q(1));
    cart.put(&pen, q(5));
    assert_eq!(
        cart.lines
            .iter()
            .map(|l| (l.product_id.as_str(), l.quantity))
            .collect::<Vec<_>>(),
        [("pen", 5), ("cup", 1)],
        "in the order added, ids normalised"
    );
    let e = cart
        .after_adding(&pen, q(i64::from(MAX_LINE_QUANTITY) - 4))
        .expect_err("too many of one product");
    assert_eq!(
        (e.status(), e.problem("r")["field"].clone()),
        (422, "quantity".into())
    );

    let full = Cart {
        lines: (0..MAX_LINES).map(|i| line(&format!("p{i}"), 1)).collect(),
    };
    let e = full.after_adding(&id("one-more"), q(1)).expect_err("full");
    assert_eq!(
        (e.status(), e.problem("r")["limit"].clone()),
        (409, "cart_max_lines".into())
    );
    assert_eq!(
        full.after_adding(&id("p3"), q(1)).expect("existing line"),
        q(2)
    );
    assert_eq!(full.units(), MAX_LINES as u64);
}

#[test]
fn removing_takes_the_line_and_its_hold_out() {
    let mut cart = Cart {
        lines: vec![held("pen", 2, 2), line("cup", 1)],
    };
    let gone = cart.remove(&id("PEN")).expect("pen");
    assert_eq!(gone.hold.map(|h| h.id), Some("h-pen".to_string()));
    assert_eq!(cart.remove(&id("pen")), None);
    assert_eq!(cart.lines, [line("cup", 1)]);
}

#[test]
fn a_guests_cart_merges_quantities_capped_and_lines_while_there_is_room() {
    let mut mine = Cart {
        lines: vec![held("pen", 2, 2), line("cup", 999)],
    };
    let guest = Cart {
        lines: vec![line("cup", 5), line("pen", 1), line("lamp", 1)],
    };
    assert!(mine.merge(guest).is_empty());
    assert_eq!(
        mine.lines
            .iter()
            .map(|l| (l.product_id.as_str(), l.quantity))
            .collect::<Vec<_>>(),
        [("pen", 3), ("cup", MAX_LINE_QUANTITY), ("lamp", 1)]
    );
    assert_eq!(
        mine.lines[0].hold.as_ref().map(|h| h.quantity),
        Some(2),
        "the hold is resized later"
    );
    let mut full = Cart {
        lines: (0..MAX_LINES).map(|i| line(&format!("p{i}"), 1)).collect(),
    };
    let left = full.merge(Cart {
        lines: vec![line("p0", 1), line("extra", 1)],
    });
    assert_eq!(left, [line("extra", 1)]);
    assert_eq!(full.lines[0].quantity, 2);
}

#[test]
fn holds_are_made_resized_and_renewed_when_half_their_life_is_gone() {
    assert_eq!(hold_work(&line("pen", 1), 0, false), HoldWork::Create);
    let resized = held("pen", 3, 2);
    assert!(matches!(hold_work(&resized, 0, false), HoldWork::Resize(_)));
    let fresh = held("pen", 2, 2);
    assert_eq!(hold_work(&fresh, 400, false), HoldWork::Ready);
    assert!(matches!(hold_work(&fresh, 500, false), HoldWork::Renew(_)));
    assert!(matches!(
        hold_work(&fresh, 5_000, false),
        HoldWork::Renew(_)
    ));
    assert!(
        matches!(hold_work(&fresh, 0, true), HoldWork::Renew(_)),
        "checkout renews every hold"
    );
}

#[test]
fn totals_are_integer_cents_and_skip_what_is_no_longer_sold() {
    let c = Money::from_cents;
    assert_eq!(
        total([(2, Some(c(199))), (1, None), (3, Some(c(1)))]),
        Some(c(401))
    );
    assert_eq!(total([]), Some(Money::ZERO));
    assert_eq!(total([(2, Some(c(i64::MAX)))]), None);
}

#[test]
fn a_checkout_orders_every_line_with_holds_only_when_they_cover_it_exactly() {
    let all_held = Cart {
        lines: vec![held("pen", 2, 2), held("cup", 1, 1)],
    };
    let draft = order_draft(&all_held).expect("draft");
    assert_eq!(draft.hold_ids, ["h-pen", "h-cup"]);
    assert_eq!(
        serde_json::to_value(&draft).expect("json"),
        serde_json::json!({
            "items": [{"product_id": "pen", "quantity": 2}, {"product_id": "cup", "quantity": 1}],
            "hold_ids": ["h-pen", "h-cup"],
        })
    );
    let over_limit = Cart {
        lines: vec![
            held("pen", 2, 2),
            CartLine {
                unheld: Some(Unheld::HoldLimit {
                    limit: "hold_max_units_per_user".into(),
                    max: 100,
                }),
                ..line("cup", 200)
            },
        ],
    };
    let draft = order_draft(&over_limit).expect("still orderable");
    assert!(
        draft.hold_ids.is_empty(),
        "the order reserves its own stock"
    );
    assert_eq!(
        serde_json::to_value(&draft).expect("json").get("hold_ids"),
        None
    );
    let stale = Cart {
        lines: vec![held("pen", 3, 2)],
    };
    assert!(order_draft(&stale).expect("draft").hold_ids.is_empty());
    let short = Cart {
        lines: vec![
            held("pen", 2, 2),
            CartLine {
                unheld: Some(Unheld::NotEnoughStock { available: 1 }),
                ..line("cup", 3)
            },
        ],
    };
    let refused = order_draft(&short).expect_err("cup is short");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].product_id, "cup");
    assert!(order_draft(&Cart::default()).expect_err("empty").is_empty());
}

#[test]
fn the_orders_key_is_derived_and_fits_a_key() {
    let a = orders_idempotency_key("checkout-1");
    assert_eq!(a, orders_idempotency_key("checkout-1"));
    assert_ne!(a, orders_idempotency_key("checkout-2"));
    assert!(a.starts_with("cart-checkout-") && a.len() <= 255);
    assert_eq!(orders_idempotency_key(&"k".repeat(255)).len(), a.len());
}

#[test]
fn stored_lines_say_why_they_hold_nothing() {
    let line = CartLine {
        unheld: Some(Unheld::NotEnoughStock { available: 3 }),
        ..line("pen", 5)
    };
    let json = serde_json::to_value(&line).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"product_id": "pen", "quantity": 5,
            "unheld": {"reason": "not_enough_stock", "available": 3}})
    );
    assert_eq!(
        serde_json::from_value::<CartLine>(json).expect("back"),
        line
    );
}
