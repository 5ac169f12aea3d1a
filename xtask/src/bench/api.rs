//! The application's API as `bench bridge` uses it: an admin's access
//! token, products created through the catalog, and the inventory records
//! the bridge's events make of them. Answers are read with a small JSON
//! string lookup; xtask has no JSON parser and needs none for this.

use std::net::SocketAddr;

use anyhow::{bail, Context as _, Result};

use crate::net::{self, Response};

/// The address the app's `admin_email` variable makes admin by default.
pub const ADMIN_EMAIL: &str = "admin@spinshop.local";
const ADMIN_PASSWORD: &str = "bench bridge Admin 1";

/// Largest page `GET /api/inventory` serves.
const INVENTORY_PAGE: u32 = 200;

/// The app at `addr`, as a signed-in admin.
#[derive(Debug, Clone)]
pub struct Admin {
    addr: SocketAddr,
    authorization: String,
}

impl Admin {
    /// Registers the admin (an existing account is fine) and logs in.
    pub fn sign_in(addr: SocketAddr) -> Result<Self> {
        let register = format!(
            r#"{{"email":"{ADMIN_EMAIL}","password":"{ADMIN_PASSWORD}","name":"Bench admin"}}"#
        );
        let response = net::request(
            addr,
            "POST",
            "/api/auth/register",
            Some(register.as_bytes()),
        )?;
        if !response.is_success() && response.status != 409 {
            bail!(
                "POST /api/auth/register answered {}: {}",
                response.status,
                response.body_text()
            );
        }
        let login = format!(r#"{{"email":"{ADMIN_EMAIL}","password":"{ADMIN_PASSWORD}"}}"#);
        let response = net::request(addr, "POST", "/api/auth/login", Some(login.as_bytes()))?;
        let body = success("POST /api/auth/login", &response)?;
        let token = string_field(&body, "access_token")
            .with_context(|| format!("no access_token in the login answer {body}"))?;
        Ok(Self {
            addr,
            authorization: format!("Bearer {token}"),
        })
    }

    /// One request as the admin that must answer 2xx; returns the body.
    pub(crate) fn send(&self, method: &str, path: &str, body: Option<&str>) -> Result<String> {
        let response = net::request_with_headers(
            self.addr,
            method,
            path,
            &[("Authorization", &self.authorization)],
            body.map(str::as_bytes),
        )?;
        success(&format!("{method} {path}"), &response)
    }

    /// `POST /api/catalog` for product number `n` with 10 in stock; returns
    /// its id.
    pub fn create_product(&self, n: usize) -> Result<String> {
        let body = product_json(n);
        let answer = self.send("POST", "/api/catalog", Some(&body))?;
        string_field(&answer, "id")
            .with_context(|| format!("no id in the answer to POST /api/catalog: {answer}"))
    }

    /// Every product id in the inventory, page by page.
    pub fn inventory_ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                None => format!("/api/inventory?limit={INVENTORY_PAGE}"),
                Some(cursor) => format!("/api/inventory?limit={INVENTORY_PAGE}&cursor={cursor}"),
            };
            let page = self.send("GET", &path, None)?;
            ids.extend(string_fields(&page, "product_id"));
            cursor = string_field(&page, "next_cursor");
            if cursor.is_none() {
                return Ok(ids);
            }
        }
    }

    /// Whether `GET /api/inventory/<id>` answers 200.
    pub fn stock_visible(&self, id: &str) -> Result<bool> {
        let path = format!("/api/inventory/{id}");
        let response = net::request_with_headers(
            self.addr,
            "GET",
            &path,
            &[("Authorization", &self.authorization)],
            None,
        )?;
        Ok(response.status == 200)
    }
}

/// The body of a 2xx answer, or an error naming the request.
pub(crate) fn success(what: &str, response: &Response) -> Result<String> {
    if !response.is_success() {
        bail!(
            "{what} answered {}: {}",
            response.status,
            response.body_text()
        );
    }
    Ok(String::from_utf8_lossy(&response.body).into_owned())
}

/// The catalog's create request for product number `n`.
pub fn product_json(n: usize) -> String {
    format!(
        r#"{{"name":"Bench product {n}","description":"Created by cargo xtask bench bridge","price":1.99,"category":"bench","brand":"b","stock":10,"tags":[]}}"#
    )
}

/// The first string value of `"key"` in `json`.
pub fn string_field(json: &str, key: &str) -> Option<String> {
    string_fields(json, key).into_iter().next()
}

/// Every string value of `"key"` in `json`, in order (a `null` or other
/// non-string value is skipped).
pub fn string_fields(json: &str, key: &str) -> Vec<String> {
    let needle = format!("\"{key}\"");
    let mut values = Vec::new();
    let mut rest = json;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        let Some(after_colon) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let Some(string) = after_colon.trim_start().strip_prefix('"') else {
            continue;
        };
        if let Some((value, used)) = json_string(string) {
            values.push(value);
            rest = &string[used..];
        }
    }
    values
}

/// Decodes a JSON string body (after its opening quote); returns it and
/// the bytes used, closing quote included.
fn json_string(text: &str) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, i + 1)),
            '\\' => {
                let (_, escaped) = chars.next()?;
                value.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'u' => {
                        let hex: String = (0..4)
                            .filter_map(|_| chars.next())
                            .map(|(_, c)| c)
                            .collect();
                        char::from_u32(u32::from_str_radix(&hex, 16).ok()?)
                            .unwrap_or(char::REPLACEMENT_CHARACTER)
                    }
                    other => other,
                });
            }
            other => value.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_string_fields() {
        let login = r#"{"access_token":"eyJ.a\/b.c","token_type":"Bearer","expires_in":900}"#;
        assert_eq!(
            string_field(login, "access_token").as_deref(),
            Some("eyJ.a/b.c")
        );
        assert_eq!(string_field(login, "expires_in"), None);
        assert_eq!(string_field(login, "token"), None);
        let product = r#"{"brand":"b","id":"0196-ab","name":"Say \"hi\" \u00e9"}"#;
        assert_eq!(string_field(product, "id").as_deref(), Some("0196-ab"));
        assert_eq!(
            string_field(product, "name").as_deref(),
            Some("Say \"hi\" é")
        );
    }

    #[test]
    fn reads_a_page_of_inventory() {
        let page = r#"{"items":[{"available":10,"product_id":"p1","reserved":0},{"available":10,"product_id":"p2"}],"next_cursor":"cDI"}"#;
        assert_eq!(string_fields(page, "product_id"), ["p1", "p2"]);
        assert_eq!(string_field(page, "next_cursor").as_deref(), Some("cDI"));
        let last = r#"{"items":[],"next_cursor":null}"#;
        assert!(string_fields(last, "product_id").is_empty());
        assert_eq!(string_field(last, "next_cursor"), None);
    }

    #[test]
    fn product_requests_are_what_the_catalog_takes() {
        let body = product_json(7);
        assert!(body.contains(r#""name":"Bench product 7""#), "{body}");
        assert!(body.contains(r#""stock":10"#), "{body}");
        assert_eq!(string_field(&body, "category").as_deref(), Some("bench"));
    }
}
