//! The search read model end to end: products reach it through the
//! catalog's events, orders make popularity and "bought together", and
//! queries are ranked, faceted, corrected and completed; with hostile
//! input answered, never failed.

use std::time::Duration;

use platform::auth::Role;
use serde_json::{json, Value};
use spinshop_tests::{client, wait_for, Stack};

use crate::saga::{place, settled, start};

/// Creates a product through the catalog as `admin`; returns its id.
async fn add(stack: &Stack, admin: &str, product: Value) -> String {
    let r = client()
        .post(stack.url("/api/catalog"))
        .bearer_auth(admin)
        .json(&product)
        .send()
        .await
        .expect("post");
    let status = r.status();
    let body: Value = r.json().await.expect("json");
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().expect("id").to_string()
}

fn item(name: &str, description: &str, category: &str, brand: &str, price: f64) -> Value {
    json!({"name": name, "description": description, "price": price, "category": category,
           "brand": brand, "stock": 50, "tags": []})
}

async fn search(stack: &Stack, query: &str) -> Value {
    stack.get_json(&format!("/api/search?{query}"), None).await
}

fn names(answer: &Value) -> Vec<String> {
    answer["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().expect("name").to_string())
        .collect()
}

/// Waits until `query` gives exactly `total` hits.
async fn until_total(stack: &Stack, query: &str, total: i64) -> Value {
    wait_for!(
        format!("{query} to find {total}"),
        Duration::from_secs(30),
        async {
            let answer = search(stack, query).await;
            (answer["total"] == total).then_some(answer)
        }
        .await
    )
}

#[tokio::test]
async fn the_index_follows_the_catalog_ranks_facets_and_corrects() {
    let es = start(&[]);
    let stack = &es.stack;
    let admin = stack.token("admin-1", Role::Admin);
    let studio = add(
        stack,
        &admin,
        item(
            "Studio headphones",
            "Closed back <b>monitor</b> headphones",
            "audio",
            "Sonic",
            99.0,
        ),
    )
    .await;
    add(
        stack,
        &admin,
        item("Travel headphones", "Folding", "audio", "Acme", 49.0),
    )
    .await;
    add(
        stack,
        &admin,
        item("Blue pen", "Quiet as headphones", "office", "Acme", 1.5),
    )
    .await;
    add(
        stack,
        &admin,
        item("Desk lamp", "Warm light", "office", "Lumo", 25.0),
    )
    .await;

    // Name matches rank above a description match; matches are marked in
    // escaped HTML; facets count the whole result set.
    let found = until_total(stack, "q=headphones", 3).await;
    assert_eq!(names(&found)[2], "Blue pen", "{found}");
    let first = &found["items"][0];
    assert!(
        first["name_html"]
            .as_str()
            .expect("marked")
            .contains("<mark>"),
        "{first}"
    );
    let studio_hit = found["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == studio.as_str())
        .expect("studio");
    let snippet = studio_hit["snippet_html"].as_str().expect("snippet");
    assert!(
        snippet.contains("&lt;b&gt;"),
        "product text is escaped: {snippet}"
    );
    assert_eq!(
        found["facets"]["category"],
        json!([{"value": "audio", "count": 2}, {"value": "office", "count": 1}])
    );
    // Filters and sorts.
    let cheap = search(stack, "q=headphones&category=audio&sort=price").await;
    assert_eq!(names(&cheap), ["Travel headphones", "Studio headphones"]);
    let capped = search(stack, "category=office&max_price=5").await;
    assert_eq!(names(&capped), ["Blue pen"]);
    // Seed 002's catalog paths list and read the same products.
    let listed = stack
        .get_json("/api/products?category=audio&sort=price", None)
        .await;
    assert_eq!(names(&listed), ["Travel headphones", "Studio headphones"]);
    assert_eq!(
        stack
            .get_json(&format!("/api/products/{studio}"), None)
            .await["name"],
        "Studio headphones"
    );

    // A misspelt word still finds, and says what it searched instead.
    let typo = search(stack, "q=headphnes").await;
    assert_eq!(typo["total"], 3, "{typo}");
    assert_eq!(
        typo["corrections"],
        json!([{"from": "headphnes", "to": "headphones"}])
    );
    assert_eq!(
        search(stack, "q=headphones").await["corrections"],
        json!([])
    );
    // Seed 001's path answers the same.
    let by_path = stack
        .get_json("/api/catalog/search/studio%20headphones", None)
        .await;
    assert_eq!(names(&by_path), ["Studio headphones"]);

    // Updates and deletes reach the index.
    let etag = client()
        .get(stack.url(&format!("/api/catalog/{studio}")))
        .send()
        .await
        .expect("get")
        .headers()["etag"]
        .to_str()
        .expect("etag")
        .to_string();
    let r = client()
        .put(stack.url(&format!("/api/catalog/{studio}")))
        .bearer_auth(&admin)
        .header("if-match", etag)
        .json(&json!({"name": "Studio monitors", "price": 99.0, "category": "audio", "brand": "Sonic"}))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 200);
    until_total(stack, "q=monitors", 1).await;
    let r = client()
        .delete(stack.url(&format!("/api/catalog/{studio}")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("delete");
    assert!(r.status().is_success());
    until_total(stack, "q=monitors", 0).await;
}

#[tokio::test]
async fn what_is_bought_together_is_recommended_and_suggested_first() {
    let es = start(&[]);
    let stack = &es.stack;
    let admin = stack.token("admin-1", Role::Admin);
    let camera = add(
        stack,
        &admin,
        item("Camera body", "Mirrorless", "photo", "Optix", 500.0),
    )
    .await;
    let lens = add(
        stack,
        &admin,
        item("Camera lens", "50 mm", "photo", "Optix", 200.0),
    )
    .await;
    let strap = add(
        stack,
        &admin,
        item("Camera strap", "Leather", "photo", "Strapco", 20.0),
    )
    .await;
    let kettle = add(
        stack,
        &admin,
        item("Kettle", "Steel", "kitchen", "Boil", 30.0),
    )
    .await;
    until_total(stack, "q=camera", 3).await;
    for id in [&camera, &lens, &strap, &kettle] {
        stack.wait_for_stock(id).await;
    }

    // Three customers buy the camera with the lens; one with the kettle.
    let mut orders = Vec::new();
    for (user, other) in [("u1", &lens), ("u2", &lens), ("u3", &lens), ("u4", &kettle)] {
        let token = stack.token(user, Role::Customer);
        let (order, _) = place(stack, &token, &[(&camera, 1), (other, 1)], None).await;
        orders.push((token, order["id"].as_str().expect("id").to_string()));
    }
    for (token, id) in &orders {
        assert_eq!(settled(stack, token, id).await["status"], "CONFIRMED");
    }
    let picks = wait_for!(
        "bought-together to count the orders",
        Duration::from_secs(30),
        async {
            let r = stack
                .get_json(
                    &format!("/api/search/recommendations?product_id={camera}"),
                    None,
                )
                .await;
            (r["bought_together"].as_array().map(Vec::len) == Some(2)).then_some(r)
        }
        .await
    );
    let together: Vec<&str> = picks["bought_together"]
        .as_array()
        .expect("together")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(together, [lens.as_str(), kettle.as_str()], "{picks}");
    let similar: Vec<&str> = picks["similar"]
        .as_array()
        .expect("similar")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(
        similar,
        [strap.as_str()],
        "like it, not already bought with it: {picks}"
    );

    // Popularity orders suggestions: the camera body sold four times.
    let s = stack.get_json("/api/search/suggest?q=cam", None).await;
    let texts: Vec<&str> = s["suggestions"]
        .as_array()
        .expect("suggestions")
        .iter()
        .filter_map(|x| x["text"].as_str())
        .collect();
    assert_eq!(
        &texts[..3],
        ["Camera body", "Camera lens", "Camera strap"],
        "{s}"
    );
    assert!(texts.contains(&"camera"), "a completed term: {s}");

    // For a buyer: what others bought with theirs; for a newcomer, popular.
    let u4 = stack.token("u4", Role::Customer);
    let mine = stack
        .get_json("/api/search/recommendations?for=me", Some(&u4))
        .await;
    assert_eq!(mine["items"][0]["id"], lens.as_str(), "{mine}");
    let newcomer = stack.token("u9", Role::Customer);
    let theirs = stack
        .get_json("/api/search/recommendations?for=me", Some(&newcomer))
        .await;
    assert_eq!(theirs["basis"], "popular");
    assert_eq!(theirs["items"][0]["id"], camera.as_str());
}

#[tokio::test]
async fn a_rebuild_recreates_the_index_from_the_catalog() {
    // No bridge: the catalog's events never reach search.
    let stack = Stack::start_with(&[("rate_limit_default", "100000/100000")]);
    let admin = stack.token("admin-1", Role::Admin);
    for i in 0..130 {
        add(
            &stack,
            &admin,
            item(&format!("Widget {i}"), "A widget", "parts", "Acme", 1.0),
        )
        .await;
    }
    assert_eq!(search(&stack, "q=widget").await["total"], 0);
    let r = client()
        .post(stack.url("/api/search/rebuild"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("rebuild");
    assert_eq!(r.status(), 202);
    let customer = stack.token("ann", Role::Customer);
    let r = client()
        .post(stack.url("/api/search/rebuild"))
        .bearer_auth(&customer)
        .send()
        .await
        .expect("rebuild");
    assert_eq!(r.status(), 403);
    let tick = client()
        .post(stack.url("/internal/search/tick"))
        .bearer_auth(&stack.internal_token)
        .send()
        .await
        .expect("tick");
    assert_eq!(tick.status(), 200);
    let job = stack.get_json("/api/search/rebuild", Some(&admin)).await;
    assert_eq!(
        (&job["state"], &job["indexed"]),
        (&json!("done"), &json!(130)),
        "{job}"
    );
    let page = search(&stack, "q=widget&limit=100").await;
    assert_eq!(page["total"], 130);
    let cursor = page["next_cursor"].as_str().expect("a second page");
    let rest = search(&stack, &format!("q=widget&limit=100&cursor={cursor}")).await;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(30));
    assert_eq!(rest["next_cursor"], Value::Null);
}

#[tokio::test]
async fn hostile_queries_are_words_never_syntax_and_analytics_count_them() {
    let stack = Stack::start_with(&[("rate_limit_default", "100000/100000")]);
    let admin = stack.token("admin-1", Role::Admin);
    for query in [
        "q=%22unbalanced",
        "q=head*%20OR%20x",
        "q=NEAR(a%20b%2C%202)",
        "q=-excluded",
        "q=name%3Alamp",
        "q=%5Estart",
        "q=%00%01%7F",
        "q=(((((",
        "q=*",
        "q=%E2%80%AE%F0%9F%A6%80",
    ] {
        let r = client()
            .get(stack.url(&format!("/api/search?{query}")))
            .send()
            .await
            .expect("search");
        assert_eq!(r.status(), 200, "{query}");
    }
    for (query, field) in [
        (format!("q={}", "x".repeat(10_000)), "q"),
        ("sort=best".to_string(), "sort"),
        ("min_price=abc".to_string(), "min_price"),
        ("in_stock=maybe".to_string(), "in_stock"),
        ("cursor=not-ours".to_string(), "cursor"),
        ("limit=0".to_string(), "limit"),
    ] {
        let r = client()
            .get(stack.url(&format!("/api/search?{query}")))
            .send()
            .await
            .expect("search");
        assert_eq!(r.status(), 422, "{query}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        assert_eq!(r.json::<Value>().await.expect("json")["field"], field);
    }
    let r = client()
        .get(stack.url(&format!("/api/search/suggest?q={}", "%22".repeat(300))))
        .send()
        .await
        .expect("suggest");
    assert_eq!(r.status(), 422);
    for path in [
        "/api/search/recommendations",
        "/api/search/recommendations?product_id=a%20b",
    ] {
        let r = client().get(stack.url(path)).send().await.expect("get");
        assert_eq!(r.status(), 422, "{path}");
    }
    let r = client()
        .get(stack.url("/api/search/recommendations?product_id=nothing"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 404);

    // Analytics: admins only; they count searches, empty ones, and picks
    // from suggestions.
    search(&stack, "q=lamp&from=suggest").await;
    stack.get_json("/api/search/suggest?q=la", None).await;
    let r = client()
        .get(stack.url("/api/search/analytics"))
        .bearer_auth(stack.token("ann", Role::Customer))
        .send()
        .await
        .expect("analytics");
    assert_eq!(r.status(), 403);
    let a = stack
        .get_json("/api/search/analytics?top=5", Some(&admin))
        .await;
    assert_eq!(a["searches"], 11, "{a}");
    assert_eq!(a["searches_from_suggestions"], 1);
    assert_eq!(a["suggestions"], 1);
    // The index is empty: every query with words found nothing (the four
    // without a single word are not counted as queries).
    assert_eq!(a["searches_without_results"], 7, "{a}");
    assert!(a["top_queries"]
        .as_array()
        .expect("top")
        .iter()
        .any(|q| q["query"] == "lamp"));
    assert!(a["search_latency"]["p99_ms"].as_f64().is_some(), "{a}");
}

#[tokio::test]
async fn a_sold_out_product_leaves_the_in_stock_results() {
    let es = start(&[]);
    let stack = &es.stack;
    let admin = stack.token("admin-1", Role::Admin);
    let mut last = item("Last lantern", "The only one", "outdoor", "Lumo", 35.0);
    last["stock"] = json!(1);
    let lantern = add(stack, &admin, last).await;
    until_total(stack, "q=lantern&in_stock=true", 1).await;
    stack.wait_for_stock(&lantern).await;
    let ann = stack.token("ann", Role::Customer);
    let (order, _) = place(stack, &ann, &[(&lantern, 1)], None).await;
    let id = order["id"].as_str().expect("id");
    assert_eq!(settled(stack, &ann, id).await["status"], "CONFIRMED");
    // Inventory announces the product ran out; search hears it.
    until_total(stack, "q=lantern&in_stock=true", 0).await;
    let sold_out = search(stack, "q=lantern&in_stock=false").await;
    assert_eq!(sold_out["items"][0]["in_stock"], false, "{sold_out}");
}
