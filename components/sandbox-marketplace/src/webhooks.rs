//! MercadoLibre's notifications: queued with the item change that causes
//! them, POSTed on the tick to the callback URL (the `callback_url`
//! variable) in MercadoLibre's body, through the platform's outbound
//! client. Anything but a 200 is tried again on a later tick with
//! `attempts` increased, backing off, and given up after [`MAX_TRIES`].

use std::time::Duration;

use platform::clock::{now_ms, rfc3339_from_ms};
use platform::component::report;
use platform::db::Db;
use platform::domain::Id;
use platform::outbound::{CallError, Client, Exchange, RetryPolicy};
use platform::redis_store::log_warning;
use platform::{ApiError, Context, LocalBoxFuture, Report};
use serde_json::json;

use crate::store::catalog::ItemRecord;
use crate::store::notifications::{self, NotificationRecord, Outcome};
use crate::store::oauth as tokens;
use crate::views::WebhookBody;

/// Attempts before a notification is given up.
pub const MAX_TRIES: i64 = 10;
/// The topic of item changes.
pub const ITEMS_TOPIC: &str = "items";
/// Notifications one tick sends, at most (the next takes the rest).
const TICK_BATCH: u32 = 20;
/// How long a claimed notification is left to its ticker.
const LEASE_MS: i64 = 30_000;
/// Each delivery must be answered within this.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The first retry's delay, doubled for each further one, up to
/// [`MAX_RETRY_DELAY_MS`].
const FIRST_RETRY_DELAY_MS: i64 = 500;
const MAX_RETRY_DELAY_MS: i64 = 60_000;
/// Longest reason kept for a failed attempt.
const MAX_REASON: usize = 300;

/// The application the notifications are for: `ml_client_id` as a number
/// (0, and a warning, if it is not one).
pub fn application_id() -> i64 {
    let id = spin_sdk::variables::get("client_id").unwrap_or_default();
    id.trim().parse().unwrap_or_else(|_| {
        log_warning(
            "sandbox_ml_application_id",
            &format!("ml_client_id {id:?} is not a number; notifications say 0"),
        );
        0
    })
}

/// Queues the notification of a change to `item`, for its seller, of
/// the application `application_id`.
pub fn queue_item(
    db: &Db,
    item: &ItemRecord,
    application_id: i64,
    now_ms: i64,
) -> Result<(), ApiError> {
    notifications::queue(
        db,
        Id::generate().as_str(),
        &format!("/items/{}", item.id),
        item.seller_id,
        ITEMS_TOPIC,
        application_id,
        now_ms,
    )
}

/// How an attempt (the `tries`-th since the notification was queued)
/// that the callback answered with `status` ends.
pub fn outcome(status: Option<u16>, tries: i64, now_ms: i64) -> Outcome {
    if status == Some(200) {
        Outcome::Delivered
    } else if tries >= MAX_TRIES {
        Outcome::Failed
    } else {
        Outcome::Retry {
            at_ms: now_ms + retry_delay_ms(tries),
        }
    }
}

/// The wait after the `tries`-th failed attempt.
pub fn retry_delay_ms(tries: i64) -> i64 {
    let doublings = u32::try_from(tries.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    (FIRST_RETRY_DELAY_MS << doublings).min(MAX_RETRY_DELAY_MS)
}

/// MercadoLibre's body for one attempt of `n` sent at `sent_ms`.
pub fn body(n: &NotificationRecord, sent_ms: i64) -> serde_json::Value {
    serde_json::to_value(WebhookBody {
        id: &n.id,
        resource: &n.resource,
        user_id: n.user_id,
        topic: &n.topic,
        application_id: n.application_id,
        attempts: n.attempts,
        sent: rfc3339_from_ms(sent_ms),
        received: rfc3339_from_ms(n.received_at_ms),
    })
    .unwrap_or(serde_json::Value::Null)
}

/// Sends one attempt: the callback's status, or why there was none.
async fn post(ctx: &Context, url: &str, n: &NotificationRecord) -> (Option<u16>, Option<String>) {
    let client = Client::new().timeout(TIMEOUT).retries(RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    });
    let exchange = Exchange::post_json(url, &body(n, now_ms()));
    match client.send(ctx, exchange, |status, _| Ok(status)).await {
        Ok(answer) if answer.value == 200 => (Some(200), None),
        Ok(answer) => (
            Some(answer.value),
            Some(format!("the callback answered {}", answer.value)),
        ),
        Err(CallError::Failed { last, .. }) => (None, Some(reason(&last))),
        Err(CallError::Unavailable { .. }) => (None, Some("unreachable".into())),
    }
}

fn reason(why: &str) -> String {
    let mut why = why.to_string();
    if let Some((i, _)) = why.char_indices().nth(MAX_REASON) {
        why.truncate(i);
    }
    why
}

/// Tick work: sends the due notifications (a bounded batch), and forgets
/// codes and tokens that can no longer be used.
pub fn tick(ctx: &Context) -> LocalBoxFuture<'_, Result<Report, ApiError>> {
    Box::pin(async move {
        let db = ctx.db()?;
        let now = now_ms();
        let purged = tokens::purge(db, now)?;
        let url = spin_sdk::variables::get("callback_url")
            .map(|u| u.trim().to_string())
            .unwrap_or_default();
        if url.is_empty() {
            return Ok(report(
                json!({ "callback": "unset", "tokens_purged": purged }),
            ));
        }
        let due = notifications::claim_due(db, now, now + LEASE_MS, TICK_BATCH)?;
        let (mut delivered, mut retrying, mut failed) = (0, 0, 0);
        for n in &due {
            let (status, error) = post(ctx, &url, n).await;
            let done = now_ms();
            let outcome = outcome(status, n.tries, done);
            match outcome {
                Outcome::Delivered => delivered += 1,
                Outcome::Retry { .. } => retrying += 1,
                Outcome::Failed => failed += 1,
            }
            notifications::finish(db, &n.id, &outcome, status, error.as_deref(), done)?;
        }
        Ok(report(json!({
            "attempted": due.len(),
            "delivered": delivered,
            "retrying": retrying,
            "failed": failed,
            "tokens_purged": purged,
        })))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_200_delivers_and_retries_back_off_until_given_up() {
        assert_eq!(outcome(Some(200), 1, 0), Outcome::Delivered);
        assert_eq!(outcome(Some(200), MAX_TRIES, 0), Outcome::Delivered);
        assert_eq!(outcome(Some(204), 1, 0), Outcome::Retry { at_ms: 500 });
        assert_eq!(outcome(None, 2, 1_000), Outcome::Retry { at_ms: 2_000 });
        assert_eq!(
            outcome(Some(500), MAX_TRIES - 1, 0),
            Outcome::Retry { at_ms: 60_000 }
        );
        assert_eq!(outcome(Some(500), MAX_TRIES, 0), Outcome::Failed);
        assert_eq!(retry_delay_ms(0), 500);
        assert_eq!(retry_delay_ms(4), 4_000);
        assert_eq!(retry_delay_ms(i64::MAX), MAX_RETRY_DELAY_MS);
    }

    #[test]
    fn the_body_is_mercadolibres() {
        let n = NotificationRecord {
            id: "0198c3a0-7e3c-7d1e-9b2a-5f0c1d2e3f40".into(),
            resource: "/items/MLA123".into(),
            user_id: 1001,
            topic: "items".into(),
            application_id: 4_242_424_242,
            received_at_ms: 1_795_337_554_740,
            status: "pending".into(),
            attempts: 2,
            tries: 2,
            last_status: None,
            last_error: None,
            sent_at_ms: None,
            delivered_at_ms: None,
        };
        assert_eq!(
            body(&n, 1_795_337_555_000),
            json!({
                "_id": "0198c3a0-7e3c-7d1e-9b2a-5f0c1d2e3f40",
                "resource": "/items/MLA123",
                "user_id": 1001,
                "topic": "items",
                "application_id": 4_242_424_242_i64,
                "attempts": 2,
                "sent": "2026-11-22T08:52:35.000Z",
                "received": "2026-11-22T08:52:34.740Z",
            })
        );
    }
}
