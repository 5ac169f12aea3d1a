//! The sandbox's rules, free of storage: its ids, the failure-injection
//! settings and how one call's fate is drawn, the rate limit's windows,
//! and (in [`items`]) what an item update, a sale and a search page may
//! ask for.

mod items;

pub use items::{
    ItemChange, ItemUpdate, Sale, SearchPage, DEFAULT_SEARCH_LIMIT, MAX_AVAILABLE_QUANTITY,
    MAX_PRICE_CENTS, MAX_SEARCH_LIMIT, MAX_SEARCH_OFFSET, MAX_TITLE_CHARS,
};

use platform::{validate, ApiError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Longest injected latency.
pub const MAX_LATENCY_MS: u32 = 10_000;
/// Highest rate limit an admin may set (calls per minute).
pub const MAX_RATE_LIMIT_PER_MINUTE: u32 = 1_000_000;
/// The rate limit's fixed window.
pub const RATE_WINDOW_MS: i64 = 60_000;

/// A MercadoLibre user id (a seller): a positive number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UserId(i64);

impl UserId {
    /// The id in a path or query: digits only, positive.
    pub fn parse(value: &str) -> Option<Self> {
        if value.is_empty() || value.len() > 18 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        value.parse().ok().and_then(Self::from_i64)
    }

    /// A stored or configured id.
    pub fn from_i64(value: i64) -> Option<Self> {
        (value > 0).then_some(Self(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A MercadoLibre item or category id: the site (`MLA`) and digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteId(String);

/// An item id (`MLA123`).
pub type ItemId = SiteId;
/// A category id (`MLA1051`).
pub type CategoryId = SiteId;

impl SiteId {
    /// Three capital letters and 1 to 19 digits; anything else is no id
    /// (and so found nowhere).
    pub fn parse(value: &str) -> Option<Self> {
        let (site, digits) = value.split_at_checked(3)?;
        let ok = site.bytes().all(|b| b.is_ascii_uppercase())
            && (1..=19).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Failure injection and the approving user: read on every call,
/// changed by an admin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
#[schemars(rename = "SandboxMlSettings")]
pub struct Control {
    /// Share of calls answered 500.
    pub failure_rate: f64,
    /// Delay before every resource and token answer.
    pub latency_ms: u32,
    /// Every resource and token call answered 503.
    pub outage: bool,
    /// Resource and token calls per minute (a fixed window shared by every
    /// instance); 0: no limit.
    pub rate_limit_per_minute: u32,
    /// The user the authorization endpoint approves as, unless a call
    /// names one with `user_id`.
    pub approve_user_id: i64,
    /// Every refresh is refused (`invalid_grant`), as when the user has
    /// revoked the application's access.
    pub revoke_refresh_tokens: bool,
}

/// The first seeded seller.
pub const FIRST_SELLER: i64 = 1001;

impl Default for Control {
    fn default() -> Self {
        Self {
            failure_rate: 0.0,
            latency_ms: 0,
            outage: false,
            rate_limit_per_minute: 0,
            approve_user_id: FIRST_SELLER,
            revoke_refresh_tokens: false,
        }
    }
}

/// The body of `PUT /sandbox/ml/control`: any subset of the settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SandboxMlControlChange")]
pub struct ControlPatch {
    #[serde(default)]
    pub failure_rate: Option<f64>,
    #[serde(default)]
    pub latency_ms: Option<u32>,
    #[serde(default)]
    pub outage: Option<bool>,
    #[serde(default)]
    pub rate_limit_per_minute: Option<u32>,
    #[serde(default)]
    pub approve_user_id: Option<i64>,
    #[serde(default)]
    pub revoke_refresh_tokens: Option<bool>,
}

impl ControlPatch {
    /// The settings after this change; 422 naming a value out of range or
    /// a user `is_user` does not know.
    pub fn apply(
        &self,
        current: Control,
        is_user: impl Fn(UserId) -> bool,
    ) -> Result<Control, ApiError> {
        let failure_rate = match self.failure_rate {
            None => current.failure_rate,
            Some(r) if r.is_finite() && (0.0..=1.0).contains(&r) => r,
            Some(_) => {
                return Err(ApiError::invalid(
                    "failure_rate",
                    "must be a number from 0 to 1",
                ))
            }
        };
        let approve_user_id = match self.approve_user_id {
            None => current.approve_user_id,
            Some(id) => match UserId::from_i64(id).filter(|u| is_user(*u)) {
                Some(user) => user.get(),
                None => {
                    return Err(ApiError::invalid(
                        "approve_user_id",
                        format!("no seeded user has the id {id}"),
                    ))
                }
            },
        };
        Ok(Control {
            failure_rate,
            latency_ms: match self.latency_ms {
                None => current.latency_ms,
                Some(l) => validate::range("latency_ms", l, 0, MAX_LATENCY_MS)?,
            },
            outage: self.outage.unwrap_or(current.outage),
            rate_limit_per_minute: match self.rate_limit_per_minute {
                None => current.rate_limit_per_minute,
                Some(n) => {
                    validate::range("rate_limit_per_minute", n, 0, MAX_RATE_LIMIT_PER_MINUTE)?
                }
            },
            approve_user_id,
            revoke_refresh_tokens: self
                .revoke_refresh_tokens
                .unwrap_or(current.revoke_refresh_tokens),
        })
    }
}

/// Whether a call that got past the outage and the rate limit fails:
/// `draw` is uniform in `[0, 1)`.
pub fn injected_failure(control: &Control, draw: f64) -> bool {
    draw < control.failure_rate
}

/// The rate limit's fixed window at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Which window (minutes since the epoch).
    pub index: i64,
    /// Seconds until the next window opens (at least 1).
    pub retry_after_secs: u64,
    /// How long the window's counter must live.
    pub ttl_ms: i64,
}

/// The window `now_ms` falls in.
pub fn window(now_ms: i64) -> Window {
    let index = now_ms.div_euclid(RATE_WINDOW_MS);
    let left_ms = (index + 1) * RATE_WINDOW_MS - now_ms;
    Window {
        index,
        retry_after_secs: u64::try_from(left_ms.div_euclid(1000) + i64::from(left_ms % 1000 != 0))
            .unwrap_or(1)
            .max(1),
        ttl_ms: left_ms + RATE_WINDOW_MS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_mercadolibre_writes_them() {
        assert_eq!(UserId::parse("1001").map(UserId::get), Some(1001));
        for bad in ["", "0", "-1", "1e3", "10 01", "12345678901234567890"] {
            assert_eq!(UserId::parse(bad), None, "{bad:?}");
        }
        assert!(SiteId::parse("MLA123").is_some());
        for bad in [
            "MLA",
            "mla123",
            "ML123",
            "MLA12a",
            "MLA-1",
            "MLÁ123",
            "MLA12345678901234567890",
        ] {
            assert!(SiteId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn control_changes_only_what_is_sent_and_checks_ranges_and_users() {
        let known = |u: UserId| u.get() == 1001 || u.get() == 1002;
        let c = ControlPatch {
            outage: Some(true),
            rate_limit_per_minute: Some(5),
            approve_user_id: Some(1002),
            revoke_refresh_tokens: Some(true),
            ..ControlPatch::default()
        }
        .apply(Control::default(), known)
        .expect("valid");
        assert!(c.revoke_refresh_tokens);
        assert_eq!(
            (
                c.outage,
                c.rate_limit_per_minute,
                c.approve_user_id,
                c.failure_rate
            ),
            (true, 5, 1002, 0.0)
        );
        for (patch, field) in [
            (
                ControlPatch {
                    failure_rate: Some(1.01),
                    ..ControlPatch::default()
                },
                "failure_rate",
            ),
            (
                ControlPatch {
                    failure_rate: Some(f64::NAN),
                    ..ControlPatch::default()
                },
                "failure_rate",
            ),
            (
                ControlPatch {
                    latency_ms: Some(MAX_LATENCY_MS + 1),
                    ..ControlPatch::default()
                },
                "latency_ms",
            ),
            (
                ControlPatch {
                    rate_limit_per_minute: Some(MAX_RATE_LIMIT_PER_MINUTE + 1),
                    ..ControlPatch::default()
                },
                "rate_limit_per_minute",
            ),
            (
                ControlPatch {
                    approve_user_id: Some(4242),
                    ..ControlPatch::default()
                },
                "approve_user_id",
            ),
            (
                ControlPatch {
                    approve_user_id: Some(-1),
                    ..ControlPatch::default()
                },
                "approve_user_id",
            ),
        ] {
            let err = patch.apply(c, known).expect_err(field);
            assert_eq!(err.status(), 422);
            assert_eq!(err.problem("r")["field"], field);
        }
    }

    #[test]
    fn failures_follow_the_rate() {
        let calm = Control::default();
        assert!(!injected_failure(&calm, 0.0));
        let flaky = Control {
            failure_rate: 0.3,
            ..calm
        };
        assert!(injected_failure(&flaky, 0.29));
        assert!(!injected_failure(&flaky, 0.3));
        let always = Control {
            failure_rate: 1.0,
            ..calm
        };
        assert!(injected_failure(&always, 0.999_999));
    }

    #[test]
    fn windows_are_whole_minutes() {
        let w = window(120_000);
        assert_eq!((w.index, w.retry_after_secs, w.ttl_ms), (2, 60, 120_000));
        let w = window(179_001);
        assert_eq!((w.index, w.retry_after_secs), (2, 1));
        let w = window(178_999);
        assert_eq!(w.retry_after_secs, 2);
        assert_eq!(window(179_999).index, window(120_000).index);
        assert_ne!(window(180_000).index, window(179_999).index);
    }
}
