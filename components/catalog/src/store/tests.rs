//! Tests of `store`.

use super::*;
use crate::domain::{NewProduct, Sort};

fn fields(name: &str, price: f64, category: &str, tags: &[&str]) -> ProductFields {
    let body: NewProduct = serde_json::from_value(serde_json::json!({
        "name": name, "price": price, "category": category, "brand": "Acme",
        "stock": 1, "tags": tags,
    }))
    .expect("shape");
    body.validate().expect("valid").0
}

fn ids(products: &[Product]) -> Vec<&str> {
    products.iter().map(|p| p.id.as_str()).collect()
}

fn shop() -> Db {
    let db = Db::memory(MIGRATIONS).expect("db");
    let clock = platform::clock::pin(1_000);
    insert(
        &db,
        "p1",
        "SKU-1",
        &fields("Pen", 2.0, "office", &["ink"]),
        5,
    )
    .expect("pen");
    clock.advance(1);
    insert(&db, "p2", "SKU-2", &fields("apple", 1.0, "food", &[]), 5).expect("apple");
    clock.advance(1);
    insert(
        &db,
        "p3",
        "SKU-3",
        &fields("Brush", 3.0, "Office", &["ink", "art"]),
        5,
    )
    .expect("brush");
    db
}

#[test]
fn products_are_versioned_and_skus_unique_among_live_ones() {
    let db = shop();
    let pen = get(&db, "p1").expect("get").expect("pen");
    assert_eq!(
        (pen.version, pen.price_cents, pen.initial_stock),
        (1, 200, 5)
    );
    assert_eq!(pen.tags, ["ink"]);
    assert!(sku_taken(&db, "SKU-1", "p9").expect("taken"));
    assert!(!sku_taken(&db, "SKU-1", "p1").expect("its own"));
    assert!(!replace(&db, "p1", "SKU-1", &fields("Pen", 2.5, "office", &[]), 7).expect("stale"));
    assert!(replace(&db, "p1", "SKU-1", &fields("Pen", 2.5, "office", &[]), 1).expect("replace"));
    let pen = get(&db, "p1").expect("get").expect("pen");
    assert_eq!((pen.version, pen.price_cents), (2, 250));
    assert!(soft_delete(&db, "p1", Some(2)).expect("delete"));
    assert!(get(&db, "p1").expect("get").is_none());
    assert!(!soft_delete(&db, "p1", None).expect("gone"));
    assert!(!sku_taken(&db, "SKU-1", "p9").expect("free again"));
}

#[test]
fn lists_filter_sort_and_page_by_key_and_id() {
    let db = shop();
    let all = |f: &Filters, sort| list(&db, f, sort, None, 10).expect("list");
    assert_eq!(
        ids(&all(&Filters::default(), Sort::DEFAULT)),
        ["p3", "p2", "p1"]
    );
    assert_eq!(
        ids(&all(&Filters::default(), Sort::Name)),
        ["p2", "p3", "p1"]
    );
    assert_eq!(
        ids(&all(&Filters::default(), Sort::PriceDesc)),
        ["p3", "p1", "p2"]
    );
    let office = Filters {
        category: Some("OFFICE".into()),
        ..Filters::default()
    };
    assert_eq!(
        ids(&all(&office, Sort::Price)),
        ["p1", "p3"],
        "categories ignore case"
    );
    let inked = Filters {
        tag: Some("ink".into()),
        max_price_cents: Some(250),
        ..Filters::default()
    };
    assert_eq!(ids(&all(&inked, Sort::Price)), ["p1"]);
    let named = Filters {
        q: Some("rus".into()),
        ..Filters::default()
    };
    assert_eq!(ids(&all(&named, Sort::Name)), ["p3"]);
    let first = list(&db, &Filters::default(), Sort::Price, None, 1).expect("page");
    let after = Cursor {
        sort: Sort::Price,
        key: first[0].sort_key(Sort::Price),
        id: first[0].id.clone(),
    };
    let rest = list(&db, &Filters::default(), Sort::Price, Some(&after), 10).expect("rest");
    assert_eq!(ids(&rest), ["p1", "p3"]);
    let counts: Vec<(String, i64)> = categories(&db)
        .expect("categories")
        .into_iter()
        .map(|c| (c.category.to_lowercase(), c.count))
        .collect();
    assert_eq!(counts, [("food".to_string(), 1), ("office".to_string(), 2)]);
}
