//! The sandbox MercadoLibre API through the real host with real Redis:
//! the authorization server (redirect, code exchange with PKCE, refusals,
//! single-use codes and refresh tokens, even under a race), the resources
//! in MercadoLibre's shapes and errors, notifications delivered to a
//! callback (retried, then sent again with the same `_id`), and the
//! admin's control (rate limit, outage, failures).

use std::collections::BTreeSet;
use std::time::Duration;

use platform::auth::Role;
use platform::pkce;
use reqwest::Method;
use serde_json::{json, Value};
use spinshop_testkit::EchoServer;
use spinshop_tests::{assert_all_4xx, hostile_bodies, Stack};

use crate::clock::{advance, MOVABLE};

/// The member names of a JSON object.
fn keys_of(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// spin.toml's `ml_client_id`.
const CLIENT_ID: &str = "4242424242";

/// One answer: status, headers, body (JSON, or `Null`).
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    async fn of(r: reqwest::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        Self {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// The sandbox as the marketplace component (or a test) uses it.
struct Sandbox {
    stack: Stack,
}

/// A signed-in seller: the token endpoint's answer.
struct Seller {
    access_token: String,
    refresh_token: String,
}

impl Sandbox {
    fn start(variables: &[(&str, &str)]) -> Self {
        Self {
            stack: Stack::start_with(variables),
        }
    }

    /// A client that does not follow redirects: the authorization
    /// endpoint's 302 is the answer.
    fn http() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client")
    }

    fn redirect_uri(&self) -> String {
        self.stack.url("/api/auth/callback")
    }

    fn admin(&self) -> String {
        self.stack.token("root", Role::Admin)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut req = Self::http().request(method, self.stack.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Answer::of(req.send().await.expect("send")).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.send(Method::GET, path, token, None).await
    }

    /// `GET /sandbox/ml/authorization` with these query pairs.
    async fn authorize(&self, pairs: &[(&str, &str)]) -> Answer {
        let r = Self::http()
            .get(self.stack.url("/sandbox/ml/authorization"))
            .query(pairs)
            .send()
            .await
            .expect("authorize");
        Answer::of(r).await
    }

    /// Authorizes as `user` (the control's user when `None`) with a PKCE
    /// challenge of `verifier`; answers the code.
    async fn code(&self, verifier: &str, user: Option<&str>) -> String {
        let challenge = pkce::challenge(verifier);
        let redirect_uri = self.redirect_uri();
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", redirect_uri.as_str()),
            ("state", "st-1"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if let Some(u) = user {
            pairs.push(("user_id", u));
        }
        let a = self.authorize(&pairs).await;
        assert_eq!(a.status, 302, "{}", a.body);
        let location = reqwest::Url::parse(a.header("location")).expect("location");
        let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
        assert!(
            location.as_str().starts_with(&format!("{redirect_uri}?")),
            "{location}"
        );
        assert!(
            query.contains(&("state".into(), "st-1".into())),
            "{location}"
        );
        query
            .into_iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v)
            .expect("a code")
    }

    /// `POST /sandbox/ml/oauth/token` with a form.
    async fn token(&self, form: &[(&str, &str)]) -> Answer {
        let r = Self::http()
            .post(self.stack.url("/sandbox/ml/oauth/token"))
            .form(form)
            .send()
            .await
            .expect("token");
        Answer::of(r).await
    }

    async fn exchange(&self, code: &str, verifier: &str) -> Answer {
        let redirect_uri = self.redirect_uri();
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", &self.stack.ml_client_secret),
            ("code", code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", verifier),
        ])
        .await
    }

    async fn refresh(&self, refresh_token: &str) -> Answer {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", &self.stack.ml_client_secret),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// Signs in as `user` (`"1001"`, `"1002"`) all the way.
    async fn sign_in(&self, user: &str) -> Seller {
        let verifier = pkce::new_verifier().expect("verifier");
        let code = self.code(&verifier, Some(user)).await;
        let a = self.exchange(&code, &verifier).await;
        assert_eq!(a.status, 200, "{}", a.body);
        Seller {
            access_token: a.body["access_token"].as_str().expect("token").into(),
            refresh_token: a.body["refresh_token"].as_str().expect("refresh").into(),
        }
    }

    async fn control(&self) -> Value {
        let a = self.get("/sandbox/ml/control", Some(&self.admin())).await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body
    }

    async fn set_control(&self, settings: Value) -> Value {
        let admin = self.admin();
        let a = self
            .send(
                Method::PUT,
                "/sandbox/ml/control",
                Some(&admin),
                Some(&settings),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body
    }

    /// Runs the sandbox's tick as the bridge does; answers its report.
    async fn tick(&self) -> Value {
        let r = Self::http()
            .post(self.stack.url("/internal/sandbox-marketplace/tick"))
            .bearer_auth(&self.stack.internal_token)
            .send()
            .await
            .expect("tick");
        let a = Answer::of(r).await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body
    }
}

/// A MercadoLibre error body, exactly.
fn ml_error(message: &str, error: &str, status: u16) -> Value {
    json!({"message": message, "error": error, "status": status, "cause": []})
}

#[tokio::test]
async fn the_authorization_server_grants_with_pkce_and_refuses_what_it_must() {
    let ml = Sandbox::start(&[]);
    let redirect_uri = ml.redirect_uri();
    let verifier = pkce::new_verifier().expect("verifier");
    let challenge = pkce::challenge(&verifier);
    // The application and its redirect URI must be exactly the registered
    // ones: otherwise a page, never a redirect.
    for (client_id, uri) in [
        ("999", redirect_uri.clone()),
        (
            CLIENT_ID,
            "https://evil.example/api/auth/callback".to_string(),
        ),
        (CLIENT_ID, format!("{redirect_uri}/")),
    ] {
        let a = ml
            .authorize(&[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", &uri),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .await;
        assert_eq!(a.status, 400, "{client_id} {uri}");
        assert!(a.header("location").is_empty());
        assert_eq!(a.header("content-type"), "application/problem+json");
    }
    // Known application, bad request: back to it with the OAuth error.
    let plain = ml
        .authorize(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", &redirect_uri),
            ("state", "s9"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "plain"),
        ])
        .await;
    assert_eq!(plain.status, 302);
    let location = reqwest::Url::parse(plain.header("location")).expect("location");
    let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert!(query.contains(&("error".into(), "invalid_request".into())));
    assert!(query.contains(&("state".into(), "s9".into())));
    assert!(!query.iter().any(|(k, _)| k == "code"));

    // The code, exchanged with PKCE: a wrong secret and a wrong verifier
    // are refused without spending it.
    let code = ml.code(&verifier, None).await;
    assert!(code.starts_with("TG-") && code.ends_with("-1001"), "{code}");
    let wrong_secret = ml
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", "not-the-secret-not-the-secret-000"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", &verifier),
        ])
        .await;
    assert_eq!(wrong_secret.status, 401);
    assert_eq!(
        wrong_secret.body,
        ml_error("invalid client_id or client_secret", "invalid_client", 401)
    );
    let other = pkce::new_verifier().expect("verifier");
    let wrong_verifier = ml.exchange(&code, &other).await;
    assert_eq!(wrong_verifier.status, 400);
    assert_eq!(wrong_verifier.body["error"], "invalid_grant");
    assert_eq!(wrong_verifier.body["cause"], json!([]));
    let granted = ml.exchange(&code, &verifier).await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    assert_eq!(granted.header("cache-control"), "no-store");
    let t = &granted.body;
    let keys = keys_of(t);
    assert_eq!(
        keys,
        BTreeSet::from([
            "access_token",
            "expires_in",
            "refresh_token",
            "scope",
            "token_type",
            "user_id"
        ])
    );
    assert!(t["access_token"]
        .as_str()
        .expect("access")
        .starts_with("APP_USR-4242424242-"));
    assert!(t["refresh_token"]
        .as_str()
        .expect("refresh")
        .starts_with("TG-"));
    assert_eq!(
        (
            &t["token_type"],
            &t["expires_in"],
            &t["scope"],
            &t["user_id"]
        ),
        (
            &json!("Bearer"),
            &json!(21600),
            &json!("offline_access read write"),
            &json!(1001)
        )
    );
    let replayed = ml.exchange(&code, &verifier).await;
    assert_eq!(
        (replayed.status, &replayed.body["error"]),
        (400, &json!("invalid_grant"))
    );
    let unsupported = ml.token(&[("grant_type", "password")]).await;
    assert_eq!(unsupported.body["error"], "unsupported_grant_type");

    // The access token opens the resources as its user.
    let access = t["access_token"].as_str().expect("access");
    let me = ml.get("/sandbox/ml/users/me", Some(access)).await;
    assert_eq!(me.status, 200);
    assert_eq!(
        (
            &me.body["id"],
            &me.body["nickname"],
            &me.body["site_id"],
            &me.body["country_id"]
        ),
        (
            &json!(1001),
            &json!("TESTSELLER_A"),
            &json!("MLA"),
            &json!("AR")
        )
    );
    let b = ml.sign_in("1002").await;
    let me_b = ml.get("/sandbox/ml/users/me", Some(&b.access_token)).await;
    assert_eq!(me_b.body["nickname"], "TESTSELLER_B");
    for token in [
        None,
        Some("APP_USR-4242424242-010101-00-1001"),
        Some(&*code),
    ] {
        let a = ml.get("/sandbox/ml/users/me", token).await;
        assert_eq!(a.status, 401);
        assert_eq!(
            a.body,
            ml_error("invalid access token", "unauthorized", 401)
        );
    }

    // A token request may also be JSON.
    let json_refresh = ml
        .send(
            Method::POST,
            "/sandbox/ml/oauth/token",
            None,
            Some(&json!({
                "grant_type": "refresh_token",
                "client_id": CLIENT_ID,
                "client_secret": ml.stack.ml_client_secret,
                "refresh_token": b.refresh_token,
            })),
        )
        .await;
    assert_eq!(json_refresh.status, 200, "{}", json_refresh.body);

    let counters = &ml.control().await["stats"];
    assert_eq!(
        counters["token_grants"],
        json!({"authorization_code": 2, "refresh_token": 1})
    );
    assert_eq!(counters["refused_grants"], 4);
}

#[tokio::test]
async fn one_refresh_token_refreshes_once_however_many_race() {
    let ml = Sandbox::start(&[]);
    let seller = ml.sign_in("1001").await;
    let racers = (0..6).map(|_| ml.refresh(&seller.refresh_token));
    let answers = futures::future::join_all(racers).await;
    let winners: Vec<&Answer> = answers.iter().filter(|a| a.status == 200).collect();
    assert_eq!(winners.len(), 1, "exactly one refresh wins");
    for loser in answers.iter().filter(|a| a.status != 200) {
        assert_eq!(loser.status, 400);
        assert_eq!(loser.body["error"], "invalid_grant");
    }
    let rotated = winners[0].body["refresh_token"]
        .as_str()
        .expect("new refresh token");
    assert_ne!(rotated, seller.refresh_token);
    assert_eq!(
        ml.refresh(rotated).await.status,
        200,
        "the new one works, once"
    );
    assert_eq!(ml.refresh(rotated).await.status, 400);
    let counters = &ml.control().await["stats"];
    assert_eq!(counters["token_grants"]["refresh_token"], 2);
    assert_eq!(counters["refused_grants"], 6);
}

#[tokio::test]
async fn resources_answer_in_mercadolibres_shapes_and_only_the_owner_writes() {
    let ml = Sandbox::start(&[MOVABLE]);
    let a = ml.sign_in("1001").await.access_token;
    let token = Some(a.as_str());

    let search = ml.get("/sandbox/ml/users/1001/items/search", token).await;
    assert_eq!(search.status, 200);
    assert_eq!(
        search.body,
        json!({
            "seller_id": "1001",
            "results": ["MLA123", "MLA124", "MLA125", "MLA126"],
            "paging": {"total": 4, "offset": 0, "limit": 50},
        })
    );
    let page = ml
        .get(
            "/sandbox/ml/users/1001/items/search?offset=1&limit=2",
            token,
        )
        .await;
    assert_eq!(page.body["results"], json!(["MLA124", "MLA125"]));
    let theirs = ml.get("/sandbox/ml/users/1002/items/search", token).await;
    assert_eq!(
        (theirs.status, &theirs.body["error"]),
        (403, &json!("forbidden"))
    );
    for bad in ["limit=0", "limit=101", "offset=-1", "limit=x"] {
        let a = ml
            .get(&format!("/sandbox/ml/users/1001/items/search?{bad}"), token)
            .await;
        assert_eq!(
            (a.status, &a.body["error"]),
            (400, &json!("bad_request")),
            "{bad}"
        );
    }

    let item = ml.get("/sandbox/ml/items/MLA123", token).await;
    assert_eq!(item.status, 200);
    let i = &item.body;
    assert_eq!(
        (
            &i["id"],
            &i["site_id"],
            &i["seller_id"],
            &i["category_id"],
            &i["currency_id"]
        ),
        (
            &json!("MLA123"),
            &json!("MLA"),
            &json!(1001),
            &json!("MLA3697"),
            &json!("ARS")
        )
    );
    assert_eq!(
        (&i["price"], &i["available_quantity"], &i["status"]),
        (&json!(15999.0), &json!(20), &json!("active"))
    );
    assert!(i["title"].as_str().expect("title").contains("Bluetooth"));
    assert!(platform::clock::parse_rfc3339(i["last_updated"].as_str().expect("time")).is_some());
    for unknown in ["MLA999", "nonsense", "MLA123%20"] {
        let a = ml.get(&format!("/sandbox/ml/items/{unknown}"), token).await;
        assert_eq!(a.status, 404, "{unknown}");
        assert_eq!(a.body["error"], "not_found");
    }
    assert_eq!(
        ml.get("/sandbox/ml/items/MLA999", token).await.body,
        ml_error("Item with id MLA999 not found", "not_found", 404)
    );

    // Only the owner changes an item; bad bodies are MercadoLibre's 400s.
    let change =
        json!({"available_quantity": 18, "price": 14999.5, "title": "Auriculares Bluetooth 5.3"});
    let put = ml
        .send(
            Method::PUT,
            "/sandbox/ml/items/MLA123",
            token,
            Some(&change),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(
        (
            &put.body["available_quantity"],
            &put.body["price"],
            &put.body["title"]
        ),
        (
            &json!(18),
            &json!(14999.5),
            &json!("Auriculares Bluetooth 5.3")
        )
    );
    assert_eq!(
        ml.get("/sandbox/ml/items/MLA123", token).await.body["available_quantity"],
        18
    );
    let not_mine = ml
        .send(
            Method::PUT,
            "/sandbox/ml/items/MLA201",
            token,
            Some(&json!({"price": 1.0})),
        )
        .await;
    assert_eq!(
        (not_mine.status, &not_mine.body["error"]),
        (403, &json!("forbidden"))
    );
    let invalid = ml
        .send(
            Method::PUT,
            "/sandbox/ml/items/MLA123",
            token,
            Some(&json!({"available_quantity": -1, "price": 0})),
        )
        .await;
    assert_eq!(
        (invalid.status, &invalid.body["error"]),
        (400, &json!("validation_error"))
    );
    assert_eq!(invalid.body["cause"].as_array().map(Vec::len), Some(2));
    for body in [
        json!({"sku": "x"}),
        json!({"price": "cheap"}),
        json!({"available_quantity": 1.5}),
        json!({}),
    ] {
        let a = ml
            .send(Method::PUT, "/sandbox/ml/items/MLA123", token, Some(&body))
            .await;
        assert_eq!(
            (a.status, &a.body["error"]),
            (400, &json!("bad_request")),
            "{body}"
        );
    }
    for (body, content_type) in hostile_bodies() {
        let r = Sandbox::http()
            .put(ml.stack.url("/sandbox/ml/items/MLA123"))
            .bearer_auth(&a)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .expect("put");
        let answer = Answer::of(r).await;
        assert_eq!(answer.status, 400, "{:?}", &body[..body.len().min(40)]);
        assert_eq!(answer.body["status"], 400);
    }

    // Categories need no token.
    let headphones = ml.get("/sandbox/ml/categories/MLA3697", None).await;
    assert_eq!(
        headphones.body,
        json!({
            "id": "MLA3697",
            "name": "Auriculares",
            "path_from_root": [
                {"id": "MLA1000", "name": "Electrónica, Audio y Video"},
                {"id": "MLA3697", "name": "Auriculares"},
            ],
            "total_items_in_this_category": 3,
        })
    );
    let phones = ml.get("/sandbox/ml/categories/MLA1051", None).await;
    assert_eq!(phones.body["name"], "Celulares y Teléfonos");
    assert_eq!(
        ml.get("/sandbox/ml/categories/MLA0", None).await.status,
        404
    );

    // Access tokens last 6 hours.
    advance(&ml.stack, Duration::from_secs(6 * 3600 + 1)).await;
    let expired = ml.get("/sandbox/ml/users/me", token).await;
    assert_eq!(
        expired.body,
        ml_error("invalid access token", "unauthorized", 401)
    );
    assert!(ml.control().await["stats"]["resource_requests"].as_i64() > Some(20));
}

/// The body of a notification request the receiver got.
fn notification(request: &Value) -> Value {
    assert_eq!(request["method"], "POST");
    assert_eq!(request["path"], "/ml/webhooks");
    serde_json::from_str(request["body"].as_str().expect("body")).expect("json body")
}

#[tokio::test]
async fn a_sale_is_notified_to_the_callback_and_redelivered_with_its_id() {
    // The receiver fails the first delivery, then answers 200.
    let receiver = EchoServer::answering(vec![500]);
    let origin = format!("http://{}", receiver.addr);
    let callback = format!("{origin}/ml/webhooks");
    let ml = Sandbox::start(&[
        ("sandbox_ml_callback_url", &callback),
        ("sandbox_ml_callback_origin", &origin),
    ]);
    let admin = ml.admin();

    let sold = ml
        .send(
            Method::POST,
            "/sandbox/ml/control/items/MLA123/sell",
            Some(&admin),
            Some(&json!({"quantity": 2})),
        )
        .await;
    assert_eq!(sold.status, 200, "{}", sold.body);
    assert_eq!(
        (
            &sold.body["available_quantity"],
            &sold.body["sold_quantity"]
        ),
        (&json!(18), &json!(2))
    );
    let too_many = ml
        .send(
            Method::POST,
            "/sandbox/ml/control/items/MLA123/sell",
            Some(&admin),
            Some(&json!({"quantity": 19})),
        )
        .await;
    assert_eq!(too_many.status, 409);
    assert_eq!(ml.control().await["stats"]["notifications"]["pending"], 1);

    let first = ml.tick().await;
    assert_eq!(
        (&first["attempted"], &first["retrying"]),
        (&json!(1), &json!(1)),
        "{first}"
    );
    // Retried on a later tick (after half a second), with attempts 2.
    let delivered = spinshop_tests::wait_for!("the retry", Duration::from_secs(20), {
        let report = ml.tick().await;
        (report["delivered"] == 1).then_some(report)
    });
    assert_eq!(delivered["attempted"], 1);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    let (failed, ok) = (notification(&requests[0]), notification(&requests[1]));
    let keys = keys_of(&ok);
    assert_eq!(
        keys,
        BTreeSet::from([
            "_id",
            "application_id",
            "attempts",
            "received",
            "resource",
            "sent",
            "topic",
            "user_id"
        ])
    );
    assert_eq!(
        (
            &ok["resource"],
            &ok["user_id"],
            &ok["topic"],
            &ok["application_id"]
        ),
        (
            &json!("/items/MLA123"),
            &json!(1001),
            &json!("items"),
            &json!(4_242_424_242_i64)
        )
    );
    assert_eq!(
        (&failed["attempts"], &ok["attempts"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(failed["_id"], ok["_id"]);
    assert_eq!(failed["received"], ok["received"]);
    for time in [&ok["sent"], &ok["received"]] {
        assert!(platform::clock::parse_rfc3339(time.as_str().expect("time")).is_some());
    }
    assert_eq!(
        ml.control().await["stats"]["notifications"],
        json!({"delivered": 1, "pending": 0, "failed": 0})
    );

    // Sent again with the same _id, as MercadoLibre repeats them.
    let id = ok["_id"].as_str().expect("id");
    let path = format!("/sandbox/ml/control/notifications/{id}/redeliver");
    let again = ml.send(Method::POST, &path, Some(&admin), None).await;
    assert_eq!(
        (again.status, &again.body["status"]),
        (202, &json!("pending"))
    );
    assert_eq!(
        ml.send(Method::POST, &path, Some(&admin), None)
            .await
            .status,
        409
    );
    let unknown = ml
        .send(
            Method::POST,
            "/sandbox/ml/control/notifications/nope/redeliver",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(ml.tick().await["delivered"], 1);
    let third = notification(&receiver.requests()[2]);
    assert_eq!((&third["_id"], &third["attempts"]), (&ok["_id"], &json!(3)));

    // The seller's own change is notified too, under a new _id.
    let seller = ml.sign_in("1002").await;
    let put = ml
        .send(
            Method::PUT,
            "/sandbox/ml/items/MLA201",
            Some(&seller.access_token),
            Some(&json!({"available_quantity": 99})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(ml.tick().await["delivered"], 1);
    let fourth = notification(&receiver.requests()[3]);
    assert_eq!(
        (&fourth["resource"], &fourth["user_id"], &fourth["attempts"]),
        (&json!("/items/MLA201"), &json!(1002), &json!(1))
    );
    assert_ne!(fourth["_id"], ok["_id"]);
    let listed = ml
        .get("/sandbox/ml/control/notifications", Some(&admin))
        .await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(listed.body["items"][0]["resource"], "/items/MLA201");
}

#[tokio::test]
async fn the_control_is_for_admins_and_injects_limits_outages_and_failures() {
    let ml = Sandbox::start(&[]);
    let admin = ml.admin();
    let customer = ml.stack.token("ann", Role::Customer);
    let settings = json!({"rate_limit_per_minute": 1});
    for (method, path, body) in [
        (Method::GET, "/sandbox/ml/control", None),
        (Method::PUT, "/sandbox/ml/control", Some(&settings)),
        (
            Method::POST,
            "/sandbox/ml/control/items/MLA123/sell",
            Some(&json!({"quantity": 1})),
        ),
        (Method::GET, "/sandbox/ml/control/notifications", None),
        (
            Method::POST,
            "/sandbox/ml/control/notifications/n1/redeliver",
            None,
        ),
    ] {
        let anonymous = ml.send(method.clone(), path, None, body).await;
        assert_eq!(anonymous.status, 401, "{method} {path}");
        let refused = ml.send(method.clone(), path, Some(&customer), body).await;
        assert_eq!(refused.status, 403, "{method} {path}");
        assert_eq!(refused.header("content-type"), "application/problem+json");
    }
    assert_eq!(ml.get("/sandbox/ml/items/MLA123", None).await.status, 401);
    assert_eq!(
        ml.control().await["stats"]["rate_limited"],
        0,
        "nothing was changed"
    );

    // Settings are checked.
    for (body, field) in [
        (json!({"failure_rate": 1.5}), "failure_rate"),
        (json!({"latency_ms": 10_001}), "latency_ms"),
        (json!({"approve_user_id": 4242}), "approve_user_id"),
    ] {
        let a = ml
            .send(
                Method::PUT,
                "/sandbox/ml/control",
                Some(&admin),
                Some(&body),
            )
            .await;
        assert_eq!((a.status, &a.body["field"]), (422, &json!(field)), "{body}");
    }
    assert_all_4xx(
        &ml.stack,
        Method::PUT,
        "/sandbox/ml/control",
        Some(&admin),
        &[],
        &hostile_bodies(),
    )
    .await;

    // The approving user.
    let set = ml.set_control(json!({"approve_user_id": 1002})).await;
    assert_eq!(set["approve_user_id"], 1002);
    let verifier = pkce::new_verifier().expect("verifier");
    assert!(ml.code(&verifier, None).await.ends_with("-1002"));

    // A rate limit: a fixed window a minute, MercadoLibre's exact 429.
    ml.set_control(json!({"rate_limit_per_minute": 2})).await;
    let mut limited = None;
    for _ in 0..5 {
        let r = Sandbox::http()
            .get(ml.stack.url("/sandbox/ml/categories/MLA1051"))
            .send()
            .await
            .expect("get");
        if r.status() == 429 {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .expect("header")
                .parse()
                .expect("secs");
            limited = Some((retry, r.text().await.expect("body")));
            break;
        }
        assert_eq!(r.status(), 200);
    }
    let (retry_after, body) = limited.expect("a 429 within 5 calls of a limit of 2");
    assert_eq!(
        body,
        r#"{"message":"Too Many Requests","error":"too_many_requests","status":429}"#
    );
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(ml.control().await["stats"]["rate_limited"].as_i64() >= Some(1));

    // An outage answers 503 everywhere, the token endpoint included.
    ml.set_control(json!({"rate_limit_per_minute": 0, "outage": true}))
        .await;
    let down = ml.get("/sandbox/ml/categories/MLA1051", None).await;
    assert_eq!(
        down.body,
        ml_error("Service Unavailable", "service_unavailable", 503)
    );
    assert_eq!(
        ml.token(&[("grant_type", "refresh_token")]).await.status,
        503
    );

    // Failures: 500s in MercadoLibre's shape.
    ml.set_control(json!({"outage": false, "failure_rate": 1}))
        .await;
    let failed = ml.get("/sandbox/ml/categories/MLA1051", None).await;
    assert_eq!(
        failed.body,
        ml_error("Internal server error", "internal_error", 500)
    );
    let calm = ml.set_control(json!({"failure_rate": 0})).await;
    assert_eq!(calm["stats"]["injected_failures"], 3);
    assert_eq!(
        ml.get("/sandbox/ml/categories/MLA1051", None).await.status,
        200
    );
}
