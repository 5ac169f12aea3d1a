use platform::db::Db;

use super::*;

fn db() -> Db {
    Db::memory(MIGRATIONS).expect("db")
}

fn account(ml: &str, user: &str) -> Account {
    Account {
        ml_user_id: ml.into(),
        user_id: user.into(),
        nickname: "TESTSELLER".into(),
        access_token: "v1.sealed-a".into(),
        refresh_token: "v1.sealed-r".into(),
        expires_at_ms: 1_000,
        status: LinkStatus::Active,
        version: 1,
        linked_at_ms: 1,
        refreshed_at_ms: None,
    }
}

#[test]
fn an_account_links_to_one_user_and_a_user_to_one_account() {
    let db = db();
    assert!(link(&db, &account("1001", "u1")).expect("link"));
    // Linking again (new tokens) keeps the one link.
    assert!(link(&db, &account("1001", "u1")).expect("relink"));
    assert_eq!(
        account_of_user(&db, "u1")
            .expect("read")
            .expect("linked")
            .version,
        2
    );
    assert!(!link(&db, &account("1001", "u2")).expect("someone else's"));
    assert!(!link(&db, &account("1002", "u1")).expect("a second account"));
    assert!(unlink(&db, "u1").expect("unlink"));
    assert!(!unlink(&db, "u1").expect("twice"));
    assert!(link(&db, &account("1001", "u2")).expect("free again"));
}

#[test]
fn a_refresh_is_written_only_over_the_version_it_started_from() {
    let db = db();
    link(&db, &account("1001", "u1")).expect("link");
    assert!(store_refreshed(&db, "1001", 1, "a2", "r2", 9_000).expect("first"));
    assert!(!store_refreshed(&db, "1001", 1, "a3", "r3", 9_999).expect("stale"));
    let a = account_of_user(&db, "u1").expect("read").expect("linked");
    assert_eq!((a.access_token.as_str(), a.expires_at_ms), ("a2", 9_000));
    assert_eq!(due_for_refresh(&db, 9_001, 10).expect("due").len(), 1);
    assert_eq!(due_for_refresh(&db, 8_999, 10).expect("not due").len(), 0);
    require_reauthorization(&db, "1001").expect("refused");
    assert_eq!(due_for_refresh(&db, 99_999, 10).expect("none").len(), 0);
}

#[test]
fn a_notification_is_recorded_once() {
    let db = db();
    assert!(record_notification(&db, "n1", "items", "/items/MLA1", "1001").expect("first"));
    assert!(!record_notification(&db, "n1", "items", "/items/MLA1", "1001").expect("again"));
    notification_processed(&db, "n1", "synced").expect("done");
    assert_eq!(
        notification_counts(&db).expect("counts"),
        vec![("synced".into(), 1)]
    );
}

#[test]
fn a_product_stands_for_one_item() {
    let db = db();
    assert!(link_product(&db, "MLA1", "p1", "1001").expect("link"));
    assert!(!link_product(&db, "MLA2", "p1", "1001").expect("taken"));
    set_synced(&db, "MLA1", 7).expect("synced");
    assert_eq!(
        link_of_product(&db, "p1")
            .expect("read")
            .expect("link")
            .synced_quantity,
        Some(7)
    );
    // Linking again starts the agreement over.
    assert!(link_product(&db, "MLA1", "p2", "1001").expect("relink"));
    let link = link_of_item(&db, "MLA1").expect("read").expect("link");
    assert_eq!(
        (link.product_id.as_str(), link.synced_quantity),
        ("p2", None)
    );
    assert_eq!(
        unlink_product(&db, "MLA1").expect("unlink").as_deref(),
        Some("p2")
    );
    assert_eq!(product_of(&db, "MLA1").expect("read"), None);
    assert_eq!(unlink_product(&db, "MLA1").expect("again"), None);
}
