//! SQLite through both WIT versions: CRUD, transactions spanning calls,
//! labels from the runtime config, undeclared labels, persistence.

use serde_json::{json, Value};

use crate::harness::{client, guest_app, Host, HostSpec};

fn app() -> String {
    guest_app(r#"sqlite_databases = ["default", "orders"]"#, "")
}

const RUNTIME_CONFIG: &str = r#"
[sqlite_database.orders]
type = "spin"
path = "data/orders.db"
[sqlite_database.unused]
type = "spin"
"#;

async fn run(host: &Host, api: &str, label: &str, statements: Value) -> (u16, Value) {
    let r = client()
        .post(host.url(&format!("/guest/{api}/{label}")))
        .json(&json!({ "statements": statements }))
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

fn stmt(sql: &str, params: Value) -> Value {
    json!({ "sql": sql, "params": params })
}

#[tokio::test]
async fn crud_with_typed_values_on_both_interface_versions() {
    let app = app();
    let host = Host::start(HostSpec::new(&app).runtime_config(RUNTIME_CONFIG));
    let (status, body) = run(
        &host,
        "sqlite",
        "default",
        json!([
            stmt("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB, note TEXT)", json!([])),
            stmt("INSERT INTO items (name, price, data, note) VALUES (?, ?, ?, ?)", json!(["pen", 1.5, {"blob": "00ff"}, null])),
            stmt("INSERT INTO items (name, price) VALUES (?, ?)", json!(["ink", 3])),
            stmt("UPDATE items SET price = price * 2 WHERE name = ?", json!(["ink"])),
            stmt("SELECT id, name, price, data, note FROM items ORDER BY id", json!([])),
        ]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["error"], Value::Null, "{body}");
    let results = body["results"].as_array().expect("results");
    assert_eq!(results[1]["last_insert_rowid"], 1);
    assert_eq!(results[2]["last_insert_rowid"], 2);
    assert_eq!(results[3]["changes"], 1);
    assert_eq!(
        results[4]["columns"],
        json!(["id", "name", "price", "data", "note"])
    );
    assert_eq!(
        results[4]["rows"],
        json!([[1, "pen", 1.5, {"blob": "00ff"}, null], [2, "ink", 6.0, null, null]])
    );

    // The Spin 2 interface reads the same database.
    let (status, body) = run(
        &host,
        "sqlite2",
        "default",
        json!([
            stmt("DELETE FROM items WHERE name = 'pen'", json!([])),
            stmt("SELECT name FROM items", json!([]))
        ]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["results"][1]["rows"], json!([["ink"]]), "{body}");

    // A SQL error is reported to the guest, not a trap.
    let (status, body) = run(
        &host,
        "sqlite",
        "default",
        json!([stmt("SELECT * FROM missing", json!([]))]),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("no such table"),
        "{body}"
    );
}

#[tokio::test]
async fn a_transaction_spans_calls_and_an_unfinished_one_is_rolled_back() {
    let app = app();
    let host = Host::start(HostSpec::new(&app).runtime_config(RUNTIME_CONFIG));
    let count = |rows: &Value| {
        rows["results"]
            .as_array()
            .and_then(|r| r.last())
            .map(|r| r["rows"][0][0].clone())
    };
    run(
        &host,
        "sqlite",
        "orders",
        json!([stmt("CREATE TABLE t (v INTEGER)", json!([]))]),
    )
    .await;

    let (_, body) = run(
        &host,
        "sqlite",
        "orders",
        json!([
            stmt("BEGIN IMMEDIATE", json!([])),
            stmt("INSERT INTO t VALUES (1)", json!([])),
            stmt("INSERT INTO t VALUES (2)", json!([])),
            stmt("ROLLBACK", json!([])),
            stmt("SELECT count(*) FROM t", json!([])),
        ]),
    )
    .await;
    assert_eq!(count(&body), Some(json!(0)), "{body}");

    let (_, body) = run(
        &host,
        "sqlite",
        "orders",
        json!([
            stmt("BEGIN", json!([])),
            stmt("INSERT INTO t VALUES (1)", json!([])),
            stmt("INSERT INTO t VALUES (2)", json!([])),
            stmt("COMMIT", json!([])),
            stmt("SELECT count(*) FROM t", json!([])),
        ]),
    )
    .await;
    assert_eq!(count(&body), Some(json!(2)), "{body}");

    // A request that ends inside a transaction leaves nothing behind, and
    // the pooled connection it used comes back clean.
    let (_, body) = run(
        &host,
        "sqlite",
        "orders",
        json!([
            stmt("BEGIN", json!([])),
            stmt("INSERT INTO t VALUES (3)", json!([])),
        ]),
    )
    .await;
    assert_eq!(body["error"], Value::Null);
    for _ in 0..3 {
        let (_, body) = run(
            &host,
            "sqlite",
            "orders",
            json!([stmt("SELECT count(*) FROM t", json!([]))]),
        )
        .await;
        assert_eq!(count(&body), Some(json!(2)), "{body}");
    }
    assert!(
        host.dir.0.join("data/orders.db").exists(),
        "the runtime config's path is used"
    );
}

#[tokio::test]
async fn undeclared_labels_are_refused() {
    let app = app();
    let host = Host::start(HostSpec::new(&app).runtime_config(RUNTIME_CONFIG));
    for api in ["sqlite", "sqlite2"] {
        let (status, body) = run(&host, api, "unused", json!([stmt("SELECT 1", json!([]))])).await;
        assert_eq!(status, 403, "{api}: {body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap_or_default()
                .contains("AccessDenied"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn data_survives_a_restart() {
    let app = app();
    let host = Host::start(HostSpec::new(&app).runtime_config(RUNTIME_CONFIG));
    run(
        &host,
        "sqlite",
        "default",
        json!([
            stmt("CREATE TABLE kept (v TEXT)", json!([])),
            stmt("INSERT INTO kept VALUES ('still here')", json!([])),
        ]),
    )
    .await;
    let dir = host.into_dir();
    let host =
        Host::start_in(HostSpec::new(&app).runtime_config(RUNTIME_CONFIG), dir).expect("restart");
    let (_, body) = run(
        &host,
        "sqlite",
        "default",
        json!([stmt("SELECT v FROM kept", json!([]))]),
    )
    .await;
    assert_eq!(
        body["results"][0]["rows"],
        json!([["still here"]]),
        "{body}"
    );
}
