//! The marketplace's workflows, shared by its routes and its event
//! handler: the OAuth callback, item changes, notifications and health.

use platform::clock::{now_ms, parse_rfc3339, rfc3339_from_ms};
use platform::events::{Envelope, ItemLinked, ItemSynced, LevelChanged, NotificationReceived};
use platform::inbox::Delivery;
use platform::outbound::{Client, Exchange};
use platform::redis_store::log_warning;
use platform::{cache, outbox, ApiError, Context};
use serde_json::{json, Value};

use crate::api::{self, Ml};
use crate::breaker_view;
use crate::events::Inbound;
use crate::oauth;
use crate::sealed::SealKey;
use crate::settings::{self, Ttls};
use crate::store::{self, Account, LinkStatus};
use crate::tokens::{self, Grant};
use crate::views::{
    CacheView, CallbackBody, Health, ItemUpdate, LinkView, Linked, Notification, SignedIn,
};

/// A MercadoLibre item id: a site prefix of three capital letters, digits.
pub fn item_id(raw: &str) -> Result<String, ApiError> {
    let ok = raw.len() >= 4
        && raw.len() <= 20
        && raw[..3].bytes().all(|b| b.is_ascii_uppercase())
        && raw[3..].bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(raw.to_string())
    } else {
        Err(ApiError::bad_field(
            "id",
            "must be a MercadoLibre item id such as MLA123",
        ))
    }
}

/// A category id has an item id's shape.
pub fn category_id(raw: &str) -> Result<String, ApiError> {
    item_id(raw).map_err(|_| ApiError::bad_field("id", "must be a category id such as MLA1051"))
}

/// A MercadoLibre user id: a positive number.
pub fn seller_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>()
        .ok()
        .filter(|v| *v > 0 && raw.len() <= 20)
        .ok_or_else(|| ApiError::bad_field("id", "must be a MercadoLibre user id (a number)"))
}

/// Where an item is cached.
pub fn item_key(id: &str) -> String {
    format!("ml:items:{id}")
}

/// The body MercadoLibre is sent for an update, once it passes our rules.
pub fn validate_update(update: ItemUpdate) -> Result<Value, ApiError> {
    let mut body = serde_json::Map::new();
    if let Some(q) = update.available_quantity {
        if q > 999_999 {
            return Err(ApiError::invalid(
                "available_quantity",
                "must be 0 to 999,999",
            ));
        }
        body.insert("available_quantity".into(), json!(q));
    }
    if let Some(price) = update.price {
        if !price.is_finite() || price <= 0.0 || price > 1e10 {
            return Err(ApiError::invalid(
                "price",
                "must be above 0 and at most 10^10",
            ));
        }
        body.insert("price".into(), json!(price));
    }
    if let Some(title) = update.title {
        let title = title.trim();
        if title.is_empty() || title.chars().count() > 60 || title.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                "title",
                "must be 1 to 60 printable characters",
            ));
        }
        body.insert("title".into(), json!(title));
    }
    if body.is_empty() {
        return Err(ApiError::invalid(
            "body",
            "name at least one of available_quantity, price, title",
        ));
    }
    Ok(Value::Object(body))
}

/// How far MercadoLibre's figure moved since the last one both sides
/// agreed on (none before the first agreement: that one is ours, pushed
/// when the link is made).
pub fn change_since(synced: Option<i64>, figure: i64) -> i64 {
    synced.map_or(0, |s| figure - s)
}

/// Records MercadoLibre's figure for an item and publishes it, with its
/// move since the last agreed figure, for inventory to follow. Call in a
/// transaction.
pub fn publish_figure(
    db: &platform::db::Db,
    ctx: &Context,
    cause: Option<&Envelope>,
    item: &Value,
) -> Result<(), ApiError> {
    let bad =
        |what: &str| ApiError::Unavailable(format!("MercadoLibre's item has no valid {what}"));
    let id = item
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("id"))?;
    let price = item.get("price").and_then(Value::as_f64).unwrap_or(0.0);
    let quantity = item
        .get("available_quantity")
        .and_then(Value::as_u64)
        .and_then(|q| u32::try_from(q).ok())
        .ok_or_else(|| bad("available_quantity"))?;
    let link = store::link_of_item(db, id)?;
    let change = match &link {
        Some(link) => {
            store::set_synced(db, id, i64::from(quantity))?;
            change_since(link.synced_quantity, i64::from(quantity))
        }
        None => 0,
    };
    let synced = ItemSynced {
        item_id: id.to_string(),
        product_id: link.map(|l| l.product_id),
        // Whole cents; MercadoLibre prices are decimals.
        price_cents: (price * 100.0).round() as i64,
        available_quantity: quantity,
        change,
    };
    outbox::publish(db, ctx, &synced, cause).map(|_| ())
}

pub fn link_view(account: &Account) -> LinkView {
    LinkView {
        ml_user_id: account.ml_user_id.clone(),
        nickname: account.nickname.clone(),
        user_id: account.user_id.clone(),
        status: account.status.as_str(),
        access_expires_at: rfc3339_from_ms(account.expires_at_ms),
        refresh_due_at: rfc3339_from_ms(account.expires_at_ms - settings::refresh_margin_ms()),
        linked_at: rfc3339_from_ms(account.linked_at_ms),
        refreshed_at: account.refreshed_at_ms.map(rfc3339_from_ms),
    }
}

/// The OAuth callback: state (once), code exchange with the verifier,
/// the person's profile, then a link or a sign-in.
pub async fn callback(ctx: &Context, body: CallbackBody) -> Result<platform::Response, ApiError> {
    if let Some(error) = body.error {
        let why: String = body
            .error_description
            .unwrap_or(error)
            .chars()
            .take(200)
            .collect();
        return Err(ApiError::bad_field("error", format!("MercadoLibre: {why}")));
    }
    let state = body
        .state
        .filter(|s| oauth::plausible_state(s))
        .ok_or_else(|| ApiError::bad_field("state", "missing or malformed"))?;
    let code = body
        .code
        .filter(|c| !c.is_empty() && c.len() <= 512)
        .ok_or_else(|| ApiError::bad_field("code", "missing"))?;
    let pending = oauth::take(ctx.redis()?, &state)?.ok_or_else(|| {
        ApiError::bad_field("state", "unknown, expired or already used: start again")
    })?;
    // A link is finished by the account that started it: otherwise anyone
    // could send a victim the authorization URL of a link they started,
    // and own the victim's MercadoLibre account through it.
    if let Some(starter) = &pending.user_id {
        let finisher = ctx.principal()?.map(|p| p.user_id.as_str());
        if finisher != Some(starter.as_str()) {
            return Err(ApiError::Forbidden(
                "a link is finished by the account that started it: send its bearer token \
                 with the callback (start again)"
                    .into(),
            ));
        }
    }
    let ml = Ml::from_variables()?;
    let key = SealKey::from_variables()?;
    let answer = ml
        .token(
            ctx,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &ml.app.client_id),
                ("client_secret", &ml.app.client_secret),
                ("code", &code),
                ("redirect_uri", &ml.app.redirect_uri),
                ("code_verifier", &pending.verifier),
            ],
        )
        .await?;
    if answer.status != 200 {
        return Err(ApiError::bad_field(
            "code",
            format!(
                "MercadoLibre refused the code: {}",
                api::message(&answer.body)
            ),
        ));
    }
    let grant: Grant = serde_json::from_value(answer.body)
        .map_err(|e| ApiError::Unavailable(format!("MercadoLibre's token answer: {e}")))?;
    let ml_user_id = grant
        .ml_user_id()
        .ok_or_else(|| ApiError::Unavailable("MercadoLibre's token answer has no user".into()))?;
    let profile = ml
        .get(ctx, "/users/me", "/users/me", Some(&grant.access_token))
        .await?;
    if profile.status != 200 {
        return Err(api::client_error(&profile));
    }
    let nickname = profile.body["nickname"]
        .as_str()
        .unwrap_or("MercadoLibre user")
        .to_string();
    let (user_id, signed_in) = match pending.user_id {
        Some(user_id) => (user_id, None),
        None => {
            let known = store::account(ctx.db()?, &ml_user_id)?.map(|a| a.user_id);
            let grant = sign_in(ctx, &ml_user_id, &nickname, &profile.body, known).await?;
            let user_id = grant.0["user"]["id"]
                .as_str()
                .ok_or_else(|| ApiError::internal("users answered no user id"))?
                .to_string();
            (user_id, Some(grant))
        }
    };
    let now = now_ms();
    let account = Account {
        ml_user_id: ml_user_id.clone(),
        user_id,
        nickname,
        access_token: key.seal(&grant.access_token, &ml_user_id)?,
        refresh_token: key.seal(&grant.refresh_token, &ml_user_id)?,
        expires_at_ms: now + grant.expires_in.clamp(60, 7 * 24 * 3600) * 1000,
        status: LinkStatus::Active,
        version: 1,
        linked_at_ms: now,
        refreshed_at_ms: None,
    };
    let db = ctx.db()?;
    if !db.transaction(|db| store::link(db, &account))? {
        return Err(ApiError::Conflict(
            "this MercadoLibre account is linked to another user, or you have linked another \
             one: unlink it first"
                .into(),
        ));
    }
    let stored =
        store::account(db, &ml_user_id)?.ok_or_else(|| ApiError::internal("the link vanished"))?;
    let linked = link_view(&stored);
    let response = match signed_in {
        None => platform::Response::json(200, &Linked { linked }),
        Some((grant, created)) => {
            let body = SignedIn {
                access_token: grant["access_token"].as_str().unwrap_or_default().into(),
                token_type: "Bearer".into(),
                expires_in: grant["expires_in"].as_u64().unwrap_or(0),
                refresh_token: grant["refresh_token"].as_str().unwrap_or_default().into(),
                user: grant["user"].clone(),
                linked,
                created,
            };
            platform::Response::json(201, &body)
        }
    };
    Ok(response.with_header("cache-control", "no-store"))
}

/// Asks users for a session of the person MercadoLibre vouches for.
async fn sign_in(
    ctx: &Context,
    ml_user_id: &str,
    nickname: &str,
    profile: &Value,
    user_id: Option<String>,
) -> Result<(Value, bool), ApiError> {
    let email = profile["email"]
        .as_str()
        .filter(|e| e.contains('@'))
        .map(str::to_string)
        .unwrap_or_else(|| format!("ml-{ml_user_id}@users.mercadolibre.invalid"));
    let name = match (
        profile["first_name"].as_str(),
        profile["last_name"].as_str(),
    ) {
        (Some(f), Some(l)) if !f.is_empty() => format!("{f} {l}").trim().to_string(),
        _ => nickname.to_string(),
    };
    let internal = spin_sdk::variables::get("internal_token").unwrap_or_default();
    let exchange = Exchange::post_json(
        "http://users.spin.internal/internal/users/federated-sessions",
        &json!({"provider": "mercadolibre", "subject": ml_user_id, "email": email,
                "name": name, "user_id": user_id}),
    )
    .header("authorization", format!("Bearer {internal}"));
    let answer = Client::new()
        .send(ctx, exchange, |status, body| {
            if status >= 500 {
                return Err(format!("users answered {status}"));
            }
            Ok((
                status,
                serde_json::from_slice::<Value>(body).unwrap_or(Value::Null),
            ))
        })
        .await
        .map_err(|e| ApiError::Unavailable(format!("users cannot sign in now: {e:?}")))?
        .value;
    match answer {
        (200, body) => Ok((body, false)),
        (201, body) => Ok((body, true)),
        (409, body) => Err(ApiError::Conflict(
            body["detail"]
                .as_str()
                .unwrap_or("an account with this email already exists")
                .to_string(),
        )),
        (status, body) => Err(ApiError::internal(format!(
            "users answered {status} to a federated sign-in: {body}"
        ))),
    }
}

/// Changes an item on MercadoLibre, caches its answer, and publishes it.
pub async fn update_item(
    ctx: &Context,
    account: Account,
    id: &str,
    body: &Value,
) -> Result<Value, ApiError> {
    let ml = Ml::from_variables()?;
    let token = tokens::access_token(ctx, &ml, &SealKey::from_variables()?, account).await?;
    let answer = ml
        .put(ctx, "/items/:id", &format!("/items/{id}"), &token, body)
        .await?;
    if answer.status != 200 {
        return Err(api::client_error(&answer));
    }
    let item = answer.body;
    cache::put(ctx.cache_redis_if_up(), &item_key(id), Ttls::items(), &item);
    ctx.db()?
        .transaction(|db| publish_figure(db, ctx, None, &item))?;
    Ok(item)
}

/// Records a notification (once per `_id`) and, in the same transaction,
/// the event that has it processed. `false` for a duplicate.
pub fn accept_notification(ctx: &Context, n: Notification) -> Result<bool, ApiError> {
    let app = settings::App::from_variables()?;
    let id_ok = !n.id.is_empty()
        && n.id.len() <= 64
        && n.id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !id_ok {
        return Err(ApiError::invalid(
            "_id",
            "must be 1 to 64 letters, digits, '-' or '_'",
        ));
    }
    let topic_ok = !n.topic.is_empty()
        && n.topic.len() <= 32
        && n.topic
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !topic_ok {
        return Err(ApiError::invalid(
            "topic",
            "must be a MercadoLibre topic such as items",
        ));
    }
    let resource_ok = n.resource.starts_with('/')
        && n.resource.len() <= 128
        && n.resource[1..].split('/').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !resource_ok {
        return Err(ApiError::invalid(
            "resource",
            "must be a resource path such as /items/MLA123",
        ));
    }
    for (field, value) in [("sent", &n.sent), ("received", &n.received)] {
        if parse_rfc3339(value).is_none() {
            return Err(ApiError::invalid(field, "must be an RFC 3339 time"));
        }
    }
    if n.user_id == 0 {
        return Err(ApiError::invalid(
            "user_id",
            "must be a MercadoLibre user id",
        ));
    }
    if n.application_id.to_string() != app.client_id {
        return Err(ApiError::Forbidden(
            "the notification is for another application".into(),
        ));
    }
    let seller = n.user_id.to_string();
    let received = NotificationReceived {
        notification_id: n.id.clone(),
        topic: n.topic.clone(),
        resource_path: n.resource.clone(),
        ml_user_id: seller.clone(),
        attempts: n.attempts,
    };
    let fresh = ctx.db()?.transaction(|db| {
        if !store::record_notification(db, &n.id, &n.topic, &n.resource, &seller)? {
            return Ok(false);
        }
        outbox::publish(db, ctx, &received, None)?;
        Ok(true)
    })?;
    ctx.count(
        "ml_notifications_total",
        &[("topic", if fresh { &n.topic } else { "duplicate" })],
    );
    Ok(fresh)
}

/// Processes an accepted notification: fetches the item with the seller's
/// token and publishes `marketplace.item_synced`. MercadoLibre being
/// unreachable is an error (the bridge delivers it again later).
pub async fn process_notification(
    ctx: &Context,
    delivery: &Delivery<'_, Inbound>,
    n: &NotificationReceived,
) -> Result<(), ApiError> {
    let done = |outcome: &'static str| {
        delivery.commit(|db| store::notification_processed(db, &n.notification_id, outcome))
    };
    let item = match (n.topic.as_str(), n.resource_path.strip_prefix("/items/")) {
        ("items", Some(id)) if item_id(id).is_ok() => id.to_string(),
        _ => return done("ignored").map(|_| ()),
    };
    let db = ctx.db()?;
    let Some(account) = store::account(db, &n.ml_user_id)? else {
        return done("no_linked_account").map(|_| ());
    };
    let ml = Ml::from_variables()?;
    let token = match tokens::access_token(ctx, &ml, &SealKey::from_variables()?, account).await {
        Ok(token) => token,
        Err(ApiError::Conflict(_)) => return done("reauthorization_required").map(|_| ()),
        Err(e) => return Err(e),
    };
    let answer = ml
        .get(ctx, "/items/:id", &format!("/items/{item}"), Some(&token))
        .await?;
    match answer.status {
        200 => {}
        404 => return done("not_found").map(|_| ()),
        _ => {
            log_warning("ml_notification_refused", &api::message(&answer.body));
            return done("refused").map(|_| ());
        }
    }
    cache::put(
        ctx.cache_redis_if_up(),
        &item_key(&item),
        Ttls::items(),
        &answer.body,
    );
    let cause: Envelope = delivery.envelope().clone();
    delivery.commit(|db| {
        store::notification_processed(db, &n.notification_id, "synced")?;
        publish_figure(db, ctx, Some(&cause), &answer.body)
    })?;
    Ok(())
}

/// Links an item of the caller's MercadoLibre account to a catalog
/// product; inventory then announces the product's level, which is
/// pushed to MercadoLibre (our stock is the starting figure).
pub async fn link_product(
    ctx: &Context,
    account: Account,
    item: &str,
    product_id: &str,
) -> Result<(), ApiError> {
    let ml = Ml::from_variables()?;
    let seller = account.ml_user_id.clone();
    let token = tokens::access_token(ctx, &ml, &SealKey::from_variables()?, account).await?;
    let answer = ml
        .get(ctx, "/items/:id", &format!("/items/{item}"), Some(&token))
        .await?;
    if answer.status != 200 {
        return Err(api::client_error(&answer));
    }
    let owner = match &answer.body["seller_id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    };
    if owner != seller {
        return Err(ApiError::Forbidden(format!(
            "item {item} is not sold by your MercadoLibre account"
        )));
    }
    let linked = ctx.db()?.transaction(|db| {
        if !store::link_product(db, item, product_id, &seller)? {
            return Ok(false);
        }
        let event = ItemLinked {
            item_id: item.to_string(),
            product_id: product_id.to_string(),
            linked: true,
        };
        outbox::publish(db, ctx, &event, None).map(|_| true)
    })?;
    if !linked {
        return Err(ApiError::Conflict(
            "the product is linked to another MercadoLibre item".into(),
        ));
    }
    Ok(())
}

/// Removes an item's link; `false` when it had none.
pub fn unlink_product(ctx: &Context, item: &str) -> Result<bool, ApiError> {
    ctx.db()?.transaction(|db| {
        let Some(product) = store::unlink_product(db, item)? else {
            return Ok(false);
        };
        let event = ItemLinked {
            item_id: item.to_string(),
            product_id: product,
            linked: false,
        };
        outbox::publish(db, ctx, &event, None).map(|_| true)
    })
}

/// Keeps a linked item's quantity on MercadoLibre at the product's level.
/// If MercadoLibre's figure moved since the last agreement (a sale there
/// not yet notified), that move is applied here first and nothing is
/// pushed: the level it produces is announced and pushed in turn. A repeat
/// pushes the same figure again, which changes nothing.
pub async fn push_level(
    ctx: &Context,
    delivery: &Delivery<'_, Inbound>,
    level: &LevelChanged,
) -> Result<(), ApiError> {
    let db = ctx.db()?;
    let Some(link) = store::link_of_product(db, &level.product_id)? else {
        return Ok(());
    };
    let Some(account) = store::account(db, &link.ml_user_id)? else {
        log_warning("ml_push_without_account", &link.item_id);
        return Ok(());
    };
    let ml = Ml::from_variables()?;
    let token = match tokens::access_token(ctx, &ml, &SealKey::from_variables()?, account).await {
        Ok(token) => token,
        Err(ApiError::Conflict(e)) => {
            log_warning("ml_push_needs_reauthorization", &e);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let path = format!("/items/{}", link.item_id);
    let current = ml.get(ctx, "/items/:id", &path, Some(&token)).await?;
    if current.status != 200 {
        log_warning("ml_push_item_unreadable", &api::message(&current.body));
        return Ok(());
    }
    let theirs = current.body["available_quantity"].as_i64().unwrap_or(0);
    let cause: Envelope = delivery.envelope().clone();
    if link.synced_quantity.is_some_and(|s| s != theirs) {
        delivery.commit(|db| publish_figure(db, ctx, Some(&cause), &current.body))?;
        return Ok(());
    }
    let ours = level.available.clamp(0, 999_999);
    if ours != theirs {
        let answer = ml
            .put(
                ctx,
                "/items/:id",
                &path,
                &token,
                &json!({"available_quantity": ours}),
            )
            .await?;
        if answer.status != 200 {
            log_warning("ml_push_refused", &api::message(&answer.body));
            return Ok(());
        }
        cache::put(
            ctx.cache_redis_if_up(),
            &item_key(&link.item_id),
            Ttls::items(),
            &answer.body,
        );
        ctx.count("ml_stock_pushes_total", &[]);
    }
    delivery.commit(|db| store::set_synced(db, &link.item_id, ours))?;
    Ok(())
}

/// The integration's health.
pub fn health(ctx: &Context, admin: bool) -> Result<Health, ApiError> {
    let breaker = breaker_view(ctx);
    let backoff = ctx.redis_if_up().and_then(api::backoff_remaining_secs);
    let (mut hits, mut misses) = (0u64, 0u64);
    if let Some(redis) = ctx.redis_if_up() {
        let fields = platform::request_metrics::read(redis, crate::NAME)?;
        for (series, value) in platform::request_metrics::totals(&fields) {
            if !series.contains("cache=\"ml\"") {
                continue;
            }
            if series.starts_with("cache_hits_total{") {
                hits += value as u64;
            } else if series.starts_with("cache_misses_total{") {
                misses += value as u64;
            }
        }
    }
    let accounts = if admin {
        Some(
            store::all_accounts(ctx.db()?, 500)?
                .iter()
                .map(link_view)
                .collect(),
        )
    } else {
        None
    };
    Ok(Health {
        status: if breaker.state == "CLOSED" && backoff.is_none() {
            "ok"
        } else {
            "degraded"
        },
        breaker,
        backoff_remaining_secs: backoff,
        cache: CacheView {
            hits,
            misses,
            hit_ratio: (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64),
        },
        accounts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_before_anything_goes_out() {
        assert_eq!(item_id("MLA123").expect("ok"), "MLA123");
        for bad in [
            "mla123",
            "MLA",
            "ML123",
            "MLA12a",
            "../x",
            "MLA123456789012345678",
        ] {
            assert_eq!(item_id(bad).expect_err(bad).status(), 400, "{bad}");
        }
        assert_eq!(seller_id("1001").expect("ok"), 1001);
        assert!(seller_id("0").is_err());
        assert!(seller_id("-1").is_err());
        assert!(seller_id("1001abc").is_err());
    }

    #[test]
    fn updates_name_something_valid() {
        let ok = validate_update(ItemUpdate {
            available_quantity: Some(5),
            price: None,
            title: None,
        })
        .expect("ok");
        assert_eq!(ok, json!({"available_quantity": 5}));
        let none = ItemUpdate {
            available_quantity: None,
            price: None,
            title: None,
        };
        assert_eq!(validate_update(none).expect_err("empty").status(), 422);
        for price in [0.0, -1.0, f64::NAN, 1e11] {
            let e = validate_update(ItemUpdate {
                available_quantity: None,
                price: Some(price),
                title: None,
            })
            .expect_err("price");
            assert_eq!(e.status(), 422);
        }
    }

    #[test]
    fn changes_not_figures_cross_over() {
        assert_eq!(change_since(None, 5), 0, "before the first agreement");
        assert_eq!(change_since(Some(20), 5), -15);
        assert_eq!(change_since(Some(3), 3), 0);
        assert_eq!(change_since(Some(3), 10), 7);
    }
}
