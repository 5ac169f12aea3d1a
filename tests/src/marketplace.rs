//! The MercadoLibre sign-in as a browser plays it against the sandbox:
//! start, approve, follow the redirect to the callback.

use std::time::Duration;

use serde_json::Value;

use crate::{client, Stack};

/// A client that does not follow redirects: the test plays the browser.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `url`'s path and query, sent to `stack` (which listens on a port of
/// its own, not on the default addresses the variables name).
pub fn on_stack(stack: &Stack, url: &str) -> String {
    let rest = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .expect("an absolute URL");
    stack.url(rest)
}

/// Starts an authorization (as `token`'s user, or to sign in) and has the
/// sandbox approve it as seller `seller`: the callback URL it redirects
/// to, and the start's answer.
pub async fn authorize(stack: &Stack, token: Option<&str>, seller: &str) -> (String, Value) {
    let mut req = client().post(stack.url("/api/auth/oauth/start"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("start");
    let status = r.status().as_u16();
    let start: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "{start}");
    let url = start["authorization_url"].as_str().expect("url");
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    let r = browser()
        .get(format!("{}&user_id={seller}", on_stack(stack, url)))
        .send()
        .await
        .expect("authorize");
    assert_eq!(r.status(), 302, "{:?}", r.text().await);
    let location = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .expect("location")
        .to_string();
    (on_stack(stack, &location), start)
}

/// Follows the redirect to the callback (as `token`'s user, who must be
/// the one who started a link): its status and answer.
pub async fn callback(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = client().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("callback");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Links seller `seller`'s MercadoLibre account to `token`'s user.
pub async fn link(stack: &Stack, token: &str, seller: &str) {
    let (url, _) = authorize(stack, Some(token), seller).await;
    let (status, body) = callback(&url, Some(token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["linked"]["ml_user_id"], seller);
}
