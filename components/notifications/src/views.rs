//! What clients see of notifications: the types the handlers answer
//! with, which also give the OpenAPI document its schemas.

use platform::clock::rfc3339_from_ms;
use schemars::JsonSchema;
use serde::Serialize;

use crate::store::Notification;

/// A notification as clients see it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NotificationView {
    pub id: String,
    /// The user it is for (`admins` for the operators' alerts).
    pub user_id: String,
    /// `email`, `sms` or `push`.
    pub channel: String,
    /// The template it was rendered from (`custom` for an admin's own text).
    pub template: String,
    /// `high`, `normal` or `low`.
    pub priority: String,
    pub subject: Option<String>,
    pub body: String,
    /// `pending`, `sent`, `failed`, `recorded` (no provider) or `skipped`
    /// (the user's preferences).
    pub status: String,
    pub reason: Option<String>,
    pub attempts: i64,
    /// When a failed delivery is tried again (RFC 3339).
    pub next_attempt_at: Option<String>,
    /// The event it tells of, if any.
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub created_at: String,
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        Self {
            id: n.id.clone(),
            user_id: n.user_id.clone(),
            channel: n.channel.clone(),
            template: n.template.clone(),
            priority: n.priority.clone(),
            subject: n.subject.clone(),
            body: n.body.clone(),
            status: n.status.clone(),
            reason: n.reason.clone(),
            attempts: n.attempts,
            next_attempt_at: n.next_attempt_at_ms.map(rfc3339_from_ms),
            event_id: n.event_id.clone(),
            event_type: n.event_type.clone(),
            created_at: rfc3339_from_ms(n.created_at_ms),
        }
    }
}

/// The answer to an admin's send: one notification per channel.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Sent {
    pub notifications: Vec<NotificationView>,
}
