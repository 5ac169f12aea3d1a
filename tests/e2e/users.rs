//! Users and auth through the HTTP API, on the real host and Redis.

use serde_json::{json, Value};
use spinshop_tests::{assert_all_4xx, client, hostile_bodies, Stack};

const PASSWORD: &str = "correct horse battery";
const ADMIN: &str = "admin@spinshop.local";

async fn post(stack: &Stack, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = client().post(stack.url(path)).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("post")
}

async fn get(stack: &Stack, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = client().get(stack.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("get")
}

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.expect("json")
}

/// Registers an account and returns the user record.
async fn register(stack: &Stack, email: &str, name: &str) -> Value {
    let r = post(
        stack,
        "/api/auth/register",
        None,
        &json!({"email": email, "password": PASSWORD, "name": name}),
    )
    .await;
    assert_eq!(r.status(), 201, "register {email}");
    json_of(r).await
}

async fn login(stack: &Stack, email: &str, password: &str) -> reqwest::Response {
    post(
        stack,
        "/api/auth/login",
        None,
        &json!({"email": email, "password": password}),
    )
    .await
}

/// Logs in and returns the token response.
async fn session(stack: &Stack, email: &str) -> Value {
    let r = login(stack, email, PASSWORD).await;
    assert_eq!(r.status(), 200, "login {email}");
    json_of(r).await
}

fn access(session: &Value) -> &str {
    session["access_token"].as_str().expect("access token")
}

fn refresh_token(session: &Value) -> &str {
    session["refresh_token"].as_str().expect("refresh token")
}

async fn refresh(stack: &Stack, token: &str) -> reqwest::Response {
    post(
        stack,
        "/api/auth/refresh",
        None,
        &json!({ "refresh_token": token }),
    )
    .await
}

fn assert_problem(r: &reqwest::Response, status: u16) {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn register_login_me_and_rename() {
    let stack = Stack::start();
    let user = register(&stack, "  Ann.Lee@Example.COM ", "Ann").await;
    assert_eq!(user["email"], "ann.lee@example.com", "normalised");
    assert_eq!(user["name"], "Ann");
    assert_eq!(user["role"], "customer");
    assert!(user["id"].as_str().is_some_and(|id| !id.is_empty()));
    let text = user.to_string();
    assert!(
        !text.contains("password") && !text.contains("$argon2"),
        "{text}"
    );
    assert!(user.get("access_token").is_none(), "login issues tokens");

    let s = session(&stack, "ANN.LEE@example.com").await;
    assert_eq!(s["token_type"], "Bearer");
    assert_eq!(s["expires_in"], 900);
    assert_eq!(s["user"], user);
    assert!(refresh_token(&s).len() >= 43);
    assert!(!s.to_string().contains("$argon2"));
    let token = access(&s).to_string();

    for path in ["/api/auth/me", "/api/users/me"] {
        let r = get(&stack, path, Some(&token)).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(json_of(r).await, user);
        assert_problem(&get(&stack, path, None).await, 401);
    }

    let r = client()
        .put(stack.url("/api/users/me"))
        .bearer_auth(&token)
        .json(&json!({"name": "  Ann Lee-Smith "}))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(r).await["name"], "Ann Lee-Smith");
    assert_eq!(
        json_of(get(&stack, "/api/auth/me", Some(&token)).await).await["name"],
        "Ann Lee-Smith"
    );

    // Only the name can change: a role (or any other field) is refused.
    let r = client()
        .put(stack.url("/api/users/me"))
        .bearer_auth(&token)
        .json(&json!({"name": "Ann", "role": "admin"}))
        .send()
        .await
        .expect("put");
    assert_problem(&r, 400);
    assert!(json_of(r).await["detail"]
        .as_str()
        .is_some_and(|d| d.contains("role")));
    assert_eq!(
        json_of(get(&stack, "/api/auth/me", Some(&token)).await).await["role"],
        "customer"
    );

    // Unknown routes and wrong methods are problems too.
    assert_problem(&get(&stack, "/api/auth/nowhere", None).await, 404);
    assert_problem(&get(&stack, "/api/users/nobody/else", None).await, 404);
    let r = get(&stack, "/api/auth/login", None).await;
    assert_problem(&r, 405);
    assert_eq!(r.headers()["allow"], "POST");
}

#[tokio::test]
async fn duplicate_emails_conflict_and_bad_credentials_look_alike() {
    let stack = Stack::start();
    register(&stack, "bob@example.com", "Bob").await;
    let r = post(
        &stack,
        "/api/auth/register",
        None,
        &json!({"email": " BOB@example.com", "password": "another-Passw0rd", "name": "Bob 2"}),
    )
    .await;
    assert_problem(&r, 409);

    let wrong = login(&stack, "bob@example.com", "wrong password 1").await;
    assert_problem(&wrong, 401);
    let wrong: Value = json_of(wrong).await;
    let unknown = login(&stack, "nobody@example.com", PASSWORD).await;
    assert_problem(&unknown, 401);
    let unknown: Value = json_of(unknown).await;
    assert_eq!(wrong["detail"], unknown["detail"], "no account enumeration");
    assert_eq!(
        session(&stack, "bob@example.com").await["user"]["name"],
        "Bob"
    );
}

/// Registers the first admin with the bootstrap token.
async fn register_admin(stack: &Stack, email: &str) -> reqwest::Response {
    client()
        .post(stack.url("/api/auth/register"))
        .header("x-admin-bootstrap-token", &stack.admin_bootstrap_token)
        .json(&json!({"email": email, "password": PASSWORD, "name": "Root"}))
        .send()
        .await
        .expect("post")
}

#[tokio::test]
async fn only_the_bootstrap_token_makes_the_first_admin() {
    let stack = Stack::start();
    // The configured admin address is no key: whoever registers it first
    // is a customer like anyone.
    let squatter = register(&stack, ADMIN, "Mallory").await;
    assert_eq!(squatter["role"], "customer");
    let r = client()
        .post(stack.url("/api/auth/register"))
        .header("x-admin-bootstrap-token", "0".repeat(32))
        .json(&json!({"email": "root@example.com", "password": PASSWORD, "name": "Root"}))
        .send()
        .await
        .expect("post");
    assert_problem(&r, 403);
    let r = register_admin(&stack, "root@example.com").await;
    assert_eq!(r.status(), 201);
    assert_eq!(json_of(r).await["role"], "admin");
    // Only the first: a leaked token makes no second admin.
    let r = register_admin(&stack, "root2@example.com").await;
    assert_problem(&r, 409);
    let r = get(
        &stack,
        "/api/users",
        Some(access(&session(&stack, ADMIN).await)),
    )
    .await;
    assert_problem(&r, 403);
}

#[tokio::test]
async fn only_admins_list_users() {
    let stack = Stack::start();
    let r = register_admin(&stack, ADMIN).await;
    assert_eq!(r.status(), 201);
    assert_eq!(json_of(r).await["role"], "admin");
    for i in 0..4 {
        let u = register(&stack, &format!("customer{i}@example.com"), "C").await;
        assert_eq!(u["role"], "customer");
    }
    let customer = session(&stack, "customer0@example.com").await;
    assert_problem(
        &get(&stack, "/api/users", Some(access(&customer))).await,
        403,
    );
    assert_problem(&get(&stack, "/api/users", None).await, 401);

    let admin_session = session(&stack, ADMIN).await;
    let token = access(&admin_session);
    let all = json_of(get(&stack, "/api/users", Some(token)).await).await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(5));
    assert_eq!(all["next_cursor"], Value::Null);

    // Cursor pagination visits every user once, in creation order.
    let mut seen = Vec::new();
    let mut path = "/api/users?limit=2".to_string();
    loop {
        let r = get(&stack, &path, Some(token)).await;
        assert_eq!(r.status(), 200);
        let page = json_of(r).await;
        for u in page["items"].as_array().expect("items") {
            assert!(u.get("password_hash").is_none());
            seen.push(u["email"].as_str().expect("email").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/users?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[0], ADMIN);
    assert_problem(&get(&stack, "/api/users?limit=0", Some(token)).await, 422);
    assert_problem(
        &get(&stack, "/api/users?cursor=%25%25", Some(token)).await,
        422,
    );
}

#[tokio::test]
async fn refresh_rotates_and_reusing_a_spent_token_revokes_the_family() {
    let stack = Stack::start();
    register(&stack, "cat@example.com", "Cat").await;
    let first = session(&stack, "cat@example.com").await;
    let other_login = session(&stack, "cat@example.com").await;
    let r1 = refresh_token(&first).to_string();

    let r = refresh(&stack, &r1).await;
    assert_eq!(r.status(), 200);
    let second = json_of(r).await;
    let r2 = refresh_token(&second).to_string();
    assert_ne!(r1, r2);
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(second["user"]["email"], "cat@example.com");
    assert_eq!(
        get(&stack, "/api/auth/me", Some(access(&second)))
            .await
            .status(),
        200
    );

    // The spent token comes back: someone kept a copy. Refused, and the
    // whole family is revoked, including the newer token.
    assert_problem(&refresh(&stack, &r1).await, 401);
    assert_problem(&refresh(&stack, &r2).await, 401);
    // Another login's family is untouched.
    assert_eq!(
        refresh(&stack, refresh_token(&other_login)).await.status(),
        200
    );
    // Unknown tokens are 401, malformed ones 422.
    assert_problem(&refresh(&stack, "not-a-token-we-issued").await, 401);
    assert_problem(&refresh(&stack, &"x".repeat(500)).await, 422);
}

#[tokio::test]
async fn logout_revokes_the_access_token_at_once() {
    let stack = Stack::start();
    register(&stack, "dan@example.com", "Dan").await;
    let s = session(&stack, "dan@example.com").await;
    let token = access(&s).to_string();
    assert_eq!(
        get(&stack, "/api/auth/me", Some(&token)).await.status(),
        200
    );

    assert_problem(
        &post(&stack, "/api/auth/logout", None, &json!({})).await,
        401,
    );
    let r = post(
        &stack,
        "/api/auth/logout",
        Some(&token),
        &json!({"refresh_token": refresh_token(&s)}),
    )
    .await;
    assert_eq!(r.status(), 204);
    let r = get(&stack, "/api/auth/me", Some(&token)).await;
    assert_problem(&r, 401);
    assert!(json_of(r).await["detail"]
        .as_str()
        .is_some_and(|d| d.contains("revoked")));
    assert_problem(&refresh(&stack, refresh_token(&s)).await, 401);

    // A fresh login works, and logout without a body ends that login too:
    // its refresh token as well as its access token.
    let again = session(&stack, "dan@example.com").await;
    assert_eq!(
        get(&stack, "/api/auth/me", Some(access(&again)))
            .await
            .status(),
        200
    );
    let r = client()
        .post(stack.url("/api/auth/logout"))
        .bearer_auth(access(&again))
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), 204);
    assert_problem(
        &get(&stack, "/api/auth/me", Some(access(&again))).await,
        401,
    );
    assert_problem(&refresh(&stack, refresh_token(&again)).await, 401);
}

#[tokio::test]
async fn login_is_throttled_per_account_and_per_address() {
    let stack = Stack::start();
    register(&stack, "eve@example.com", "Eve").await;
    for i in 0..5 {
        let r = login(&stack, "eve@example.com", &format!("guess number {i}")).await;
        assert_problem(&r, 401);
        assert_eq!(r.headers()["x-ratelimit-limit"], "5");
    }
    // The sixth attempt within seconds is refused, even with the right password.
    let r = login(&stack, "eve@example.com", PASSWORD).await;
    assert_problem(&r, 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=10).contains(&retry), "{retry}");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");

    // Other accounts are not locked by Eve's, until the address itself runs
    // out: 20 attempts per address, six spent above (a slow run may have
    // refilled a few at one every 2 s).
    let mut allowed = 0;
    loop {
        let r = login(&stack, &format!("spray{allowed}@example.com"), PASSWORD).await;
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            break;
        }
        assert_problem(&r, 401);
        allowed += 1;
        assert!(allowed <= 24, "the address was never throttled");
    }
    assert!(allowed >= 14, "throttled after only {allowed} attempts");
}

#[tokio::test]
async fn each_registration_emits_user_registered_once() {
    let stack = Stack::start();
    let fay = register(&stack, "fay@example.com", "Fay").await;
    let gus = register(&stack, "gus@example.com", "Gus").await;
    // A duplicate and an invalid registration emit nothing.
    let dup = post(
        &stack,
        "/api/auth/register",
        None,
        &json!({"email": "fay@example.com", "password": PASSWORD, "name": "Fay"}),
    )
    .await;
    assert_eq!(dup.status(), 409);
    let weak = post(
        &stack,
        "/api/auth/register",
        None,
        &json!({"email": "hal@example.com", "password": "aaaaaaaaaaaa", "name": "Hal"}),
    )
    .await;
    assert_problem(&weak, 422);
    assert_eq!(json_of(weak).await["field"], "password");

    let events = stack.drain("users").await;
    assert_eq!(events.len(), 2, "{events:?}");
    for (event, user) in events.iter().zip([&fay, &gus]) {
        assert_eq!(event["type"], "user.registered");
        assert_eq!(event["topic"], "users.events");
        assert_eq!(event["key"], user["id"]);
        let payload: Value =
            serde_json::from_str(event["payload"].as_str().expect("payload")).expect("json");
        assert_eq!(
            payload,
            json!({"user_id": user["id"], "email": user["email"], "name": user["name"]})
        );
    }
    assert!(
        stack.drain("users").await.is_empty(),
        "acked events are gone"
    );
}

/// Users-shaped bad bodies on top of the generic hostile ones.
fn users_bodies() -> Vec<(String, &'static str)> {
    let mut bodies = hostile_bodies();
    for body in [
        format!(
            r#"{{"email": "{}@example.com", "password": "{PASSWORD}", "name": "A"}}"#,
            "a".repeat(300)
        ),
        format!(
            r#"{{"email": "{}@example.com", "password": "{PASSWORD}"}}"#,
            "a".repeat(300)
        ),
        format!(
            r#"{{"email": "ok@example.com", "password": "{PASSWORD}", "name": "{}"}}"#,
            "n".repeat(10_000)
        ),
        format!(r#"{{"name": "{}"}}"#, "n".repeat(10_000)),
        format!(r#"{{"name": "{}"}}"#, "n".repeat(100_000)),
        r#"{"email": 5, "password": true, "name": []}"#.to_string(),
        format!(r#"["ok@example.com", "{PASSWORD}", "Ann"]"#),
        r#"["a-refresh-token"]"#.to_string(),
        r#"{"email": "ok@example.com", "password": ["x"]}"#.to_string(),
        r#"{"email": null, "password": null, "name": null}"#.to_string(),
        r#"{"name": 42}"#.to_string(),
        r#"{"name": "   "}"#.to_string(),
        r#"{"name": "A\u0000B"}"#.to_string(),
        r#"{"refresh_token": 123}"#.to_string(),
        r#"{"refresh_token": ""}"#.to_string(),
        format!(r#"{{"refresh_token": "{}"}}"#, "t".repeat(5_000)),
        format!(
            r#"{{"email": "x@example.com", "password": "{PASSWORD}", "name": "X", "role": "admin"}}"#
        ),
        r#"{"email": "not-an-email", "password": "short", "name": "X"}"#.to_string(),
        r#"{"email": "x@example.com", "password": "", "name": "X"}"#.to_string(),
    ] {
        bodies.push((body, "application/json"));
    }
    bodies
}

#[tokio::test]
async fn bad_input_to_every_post_and_put_route_is_a_4xx_problem() {
    let stack = Stack::start();
    register(&stack, "ivy@example.com", "Ivy").await;
    let s = session(&stack, "ivy@example.com").await;
    let token = access(&s).to_string();
    let bodies = users_bodies();
    for path in ["/api/auth/register", "/api/auth/login", "/api/auth/refresh"] {
        assert_all_4xx(&stack, reqwest::Method::POST, path, None, &[], &bodies).await;
    }
    assert_all_4xx(
        &stack,
        reqwest::Method::PUT,
        "/api/users/me",
        Some(&token),
        &[],
        &bodies,
    )
    .await;
    // Logout's body is optional: an empty one is a plain logout, so it is
    // left out here (and sent last, below).
    let logout_bodies: Vec<_> = bodies
        .iter()
        .filter(|(body, _)| !body.trim().is_empty())
        .cloned()
        .collect();
    assert_all_4xx(
        &stack,
        reqwest::Method::POST,
        "/api/auth/logout",
        Some(&token),
        &[],
        &logout_bodies,
    )
    .await;
    assert_all_4xx(
        &stack,
        reqwest::Method::POST,
        "/internal/users/outbox/ack",
        Some(&stack.internal_token),
        &[],
        &hostile_bodies(),
    )
    .await;

    // Nothing bad input did changed the account or the session.
    let me = json_of(get(&stack, "/api/users/me", Some(&token)).await).await;
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str()),
        (Some("Ivy"), Some("customer"))
    );
    assert_eq!(refresh(&stack, refresh_token(&s)).await.status(), 200);
    let r = client()
        .get(stack.url("/internal/users/outbox"))
        .send()
        .await
        .expect("outbox");
    assert_problem(&r, 401);
}
