//! Tests of `store`.

use super::*;
use crate::domain::Holdings;

fn line(product_id: &str, quantity: u32) -> Line {
    Line {
        product_id: product_id.into(),
        quantity,
    }
}

fn stocked() -> Db {
    let db = Db::memory(MIGRATIONS).expect("db");
    assert!(create(&db, "lamp", 3).expect("lamp"));
    assert!(create(&db, "desk", 1).expect("desk"));
    assert!(
        !create(&db, "lamp", 99).expect("repeat"),
        "a repeat changes nothing"
    );
    db
}

fn level(db: &Db, id: &str) -> (i64, i64, i64) {
    let s = get(db, id).expect("get").expect("stock");
    (s.available, s.reserved, s.sold)
}

#[test]
fn a_reservation_takes_every_line_or_none() {
    let db = stocked();
    let failed = reserve(
        &db,
        "r0",
        Some("o0"),
        None,
        &[line("desk", 1), line("lamp", 4)],
        10,
    )
    .expect("reserve");
    let failures = failed.expect_err("not enough lamps");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].reason, "insufficient_stock");
    assert_eq!(level(&db, "desk"), (1, 0, 0), "nothing was taken");
    assert!(reservation(&db, "r0").expect("read").is_none());

    reserve(
        &db,
        "r1",
        Some("o1"),
        Some("ann"),
        &[line("desk", 1), line("lamp", 2)],
        10,
    )
    .expect("reserve")
    .expect("all there");
    assert_eq!(level(&db, "lamp"), (1, 2, 0));
    let r = reservation_for_order(&db, "o1").expect("read").expect("r1");
    assert_eq!(
        (r.id.as_str(), r.status, r.owner_id.as_deref()),
        ("r1", Status::Active, Some("ann"))
    );
    assert_eq!(r.lines, [line("desk", 1), line("lamp", 2)]);
    let unknown = reserve(&db, "r2", None, None, &[line("sofa", 1)], 10).expect("reserve");
    assert_eq!(unknown.expect_err("unknown")[0].reason, "unknown_product");
}

#[test]
fn closing_sells_or_gives_back_once() {
    let db = stocked();
    reserve(&db, "r1", Some("o1"), None, &[line("lamp", 2)], 10)
        .expect("reserve")
        .expect("ok");
    reserve(&db, "r2", Some("o2"), None, &[line("lamp", 1)], 20)
        .expect("reserve")
        .expect("ok");
    let r1 = reservation(&db, "r1").expect("read").expect("r1");
    assert!(close(&db, &r1, Close::Commit, None).expect("commit"));
    assert!(!close(&db, &r1, Close::Release, Some("late")).expect("already closed"));
    assert_eq!(level(&db, "lamp"), (0, 1, 2));
    assert!(
        expired(&db, 15, 10).expect("expired").is_empty(),
        "r2 is not due yet"
    );
    assert_eq!(expired(&db, 20, 10).expect("expired"), ["r2".to_string()]);
    let r2 = reservation(&db, "r2").expect("read").expect("r2");
    assert!(close(&db, &r2, Close::Release, Some("expired")).expect("release"));
    assert_eq!(level(&db, "lamp"), (1, 0, 2));
    assert!(expired(&db, 99, 10).expect("none").is_empty());
}

#[test]
fn levels_change_only_at_the_expected_version_and_deleted_stock_is_gone() {
    let db = stocked();
    assert!(!set_available(&db, "desk", 5, 9).expect("stale"));
    assert!(set_available(&db, "desk", 5, 1).expect("set"));
    assert_eq!(get(&db, "desk").expect("get").expect("desk").version, 2);
    assert_eq!(
        list(&db, None, 10, Some(3))
            .expect("low")
            .iter()
            .map(|s| s.product_id.as_str())
            .collect::<Vec<_>>(),
        ["lamp"]
    );
    let page = list(&db, Some("desk"), 10, None).expect("after desk");
    assert_eq!(
        page.iter()
            .map(|s| s.product_id.as_str())
            .collect::<Vec<_>>(),
        ["lamp"]
    );
    assert!(!low_stock_flag(&db, "lamp").expect("flag"));
    set_low_stock_flag(&db, "lamp", true).expect("set flag");
    assert!(low_stock_flag(&db, "lamp").expect("flag"));
    delete(&db, "lamp").expect("delete");
    assert!(get(&db, "lamp").expect("get").is_none());
    let gone = reserve(&db, "r9", None, None, &[line("lamp", 1)], 10).expect("reserve");
    assert_eq!(gone.expect_err("deleted")[0].reason, "unknown_product");
}

#[test]
fn holdings_count_a_customers_live_holds_only() {
    let db = stocked();
    reserve(&db, "h1", None, Some("ann"), &[line("lamp", 2)], 100)
        .expect("reserve")
        .expect("ok");
    reserve(&db, "h2", None, Some("ann"), &[line("desk", 1)], 50)
        .expect("reserve")
        .expect("ok");
    // An order's reservation and another customer's hold are not Ann's.
    reserve(&db, "o", Some("o1"), Some("ann"), &[line("lamp", 1)], 100)
        .expect("reserve")
        .expect("ok");
    assert_eq!(
        holdings(&db, "ann", 10).expect("read"),
        Holdings { open: 2, units: 3 }
    );
    // Past its expiry a hold no longer counts, released or not.
    assert_eq!(
        holdings(&db, "ann", 60).expect("read"),
        Holdings { open: 1, units: 2 }
    );
    let h1 = reservation(&db, "h1").expect("read").expect("h1");
    assert!(close(&db, &h1, Close::Release, Some("cancelled")).expect("release"));
    assert_eq!(
        holdings(&db, "ann", 10).expect("read"),
        Holdings { open: 1, units: 1 }
    );
    assert_eq!(holdings(&db, "bob", 10).expect("read"), Holdings::default());
}

fn hold(db: &Db, id: &str, owner: &str, lines: &[Line], expires_at_ms: i64) {
    reserve(db, id, None, Some(owner), lines, expires_at_ms)
        .expect("reserve")
        .expect("in stock");
}

#[test]
fn holds_transfer_to_an_order_without_taking_the_stock_twice() {
    let db = stocked();
    hold(&db, "h1", "ann", &[line("lamp", 2)], 100);
    hold(&db, "h2", "ann", &[line("desk", 1)], 100);
    assert_eq!(level(&db, "lamp"), (1, 2, 0));
    let holds = [
        reservation(&db, "h1").expect("read").expect("h1"),
        reservation(&db, "h2").expect("read").expect("h2"),
    ];
    let order_lines = [line("desk", 1), line("lamp", 2)];
    assert!(holds::transfer(&db, &holds, "r-o1", "o1", &order_lines, 500).expect("transfer"));
    assert_eq!(level(&db, "lamp"), (1, 2, 0), "the units moved, none taken");
    assert_eq!(level(&db, "desk"), (0, 1, 0));
    for id in ["h1", "h2"] {
        let h = reservation(&db, id).expect("read").expect("hold");
        assert_eq!(h.status, Status::Transferred, "{id}");
    }
    let r = reservation_for_order(&db, "o1").expect("read").expect("o1");
    assert_eq!(
        (r.id.as_str(), r.status, r.expires_at_ms, r.lines.as_slice()),
        ("r-o1", Status::Active, 500, order_lines.as_slice())
    );
    assert_eq!(holdings(&db, "ann", 10).expect("read"), Holdings::default());
    // Holds already transferred cannot be used again, and the expiry tick
    // leaves them alone.
    let again = db.transaction(|db| {
        if holds::transfer(db, &holds, "r-o2", "o2", &order_lines, 500)? {
            Ok(())
        } else {
            Err(ApiError::Conflict("not open".into()))
        }
    });
    assert!(again.is_err());
    assert!(reservation_for_order(&db, "o2").expect("read").is_none());
    assert_eq!(
        expired(&db, 1_000, 10).expect("expired"),
        ["r-o1".to_string()]
    );
    assert!(close(&db, &r, Close::Commit, None).expect("commit"));
    assert_eq!(level(&db, "lamp"), (1, 0, 2));
    assert_eq!(level(&db, "desk"), (0, 0, 1));
}

#[test]
fn a_hold_is_renewed_only_while_it_is_an_open_hold() {
    let db = stocked();
    hold(&db, "h1", "ann", &[line("lamp", 1)], 100);
    reserve(&db, "r1", Some("o1"), None, &[line("lamp", 1)], 100)
        .expect("reserve")
        .expect("ok");
    assert!(holds::extend(&db, "h1", 900).expect("extend"));
    assert_eq!(
        reservation(&db, "h1")
            .expect("read")
            .expect("h1")
            .expires_at_ms,
        900
    );
    assert!(
        !holds::extend(&db, "r1", 900).expect("order's"),
        "an order's reservation is the saga's"
    );
    let h1 = reservation(&db, "h1").expect("read").expect("h1");
    assert!(close(&db, &h1, Close::Release, Some("cancelled")).expect("release"));
    assert!(!holds::extend(&db, "h1", 2_000).expect("released"));
    assert!(!holds::extend(&db, "nope", 2_000).expect("missing"));
}

#[test]
fn a_hold_resizes_counting_its_own_units_as_available_to_it() {
    let db = stocked();
    hold(&db, "h1", "ann", &[line("lamp", 2)], 100);
    hold(&db, "h2", "bob", &[line("lamp", 1)], 100);
    assert_eq!(level(&db, "lamp"), (0, 3, 0));
    let h1 = reservation(&db, "h1").expect("read").expect("h1");
    let failures = holds::resize(&db, &h1, &[line("lamp", 3)], 200)
        .expect("resize")
        .expect_err("Bob holds the third lamp");
    assert_eq!(
        (failures[0].requested, failures[0].available),
        (3, 2),
        "what the hold could have"
    );
    assert_eq!(level(&db, "lamp"), (0, 3, 0), "nothing changed");
    holds::resize(&db, &h1, &[line("lamp", 1)], 200)
        .expect("resize")
        .expect("shrinks");
    assert_eq!(level(&db, "lamp"), (1, 2, 0));
    let h1 = reservation(&db, "h1").expect("read").expect("h1");
    assert_eq!(
        (h1.lines.as_slice(), h1.expires_at_ms),
        (&[line("lamp", 1)][..], 200)
    );
    holds::resize(&db, &h1, &[line("desk", 1)], 300)
        .expect("resize")
        .expect("another product");
    assert_eq!(level(&db, "lamp"), (2, 1, 0));
    assert_eq!(level(&db, "desk"), (0, 1, 0));
    assert_eq!(
        holdings(&db, "ann", 10).expect("read"),
        Holdings { open: 1, units: 1 }
    );
}

#[test]
fn availability_starts_as_created_and_is_remembered() {
    let db = stocked();
    assert!(create(&db, "sofa", 0).expect("sofa"));
    assert!(!announced_in_stock(&db, "sofa").expect("read"));
    assert!(announced_in_stock(&db, "lamp").expect("read"));
    set_announced_in_stock(&db, "lamp", false).expect("set");
    assert!(!announced_in_stock(&db, "lamp").expect("read"));
}

#[test]
fn the_transfer_migration_keeps_every_reservation_and_stock_record() {
    let db = Db::memory(&MIGRATIONS[..4]).expect("the schema before transfers");
    for sql in [
        "INSERT INTO stock (product_id, available, reserved, updated_at_ms) VALUES ('lamp', 0, 2, 1)",
        "INSERT INTO stock (product_id, available, updated_at_ms) VALUES ('desk', 4, 1)",
        "INSERT INTO reservations (id, order_id, owner_id, status, reason, expires_at_ms, created_at_ms)
         VALUES ('h1', NULL, 'ann', 'active', NULL, 50, 1), ('r1', 'o1', NULL, 'released', 'expired', 60, 1)",
        "INSERT INTO reservation_lines (reservation_id, product_id, quantity) VALUES ('h1', 'lamp', 2)",
    ] {
        db.execute(sql, &[]).expect(sql);
    }
    db.transaction(|db| {
        for sql in MIGRATIONS[4] {
            db.execute(sql, &[])?;
        }
        Ok(())
    })
    .expect("migrate");
    let h1 = reservation(&db, "h1").expect("read").expect("h1");
    assert_eq!(
        (h1.owner_id.as_deref(), h1.status, h1.lines.as_slice()),
        (Some("ann"), Status::Active, &[line("lamp", 2)][..])
    );
    let r1 = reservation_for_order(&db, "o1").expect("read").expect("r1");
    assert_eq!(r1.status, Status::Released);
    assert_eq!(expired(&db, 55, 10).expect("index"), ["h1".to_string()]);
    assert!(
        !announced_in_stock(&db, "lamp").expect("lamp"),
        "out of stock already"
    );
    assert!(announced_in_stock(&db, "desk").expect("desk"));
    db.execute(
        "UPDATE reservations SET status = 'transferred' WHERE id = 'h1'",
        &[],
    )
    .expect("the new status is allowed");
    let sql = db
        .execute(
            "SELECT sql FROM sqlite_master WHERE name = 'reservation_lines'",
            &[],
        )
        .expect("schema");
    let sql = match sql.rows.first().and_then(|r| r.values.first()) {
        Some(Value::Text(sql)) => sql.clone(),
        other => panic!("no schema for reservation_lines: {other:?}"),
    };
    assert!(
        sql.contains("REFERENCES \"reservations\""),
        "the lines reference the rebuilt table: {sql}"
    );
    assert!(
        db.execute(
            "INSERT INTO reservation_lines (reservation_id, product_id, quantity) VALUES ('ghost', 'lamp', 1)",
            &[],
        )
        .is_err(),
        "and the reference is enforced"
    );
}
