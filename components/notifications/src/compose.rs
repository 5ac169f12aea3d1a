//! Turning "tell this user this" into stored notifications: one per
//! channel, rendered, with the user's preferences applied. Events and the
//! admin's send both come through here.

use platform::db::Db;
use platform::ApiError;
use platform::Id;
use serde_json::{json, Value};

use crate::delivery::Providers;
use crate::domain::{self, Channel, Decision, Priority, Status, ADMINS};
use crate::store::{self, NewNotification, Notification};
use crate::templates::{self, Rendered};

/// One notification to create.
#[derive(Debug, Clone)]
pub struct Draft {
    pub user_id: String,
    pub channel: Channel,
    pub template: String,
    pub priority: Priority,
    /// The rendered texts, or why they could not be rendered (the
    /// notification is then stored as failed with that reason).
    pub content: Result<Rendered, String>,
}

/// Drafts of `template` for each channel, rendered from `data`.
pub fn from_template(
    user_id: &str,
    channels: &[Channel],
    template: &str,
    priority: Priority,
    data: &Value,
) -> Vec<Draft> {
    channels
        .iter()
        .map(|&channel| Draft {
            user_id: user_id.to_string(),
            channel,
            template: template.to_string(),
            priority,
            content: templates::render(template, channel, data),
        })
        .collect()
}

/// `data` with the user's name added unless it has one: templates greet
/// by name.
pub fn with_name(db: &Db, user_id: &str, mut data: Value) -> Result<Value, ApiError> {
    if let Some(map) = data.as_object_mut() {
        if !map.contains_key("name") {
            let name = store::contact(db, user_id)?.map_or_else(|| "there".to_string(), |c| c.name);
            map.insert("name".into(), json!(name));
        }
    }
    Ok(data)
}

/// A stored notification, and whether its creator delivers it now.
#[derive(Debug, Clone)]
pub struct Created {
    pub notification: Notification,
    pub deliver_now: bool,
}

/// Stores the drafts, deciding each one's fate. Call inside the
/// transaction of whatever caused them.
pub fn record(
    db: &Db,
    drafts: Vec<Draft>,
    event: Option<(&str, &str)>,
    providers: &Providers,
    now_ms: i64,
) -> Result<Vec<Created>, ApiError> {
    let mut created = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let (subject, body, decision) = match &draft.content {
            Ok(r) => {
                // The audience `admins` has no preferences of its own.
                let prefs = if draft.user_id == ADMINS {
                    domain::Preferences::default()
                } else {
                    store::preferences(db, &draft.user_id)?
                };
                let decision = domain::decide(
                    draft.channel,
                    draft.priority,
                    &prefs,
                    providers.url(draft.channel).is_some(),
                    now_ms,
                );
                (r.subject.clone(), r.body.clone(), decision)
            }
            Err(reason) => (
                None,
                String::new(),
                Decision {
                    status: Status::Failed,
                    reason: Some(reason.clone()),
                    next_attempt_at_ms: None,
                    deliver_now: false,
                },
            ),
        };
        let id = Id::generate().into_string();
        store::insert(
            db,
            &NewNotification {
                id: id.clone(),
                user_id: &draft.user_id,
                channel: draft.channel,
                template: &draft.template,
                priority: draft.priority,
                subject: subject.as_deref(),
                body: &body,
                event,
                decision: &decision,
                created_at_ms: now_ms,
            },
        )?;
        created.push(Created {
            notification: Notification {
                id,
                user_id: draft.user_id,
                channel: draft.channel.as_str().to_string(),
                template: draft.template,
                priority: draft.priority.as_str().to_string(),
                subject,
                body,
                status: decision.status.as_str().to_string(),
                reason: decision.reason.clone(),
                attempts: 0,
                next_attempt_at_ms: decision.next_attempt_at_ms,
                event_id: event.map(|(id, _)| id.to_string()),
                event_type: event.map(|(_, t)| t.to_string()),
                created_at_ms: now_ms,
            },
            deliver_now: decision.deliver_now,
        });
    }
    Ok(created)
}
