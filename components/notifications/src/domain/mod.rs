//! Notification rules, free of storage and I/O: channels, priorities and
//! statuses, a user's preferences and quiet hours, what happens to a new
//! notification, and how failed deliveries are retried.

mod preferences;

use platform::validate;
use platform::ApiError;

pub use preferences::{Preferences, PreferencesUpdate, QuietHours};

/// The user id notifications for the admins go to when no admin's
/// contact is known (the `admin_email` variable is used as the address).
pub const ADMINS: &str = "admins";

/// Delivery attempts before a notification is given up.
pub const MAX_ATTEMPTS: i64 = 5;
/// Delay before the first retry; each further one doubles it.
pub const RETRY_BASE_MS: i64 = 30_000;
/// Longest delay between retries.
pub const RETRY_MAX_MS: i64 = 3_600_000;
/// How long a delivery in progress keeps others (the tick) off a
/// notification; if the deliverer dies, the tick takes over after it.
pub const CLAIM_LEASE_MS: i64 = 60_000;

/// A way of reaching a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Sms,
    Push,
}

impl Channel {
    pub fn parse(field: &str, value: &str) -> Result<Self, ApiError> {
        match value {
            "email" => Ok(Channel::Email),
            "sms" => Ok(Channel::Sms),
            "push" => Ok(Channel::Push),
            _ => Err(ApiError::invalid(field, "must be one of email, sms, push")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }

    /// The provider URL variable of the channel.
    pub fn provider_variable(self) -> &'static str {
        match self {
            Channel::Email => "notify_email_url",
            Channel::Sms => "notify_sms_url",
            Channel::Push => "notify_push_url",
        }
    }

    /// Whether it interrupts the user (quiet hours hold these back).
    fn interrupts(self) -> bool {
        matches!(self, Channel::Sms | Channel::Push)
    }
}

/// How urgent a notification is: high goes first on retries and is not
/// held back by quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    High,
    Normal,
    Low,
}

impl Priority {
    /// Reads a priority; absent (or empty, in an event) is normal.
    pub fn parse(field: &str, value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("") | Some("normal") => Ok(Priority::Normal),
            Some("high") => Ok(Priority::High),
            Some("low") => Ok(Priority::Low),
            Some(_) => Err(ApiError::invalid(field, "must be one of high, normal, low")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }

    /// Sort rank: lower goes first.
    pub fn rank(self) -> i64 {
        match self {
            Priority::High => 0,
            Priority::Normal => 1,
            Priority::Low => 2,
        }
    }
}

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No provider is configured for the channel: kept in history only.
    Recorded,
    /// The provider accepted it.
    Sent,
    /// Not delivered; retried at `next_attempt_at` unless given up.
    Failed,
    /// Waiting for its (first) delivery.
    Pending,
    /// Not sent because of the user's preferences.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Recorded => "recorded",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Pending => "pending",
            Status::Skipped => "skipped",
        }
    }
}

/// What happens to a new notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub status: Status,
    pub reason: Option<String>,
    /// When it is due for delivery (`None`: nothing more to do).
    pub next_attempt_at_ms: Option<i64>,
    /// Whoever records it delivers it right after the commit (it is
    /// claimed for [`CLAIM_LEASE_MS`] meanwhile).
    pub deliver_now: bool,
}

impl Decision {
    fn done(status: Status, reason: Option<&str>) -> Self {
        Self {
            status,
            reason: reason.map(str::to_string),
            next_attempt_at_ms: None,
            deliver_now: false,
        }
    }
}

/// Decides a new notification's fate: turned-off channels are skipped,
/// interrupting channels wait out quiet hours unless the priority is
/// high, channels without a provider are recorded only, and the rest are
/// delivered at once.
pub fn decide(
    channel: Channel,
    priority: Priority,
    prefs: &Preferences,
    provider_configured: bool,
    now_ms: i64,
) -> Decision {
    if !prefs.allows(channel) {
        return Decision::done(Status::Skipped, Some("preference"));
    }
    if channel.interrupts() && priority != Priority::High {
        if let Some(end) = prefs.quiet_hours.and_then(|q| q.ends_after(now_ms)) {
            return Decision {
                status: Status::Pending,
                reason: Some("quiet_hours".into()),
                next_attempt_at_ms: Some(end),
                deliver_now: false,
            };
        }
    }
    if !provider_configured {
        return Decision::done(Status::Recorded, None);
    }
    Decision {
        status: Status::Pending,
        reason: None,
        next_attempt_at_ms: Some(now_ms + CLAIM_LEASE_MS),
        deliver_now: true,
    }
}

/// How one delivery attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The provider answered 2xx.
    Delivered,
    /// The provider refused it for good (a 4xx other than 408 and 429).
    Refused(String),
    /// Worth trying again: unreachable, 5xx, 408, 429, no address yet.
    Failed(String),
}

impl Attempt {
    /// Classifies a provider's HTTP status.
    pub fn from_status(status: u16) -> Self {
        match status {
            200..=299 => Attempt::Delivered,
            408 | 429 => Attempt::Failed(format!("provider answered {status}")),
            400..=499 => Attempt::Refused(format!("provider refused it ({status})")),
            _ => Attempt::Failed(format!("provider answered {status}")),
        }
    }
}

/// The state after an attempt: status, reason and the next attempt's
/// time (exponential backoff; none once given up).
pub fn after_attempt(
    attempt: &Attempt,
    attempts_so_far: i64,
    now_ms: i64,
) -> (Status, Option<String>, Option<i64>) {
    let attempts = attempts_so_far + 1;
    match attempt {
        Attempt::Delivered => (Status::Sent, None, None),
        Attempt::Refused(why) => (Status::Failed, Some(why.clone()), None),
        Attempt::Failed(why) if attempts >= MAX_ATTEMPTS => (
            Status::Failed,
            Some(format!("{why}; gave up after {attempts} attempts")),
            None,
        ),
        Attempt::Failed(why) => (
            Status::Failed,
            Some(why.clone()),
            Some(now_ms + retry_delay_ms(attempts)),
        ),
    }
}

/// Delay after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, ...
/// up to an hour.
pub fn retry_delay_ms(attempts: i64) -> i64 {
    let doublings = u32::try_from((attempts - 1).clamp(0, 20)).unwrap_or(20);
    RETRY_BASE_MS
        .saturating_mul(1_i64 << doublings)
        .min(RETRY_MAX_MS)
}

/// Free text a client wrote (a subject, a body): `1..=max` characters,
/// line breaks and tabs allowed, other control characters not.
pub fn message_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    validate::length(field, v, 1, max)?;
    if v.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    use preferences::tests::{at, DAY};

    #[test]
    fn names_parse_and_print() {
        for c in ["email", "sms", "push"] {
            assert_eq!(Channel::parse("channel", c).expect(c).as_str(), c);
        }
        let e = Channel::parse("payload.channel", "fax").expect_err("fax");
        assert_eq!(e.problem("r")["field"], "payload.channel");
        assert_eq!(
            Priority::parse("priority", None).expect("default"),
            Priority::Normal
        );
        assert_eq!(
            Priority::parse("priority", Some("")).expect("empty"),
            Priority::Normal
        );
        assert_eq!(
            Priority::parse("priority", Some("high"))
                .expect("high")
                .rank(),
            0
        );
        assert!(Priority::parse("priority", Some("urgent")).is_err());
    }

    #[test]
    fn a_new_notification_is_skipped_held_recorded_or_delivered() {
        let now = at(23, 0);
        let mut prefs = Preferences::default();
        let d = decide(Channel::Email, Priority::Normal, &prefs, false, now);
        assert_eq!((d.status, d.deliver_now), (Status::Recorded, false));
        let d = decide(Channel::Email, Priority::Normal, &prefs, true, now);
        assert_eq!(d.status, Status::Pending);
        assert!(d.deliver_now);
        assert_eq!(d.next_attempt_at_ms, Some(now + CLAIM_LEASE_MS));
        let d = decide(Channel::Sms, Priority::High, &prefs, true, now);
        assert_eq!(
            (d.status, d.reason.as_deref()),
            (Status::Skipped, Some("preference"))
        );

        prefs.quiet_hours = Some(QuietHours::parse("22:00", "07:00").expect("valid"));
        let held = decide(Channel::Push, Priority::Normal, &prefs, true, now);
        assert_eq!(held.status, Status::Pending);
        assert_eq!(held.reason.as_deref(), Some("quiet_hours"));
        assert_eq!(held.next_attempt_at_ms, Some(at(7, 0) + DAY));
        assert!(!held.deliver_now);
        assert!(decide(Channel::Push, Priority::High, &prefs, true, now).deliver_now);
        assert!(decide(Channel::Email, Priority::Low, &prefs, true, now).deliver_now);
    }

    #[test]
    fn failed_deliveries_back_off_and_give_up() {
        assert_eq!(Attempt::from_status(202), Attempt::Delivered);
        assert!(matches!(Attempt::from_status(503), Attempt::Failed(_)));
        assert!(matches!(Attempt::from_status(429), Attempt::Failed(_)));
        assert!(matches!(Attempt::from_status(400), Attempt::Refused(_)));
        let now = 1_000_000;
        let fail = Attempt::Failed("unreachable".into());
        assert_eq!(
            after_attempt(&fail, 0, now),
            (
                Status::Failed,
                Some("unreachable".into()),
                Some(now + 30_000)
            )
        );
        assert_eq!(after_attempt(&fail, 2, now).2, Some(now + 120_000));
        let (status, reason, next) = after_attempt(&fail, MAX_ATTEMPTS - 1, now);
        assert_eq!((status, next), (Status::Failed, None));
        assert!(reason.expect("reason").contains("gave up"));
        assert_eq!(
            after_attempt(&Attempt::Delivered, 3, now),
            (Status::Sent, None, None)
        );
        assert_eq!(
            after_attempt(&Attempt::Refused("400".into()), 0, now).2,
            None
        );
        assert_eq!(retry_delay_ms(1), 30_000);
        assert_eq!(retry_delay_ms(100), RETRY_MAX_MS);
    }

    #[test]
    fn message_text_allows_lines_but_not_other_controls() {
        assert_eq!(
            message_text("body", " Hi\nthere ", 100).expect("ok"),
            "Hi\nthere"
        );
        assert!(message_text("body", "a\u{0}b", 100).is_err());
        assert!(message_text("body", "   ", 100).is_err());
        assert!(message_text("subject", &"x".repeat(201), 200).is_err());
    }
}
