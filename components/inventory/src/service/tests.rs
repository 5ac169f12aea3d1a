//! Native tests of the workflows that need no Spin variables: what is
//! announced, and when holds become an order's reservation.

use platform::db::Db;
use platform::events::Line;
use platform::{Context, Id, Method, Request};
use serde_json::Value;

use super::holds::{self, Offered};
use super::*;

fn line(product_id: &str, quantity: u32) -> Line {
    Line {
        product_id: product_id.into(),
        quantity,
    }
}

fn ctx() -> Context {
    Context::from_request("inventory", &Request::new(Method::Post, "/", &[], b""))
}

/// The outbox's events as the bridge would read them, emptied.
fn drained(db: &Db) -> Vec<Value> {
    let answer = platform::outbox::drain(&Request::new(Method::Get, "/?limit=100", &[], b""), db)
        .expect("drain");
    db.execute("DELETE FROM outbox", &[]).expect("ack");
    let body: Value = serde_json::from_slice(&answer.body).expect("json");
    body["events"].as_array().cloned().unwrap_or_default()
}

fn payload(event: &Value) -> Value {
    serde_json::from_str(event["payload"].as_str().expect("payload")).expect("json")
}

#[test]
fn running_out_and_coming_back_are_announced_once_each_with_the_change() {
    let db = Db::memory(store::MIGRATIONS).expect("db");
    let ctx = ctx();
    store::create(&db, "lamp", 2).expect("lamp");
    announce_availability(&db, &ctx, None, "lamp").expect("announce");
    assert!(drained(&db).is_empty(), "created in stock: nothing new");

    let take = |id: &str, q: u32| {
        db.transaction(|db| {
            store::reserve(db, id, None, Some("ann"), &[line("lamp", q)], 100)?
                .map_err(|_| ApiError::Conflict("short".into()))?;
            announce_availability(db, &ctx, None, "lamp")
        })
    };
    take("h1", 1).expect("one of two");
    assert!(drained(&db).is_empty(), "still in stock");
    take("h2", 1).expect("the last one");
    let events = drained(&db);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "inventory.availability_changed");
    assert_eq!(events[0]["key"], "lamp");
    assert_eq!(
        payload(&events[0]),
        serde_json::json!({"product_id": "lamp", "available": 0, "in_stock": false})
    );
    announce_availability(&db, &ctx, None, "lamp").expect("again");
    assert!(drained(&db).is_empty(), "once per transition");

    // A change that fails takes its announcement with it.
    let failed: Result<(), ApiError> = db.transaction(|db| {
        store::set_available(db, "lamp", 5, 3)?;
        announce_availability(db, &ctx, None, "lamp")?;
        Err(ApiError::Conflict("rolled back".into()))
    });
    assert!(failed.is_err());
    assert!(drained(&db).is_empty());

    let h1 = store::reservation(&db, "h1").expect("read").expect("h1");
    db.transaction(|db| {
        store::close(db, &h1, Close::Release, Some("cancelled"))?;
        announce_availability(db, &ctx, None, "lamp")
    })
    .expect("release");
    let events = drained(&db);
    assert_eq!(events.len(), 1);
    assert_eq!(
        payload(&events[0]),
        serde_json::json!({"product_id": "lamp", "available": 1, "in_stock": true})
    );
}

fn order_ask<'a>(order_id: &'a Id, lines: &'a [Line]) -> Ask<'a> {
    Ask {
        order_id: Some(order_id),
        owner_id: None,
        lines,
        ttl_seconds: 600,
    }
}

#[test]
fn only_the_customers_own_holds_of_the_orders_exact_lines_become_its_reservation() {
    let db = Db::memory(store::MIGRATIONS).expect("db");
    store::create(&db, "lamp", 5).expect("lamp");
    store::create(&db, "desk", 5).expect("desk");
    let far = platform::clock::now_ms() + 600_000;
    for (id, owner, l) in [
        ("ha", "ann", line("lamp", 2)),
        ("hb", "bob", line("desk", 1)),
        ("hc", "ann", line("desk", 1)),
    ] {
        store::reserve(&db, id, None, Some(owner), &[l], far)
            .expect("reserve")
            .expect("in stock");
    }
    let ids = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    let lines = [line("desk", 1), line("lamp", 2)];
    let order = Id::parse("order", "o-1").expect("id");
    let ask = order_ask(&order, &lines);
    let offer = |customer, hold_ids: &[String]| {
        holds::transfer_to_order(&db, &order, &ask, &Offered { customer, hold_ids })
            .expect("transfer")
    };
    // Someone else's hold, a hold named twice, too few units, no customer:
    // refused, and nothing changes.
    for (customer, named) in [
        (Some("ann"), ids(&["ha", "hb"])),
        (Some("bob"), ids(&["ha", "hc"])),
        (Some("ann"), ids(&["ha", "ha", "hc"])),
        (Some("ann"), ids(&["ha"])),
        (None, ids(&["ha", "hc"])),
        (Some("ann"), ids(&["ha", "hc", "ghost"])),
    ] {
        assert_eq!(offer(customer, &named), None, "{customer:?} {named:?}");
    }
    assert!(store::reservation_for_order(&db, "o-1")
        .expect("read")
        .is_none());
    let level = |id: &str| {
        let s = store::get(&db, id).expect("get").expect("stock");
        (s.available, s.reserved, s.sold)
    };
    assert_eq!((level("lamp"), level("desk")), ((3, 2, 0), (3, 2, 0)));

    let (reservation_id, _) = offer(Some("ann"), &ids(&["hc", "ha"])).expect("Ann's own holds");
    let r = store::reservation_for_order(&db, "o-1")
        .expect("read")
        .expect("the order's reservation");
    assert_eq!(
        (r.id.as_str(), r.lines.as_slice()),
        (reservation_id.as_str(), &lines[..])
    );
    assert_eq!(
        (level("lamp"), level("desk")),
        ((3, 2, 0), (3, 2, 0)),
        "the stock is taken once"
    );
    let hb = store::reservation(&db, "hb").expect("read").expect("hb");
    assert_eq!(
        hb.status,
        crate::domain::Status::Active,
        "Bob's hold is his"
    );
    // The holds are spent: a second order cannot use them.
    let other = Id::parse("order", "o-2").expect("id");
    let again = holds::transfer_to_order(
        &db,
        &other,
        &order_ask(&other, &lines),
        &Offered {
            customer: Some("ann"),
            hold_ids: &ids(&["ha", "hc"]),
        },
    )
    .expect("transfer");
    assert_eq!(again, None);
}
