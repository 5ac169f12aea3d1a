//! `Idempotency-Key` for unsafe requests: the first response to a key is
//! saved per user and replayed for a retry of the same request; the same
//! key with a different request is refused.
//!
//! A handler reads the key with [`Idempotency::of`], then inside the
//! transaction that does the work calls [`Idempotency::begin`] (a saved
//! answer to replay, or go on) and, before commit, [`Idempotency::finish`]
//! with its response. SQLite serialises writers, so of two concurrent
//! requests with one key the second sees the first's row and replays it;
//! a transaction that rolls back takes its saved response with it, so a
//! failure stays retryable.

use sha2::{Digest, Sha256};
use spin_sdk::sqlite3::Value;

use crate::db::{int, text, Db, Migration};
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
/// The table and its index as one migration.
pub const MIGRATION: Migration = &[SCHEMA, SCHEMA_INDEX];

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
enum Lookup {
    /// First use: do the work, then save its response.
    New,
    /// Same request seen before: answer with this saved response.
    Replay(Response),
    /// Same key, different request.
    Mismatch,
}

/// A request's idempotency: the client's key (if it sent one), the user
/// the key belongs to, and what the request was.
#[derive(Debug, Clone)]
pub struct Idempotency {
    key: Option<String>,
    user: String,
    hash: String,
}

impl Idempotency {
    /// Reads the request's key (400 naming the header when malformed);
    /// keys are `user`'s own.
    pub fn of(req: &Request, user: &str) -> Result<Self, ApiError> {
        Ok(Self {
            key: key_from(req)?,
            user: user.to_string(),
            hash: request_hash(req),
        })
    }

    /// Like [`Idempotency::of`] for routes that refuse to work without a
    /// key: 400 naming the header, saying `why`.
    pub fn required(req: &Request, user: &str, why: &str) -> Result<Self, ApiError> {
        let this = Self::of(req, user)?;
        if this.key.is_none() {
            return Err(ApiError::bad_field(HEADER, why));
        }
        Ok(this)
    }

    /// The client's key, if it sent one.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The saved answer to a retry of this request, to be sent as it is;
    /// `None` to go on with the work. 422 when the key was used for
    /// another request. Call in the transaction that does the work (and,
    /// to spare a retry slow work, also before it).
    pub fn begin(&self, db: &Db) -> Result<Option<Response>, ApiError> {
        let Some(key) = &self.key else {
            return Ok(None);
        };
        match lookup(db, &self.user, key, &self.hash)? {
            Lookup::New => Ok(None),
            Lookup::Replay(saved) => Ok(Some(saved)),
            Lookup::Mismatch => Err(mismatch_error()),
        }
    }

    /// Saves `response` for retries of this request; call in the
    /// transaction that did the work. Nothing to do without a key.
    pub fn finish(&self, db: &Db, response: &Response) -> Result<(), ApiError> {
        let Some(key) = &self.key else {
            return Ok(());
        };
        store(db, &self.user, key, &self.hash, response)
    }
}

/// The request's idempotency key: `None` without the header or for a safe
/// method; 400 naming the header unless it is 1 to 255 visible ASCII
/// characters.
fn key_from(req: &Request) -> Result<Option<String>, ApiError> {
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
fn request_hash(req: &Request) -> String {
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
fn mismatch_error() -> ApiError {
    ApiError::invalid(HEADER, "Idempotency-Key reused with a different request")
}

fn lookup(db: &Db, user: &str, key: &str, hash: &str) -> Result<Lookup, ApiError> {
    let result = db.execute(LOOKUP_SQL, &[text(user), text(key)])?;
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

/// Saves `response` under the key, leaving a row already there as it was.
fn store(db: &Db, user: &str, key: &str, hash: &str, response: &Response) -> Result<(), ApiError> {
    let headers = serde_json::to_string(&replayable_headers(response))
        .map_err(|e| ApiError::internal(format!("idempotency headers: {e}")))?;
    db.execute(
        STORE_SQL,
        &[
            text(user),
            text(key),
            text(hash),
            int(i64::from(response.status)),
            text(headers),
            Value::Blob(response.body.clone()),
            int(crate::clock::now_secs() as i64),
        ],
    )?;
    Ok(())
}

/// Deletes keys past [`RETENTION_SECS`] (part of every tick of a
/// component that keeps them); returns how many went.
pub fn purge_expired(db: &Db) -> Result<u64, ApiError> {
    let cutoff = (crate::clock::now_secs() as i64).saturating_sub(RETENTION_SECS);
    db.execute(PURGE_SQL, &[int(cutoff)])?;
    Ok(db.changes())
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

#[cfg(test)]
mod tests;
