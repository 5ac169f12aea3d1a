//! The catalog through its HTTP API and its outbox, on the real host and Redis.

use std::collections::HashSet;

use platform::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use spinshop_tests::{assert_all_4xx, client, hostile_bodies, Stack};

fn pen(name: &str) -> Value {
    json!({
        "name": name, "description": "A pen.", "price": 19.99, "category": "office",
        "brand": "Acme", "stock": 10, "tags": ["ink"],
    })
}

async fn create(stack: &Stack, admin: &str, body: &Value) -> Value {
    let r = client()
        .post(stack.url("/api/catalog"))
        .bearer_auth(admin)
        .json(body)
        .send()
        .await
        .expect("post");
    let status = r.status();
    let json: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::CREATED, "{json}");
    json
}

async fn get(stack: &Stack, path: &str) -> reqwest::Response {
    client().get(stack.url(path)).send().await.expect("get")
}

async fn get_json(stack: &Stack, path: &str) -> Value {
    let r = get(stack, path).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.json().await.expect("json")
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn admins_create_products_and_others_may_not() {
    let stack = Stack::start();
    let admin = stack.token("root", Role::Admin);
    let ann = stack.token("ann", Role::Customer);

    let r = client()
        .post(stack.url("/api/catalog"))
        .bearer_auth(&admin)
        .json(&pen("Fountain Pen"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = header(&r, "location");
    assert_eq!(header(&r, "etag"), "\"1\"");
    let created: Value = r.json().await.expect("json");
    let id = created["id"].as_str().expect("id");
    assert_eq!(location, format!("/api/catalog/{id}"));
    assert_eq!(id.len(), 36, "a UUID");
    assert_eq!(&id[14..15], "7", "UUID v7");
    assert_eq!(created["price"], json!(19.99));
    assert!(created["sku"].as_str().expect("sku").starts_with("SKU-"));
    assert_eq!(created["initial_stock"], 10);

    let fetched = get_json(&stack, &location).await;
    assert_eq!(fetched["price"], json!(19.99), "price round-trips");
    assert_eq!(fetched["name"], "Fountain Pen");
    assert_eq!(fetched["tags"], json!(["ink"]));

    let r = client()
        .post(stack.url("/api/catalog"))
        .bearer_auth(&ann)
        .json(&pen("Nope"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = client()
        .post(stack.url("/api/catalog"))
        .json(&pen("Nope"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for method in [reqwest::Method::PUT, reqwest::Method::DELETE] {
        let r = client()
            .request(method.clone(), stack.url(&location))
            .bearer_auth(&ann)
            .header("if-match", "\"1\"")
            .json(&pen("Nope"))
            .send()
            .await
            .expect("write");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method}");
    }

    // SKUs are unique among live products.
    let mut with_sku = pen("Marker");
    with_sku["sku"] = json!("mk-1");
    assert_eq!(create(&stack, &admin, &with_sku).await["sku"], "MK-1");
    let r = client()
        .post(stack.url("/api/catalog"))
        .bearer_auth(&admin)
        .json(&with_sku)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn lists_filter_sort_and_page_without_gaps_or_duplicates() {
    let stack = Stack::start();
    let admin = stack.token("root", Role::Admin);
    let mut all = Vec::new();
    for i in 0..13u32 {
        let body = json!({
            "name": format!("{} item {i:02}", ["Apple", "banana", "Cherry"][i as usize % 3]),
            "description": "",
            // Repeated prices, so ties are broken by id across pages.
            "price": f64::from(i % 4) * 2.5 + 0.99,
            "category": if i % 2 == 0 { "office" } else { "kitchen" },
            "brand": if i < 5 { "Acme" } else { "Globex" },
            "stock": i,
            "tags": if i % 3 == 0 { json!(["Sale", "new"]) } else { json!(["new"]) },
            "featured": i % 5 == 0,
        });
        all.push(create(&stack, &admin, &body).await);
    }
    let all_ids: HashSet<String> = all
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_string())
        .collect();

    for sort in ["name", "price", "-price", "created", "-created"] {
        let mut seen = Vec::new();
        let mut items_seen: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut path = format!("/api/catalog?sort={sort}&limit=5");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = get_json(&stack, &path).await;
            seen.extend(ids(&page["items"]));
            items_seen.extend(page["items"].as_array().cloned().unwrap_or_default());
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
            assert!(pages < 10, "paging does not end");
        }
        assert_eq!(pages, 3, "{sort}");
        assert_eq!(seen.len(), 13, "{sort}: no duplicates or gaps");
        assert_eq!(
            seen.iter().cloned().collect::<HashSet<_>>(),
            all_ids,
            "{sort}"
        );
        let created_index = |p: &Value| all.iter().position(|q| q["id"] == p["id"]);
        let name = |p: &Value| p["name"].as_str().expect("name").to_lowercase();
        let price = |p: &Value| (p["price"].as_f64().expect("price"), p["id"].to_string());
        for pair in items_seen.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            // Products made in the same millisecond are ordered by id.
            let same_ms = a["created_at"] == b["created_at"];
            let ordered = match sort {
                "name" => name(a) < name(b),
                "price" => price(a) < price(b),
                "-price" => price(a) > price(b),
                "created" => same_ms || created_index(a) < created_index(b),
                _ => same_ms || created_index(a) > created_index(b),
            };
            assert!(ordered, "{sort}: {a} before {b}");
        }
    }

    let count = |path: &'static str| {
        let stack = &stack;
        async move {
            get_json(stack, path).await["items"]
                .as_array()
                .map_or(0, Vec::len)
        }
    };
    assert_eq!(count("/api/catalog?category=office&limit=100").await, 7);
    assert_eq!(count("/api/catalog?category=OFFICE&limit=100").await, 7);
    assert_eq!(count("/api/catalog?brand=Acme&limit=100").await, 5);
    assert_eq!(count("/api/catalog?tag=sale&limit=100").await, 5);
    assert_eq!(count("/api/catalog?q=BANANA&limit=100").await, 4);
    assert_eq!(count("/api/catalog?featured=true&limit=100").await, 3);
    assert_eq!(count("/api/catalog/featured/list").await, 3);
    // Prices are 0.99, 3.49, 5.99, 8.49 repeating.
    assert_eq!(
        count("/api/catalog?min_price=3.49&max_price=5.99&limit=100").await,
        6
    );
    assert_eq!(
        count("/api/catalog?category=kitchen&brand=Globex&tag=sale&limit=100").await,
        1
    );

    let cats = get_json(&stack, "/api/catalog/meta/categories").await;
    assert_eq!(
        cats["items"],
        json!([{"category": "kitchen", "count": 6}, {"category": "office", "count": 7}])
    );

    // A cursor is only good for the sort it was issued for.
    let first = get_json(&stack, "/api/catalog?sort=price&limit=2").await;
    let c = first["next_cursor"].as_str().expect("cursor");
    for path in [
        format!("/api/catalog?sort=name&cursor={c}"),
        "/api/catalog?cursor=garbage!".to_string(),
        "/api/catalog?sort=cost".to_string(),
        "/api/catalog?limit=0".to_string(),
        "/api/catalog?min_price=-1".to_string(),
        "/api/catalog?max_price=1.001".to_string(),
        "/api/catalog?min_price=9&max_price=1".to_string(),
        "/api/catalog?featured=maybe".to_string(),
    ] {
        let r = get(&stack, &path).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert_eq!(header(&r, "content-type"), "application/problem+json");
    }
}

#[tokio::test]
async fn etags_guard_updates_and_deleted_products_are_gone() {
    let stack = Stack::start();
    let admin = stack.token("root", Role::Admin);
    let p = create(&stack, &admin, &pen("Pen")).await;
    let path = format!("/api/catalog/{}", p["id"].as_str().expect("id"));

    let r = get(&stack, &path).await;
    assert_eq!(header(&r, "etag"), "\"1\"");
    let r = client()
        .get(stack.url(&path))
        .header("if-none-match", "\"1\"")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&r, "etag"), "\"1\"");

    let mut new_body = pen("Better Pen");
    new_body.as_object_mut().map(|o| o.remove("stock"));
    new_body["price"] = json!(24.5);
    let put = |if_match: Option<&'static str>, body: Value| {
        let (stack, admin, path) = (&stack, &admin, &path);
        async move {
            let mut req = client().put(stack.url(path)).bearer_auth(admin).json(&body);
            if let Some(m) = if_match {
                req = req.header("if-match", m);
            }
            req.send().await.expect("put")
        }
    };
    assert_eq!(
        put(None, new_body.clone()).await.status(),
        StatusCode::PRECONDITION_REQUIRED
    );
    assert_eq!(
        put(Some("\"7\""), new_body.clone()).await.status(),
        StatusCode::PRECONDITION_FAILED
    );
    let r = put(Some("\"1\""), pen("With stock")).await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "stock is inventory's"
    );
    let r = put(Some("\"1\""), new_body.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "etag"), "\"2\"");
    let updated: Value = r.json().await.expect("json");
    assert_eq!(
        (updated["version"].as_i64(), updated["price"].clone()),
        (Some(2), json!(24.5))
    );
    assert_eq!(updated["sku"], p["sku"], "an absent sku is kept");
    assert_eq!(
        put(Some("\"1\""), new_body.clone()).await.status(),
        StatusCode::PRECONDITION_FAILED,
        "the old ETag is stale now"
    );
    let r = client()
        .get(stack.url(&path))
        .header("if-none-match", "\"1\"")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "etag"), "\"2\"");

    let delete = |if_match: Option<&'static str>| {
        let (stack, admin, path) = (&stack, &admin, &path);
        async move {
            let mut req = client().delete(stack.url(path)).bearer_auth(admin);
            if let Some(m) = if_match {
                req = req.header("if-match", m);
            }
            req.send().await.expect("delete").status()
        }
    };
    assert_eq!(delete(Some("\"1\"")).await, StatusCode::PRECONDITION_FAILED);
    assert_eq!(delete(None).await, StatusCode::NO_CONTENT);
    assert_eq!(get(&stack, &path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(delete(None).await, StatusCode::NOT_FOUND);
    assert_eq!(
        put(Some("*"), new_body).await.status(),
        StatusCode::NOT_FOUND
    );
    let list = get_json(&stack, "/api/catalog").await;
    assert_eq!(list["items"], json!([]));
    assert_eq!(
        get(&stack, "/api/catalog/not-a-product").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_outbox_announces_products_and_inventory_takes_the_initial_stock() {
    let stack = Stack::start();
    let admin = stack.token("root", Role::Admin);
    let mut a = pen("Pen A");
    a["stock"] = json!(7);
    let mut b = pen("Pen B");
    b["stock"] = json!(0);
    let a = create(&stack, &admin, &a).await;
    let b = create(&stack, &admin, &b).await;

    let events = stack.drain("catalog").await;
    let created: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "catalog.product_created")
        .collect();
    assert_eq!(created.len(), 2, "{events:?}");
    for (product, stock) in [(&a, 7), (&b, 0)] {
        let id = product["id"].as_str().expect("id");
        let mine: Vec<&&Value> = created.iter().filter(|e| e["key"] == id).collect();
        assert_eq!(mine.len(), 1, "exactly one product_created for {id}");
        let event = mine[0];
        assert_eq!(event["topic"], "catalog.events");
        let payload: Value =
            serde_json::from_str(event["payload"].as_str().expect("payload")).expect("json");
        assert_eq!(payload["stock"], stock);
        assert_eq!(payload["price_cents"], 1999);
        assert_eq!(payload["sku"], product["sku"]);

        // The bridge's job, by hand: deliver it to inventory.
        let mut envelope = (*event).clone();
        envelope.as_object_mut().map(|o| o.remove("created_at_ms"));
        let r = stack.deliver("inventory", &envelope).await;
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "{}",
            r.text().await.unwrap_or_default()
        );
        let s = get_json(&stack, &format!("/api/inventory/{id}")).await;
        assert_eq!(s["available"], stock, "{s}");
    }
    assert!(
        stack.drain("catalog").await.is_empty(),
        "acked events are gone"
    );

    // Updates and deletes are announced too, with the new version.
    let path = format!("/api/catalog/{}", a["id"].as_str().expect("id"));
    let mut body = pen("Pen A2");
    body.as_object_mut().map(|o| o.remove("stock"));
    let r = client()
        .put(stack.url(&path))
        .bearer_auth(&admin)
        .header("if-match", "\"1\"")
        .json(&body)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), StatusCode::OK);
    let r = client()
        .delete(stack.url(&path))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let events = stack.drain("catalog").await;
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        types,
        ["catalog.product_updated", "catalog.product_deleted"]
    );
    let payload: Value =
        serde_json::from_str(events[0]["payload"].as_str().expect("payload")).expect("json");
    assert_eq!(
        (payload["version"].as_i64(), payload["name"].as_str()),
        (Some(2), Some("Pen A2"))
    );
}

#[tokio::test]
async fn an_idempotency_key_makes_one_product() {
    let stack = Stack::start();
    let admin = stack.token("root", Role::Admin);
    let send = |body: Value| {
        let (stack, admin) = (&stack, &admin);
        async move {
            client()
                .post(stack.url("/api/catalog"))
                .bearer_auth(admin)
                .header("idempotency-key", "create-pen-1")
                .json(&body)
                .send()
                .await
                .expect("post")
        }
    };
    let first = send(pen("Once")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("json");
    let again = send(pen("Once")).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(header(&again, "idempotent-replayed"), "true");
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["id"], first["id"]);

    let r = send(pen("Something else")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let list = get_json(&stack, "/api/catalog").await;
    assert_eq!(ids(&list["items"]), vec![first["id"].as_str().expect("id")]);
    let events = stack.drain("catalog").await;
    assert_eq!(events.len(), 1, "one product, one event");
}

#[tokio::test]
async fn reads_are_cached_and_writes_invalidate() {
    let stack = Stack::start();
    let admin = stack.token("root", Role::Admin);
    let p = create(&stack, &admin, &pen("Cached")).await;
    let path = format!("/api/catalog/{}", p["id"].as_str().expect("id"));

    let first = get(&stack, &path).await;
    assert_eq!(header(&first, "x-cache"), "miss");
    let second = get(&stack, &path).await;
    assert_eq!(header(&second, "x-cache"), "hit");
    assert_eq!(
        get(&stack, "/api/catalog").await.headers()["x-cache"],
        "miss"
    );
    let listed = get(&stack, "/api/catalog").await;
    assert_eq!(header(&listed, "x-cache"), "hit");
    get(&stack, "/api/catalog/meta/categories").await;
    assert_eq!(
        header(
            &get(&stack, "/api/catalog/meta/categories").await,
            "x-cache"
        ),
        "hit"
    );

    let mut body = pen("Cached, renamed");
    body.as_object_mut().map(|o| o.remove("stock"));
    body["category"] = json!("pens");
    let r = client()
        .put(stack.url(&path))
        .bearer_auth(&admin)
        .header("if-match", "\"1\"")
        .json(&body)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), StatusCode::OK);

    let after = get(&stack, &path).await;
    assert_eq!(header(&after, "x-cache"), "miss");
    assert_eq!(
        after.json::<Value>().await.expect("json")["name"],
        "Cached, renamed"
    );
    let listed = get_json(&stack, "/api/catalog").await;
    assert_eq!(listed["items"][0]["name"], "Cached, renamed");
    let cats = get_json(&stack, "/api/catalog/meta/categories").await;
    assert_eq!(cats["items"], json!([{"category": "pens", "count": 1}]));

    // A new product shows up in cached lists at once.
    create(&stack, &admin, &pen("Second")).await;
    assert_eq!(
        get_json(&stack, "/api/catalog").await["items"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn a_burst_of_anonymous_reads_is_rate_limited() {
    let stack = Stack::start();
    let first = get(&stack, "/api/catalog").await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header(&first, "x-ratelimit-limit"), "100");
    let url = stack.url("/api/catalog");
    let http = client();
    let requests: Vec<_> = (0..150)
        .map(|_| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move { http.get(url).send().await.expect("get") })
        })
        .collect();
    let (mut ok, mut limited) = (0, 0);
    for handle in requests {
        let r = handle.await.expect("task");
        for name in [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ] {
            assert!(r.headers().contains_key(name), "{name} on a {}", r.status());
        }
        match r.status() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                limited += 1;
                let retry: u64 = header(&r, "retry-after").parse().expect("retry-after");
                assert!(retry >= 1);
                assert_eq!(header(&r, "x-ratelimit-remaining"), "0");
                assert_eq!(header(&r, "content-type"), "application/problem+json");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        limited > 0,
        "150 concurrent reads against a burst of 100 get some 429s ({ok} ok)"
    );
    assert!(
        ok >= 50,
        "the bucket's capacity is served ({ok} ok, {limited} limited)"
    );
}

/// Catalog-shaped bodies with wrong types and out-of-range values, on top
/// of the generic hostile ones.
fn catalog_bodies(with_stock: bool) -> Vec<(String, &'static str)> {
    let mut bodies = hostile_bodies();
    let base = {
        let mut b = pen("Valid");
        if !with_stock {
            b.as_object_mut().map(|o| o.remove("stock"));
        }
        b
    };
    let mut variants: Vec<(&str, Value)> = vec![
        ("price", json!(-1.0)),
        ("price", json!(1.005)),
        ("price", json!(1e300)),
        ("price", json!("19.99")),
        ("name", json!("n".repeat(10_000))),
        ("name", json!("")),
        ("name", json!(42)),
        ("tags", json!("ink")),
        ("tags", json!(vec!["t"; 50])),
        ("images", json!(["javascript:alert(1)"])),
        ("featured", json!("yes")),
        ("sku", json!("bad sku!")),
        ("category", json!(null)),
        ("description", json!("d".repeat(6_000))),
    ];
    if with_stock {
        variants.extend([
            ("stock", json!(99_999_999_999u64)),
            ("stock", json!(-5)),
            ("stock", json!(20_000_000)),
            ("stock", json!("many")),
        ]);
    } else {
        variants.push(("stock", json!(5)));
    }
    for (field, value) in variants {
        let mut b = base.clone();
        b[field] = value;
        bodies.push((b.to_string(), "application/json"));
    }
    bodies
}

#[tokio::test]
async fn bad_input_to_writes_is_a_4xx_problem() {
    let stack = Stack::start();
    let admin = stack.token("root", Role::Admin);
    assert_all_4xx(
        &stack,
        reqwest::Method::POST,
        "/api/catalog",
        Some(&admin),
        &[],
        &catalog_bodies(true),
    )
    .await;
    let p = create(&stack, &admin, &pen("Target")).await;
    let path = format!("/api/catalog/{}", p["id"].as_str().expect("id"));
    assert_all_4xx(
        &stack,
        reqwest::Method::PUT,
        &path,
        Some(&admin),
        &[("if-match", "\"1\"")],
        &catalog_bodies(false),
    )
    .await;
    assert_all_4xx(
        &stack,
        reqwest::Method::POST,
        "/api/catalog",
        Some(&admin),
        &[("idempotency-key", "has space")],
        &[(pen("Valid").to_string(), "application/json")],
    )
    .await;
    // Nothing bad got in, and the target is untouched.
    let list = get_json(&stack, "/api/catalog?limit=100").await;
    assert_eq!(ids(&list["items"]), vec![p["id"].as_str().expect("id")]);
    assert_eq!(get_json(&stack, &path).await["version"], 1);
}
