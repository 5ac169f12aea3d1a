//! `Idempotency-Key` for unsafe requests: the first response to a key is
//! saved per user and replayed for a retry of the same request; the same
//! key with a different request is refused.
//!
//! Use it inside the handler's SQLite transaction (`BEGIN IMMEDIATE`):
//! `lookup`, then on `New` do the work and `store` the response before
//! commit. SQLite serialises writers, so of two concurrent requests with
//! one key the second sees the first's row and replays it; a transaction
//! that rolls back takes its saved response with it, so a failure stays
//! retryable.

use sha2::{Digest, Sha256};
use spin_sdk::sqlite3::{Connection, Value};

use crate::problem::ApiError;
use crate::request::{Method, Request};
use crate::response::Response;

/// The request header.
pub const HEADER: &str = "Idempotency-Key";
/// The header marking a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;
/// How long saved responses are kept (see [`purge_older_than`]).
pub const RETENTION_SECS: i64 = 24 * 60 * 60;

/// The table; add it to the component's migrations (with [`SCHEMA_INDEX`]).
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS idempotency_keys (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
)";
/// Index for purging old keys.
pub const SCHEMA_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON idempotency_keys (created_at)";

const LOOKUP_SQL: &str = "SELECT request_hash, status, headers, body FROM idempotency_keys \
     WHERE user_id = ? AND key = ?";
const STORE_SQL: &str = "INSERT INTO idempotency_keys \
     (user_id, key, request_hash, status, headers, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
     ON CONFLICT (user_id, key) DO NOTHING";
const PURGE_SQL: &str = "DELETE FROM idempotency_keys WHERE created_at < ?";

/// Headers that belong to one exchange and are not replayed.
const PER_EXCHANGE_HEADERS: &[&str] = &[
    "content-length",
    "date",
    "traceparent",
    "x-request-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
    REPLAYED_HEADER,
];

/// What the table knows about a key.
#[derive(Debug)]
pub enum Lookup {
    /// First use: do the work, then `store`.
    New,
    /// Same request seen before: answer with this saved response.
    Replay(Response),
    /// Same key, different request: answer [`mismatch_error`].
    Mismatch,
}

/// The request's idempotency key: `None` without the header or for a safe
/// method; 400 naming the header unless it is 1 to 255 visible ASCII
/// characters.
pub fn key_from(req: &Request) -> Result<Option<String>, ApiError> {
    if matches!(req.method, Method::Get | Method::Head | Method::Options) {
        return Ok(None);
    }
    let Some(key) = req.header(HEADER) else {
        return Ok(None);
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_field(
            HEADER,
            format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    Ok(Some(key.to_string()))
}

/// Hex SHA-256 of the method, path (with query) and body.
pub fn request_hash(req: &Request) -> String {
    let mut hash = Sha256::new();
    hash.update(req.method.as_str());
    hash.update(b"\n");
    hash.update(&req.path);
    if !req.query.is_empty() {
        hash.update(b"?");
        hash.update(&req.query);
    }
    hash.update(b"\n");
    hash.update(&req.body);
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The 422 for a key reused with a different request.
pub fn mismatch_error() -> ApiError {
    ApiError::invalid(HEADER, "Idempotency-Key reused with a different request")
}

/// Looks the key up for `user`.
pub fn lookup(conn: &Connection, user: &str, key: &str, hash: &str) -> Result<Lookup, ApiError> {
    let result = conn
        .execute(
            LOOKUP_SQL,
            &[Value::Text(user.into()), Value::Text(key.into())],
        )
        .map_err(|e| ApiError::internal(format!("idempotency lookup: {e:?}")))?;
    let Some(row) = result.rows.first() else {
        return Ok(Lookup::New);
    };
    let saved = SavedResponse {
        request_hash: row.get::<&str>(0).unwrap_or_default().to_string(),
        status: row.get::<u16>(1).unwrap_or(500),
        headers: row.get::<&str>(2).unwrap_or("[]").to_string(),
        body: row.get::<&[u8]>(3).unwrap_or_default().to_vec(),
    };
    decide(saved, hash)
}

/// Saves `response` under the key; meant to run in the caller's
/// transaction. Returns false if the key was already taken (the row is
/// left as it was).
pub fn store(
    conn: &Connection,
    user: &str,
    key: &str,
    hash: &str,
    response: &Response,
) -> Result<bool, ApiError> {
    let headers = serde_json::to_string(&replayable_headers(response))
        .map_err(|e| ApiError::internal(format!("idempotency headers: {e}")))?;
    conn.execute(
        STORE_SQL,
        &[
            Value::Text(user.into()),
            Value::Text(key.into()),
            Value::Text(hash.into()),
            Value::Integer(i64::from(response.status)),
            Value::Text(headers),
            Value::Blob(response.body.clone()),
            Value::Integer(unix_now()),
        ],
    )
    .map_err(|e| ApiError::internal(format!("idempotency store: {e:?}")))?;
    Ok(conn.changes() > 0)
}

/// Deletes keys past [`RETENTION_SECS`]: what every component's
/// `/internal/<component>/tick` does; returns how many went.
pub fn purge_expired(db: &crate::db::Db) -> Result<u64, ApiError> {
    purge_older_than(db.connection(), RETENTION_SECS)
}

/// Deletes keys saved before `now - retention_secs`; returns how many went.
pub fn purge_older_than(conn: &Connection, retention_secs: i64) -> Result<u64, ApiError> {
    conn.execute(
        PURGE_SQL,
        &[Value::Integer(unix_now().saturating_sub(retention_secs))],
    )
    .map_err(|e| ApiError::internal(format!("idempotency purge: {e:?}")))?;
    Ok(conn.changes())
}

/// A row of the table, as read.
#[derive(Debug)]
struct SavedResponse {
    request_hash: String,
    status: u16,
    headers: String,
    body: Vec<u8>,
}

fn decide(saved: SavedResponse, hash: &str) -> Result<Lookup, ApiError> {
    if saved.request_hash != hash {
        return Ok(Lookup::Mismatch);
    }
    let headers: Vec<(String, String)> = serde_json::from_str(&saved.headers)
        .map_err(|e| ApiError::internal(format!("idempotency headers: {e}")))?;
    let mut response = Response {
        status: saved.status,
        headers,
        body: saved.body,
    };
    response.set_header(REPLAYED_HEADER, "true");
    Ok(Lookup::Replay(response))
}

fn replayable_headers(response: &Response) -> Vec<(&str, &str)> {
    response
        .headers
        .iter()
        .filter(|(name, _)| !PER_EXCHANGE_HEADERS.contains(&name.to_ascii_lowercase().as_str()))
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
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
    fn the_statements_run_on_sqlite_and_conflicts_keep_the_first_row() {
        use rusqlite::params;
        let db = rusqlite::Connection::open_in_memory().expect("sqlite");
        db.execute(SCHEMA, []).expect("schema");
        db.execute(SCHEMA_INDEX, []).expect("index");
        let insert = |hash: &str, status: i64, at: i64| {
            db.execute(
                STORE_SQL,
                params!["u1", "k", hash, status, "[]", b"{}".to_vec(), at],
            )
            .expect("insert")
        };
        assert_eq!(insert("h1", 201, 100), 1);
        assert_eq!(
            insert("h2", 500, 100),
            0,
            "a second store must not overwrite"
        );
        let (hash, status): (String, i64) = db
            .query_row(LOOKUP_SQL, params!["u1", "k"], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("lookup");
        assert_eq!((hash.as_str(), status), ("h1", 201));
        let other_user = db.query_row(LOOKUP_SQL, params!["u2", "k"], |_| Ok(()));
        assert!(matches!(
            other_user,
            Err(rusqlite::Error::QueryReturnedNoRows)
        ));
        assert_eq!(db.execute(PURGE_SQL, params![100]).expect("purge"), 0);
        assert_eq!(db.execute(PURGE_SQL, params![101]).expect("purge"), 1);
    }
}
