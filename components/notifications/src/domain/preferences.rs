//! A user's preferences: which channels may reach them, and quiet hours
//! during which interrupting channels wait.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::json;

use super::Channel;
use platform::ApiError;

const MS_PER_DAY: i64 = 86_400_000;
const MS_PER_MINUTE: i64 = 60_000;

/// A window of the day, in UTC, during which interrupting channels wait.
/// It may wrap midnight (`22:00` to `07:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// Minutes after midnight UTC.
    pub start: u16,
    pub end: u16,
}

impl QuietHours {
    pub fn parse(start: &str, end: &str) -> Result<Self, ApiError> {
        let start = minute_of_day("quiet_hours.start", start)?;
        let end = minute_of_day("quiet_hours.end", end)?;
        if start == end {
            return Err(ApiError::invalid(
                "quiet_hours.end",
                "must differ from quiet_hours.start",
            ));
        }
        Ok(Self { start, end })
    }

    /// If `now_ms` falls inside the window, when the window ends.
    pub fn ends_after(&self, now_ms: i64) -> Option<i64> {
        let day_start = now_ms - now_ms.rem_euclid(MS_PER_DAY);
        let minute = now_ms.rem_euclid(MS_PER_DAY) / MS_PER_MINUTE;
        let (start, end) = (i64::from(self.start), i64::from(self.end));
        let end_today = day_start + end * MS_PER_MINUTE;
        if start < end {
            (start..end).contains(&minute).then_some(end_today)
        } else if minute >= start {
            Some(end_today + MS_PER_DAY)
        } else if minute < end {
            Some(end_today)
        } else {
            None
        }
    }

    pub fn to_json(self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// As clients see it: `{"start": "22:00", "end": "07:00"}`.
impl Serialize for QuietHours {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        let mut window = s.serialize_struct("QuietHours", 2)?;
        window.serialize_field("start", &hm(self.start))?;
        window.serialize_field("end", &hm(self.end))?;
        window.end()
    }
}

impl JsonSchema for QuietHours {
    fn schema_name() -> Cow<'static, str> {
        "QuietHours".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let time = json!({ "type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$" });
        json_schema!({
            "description": "A window of the day (HH:MM, UTC; it may wrap midnight) during \
                which interrupting channels wait.",
            "type": "object",
            "properties": { "start": time, "end": time },
            "required": ["start", "end"],
        })
    }
}

fn minute_of_day(field: &str, value: &str) -> Result<u16, ApiError> {
    let bad = || ApiError::invalid(field, "must be a time of day HH:MM (UTC), 00:00 to 23:59");
    let (h, m) = value.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// A user's choices: which channels may reach them, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Preferences {
    pub email: bool,
    pub sms: bool,
    pub push: bool,
    pub quiet_hours: Option<QuietHours>,
}

impl Default for Preferences {
    /// Email and push on, SMS opt-in, no quiet hours.
    fn default() -> Self {
        Self {
            email: true,
            sms: false,
            push: true,
            quiet_hours: None,
        }
    }
}

impl Preferences {
    pub fn allows(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email,
            Channel::Sms => self.sms,
            Channel::Push => self.push,
        }
    }

    /// The channels of a transactional notification (orders, payments):
    /// email and push (recorded as skipped when turned off), and SMS for
    /// users who opted in to it.
    pub fn transactional_channels(&self) -> Vec<Channel> {
        let mut channels = vec![Channel::Email, Channel::Push];
        if self.sms {
            channels.push(Channel::Sms);
        }
        channels
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The body of `PUT /api/notifications/preferences`: the fields given
/// change, the others keep their value; `"quiet_hours": null` clears the
/// window.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesUpdate {
    #[serde(default)]
    pub email: Option<bool>,
    #[serde(default)]
    pub sms: Option<bool>,
    #[serde(default)]
    pub push: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub quiet_hours: Option<Option<QuietHoursBody>>,
}

/// A quiet-hours window: times of day HH:MM, UTC.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursBody {
    pub start: String,
    pub end: String,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl PreferencesUpdate {
    pub fn apply(self, current: Preferences) -> Result<Preferences, ApiError> {
        Ok(Preferences {
            email: self.email.unwrap_or(current.email),
            sms: self.sms.unwrap_or(current.sms),
            push: self.push.unwrap_or(current.push),
            quiet_hours: match self.quiet_hours {
                None => current.quiet_hours,
                Some(None) => None,
                Some(Some(q)) => Some(QuietHours::parse(&q.start, &q.end)?),
            },
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub const DAY: i64 = MS_PER_DAY;
    const H: i64 = 3_600_000;

    /// `hour:minute` UTC on some day in 2026.
    pub fn at(hour: i64, minute: i64) -> i64 {
        1_795_305_600_000 + hour * H + minute * MS_PER_MINUTE
    }

    #[test]
    fn quiet_hours_hold_interrupting_channels_until_they_end() {
        let night = QuietHours::parse("22:00", "07:00").expect("valid");
        assert_eq!(night.ends_after(at(23, 30)), Some(at(7, 0) + DAY));
        assert_eq!(night.ends_after(at(3, 0)), Some(at(7, 0)));
        assert_eq!(night.ends_after(at(7, 0)), None);
        assert_eq!(night.ends_after(at(12, 0)), None);
        let lunch = QuietHours::parse("12:00", "13:30").expect("valid");
        assert_eq!(lunch.ends_after(at(12, 59)), Some(at(13, 30)));
        assert_eq!(lunch.ends_after(at(13, 30)), None);
        assert_eq!(lunch.to_json(), json!({"start": "12:00", "end": "13:30"}));
        for (s, e, field) in [
            ("24:00", "07:00", "quiet_hours.start"),
            ("7:00", "08:00", "quiet_hours.start"),
            ("22:00", "07:60", "quiet_hours.end"),
            ("22:00", "22:00", "quiet_hours.end"),
            ("22:00", "x", "quiet_hours.end"),
        ] {
            let err = QuietHours::parse(s, e).expect_err(s);
            assert_eq!(err.problem("r")["field"], field, "{s}-{e}");
        }
    }

    #[test]
    fn preference_updates_change_only_what_they_name() {
        let update: PreferencesUpdate = serde_json::from_str(
            r#"{"sms": true, "quiet_hours": {"start": "22:00", "end": "06:30"}}"#,
        )
        .expect("json");
        let p = update.apply(Preferences::default()).expect("valid");
        assert_eq!((p.email, p.sms, p.push), (true, true, true));
        assert_eq!(p.quiet_hours.map(|q| (q.start, q.end)), Some((1320, 390)));
        let keep: PreferencesUpdate = serde_json::from_str(r#"{"email": false}"#).expect("json");
        let p = keep.apply(p).expect("valid");
        assert!(!p.email && p.quiet_hours.is_some());
        let clear: PreferencesUpdate =
            serde_json::from_str(r#"{"quiet_hours": null}"#).expect("json");
        assert_eq!(clear.apply(p).expect("valid").quiet_hours, None);
        assert!(serde_json::from_str::<PreferencesUpdate>(r#"{"fax": true}"#).is_err());
        assert!(serde_json::from_str::<PreferencesUpdate>(r#"{"email": "yes"}"#).is_err());
        assert_eq!(
            Preferences::default().to_json(),
            json!({"email": true, "sms": false, "push": true, "quiet_hours": null})
        );
        assert_eq!(
            Preferences::default().transactional_channels(),
            vec![Channel::Email, Channel::Push]
        );
    }
}
