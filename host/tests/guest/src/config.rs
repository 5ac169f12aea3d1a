//! `/var/<name>` (Spin variables) and `/env/<NAME>` (WASI environment).

use spin_sdk::http::Response;
use spin_sdk::variables::{self, Error};

use crate::reply;

/// The value of Spin variable `name` as text.
pub fn variable(name: &str) -> Response {
    match variables::get(name) {
        Ok(value) => reply::text(200, value),
        Err(e) => {
            let status = match e {
                Error::Undefined(_) => 404,
                Error::InvalidName(_) => 400,
                _ => 500,
            };
            reply::error(status, &e)
        }
    }
}

/// The value of environment variable `name` as text.
pub fn env(name: &str) -> Response {
    match std::env::var_os(name) {
        Some(value) => reply::text(200, value.to_string_lossy().into_owned()),
        None => reply::error_message(404, &format!("environment variable {name} is not set")),
    }
}
