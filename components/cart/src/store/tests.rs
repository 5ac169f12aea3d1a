//! Tests of `store`.

use super::*;

fn draft(request: &str, version: i64) -> Checkout {
    Checkout {
        order_request: request.into(),
        cart_version: version,
    }
}

#[test]
fn the_first_checkout_of_a_key_stands_until_it_ends() {
    let db = Db::memory(MIGRATIONS).expect("db");
    assert_eq!(checkout(&db, "ann", "k1").expect("read"), None);
    let first = begin_checkout(&db, "ann", "k1", &draft(r#"{"items":[1]}"#, 7), 10).expect("begin");
    assert_eq!(first, draft(r#"{"items":[1]}"#, 7));
    let again = begin_checkout(&db, "ann", "k1", &draft(r#"{"items":[2]}"#, 9), 20).expect("again");
    assert_eq!(again, first, "a retry sends what the first attempt sent");
    // Keys are each user's own.
    let bobs = begin_checkout(&db, "bob", "k1", &draft("{}", 1), 20).expect("bob");
    assert_eq!(bobs, draft("{}", 1));
    assert_eq!(checkouts_under_way(&db).expect("count"), 2);
    end_checkout(&db, "ann", "k1").expect("end");
    assert_eq!(checkout(&db, "ann", "k1").expect("read"), None);
    assert_eq!(
        begin_checkout(&db, "ann", "k1", &draft("{}", 9), 30).expect("anew"),
        draft("{}", 9)
    );
}

#[test]
fn old_checkouts_are_purged() {
    let db = Db::memory(MIGRATIONS).expect("db");
    begin_checkout(&db, "ann", "old", &draft("{}", 1), 10).expect("old");
    begin_checkout(&db, "ann", "new", &draft("{}", 1), 100).expect("new");
    assert_eq!(purge_checkouts(&db, 50).expect("purge"), 1);
    assert!(checkout(&db, "ann", "old").expect("read").is_none());
    assert!(checkout(&db, "ann", "new").expect("read").is_some());
}
