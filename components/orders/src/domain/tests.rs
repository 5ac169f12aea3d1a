//! Tests of the order rules.

use super::*;

fn parse(body: &str) -> Result<OrderRequest, ApiError> {
    serde_json::from_str::<NewOrder>(body)
        .map_err(|e| ApiError::bad_field("body", e.to_string()))?
        .validate()
}

fn field(e: &ApiError) -> String {
    e.problem("r")["field"].as_str().unwrap_or("").to_string()
}

#[test]
fn a_valid_order_keeps_its_lines_in_order_with_normalised_ids() {
    let order = parse(
        r#"{"items":[{"product_id":"B-2","quantity":3},{"product_id":"a-1","quantity":1}],
            "shipping_address":{"city":"Lisbon"}}"#,
    )
    .expect("valid");
    assert_eq!(
        order.lines,
        vec![
            RequestedLine {
                product_id: Id::parse("id", "b-2").expect("id"),
                quantity: Quantity::parse("q", 3).expect("3")
            },
            RequestedLine {
                product_id: Id::parse("id", "a-1").expect("id"),
                quantity: Quantity::parse("q", 1).expect("1")
            }
        ]
    );
    assert_eq!(order.shipping_address["city"], "Lisbon");
    let plain =
        parse(r#"{"items":[{"product_id":"p","quantity":1}],"shipping_address":" 1 Main St "}"#)
            .expect("string address");
    assert_eq!(plain.shipping_address, "1 Main St");
    let none = parse(r#"{"items":[{"product_id":"p","quantity":1}]}"#).expect("no address");
    assert!(none.shipping_address.is_null());
}

#[test]
fn server_owned_fields_are_refused_by_name_even_when_null() {
    for (body, expected) in [
        (
            r#"{"items":[{"product_id":"p","quantity":1}],"user_id":"mallory"}"#,
            "user_id",
        ),
        (
            r#"{"items":[{"product_id":"p","quantity":1}],"total":0.01}"#,
            "total",
        ),
        (
            r#"{"items":[{"product_id":"p","quantity":1}],"total_cents":null}"#,
            "total_cents",
        ),
        (
            r#"{"items":[{"product_id":"p","quantity":1,"price":0}]}"#,
            "items[0].price",
        ),
        (
            r#"{"items":[{"product_id":"p","quantity":1},{"product_id":"q","quantity":1,"unit_price":1}]}"#,
            "items[1].unit_price",
        ),
    ] {
        let e = parse(body).expect_err(body);
        assert_eq!(e.status(), 422, "{body}");
        assert_eq!(field(&e), expected, "{body}");
    }
}

#[test]
fn lines_quantities_and_ids_are_bounded() {
    let e = parse(r#"{"items":[]}"#).expect_err("empty");
    assert_eq!(field(&e), "items");
    for q in ["0", "-1", "1001", "999999999999"] {
        let body = format!(r#"{{"items":[{{"product_id":"p","quantity":{q}}}]}}"#);
        let e = parse(&body).expect_err(q);
        assert_eq!(
            (e.status(), field(&e)),
            (422, "items[0].quantity".into()),
            "{q}"
        );
    }
    let e = parse(r#"{"items":[{"product_id":"p","quantity":1},{"product_id":"P","quantity":2}]}"#)
        .expect_err("duplicate");
    assert_eq!(field(&e), "items[1].product_id");
    for bad in ["", "a b", "../x", &"x".repeat(65)] {
        let body = format!(r#"{{"items":[{{"product_id":"{bad}","quantity":1}}]}}"#);
        let e = parse(&body).expect_err(bad);
        assert_eq!(field(&e), "items[0].product_id", "{bad:?}");
    }
    let many: Vec<String> = (0..51)
        .map(|i| format!(r#"{{"product_id":"p{i}","quantity":1}}"#))
        .collect();
    let e = parse(&format!(r#"{{"items":[{}]}}"#, many.join(","))).expect_err("51 lines");
    assert_eq!(field(&e), "items");
}

#[test]
fn hold_ids_are_optional_ids_named_once_at_most_one_per_line() {
    let order = |holds: &str| {
        parse(&format!(
            r#"{{"items":[{{"product_id":"p","quantity":1}}],"hold_ids":{holds}}}"#
        ))
    };
    assert_eq!(order("null").expect("none").hold_ids, vec![]);
    assert_eq!(
        order(r#"["H-1","h-2"]"#).expect("two").hold_ids,
        vec![
            Id::parse("id", "h-1").expect("id"),
            Id::parse("id", "h-2").expect("id")
        ]
    );
    for (holds, expected) in [
        (r#"["h-1","H-1"]"#, "hold_ids[1]"),
        (r#"["a b"]"#, "hold_ids[0]"),
        (r#"[""]"#, "hold_ids[0]"),
    ] {
        let e = order(holds).expect_err(holds);
        assert_eq!((e.status(), field(&e)), (422, expected.into()), "{holds}");
    }
    let many: Vec<String> = (0..=MAX_LINES).map(|i| format!(r#""h{i}""#)).collect();
    let e = order(&format!("[{}]", many.join(","))).expect_err("too many");
    assert_eq!(field(&e), "hold_ids");
    assert_eq!(
        order(r#"[1]"#).map(|_| ()).expect_err("a number").status(),
        400
    );
}

#[test]
fn shipping_addresses_are_objects_or_strings_of_bounded_size() {
    for bad in [
        r#"42"#,
        r#"[1]"#,
        r#""""#,
        &format!(r#""{}""#, "x".repeat(MAX_SHIPPING_ADDRESS + 1)),
        &format!(r#"{{"street":"{}"}}"#, "x".repeat(MAX_SHIPPING_ADDRESS)),
    ] {
        let body =
            format!(r#"{{"items":[{{"product_id":"p","quantity":1}}],"shipping_address":{bad}}}"#);
        assert_eq!(field(&parse(&body).expect_err(bad)), "shipping_address");
    }
}

#[test]
fn money_is_integer_cents() {
    let lines = [
        PricedLine {
            product_id: "a".into(),
            quantity: 3,
            unit_price_cents: 1999,
        },
        PricedLine {
            product_id: "b".into(),
            quantity: 1,
            unit_price_cents: 1,
        },
    ];
    assert_eq!(total(&lines), Some(Money::from_cents(5998)));
    let huge = [PricedLine {
        product_id: "a".into(),
        quantity: 2,
        unit_price_cents: i64::MAX,
    }];
    assert_eq!(total(&huge), None);
}

#[test]
fn statuses_and_steps_round_trip() {
    for s in [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Cancelled,
    ] {
        assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
    }
    assert_eq!(OrderStatus::parse("pending"), Some(OrderStatus::Pending));
    assert_eq!(OrderStatus::parse("SHIPPED"), None);
    for s in [
        SagaStep::Reserving,
        SagaStep::Charging,
        SagaStep::Confirmed,
        SagaStep::Cancelled,
    ] {
        assert_eq!(SagaStep::parse(s.as_str()), Some(s));
    }
}
