//! Tests of `store` and `store::query`, on SQLite's own FTS5.

use super::query::{self, Hit};
use super::*;
use crate::domain::{fts_query, terms, Filters, Sort};

fn product(id: &str, name: &str, brand: &str, category: &str, price: i64) -> Product {
    Product {
        id: id.into(),
        sku: format!("SKU-{id}"),
        name: name.into(),
        brand: brand.into(),
        category: category.into(),
        description: String::new(),
        tags: vec![],
        price_cents: price,
        featured: false,
        in_stock: true,
        version: 1,
        created_at_ms: 1_000,
    }
}

fn shop() -> Db {
    let db = Db::memory(MIGRATIONS).expect("db");
    let mut headphones = product("p1", "Studio Headphones", "Sonic", "audio", 9900);
    headphones.description = "Closed back, for mixing".into();
    headphones.tags = vec!["wired".into(), "studio".into()];
    let mut pen = product("p2", "Blue pen", "Acme", "office", 199);
    pen.description = "Writes like headphones sound: smoothly".into();
    let mut speaker = product("p3", "Desk speaker", "Sonic", "audio", 4900);
    speaker.tags = vec!["wired".into()];
    speaker.in_stock = false;
    let mut acme = product("p4", "Headphones case", "Acme", "accessories", 1500);
    acme.created_at_ms = 2_000;
    for p in [&headphones, &pen, &speaker, &acme] {
        upsert(&db, p).expect("upsert");
    }
    db
}

fn ids(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.id.as_str()).collect()
}

fn find(db: &Db, q: &str, filters: &Filters, sort: Sort) -> query::Results {
    let fts = (!q.is_empty()).then(|| fts_query(&terms(q)));
    query::search(db, fts.as_deref(), filters, sort, 10, 0).expect("search")
}

#[test]
fn names_outrank_descriptions_and_matches_are_marked() {
    let db = shop();
    let r = find(&db, "headphones", &Filters::default(), Sort::Relevance);
    assert_eq!(r.total, 3);
    assert_eq!(ids(&r.hits)[2], "p2", "a description match ranks last");
    assert!(r.hits[0]
        .name_marked
        .as_deref()
        .is_some_and(|n| n.contains('\u{E000}')));
    assert!(r.hits[2].snippet_marked.is_some());
    // A prefix of a long enough term matches; words are matched, not
    // substrings.
    assert_eq!(
        find(&db, "headph", &Filters::default(), Sort::Relevance).total,
        3
    );
    assert_eq!(
        find(&db, "eadphones", &Filters::default(), Sort::Relevance).total,
        0
    );
}

#[test]
fn filters_sorts_and_facets() {
    let db = shop();
    let audio = Filters {
        category: Some("AUDIO".into()),
        ..Filters::default()
    };
    let r = find(&db, "", &audio, Sort::Price);
    assert_eq!(ids(&r.hits), ["p3", "p1"]);
    // The category facet ignores the category filter; brand's obeys it.
    assert_eq!(
        r.categories,
        [
            ("audio".to_string(), 2),
            ("accessories".into(), 1),
            ("office".into(), 1)
        ]
    );
    assert_eq!(r.brands, [("Sonic".to_string(), 2)]);
    let in_stock = Filters {
        in_stock: Some(true),
        min_price_cents: Some(1000),
        ..Filters::default()
    };
    assert_eq!(
        ids(&find(&db, "", &in_stock, Sort::PriceDesc).hits),
        ["p1", "p4"]
    );
    assert_eq!(
        ids(&find(&db, "", &Filters::default(), Sort::Newest).hits)[0],
        "p4"
    );
}

#[test]
fn versions_only_move_forward_and_deletes_leave_the_index() {
    let db = shop();
    let mut renamed = product("p2", "Red pen", "Acme", "office", 250);
    renamed.version = 3;
    upsert(&db, &renamed).expect("newer");
    let mut stale = product("p2", "Green pen", "Acme", "office", 1);
    stale.version = 2;
    upsert(&db, &stale).expect("older is ignored");
    assert_eq!(
        find(&db, "red", &Filters::default(), Sort::Relevance).total,
        1
    );
    assert_eq!(
        find(&db, "green", &Filters::default(), Sort::Relevance).total,
        0
    );
    assert_eq!(
        find(&db, "blue", &Filters::default(), Sort::Relevance).total,
        0
    );
    assert!(delete(&db, "p2").expect("delete"));
    assert_eq!(
        find(&db, "pen", &Filters::default(), Sort::Relevance).total,
        0
    );
    assert!(query::product(&db, "p2").expect("read").is_none());
}

#[test]
fn the_vocabulary_answers_prefixes_with_document_counts() {
    let db = shop();
    let heads = query::terms_with_prefix(&db, "head", 5).expect("terms");
    assert_eq!(heads, [("headphones".to_string(), 3)]);
    assert!(query::matches_any(&db, "\"sonic\"").expect("match"));
    assert!(!query::matches_any(&db, "\"headphnes\"").expect("match"));
}

#[test]
fn sales_make_popularity_pairs_and_purchases() {
    let db = shop();
    remember_order(&db, "o1", "ann", &[("p1".into(), 2), ("p4".into(), 1)]).expect("o1");
    let (user, lines) = take_order(&db, "o1").expect("take").expect("remembered");
    assert_eq!(user, "ann");
    assert!(
        take_order(&db, "o1").expect("again").is_none(),
        "taken once"
    );
    record_sale(&db, &user, &lines).expect("sale");
    record_sale(&db, "bob", &[("p1".into(), 1), ("p3".into(), 1)]).expect("sale");

    let popular = query::popular(&db, &[], 2).expect("popular");
    assert_eq!(ids(&popular), ["p1", "p4"]);
    assert_eq!(popular[0].popularity, 3);
    let together = query::bought_together(&db, "p1", 5).expect("together");
    assert_eq!(together.len(), 2);
    assert!(!ids(&together).contains(&"p1"));
    // Ann bought p1 and p4: bob's p3 went with p1.
    assert_eq!(
        ids(&query::for_customer(&db, "ann", 5).expect("for ann")),
        ["p3"]
    );
    assert_eq!(
        query::purchased(&db, "ann", 5).expect("bought"),
        ["p1", "p4"]
    );

    // A product sold before it was indexed starts with its sales.
    record_sale(&db, "cat", &[("p9".into(), 4)]).expect("sale");
    upsert(&db, &product("p9", "Late lamp", "Acme", "office", 100)).expect("late");
    assert_eq!(
        query::product(&db, "p9")
            .expect("read")
            .expect("p9")
            .popularity,
        4
    );
}

#[test]
fn similar_products_share_category_brand_or_tags() {
    let db = shop();
    let of = query::product(&db, "p1").expect("read").expect("p1");
    let similar = query::similar(&db, &of, 5).expect("similar");
    // p3 shares the category, the brand and a tag; the Acme products
    // share nothing with it.
    assert_eq!(ids(&similar), ["p3"]);
}

#[test]
fn a_rebuild_drops_what_it_did_not_see() {
    let db = shop();
    let job = start_rebuild(&db, 10).expect("start");
    for id in ["p1", "p3"] {
        mark_seen(&db, id, job.id).expect("seen");
    }
    rebuild_progress(&db, job.id, Some("cursor-2"), 2).expect("progress");
    // Added by an event during the rebuild: seen by it too.
    upsert(&db, &product("p5", "New mug", "Acme", "kitchen", 500)).expect("event");
    assert_eq!(finish_rebuild(&db, job.id, 20).expect("finish"), 2);
    let done = latest_rebuild(&db).expect("read").expect("job");
    assert_eq!(
        (
            done.state.as_str(),
            done.indexed,
            done.removed,
            done.finished_at_ms
        ),
        ("done", 2, 2, Some(20))
    );
    let left = find(&db, "", &Filters::default(), Sort::Price);
    assert_eq!(ids(&left.hits), ["p5", "p3", "p1"]);
}
