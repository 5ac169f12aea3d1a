//! Tests of the hold rules.

use super::*;
use crate::domain::{validate_lines, LineRequest, ReservationRequest};

fn lines(pairs: &[(&str, u32)]) -> Vec<Line> {
    validate_lines(
        "",
        pairs.iter().map(|(p, q)| ((*p).to_string(), *q)).collect(),
    )
    .expect("valid lines")
}

#[test]
fn holds_are_short_and_capped_per_customer() {
    let policy = HoldPolicy::default();
    let request = |ttl: Option<u32>| ReservationRequest {
        lines: vec![LineRequest {
            product_id: "a".into(),
            quantity: 2,
        }],
        ttl_seconds: ttl,
    };
    assert_eq!(
        request(None)
            .validate(&policy)
            .expect("default")
            .ttl_seconds,
        policy.max_ttl_secs
    );
    let e = request(Some(86_400)).validate(&policy).expect_err("a day");
    assert_eq!(e.problem("r")["field"], "ttl_seconds");
    let five = lines(&[("a", 5)]);
    let held = |open, units| Holdings { open, units };
    assert!(policy.admit(held(0, 0), &five).is_ok());
    assert!(policy.admit(held(49, 95), &five).is_ok());
    let p = policy
        .admit(held(49, 96), &five)
        .expect_err("units")
        .problem("r");
    assert_eq!(
        (p["status"].clone(), p["limit"].clone(), p["max"].clone()),
        (
            serde_json::json!(409),
            serde_json::json!("hold_max_units_per_user"),
            serde_json::json!(100)
        )
    );
    let p = policy
        .admit(held(50, 0), &five)
        .expect_err("open")
        .problem("r");
    assert_eq!(p["limit"], "hold_max_open_per_user");
    let set = |name: &str| match name {
        "hold_max_ttl_secs" => Some("120".to_string()),
        "hold_max_units_per_user" => Some("many".to_string()),
        "hold_max_open_per_user" => Some("0".to_string()),
        _ => None,
    };
    assert_eq!(
        HoldPolicy::from(set),
        HoldPolicy {
            max_ttl_secs: 120,
            ..HoldPolicy::default()
        }
    );
}

#[test]
fn an_extension_lasts_at_most_the_longest_hold() {
    let policy = HoldPolicy::default();
    assert_eq!(Extension::default().ttl(&policy).expect("default"), 900);
    let ask = |ttl| Extension {
        ttl_seconds: Some(ttl),
    };
    assert_eq!(ask(60).ttl(&policy).expect("a minute"), 60);
    for bad in [0, 9, 901, u32::MAX] {
        let e = ask(bad).ttl(&policy).expect_err("out of range");
        assert_eq!(e.problem("r")["field"], "ttl_seconds", "{bad}");
    }
}

#[test]
fn hold_ids_are_ids_each_named_once() {
    let ids = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    assert_eq!(
        hold_ids(&ids(&["H-2", "h-1"])).map(|v| v.len()),
        Ok(2),
        "parsed and kept"
    );
    for bad in [
        ids(&[]),
        ids(&["h-1", "H-1"]),
        ids(&["a b"]),
        (0..51).map(|i| format!("h{i}")).collect(),
    ] {
        assert_eq!(hold_ids(&bad), Err(Untransferable::BadIds), "{bad:?}");
    }
}

fn hold<'a>(owner: Option<&'a str>, lines: &'a [Line]) -> Hold<'a> {
    Hold {
        owner_id: owner,
        order_id: None,
        status: Status::Active,
        expires_at_ms: 100,
        lines,
    }
}

#[test]
fn only_the_customers_own_live_holds_of_exactly_the_orders_lines_transfer() {
    let lamp2 = lines(&[("lamp", 2)]);
    let desk1 = lines(&[("desk", 1)]);
    let (lamp2, desk1) = (lamp2.as_slice(), desk1.as_slice());
    let order = lines(&[("desk", 1), ("lamp", 2)]);
    let ann = Some("ann");
    let both = [hold(ann, lamp2), hold(ann, desk1)];
    assert_eq!(transferable(ann, &both, &order, 50), Ok(()));
    assert_eq!(
        transferable(None, &both, &order, 50),
        Err(Untransferable::NoCustomer)
    );
    assert_eq!(
        transferable(Some("bob"), &both, &order, 50),
        Err(Untransferable::NotOwned),
        "Bob cannot use Ann's holds"
    );
    let nobodys = [hold(ann, lamp2), hold(None, desk1)];
    assert_eq!(
        transferable(ann, &nobodys, &order, 50),
        Err(Untransferable::NotOwned)
    );
    assert_eq!(
        transferable(ann, &both, &order, 100),
        Err(Untransferable::NotActive),
        "past its expiry"
    );
    let mut released = both;
    released[1].status = Status::Released;
    assert_eq!(
        transferable(ann, &released, &order, 50),
        Err(Untransferable::NotActive)
    );
    let mut ordered = both;
    ordered[0].order_id = Some("o-1");
    assert_eq!(
        transferable(ann, &ordered, &order, 50),
        Err(Untransferable::TiedToOrder)
    );
    // Fewer, more or other units than the order's lines never transfer.
    for other in [
        lines(&[("lamp", 2)]),
        lines(&[("desk", 1), ("lamp", 3)]),
        lines(&[("desk", 1), ("lamp", 1)]),
        lines(&[("desk", 1), ("lamp", 2), ("pen", 1)]),
    ] {
        assert_eq!(
            transferable(ann, &both, &other, 50),
            Err(Untransferable::LinesDiffer),
            "{other:?}"
        );
    }
    assert_eq!(
        transferable(ann, &[], &order, 50),
        Err(Untransferable::LinesDiffer)
    );
}
