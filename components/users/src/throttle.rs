//! Login throttling: one token bucket per account (`login_account`) and one
//! per client address (`login_ip`), through `platform::ratelimit`.
//!
//! `RateLimit::for_group` falls back to `rate_limit_default` (a general
//! API limit, 100/50 locally), far too generous for password guessing, so
//! the login groups have their own defaults here and only a variable named
//! for the group (`rate_limit_login_account`, `rate_limit_login_ip`)
//! overrides them.

use platform::ratelimit::{self, Decision, RateLimit};
use platform::{ApiError, Context, Request};
use sha2::{Digest, Sha256};

/// A burst of 5 attempts per account, then one every 10 s.
pub const ACCOUNT_GROUP: (&str, &str) = ("login_account", "5/0.1");
/// A burst of 20 attempts per client address (several people may share
/// one, behind NAT), then one every 2 s.
pub const IP_GROUP: (&str, &str) = ("login_ip", "20/0.5");

/// The limit of a login group: its own variable if set and valid, else the
/// built-in default (never `rate_limit_default`).
pub fn login_limit(
    (group, default): (&str, &str),
    read: impl Fn(&str) -> Option<String>,
) -> RateLimit {
    read(&format!("rate_limit_{group}"))
        .and_then(|spec| RateLimit::parse(&spec).ok())
        .or_else(|| RateLimit::parse(default).ok())
        .unwrap_or_default()
}

fn variable(name: &str) -> Option<String> {
    spin_sdk::variables::get(name).ok()
}

/// The account's bucket key: a hash of the normalised email, so Redis holds
/// no addresses.
fn account_identity(email: &str) -> String {
    let digest = Sha256::digest(email.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("account:{hex}")
}

/// Takes one login attempt from the client's and the account's buckets:
/// 429 when either refuses. The reported bucket (its `X-RateLimit-*`
/// headers go on the answer, whatever it is) is the refusing one, or the
/// account's when both allow. The account bucket is not touched when the
/// address is already refused, so a flood from one address cannot lock an
/// account out on its own. Fails open without Redis (see
/// `platform::ratelimit`).
pub fn login_attempt(req: &Request, ctx: &Context, email: &str) -> Result<(), ApiError> {
    decide(req, ctx, email).enforce(ctx)
}

fn decide(req: &Request, ctx: &Context, email: &str) -> Decision {
    let redis = ctx.redis_if_up();
    let by_ip = ratelimit::check(
        redis,
        &ratelimit::identity_of(None, req),
        IP_GROUP.0,
        &login_limit(IP_GROUP, variable),
    );
    if !by_ip.allowed {
        return by_ip;
    }
    ratelimit::check(
        redis,
        &account_identity(email),
        ACCOUNT_GROUP.0,
        &login_limit(ACCOUNT_GROUP, variable),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_groups_default_to_their_own_small_limits() {
        let none = |_: &str| None;
        assert_eq!(
            login_limit(ACCOUNT_GROUP, none),
            RateLimit {
                capacity: 5,
                refill_per_sec: 0.1
            }
        );
        assert_eq!(login_limit(IP_GROUP, none).capacity, 20);
        // The general default is never used for login.
        let only_default = |name: &str| (name == "rate_limit_default").then(|| "100/50".into());
        assert_eq!(login_limit(ACCOUNT_GROUP, only_default).capacity, 5);
        // A group variable overrides; a broken one is ignored.
        let set = |name: &str| (name == "rate_limit_login_account").then(|| "3/1".into());
        assert_eq!(login_limit(ACCOUNT_GROUP, set).capacity, 3);
        let broken = |name: &str| (name == "rate_limit_login_account").then(|| "lots".into());
        assert_eq!(login_limit(ACCOUNT_GROUP, broken).capacity, 5);
    }

    #[test]
    fn account_keys_hide_the_address() {
        let k = account_identity("ann@example.com");
        assert!(k.starts_with("account:") && !k.contains("ann"));
        assert_eq!(k, account_identity("ann@example.com"));
        assert_ne!(k, account_identity("bob@example.com"));
    }
}
