//! Tests of `store`.

use super::*;

fn db() -> Db {
    Db::memory(MIGRATIONS).expect("db")
}

fn pending(due_at: i64) -> Decision {
    Decision {
        status: Status::Pending,
        reason: None,
        next_attempt_at_ms: Some(due_at),
        deliver_now: false,
    }
}

fn add(db: &Db, id: &str, user: &str, priority: Priority, decision: &Decision, at: i64) {
    insert(
        db,
        &NewNotification {
            id: id.into(),
            user_id: user,
            channel: Channel::Email,
            template: "welcome",
            priority,
            subject: Some("Hello"),
            body: "Hi",
            event: Some(("e1", "user.registered")),
            decision,
            created_at_ms: at,
        },
    )
    .expect("insert");
}

#[test]
fn contacts_and_orders_remember_what_events_said() {
    let db = db();
    let ann = Contact {
        user_id: "ann".into(),
        email: "ann@example.com".into(),
        name: "Ann".into(),
    };
    upsert_contact(&db, &ann, 1).expect("contact");
    upsert_contact(
        &db,
        &Contact {
            name: "Ann Lee".into(),
            ..ann.clone()
        },
        2,
    )
    .expect("update");
    assert_eq!(
        contact(&db, "ann").expect("read").map(|c| c.name),
        Some("Ann Lee".into())
    );
    assert_eq!(
        contacts_by_email(&db, "ann@example.com")
            .expect("by email")
            .len(),
        1
    );
    let sparse = OrderInfo {
        user_id: "ann".into(),
        total_cents: None,
        currency: String::new(),
    };
    remember_order(&db, "o1", &sparse, 1).expect("first");
    let full = OrderInfo {
        user_id: "bob".into(),
        total_cents: Some(500),
        currency: "USD".into(),
    };
    remember_order(&db, "o1", &full, 2).expect("repeat");
    assert_eq!(
        order(&db, "o1").expect("read"),
        Some(OrderInfo {
            user_id: "ann".into(),
            total_cents: Some(500),
            currency: "USD".into(),
        }),
        "the first owner stays; what was missing is filled in"
    );
}

#[test]
fn preferences_default_until_saved() {
    let db = db();
    assert_eq!(
        preferences(&db, "ann").expect("default"),
        Preferences::default()
    );
    let quiet = Preferences {
        sms: true,
        quiet_hours: Some(QuietHours {
            start: 22 * 60,
            end: 7 * 60,
        }),
        ..Preferences::default()
    };
    save_preferences(&db, "ann", &quiet, 1).expect("save");
    assert_eq!(preferences(&db, "ann").expect("saved"), quiet);
}

#[test]
fn due_deliveries_are_claimed_high_priority_first_and_leased() {
    let db = db();
    add(&db, "n1", "ann", Priority::Low, &pending(100), 1);
    add(&db, "n2", "ann", Priority::High, &pending(200), 2);
    add(&db, "n3", "bob", Priority::Normal, &pending(900), 3);
    let due = claim_due(&db, 500, 60_500, 10).expect("claim");
    assert_eq!(
        due.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        ["n2", "n1"]
    );
    assert!(
        claim_due(&db, 500, 60_500, 10).expect("again").is_empty(),
        "leased"
    );
    finish(&db, "n2", Status::Sent, None, None, true, 600).expect("sent");
    let n2 = get(&db, "n2").expect("read").expect("n2");
    assert_eq!(
        (n2.status.as_str(), n2.attempts, n2.next_attempt_at_ms),
        ("sent", 1, None)
    );
    let page = history(&db, "ann", None, 1).expect("history");
    assert_eq!(page[0].id, "n2", "newest first");
    let rest = history(&db, "ann", Some("n2"), 10).expect("history");
    assert_eq!(
        rest.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        ["n1"]
    );
}
