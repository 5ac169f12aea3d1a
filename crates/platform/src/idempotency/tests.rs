//! Tests of `idempotency`.

use super::*;

fn post(path: &str, key: Option<&str>, body: &str) -> Request {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(k) = key {
        headers.push(("Idempotency-Key", k));
    }
    Request::new(Method::Post, path, &headers, body.as_bytes())
}

fn saved_from(req: &Request, response: &Response) -> SavedResponse {
    SavedResponse {
        request_hash: request_hash(req),
        status: response.status,
        headers: serde_json::to_string(&replayable_headers(response)).expect("json"),
        body: response.body.clone(),
    }
}

#[test]
fn keys_are_visible_ascii_up_to_255() {
    assert_eq!(key_from(&post("/x", None, "{}")).expect("none"), None);
    assert_eq!(
        key_from(&post("/x", Some("order-7f3a"), "{}"))
            .expect("ok")
            .as_deref(),
        Some("order-7f3a")
    );
    let long = "k".repeat(MAX_KEY_LEN);
    assert!(key_from(&post("/x", Some(&long), "{}"))
        .expect("255")
        .is_some());
    for bad in [
        "",
        "has space",
        "tab\there",
        "é",
        &"k".repeat(MAX_KEY_LEN + 1),
    ] {
        let err = key_from(&post("/x", Some(bad), "{}")).expect_err(bad);
        assert_eq!(err.status(), 400);
        assert_eq!(err.problem("r")["field"], HEADER);
    }
    let get = Request::new(Method::Get, "/x", &[("idempotency-key", "k")], b"");
    assert_eq!(key_from(&get).expect("safe"), None);
}

#[test]
fn the_hash_covers_method_path_query_and_body() {
    let base = request_hash(&post("/api/orders", Some("k"), r#"{"a":1}"#));
    assert_eq!(base.len(), 64);
    assert_eq!(
        base,
        request_hash(&post("/api/orders", Some("other"), r#"{"a":1}"#))
    );
    assert_ne!(
        base,
        request_hash(&post("/api/orders", Some("k"), r#"{"a":2}"#))
    );
    assert_ne!(
        base,
        request_hash(&post("/api/orders/1", Some("k"), r#"{"a":1}"#))
    );
    assert_ne!(
        base,
        request_hash(&post("/api/orders?x=1", Some("k"), r#"{"a":1}"#))
    );
    let put = Request::new(Method::Put, "/api/orders", &[], br#"{"a":1}"#);
    assert_ne!(base, request_hash(&put));
}

#[test]
fn the_same_request_replays_the_saved_response() {
    let req = post("/api/orders", Some("k"), r#"{"a":1}"#);
    let original = Response::json(201, &serde_json::json!({"id": "o-1"}))
        .with_header("location", "/api/orders/o-1")
        .with_header("x-request-id", "first-request")
        .with_header("x-ratelimit-remaining", "9");
    let Lookup::Replay(replayed) =
        decide(saved_from(&req, &original), &request_hash(&req)).expect("decide")
    else {
        panic!("expected a replay");
    };
    assert_eq!(replayed.status, 201);
    assert_eq!(replayed.body, original.body);
    assert_eq!(replayed.header("location"), Some("/api/orders/o-1"));
    assert_eq!(replayed.header("content-type"), Some("application/json"));
    assert_eq!(replayed.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(replayed.header("x-request-id"), None);
    assert_eq!(replayed.header("x-ratelimit-remaining"), None);
}

#[test]
fn a_different_request_under_the_same_key_is_a_mismatch() {
    let first = post("/api/orders", Some("k"), r#"{"a":1}"#);
    let second = post("/api/orders", Some("k"), r#"{"a":2}"#);
    let saved = saved_from(&first, &Response::empty(204));
    assert!(matches!(
        decide(saved, &request_hash(&second)),
        Ok(Lookup::Mismatch)
    ));
    let err = mismatch_error();
    assert_eq!(err.status(), 422);
    assert_eq!(
        err.to_string(),
        "Idempotency-Key reused with a different request"
    );
}

#[test]
fn begin_and_finish_replay_per_user_and_purge_forgets() {
    let db = Db::memory(&[MIGRATION]).expect("db");
    let req = post("/api/orders", Some("k"), r#"{"a":1}"#);
    let ann = Idempotency::of(&req, "ann").expect("key");
    assert_eq!(ann.key(), Some("k"));
    let clock = crate::clock::pin(1_800_000_000_000);
    db.transaction(|db| {
        assert!(ann.begin(db)?.is_none(), "first use");
        ann.finish(db, &Response::json(201, &serde_json::json!({"id": "o-1"})))
    })
    .expect("first");
    let replay = ann.begin(&db).expect("lookup").expect("saved");
    assert_eq!(replay.status, 201);
    assert_eq!(replay.header(REPLAYED_HEADER), Some("true"));
    // A second save under the key keeps the first answer.
    ann.finish(&db, &Response::empty(500)).expect("second");
    assert_eq!(ann.begin(&db).expect("lookup").expect("saved").status, 201);
    let other = post("/api/orders", Some("k"), r#"{"a":2}"#);
    let err = Idempotency::of(&other, "ann")
        .expect("key")
        .begin(&db)
        .expect_err("mismatch");
    assert_eq!(err.status(), 422);
    let bob = Idempotency::of(&other, "bob").expect("key");
    assert!(bob.begin(&db).expect("bob").is_none(), "keys are per user");
    let without = Idempotency::of(&post("/api/orders", None, "{}"), "ann").expect("none");
    assert!(without.begin(&db).expect("no key").is_none());
    without
        .finish(&db, &Response::empty(201))
        .expect("nothing to save");
    assert_eq!(
        Idempotency::required(&post("/x", None, "{}"), "ann", "send a key")
            .expect_err("required")
            .problem("r")["field"],
        HEADER
    );

    clock.advance(RETENTION_SECS * 1000);
    assert_eq!(purge_expired(&db).expect("purge"), 0, "not older yet");
    clock.advance(1_000);
    assert_eq!(purge_expired(&db).expect("purge"), 1);
    assert!(ann.begin(&db).expect("lookup").is_none(), "forgotten");
}
