//! Login throttling, through `platform::ratelimit`, in three buckets
//! taken in order:
//!
//! 1. `login_ip`, per client address: a burst of 20, then one every 2 s
//!    (several people may share an address behind NAT).
//! 2. `login_account_source`, per account *and* address: a burst of 5,
//!    then one every 10 s. This is the one a password guesser meets; it
//!    is keyed by source so that an attacker's failures lock out only the
//!    attacker, never the account's owner signing in from elsewhere.
//! 3. `login_account`, per account from every source: a ceiling of 50,
//!    then one every 10 s, against guessing spread over many addresses.
//!    Exhausting it takes at least ten addresses' worth of attempts.
//!
//! A bucket that refuses stops the ones after it from being charged.
//! Each group's limit is its own variable (`rate_limit_login_ip`, ...) or
//! the default above, never the general `rate_limit_default`.
//!
//! Unlike the general API limits, login fails **closed**: when Redis
//! cannot keep count, login answers 503 rather than allow unthrottled
//! password guessing. Nothing is lost by it: without Redis no token could
//! be checked against the revoked sessions either.

use platform::ratelimit::{self, Decision, RateLimit};
use platform::{ApiError, Context, Request};
use sha2::{Digest, Sha256};

/// Per client address.
pub const IP_GROUP: (&str, &str) = ("login_ip", "20/0.5");
/// Per account and client address.
pub const ACCOUNT_SOURCE_GROUP: (&str, &str) = ("login_account_source", "5/0.1");
/// Per account, from everywhere.
pub const ACCOUNT_GROUP: (&str, &str) = ("login_account", "50/0.1");

/// The account's bucket key: a hash of the normalised email, so Redis holds
/// no addresses.
fn account_identity(email: &str) -> String {
    let digest = Sha256::digest(email.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("account:{hex}")
}

/// The bucket key of an account tried from one address.
fn account_source_identity(email: &str, source: &str) -> String {
    format!("{}:{source}", account_identity(email))
}

/// Takes one login attempt from the address's, the account-and-address's
/// and the account's buckets: 429 when one refuses, 503 when Redis cannot
/// count. The reported bucket (its `X-RateLimit-*` headers go on the
/// answer, whatever it is) is the refusing one, or the account-and-address
/// one when all allow.
pub fn login_attempt(req: &Request, ctx: &Context, email: &str) -> Result<(), ApiError> {
    let decision = decide(ctx.redis_if_up(), req, email);
    if !decision.enforced {
        return Err(ApiError::Unavailable(
            "login is unavailable while its attempt counters cannot be kept; retry shortly".into(),
        ));
    }
    decision.enforce(ctx)
}

fn decide(redis: Option<&platform::redis_store::Redis>, req: &Request, email: &str) -> Decision {
    let source = ratelimit::identity_of(None, req);
    let limit = |(group, default): (&str, &str)| RateLimit::own(group, default);
    let by_ip = ratelimit::check(redis, &source, IP_GROUP.0, &limit(IP_GROUP));
    if !by_ip.allowed || !by_ip.enforced {
        return by_ip;
    }
    let by_source = ratelimit::check(
        redis,
        &account_source_identity(email, &source),
        ACCOUNT_SOURCE_GROUP.0,
        &limit(ACCOUNT_SOURCE_GROUP),
    );
    if !by_source.allowed || !by_source.enforced {
        return by_source;
    }
    let by_account = ratelimit::check(
        redis,
        &account_identity(email),
        ACCOUNT_GROUP.0,
        &limit(ACCOUNT_GROUP),
    );
    if !by_account.allowed || !by_account.enforced {
        return by_account;
    }
    by_source
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_groups_default_to_their_own_small_limits() {
        fn own((group, default): (&str, &str), read: impl Fn(&str) -> Option<String>) -> RateLimit {
            RateLimit::resolve_own(group, default, read)
        }
        let none = |_: &str| None;
        assert_eq!(
            own(ACCOUNT_SOURCE_GROUP, none),
            RateLimit {
                capacity: 5,
                refill_per_sec: 0.1
            }
        );
        assert_eq!(own(IP_GROUP, none).capacity, 20);
        assert_eq!(own(ACCOUNT_GROUP, none).capacity, 50);
        // The general default is never used for login.
        let only_default = |name: &str| (name == "rate_limit_default").then(|| "100/50".into());
        assert_eq!(own(ACCOUNT_SOURCE_GROUP, only_default).capacity, 5);
    }

    #[test]
    fn account_keys_hide_the_address_and_separate_sources() {
        let k = account_identity("ann@example.com");
        assert!(k.starts_with("account:") && !k.contains("ann"));
        assert_eq!(k, account_identity("ann@example.com"));
        assert_ne!(k, account_identity("bob@example.com"));
        assert_ne!(
            account_source_identity("ann@example.com", "ip:10.0.0.1"),
            account_source_identity("ann@example.com", "ip:10.0.0.2"),
            "an attacker's address and the owner's are different buckets"
        );
    }
}
