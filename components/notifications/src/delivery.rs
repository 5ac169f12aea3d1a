//! Delivery to the channel providers: a JSON POST per notification with
//! the notification id as `Idempotency-Key` (so a repeated attempt is one
//! message to the provider), outside any SQLite transaction, through the
//! platform's outbound client; failures are retried by the tick with
//! exponential backoff (the client itself makes one attempt).

use std::time::Duration;

use platform::clock::{now_ms, rfc3339_from_ms};
use platform::component::report;
use platform::db::Db;
use platform::outbound::{CallError, Client, Exchange, RetryPolicy};
use platform::{ApiError, Context, LocalBoxFuture, Report};
use serde_json::json;

use crate::domain::{self, Attempt, Channel, Status, ADMINS, CLAIM_LEASE_MS};
use crate::store::{self, Notification};

/// Deliveries one tick attempts, at most (the next tick takes the rest).
const TICK_BATCH: u32 = 20;
/// Longest provider error kept as a reason.
const MAX_REASON: usize = 300;
/// Each delivery attempt must be answered within this.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where each channel's notifications go, from the variables.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    email: Option<String>,
    sms: Option<String>,
    push: Option<String>,
    /// The admins' address (`admin_email`), normalised.
    pub admin_email: String,
}

impl Providers {
    pub fn from_variables() -> Self {
        let var = |name: &str| {
            spin_sdk::variables::get(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Self {
            email: var(Channel::Email.provider_variable()),
            sms: var(Channel::Sms.provider_variable()),
            push: var(Channel::Push.provider_variable()),
            admin_email: var("admin_email").unwrap_or_default().to_lowercase(),
        }
    }

    /// The channel's provider URL; `None`: record only.
    pub fn url(&self, channel: Channel) -> Option<&str> {
        match channel {
            Channel::Email => self.email.as_deref(),
            Channel::Sms => self.sms.as_deref(),
            Channel::Push => self.push.as_deref(),
        }
        .filter(|u| !u.is_empty())
    }
}

/// Attempts one claimed notification and records the outcome.
pub async fn deliver(
    db: &Db,
    ctx: &Context,
    providers: &Providers,
    n: &Notification,
) -> Result<Status, ApiError> {
    let channel = Channel::parse("channel", &n.channel)?;
    let Some(url) = providers.url(channel) else {
        // The provider was unset since: the notification is kept only.
        store::finish(db, &n.id, Status::Recorded, None, None, false, now_ms())?;
        return Ok(Status::Recorded);
    };
    let email = recipient_email(db, providers, &n.user_id)?;
    let attempt = if channel == Channel::Email && email.is_none() {
        // The address may still come (user.registered travels on another topic).
        Attempt::Failed("no email address is known for the user".into())
    } else {
        post(url, ctx, n, email.as_deref()).await
    };
    let (status, reason, next) = domain::after_attempt(&attempt, n.attempts, now_ms());
    store::finish(db, &n.id, status, reason.as_deref(), next, true, now_ms())?;
    Ok(status)
}

/// Delivers the notifications their creator is to deliver; a storage
/// error is logged (the lease runs out and the tick takes over), never
/// turned into the caller's failure.
pub async fn deliver_all(
    db: &Db,
    ctx: &Context,
    providers: &Providers,
    created: &[crate::compose::Created],
) {
    for c in created.iter().filter(|c| c.deliver_now) {
        if let Err(e) = deliver(db, ctx, providers, &c.notification).await {
            platform::redis_store::log_warning(
                "notification_delivery",
                &format!("{}: {e:#}", c.notification.id),
            );
        }
    }
}

fn recipient_email(
    db: &Db,
    providers: &Providers,
    user_id: &str,
) -> Result<Option<String>, ApiError> {
    if user_id == ADMINS {
        return Ok(Some(providers.admin_email.clone()).filter(|e| !e.is_empty()));
    }
    Ok(store::contact(db, user_id)?.map(|c| c.email))
}

async fn post(url: &str, ctx: &Context, n: &Notification, email: Option<&str>) -> Attempt {
    let body = json!({
        "id": n.id,
        "channel": n.channel,
        "template": n.template,
        "priority": n.priority,
        "to": { "user_id": n.user_id, "email": email },
        "subject": n.subject,
        "body": n.body,
        "event_id": n.event_id,
        "event_type": n.event_type,
        "created_at": rfc3339_from_ms(n.created_at_ms),
    });
    // One attempt: the tick retries on the notification's own schedule.
    let client = Client::new().timeout(TIMEOUT).retries(RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    });
    let exchange = Exchange::post_json(url, &body).idempotency_key(n.id.as_str());
    match client
        .send(ctx, exchange, |status, _| Ok(Attempt::from_status(status)))
        .await
    {
        Ok(answer) => answer.value,
        Err(CallError::Failed { last, .. }) => Attempt::Failed(reason(&last)),
        Err(CallError::Unavailable { .. }) => Attempt::Failed("provider unavailable".into()),
    }
}

fn reason(why: &str) -> String {
    let mut why = format!("provider {why}");
    if let Some((i, _)) = why.char_indices().nth(MAX_REASON) {
        why.truncate(i);
    }
    why
}

/// Tick work: retries due deliveries (failed ones whose backoff is over,
/// pending ones whose creator did not deliver them or whose quiet hours
/// ended), high priority first, a bounded batch per tick.
pub fn tick(ctx: &Context) -> LocalBoxFuture<'_, Result<Report, ApiError>> {
    Box::pin(async move {
        let db = ctx.db()?;
        let providers = Providers::from_variables();
        let now = now_ms();
        let due = store::claim_due(db, now, now + CLAIM_LEASE_MS, TICK_BATCH)?;
        let (mut sent, mut failed, mut recorded) = (0, 0, 0);
        for n in &due {
            match deliver(db, ctx, &providers, n).await? {
                Status::Sent => sent += 1,
                Status::Recorded => recorded += 1,
                _ => failed += 1,
            }
        }
        Ok(report(json!({
            "attempted": due.len(),
            "sent": sent,
            "failed": failed,
            "recorded": recorded,
        })))
    })
}
