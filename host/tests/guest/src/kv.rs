//! `/kv/<label>[/<key>]`: the key-value store with that label.

use spin_sdk::http::Response;
use spin_sdk::key_value::{Error, Store};

use crate::reply;

/// The raw bytes stored under `key`, or 404.
pub fn get(label: &str, key: &str) -> Response {
    with_store(label, |store| match store.get(key) {
        Ok(Some(value)) => Response::builder()
            .status(200)
            .header("content-type", "application/octet-stream")
            .body(value)
            .build(),
        Ok(None) => reply::error_message(404, &format!("no key {key:?}")),
        Err(e) => reply::error(500, &e),
    })
}

/// Stores the request body under `key`.
pub fn set(label: &str, key: &str, value: &[u8]) -> Response {
    with_store(label, |store| match store.set(key, value) {
        Ok(()) => reply::empty(204),
        Err(e) => reply::error(500, &e),
    })
}

/// Deletes `key` (deleting a missing key succeeds, as in Spin).
pub fn delete(label: &str, key: &str) -> Response {
    with_store(label, |store| match store.delete(key) {
        Ok(()) => reply::empty(204),
        Err(e) => reply::error(500, &e),
    })
}

/// All keys of the store, sorted.
pub fn keys(label: &str) -> Response {
    with_store(label, |store| match store.get_keys() {
        Ok(mut keys) => {
            keys.sort();
            reply::json(200, &keys)
        }
        Err(e) => reply::error(500, &e),
    })
}

fn with_store(label: &str, op: impl FnOnce(&Store) -> Response) -> Response {
    match Store::open(label) {
        Ok(store) => op(&store),
        Err(e @ (Error::AccessDenied | Error::NoSuchStore)) => reply::error(403, &e),
        Err(e) => reply::error(500, &e),
    }
}
