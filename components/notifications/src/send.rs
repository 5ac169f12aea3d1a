//! The admin's message (`POST /api/notifications/send`): a template with
//! data, or a free-text subject and body, for one channel or the user's
//! transactional ones.

use platform::db::Db;
use platform::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::compose::{self, Draft};
use crate::domain::{self, Channel, Priority, ADMINS};
use crate::store;
use crate::templates::{self, Rendered};

/// The template name of an admin's free-text message.
pub const CUSTOM: &str = "custom";
/// Largest `data` object, serialised.
const MAX_DATA_BYTES: usize = 16 * 1024;
/// Longest texts an admin may write.
const MAX_SUBJECT: usize = 200;
const MAX_BODY: usize = 4_000;
const MAX_SMS: usize = 480;

/// The body of `POST /api/notifications/send`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub user_id: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub data: Option<Value>,
}

/// What an admin's message says.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Template {
        name: String,
        data: Value,
    },
    Custom {
        subject: Option<String>,
        body: String,
    },
}

/// A validated send request.
#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    pub user_id: String,
    /// `None`: the transactional channels (email and push, SMS if the
    /// user opted in).
    pub channel: Option<Channel>,
    pub priority: Priority,
    pub content: Content,
}

impl SendRequest {
    /// Checks every field; each failure is a 422 naming it.
    pub fn validate(self) -> Result<Send, ApiError> {
        let user_id = if self.user_id == ADMINS {
            self.user_id
        } else {
            platform::Id::parse("user_id", &self.user_id)?.into_string()
        };
        let channel = match &self.channel {
            Some(c) => Some(Channel::parse("channel", c)?),
            None => None,
        };
        let priority = Priority::parse("priority", self.priority.as_deref())?;
        let content = match self.template {
            Some(name) => {
                for (field, given) in [("subject", &self.subject), ("body", &self.body)] {
                    if given.is_some() {
                        return Err(ApiError::invalid(
                            field,
                            "give either a template (with data) or a subject and a body",
                        ));
                    }
                }
                if !templates::is_known(&name) {
                    return Err(ApiError::invalid(
                        "template",
                        format!("must be one of {}", templates::names().join(", ")),
                    ));
                }
                let data = self.data.unwrap_or_else(|| json!({}));
                if !data.is_object() {
                    return Err(ApiError::invalid("data", "must be a JSON object"));
                }
                if data.to_string().len() > MAX_DATA_BYTES {
                    return Err(ApiError::invalid(
                        "data",
                        format!("must be at most {MAX_DATA_BYTES} bytes as JSON"),
                    ));
                }
                Content::Template { name, data }
            }
            None => {
                if self.data.is_some() {
                    return Err(ApiError::invalid("data", "is only used with a template"));
                }
                let Some(body) = self.body else {
                    return Err(ApiError::invalid(
                        "body",
                        "give a template, or a body (and a subject for email and push)",
                    ));
                };
                let sms_only = channel == Some(Channel::Sms);
                let body =
                    domain::message_text("body", &body, if sms_only { MAX_SMS } else { MAX_BODY })?;
                let subject = match (self.subject, sms_only) {
                    // SMS has no subject line.
                    (_, true) => None,
                    (Some(s), false) => Some(domain::message_text("subject", &s, MAX_SUBJECT)?),
                    (None, false) => {
                        return Err(ApiError::invalid(
                            "subject",
                            "is required for email and push",
                        ))
                    }
                };
                Content::Custom { subject, body }
            }
        };
        Ok(Send {
            user_id,
            channel,
            priority,
            content,
        })
    }
}

impl Send {
    /// The drafts, one per channel; data a template needs but lacks is a
    /// 422 naming `data`.
    pub fn drafts(&self, db: &Db) -> Result<Vec<Draft>, ApiError> {
        let channels = match self.channel {
            Some(c) => vec![c],
            None if self.user_id == ADMINS => vec![Channel::Email],
            None => store::preferences(db, &self.user_id)?.transactional_channels(),
        };
        match &self.content {
            Content::Template { name, data } => {
                let data = compose::with_name(db, &self.user_id, data.clone())?;
                let drafts =
                    compose::from_template(&self.user_id, &channels, name, self.priority, &data);
                if let Some(Err(reason)) = drafts.iter().map(|d| &d.content).find(|c| c.is_err()) {
                    return Err(ApiError::invalid("data", reason.clone()));
                }
                Ok(drafts)
            }
            Content::Custom { subject, body } => Ok(channels
                .into_iter()
                .map(|channel| Draft {
                    user_id: self.user_id.clone(),
                    channel,
                    template: CUSTOM.to_string(),
                    priority: self.priority,
                    content: Ok(Rendered {
                        subject: if channel == Channel::Sms {
                            None
                        } else {
                            subject.clone()
                        },
                        body: body.clone(),
                    }),
                })
                .collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<Send, ApiError> {
        serde_json::from_value::<SendRequest>(v)
            .map_err(|e| ApiError::bad_field("body", e.to_string()))?
            .validate()
    }

    fn field(v: Value) -> String {
        let e = parse(v.clone()).expect_err("invalid");
        assert_eq!(e.status(), 422, "{v}");
        e.problem("r")["field"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn a_template_send_is_validated() {
        let s = parse(
            json!({"user_id": "u1", "channel": "sms", "template": "welcome",
                             "priority": "high", "data": {"name": "Ann"}}),
        )
        .expect("valid");
        assert_eq!(s.channel, Some(Channel::Sms));
        assert_eq!(s.priority, Priority::High);
        assert_eq!(
            s.content,
            Content::Template {
                name: "welcome".into(),
                data: json!({"name": "Ann"})
            }
        );
        assert_eq!(
            parse(json!({"user_id": "admins", "template": "low_stock"}))
                .expect("admins")
                .priority,
            Priority::Normal
        );
        assert_eq!(
            field(json!({"user_id": "u 1", "template": "welcome"})),
            "user_id"
        );
        assert_eq!(
            field(json!({"user_id": "u1", "template": "nope"})),
            "template"
        );
        assert_eq!(
            field(json!({"user_id": "u1", "template": "welcome", "channel": "fax"})),
            "channel"
        );
        assert_eq!(
            field(json!({"user_id": "u1", "template": "welcome", "priority": "urgent"})),
            "priority"
        );
        assert_eq!(
            field(json!({"user_id": "u1", "template": "welcome", "data": [1]})),
            "data"
        );
        assert_eq!(
            field(json!({"user_id": "u1", "template": "welcome", "body": "hi"})),
            "body"
        );
        assert_eq!(
            field(json!({"user_id": "u1", "template": "welcome",
                         "data": {"name": "x".repeat(MAX_DATA_BYTES)}})),
            "data"
        );
    }

    #[test]
    fn a_free_text_send_needs_a_body_and_a_subject_outside_sms() {
        let s = parse(
            json!({"user_id": "u1", "channel": "email", "subject": " Hello ",
                             "body": "Line one\nline two"}),
        )
        .expect("valid");
        assert_eq!(
            s.content,
            Content::Custom {
                subject: Some("Hello".into()),
                body: "Line one\nline two".into()
            }
        );
        let sms =
            parse(json!({"user_id": "u1", "channel": "sms", "subject": "ignored", "body": "Hi"}))
                .expect("valid");
        assert_eq!(
            sms.content,
            Content::Custom {
                subject: None,
                body: "Hi".into()
            }
        );
        assert_eq!(field(json!({"user_id": "u1", "channel": "email"})), "body");
        assert_eq!(
            field(json!({"user_id": "u1", "channel": "push", "body": "Hi"})),
            "subject"
        );
        assert_eq!(
            field(json!({"user_id": "u1", "channel": "sms", "body": "x".repeat(481)})),
            "body"
        );
        assert_eq!(
            field(json!({"user_id": "u1", "subject": "s", "body": "b", "data": {}})),
            "data"
        );
        assert!(
            serde_json::from_value::<SendRequest>(json!({"user_id": "u1", "to": "x"})).is_err()
        );
    }
}
