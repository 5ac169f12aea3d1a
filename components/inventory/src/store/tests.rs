//! Tests of `store`.

use super::*;

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
