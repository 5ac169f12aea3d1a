//! Account rules, free of storage and host: what a registration may
//! contain, the password policy, who becomes admin, what the profile looks
//! like, and what presenting a refresh token leads to.

use base64::Engine as _;
use platform::auth::Role;
use platform::validate;
use platform::ApiError;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Shortest accepted password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest accepted password, in characters.
pub const PASSWORD_MAX_CHARS: usize = 128;
/// Longest display name, in characters.
pub const NAME_MAX_CHARS: usize = 100;
/// Access token lifetime: 15 minutes.
pub const ACCESS_TTL_SECS: u64 = 15 * 60;
/// Refresh token lifetime: 30 days from its issue (each rotation starts a
/// new 30 days).
pub const REFRESH_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// Bytes of randomness in a refresh token.
pub const REFRESH_TOKEN_BYTES: usize = 32;
/// Longest string accepted where a refresh token is expected (ours are 43).
pub const REFRESH_TOKEN_MAX_CHARS: usize = 128;

/// The body of `POST /api/auth/register`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub name: String,
}

/// A registration that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// Normalised: trimmed, lower-case.
    pub email: String,
    pub name: String,
    pub password: String,
}

impl RegisterRequest {
    pub fn validate(self) -> Result<NewAccount, ApiError> {
        let email = validate::email("email", &self.email)?;
        let name = display_name(&self.name)?;
        password_policy(&self.password, &email)?;
        Ok(NewAccount {
            email,
            name,
            password: self.password,
        })
    }
}

/// The body of `POST /api/auth/login`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// Login credentials, shape-checked (whether they are right is the store's
/// and argon2's business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

impl LoginRequest {
    /// Only the shape is checked, never the policy: a policy that changes
    /// later must not lock out accounts made under the old one.
    pub fn validate(self) -> Result<Credentials, ApiError> {
        let email = validate::email("email", &self.email)?;
        validate::length("password", &self.password, 1, PASSWORD_MAX_CHARS)?;
        Ok(Credentials {
            email,
            password: self.password,
        })
    }
}

/// The body of `POST /api/auth/refresh`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// The (optional) body of `POST /api/auth/logout`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// The body of `PUT /api/users/me`: only the name can be changed here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    pub name: String,
}

impl ProfileUpdate {
    pub fn validate(self) -> Result<String, ApiError> {
        display_name(&self.name)
    }
}

/// A display name: trimmed, 1 to [`NAME_MAX_CHARS`] characters, no control
/// characters.
pub fn display_name(name: &str) -> Result<String, ApiError> {
    validate::required_text("name", name, NAME_MAX_CHARS)
}

/// The password policy, checked at registration:
///
/// - **10 to 128 characters.** Length is what makes a password hard to
///   guess (NIST SP 800-63B asks for at least 8 and for long passphrases to
///   be allowed); 10 adds a margin. 128 is far beyond any passphrase and
///   keeps the argon2 input, and so an attacker's leverage, bounded.
/// - **Not all of one class.** Classes are lower-case letters, upper-case
///   letters, digits, and everything else (symbols, spaces, uncased
///   scripts). `aaaaaaaaaaaa` or `1234567890` fall to the first guesses of
///   any cracking dictionary; two classes are required, not four, because
///   composition rules beyond that push people to predictable patterns
///   (`Password1!`) rather than to length.
/// - **No control characters**, which cannot be typed reliably, and **not
///   the email address itself**.
pub fn password_policy(password: &str, email: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
        return Err(ApiError::invalid(
            "password",
            format!(
                "must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters long (got {chars})"
            ),
        ));
    }
    if password.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "password",
            "must not contain control characters",
        ));
    }
    let class = |c: char| {
        if c.is_lowercase() {
            0
        } else if c.is_uppercase() {
            1
        } else if c.is_numeric() {
            2
        } else {
            3
        }
    };
    let mut classes = password.chars().map(class);
    let first = classes.next();
    if classes.all(|c| Some(c) == first) {
        return Err(ApiError::invalid(
            "password",
            "must mix at least two kinds of characters (lower-case, upper-case, digits, symbols)",
        ));
    }
    if password.trim().to_lowercase() == email {
        return Err(ApiError::invalid(
            "password",
            "must not be the email address",
        ));
    }
    Ok(())
}

/// The role an account gets when it registers: admin for the configured
/// admin address, customer for everyone else.
pub fn role_for(email: &str, admin_email: Option<&str>) -> Role {
    let is_admin = admin_email
        .map(|a| a.trim().to_lowercase())
        .is_some_and(|a| !a.is_empty() && a == email);
    if is_admin {
        Role::Admin
    } else {
        Role::Customer
    }
}

/// A stored role, as the database spells it.
pub fn parse_role(s: &str) -> Option<Role> {
    match s {
        "admin" => Some(Role::Admin),
        "customer" => Some(Role::Customer),
        _ => None,
    }
}

/// A new refresh token: [`REFRESH_TOKEN_BYTES`] random bytes, base64url.
pub fn new_refresh_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; REFRESH_TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored of a refresh token: its SHA-256, hex. The token carries
/// 256 random bits, so a fast hash is enough (no salt or argon2 needed);
/// a leaked table cannot be replayed.
pub fn refresh_token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A presented refresh token's shape: 422 naming the field when it cannot
/// be one of ours at all (the store then says whether it is known).
pub fn presented_refresh_token(token: &str) -> Result<&str, ApiError> {
    validate::length("refresh_token", token, 1, REFRESH_TOKEN_MAX_CHARS)?;
    Ok(token)
}

/// Where a stored refresh token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshStatus {
    /// Issued and not yet exchanged.
    Active,
    /// Exchanged once for a successor.
    Used,
    /// Its family was revoked (logout, or reuse detected).
    Revoked,
}

impl RefreshStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Used => "used",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "used" => Some(Self::Used),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// What a stored refresh token looks like to the rotation rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshState {
    pub status: RefreshStatus,
    pub expires_at_ms: i64,
}

/// What to do with a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Mark it used and issue its successor in the same family.
    Rotate,
    /// It was already exchanged: someone holds a copy. Revoke the whole
    /// family (the thief's and the owner's tokens alike) and refuse.
    RevokeFamily,
    /// Refuse and change nothing.
    Reject(RejectReason),
}

/// Why a refresh token was refused without further effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    Unknown,
    Expired,
    Revoked,
}

/// The rotation rule. A used token is reuse whether or not it has expired
/// since: either way a copy is out there.
pub fn refresh_decision(state: Option<RefreshState>, now_ms: i64) -> RefreshDecision {
    match state {
        None => RefreshDecision::Reject(RejectReason::Unknown),
        Some(s) => match s.status {
            RefreshStatus::Used => RefreshDecision::RevokeFamily,
            RefreshStatus::Revoked => RefreshDecision::Reject(RejectReason::Revoked),
            RefreshStatus::Active if s.expires_at_ms <= now_ms => {
                RefreshDecision::Reject(RejectReason::Expired)
            }
            RefreshStatus::Active => RefreshDecision::Rotate,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: ApiError) -> (u16, serde_json::Value) {
        let p = e.problem("r");
        (e.status(), p["field"].clone())
    }

    #[test]
    fn registrations_are_normalised_and_validated() {
        let ok = RegisterRequest {
            email: "  Ann.Lee@Example.COM ".into(),
            password: "correct horse battery".into(),
            name: "  Ann Lee ".into(),
        }
        .validate()
        .expect("valid");
        assert_eq!(ok.email, "ann.lee@example.com");
        assert_eq!(ok.name, "Ann Lee");
        assert_eq!(ok.password, "correct horse battery", "never trimmed");

        let bad = |email: &str, password: &str, name: &str| {
            field(
                RegisterRequest {
                    email: email.into(),
                    password: password.into(),
                    name: name.into(),
                }
                .validate()
                .expect_err("invalid"),
            )
        };
        let pw = "Tr0ub4dor&3x";
        assert_eq!(bad("nope", pw, "A"), (422, "email".into()));
        assert_eq!(
            bad(&format!("{}@x.io", "a".repeat(300)), pw, "A"),
            (422, "email".into())
        );
        assert_eq!(bad("a@b.io", pw, "   "), (422, "name".into()));
        assert_eq!(
            bad("a@b.io", pw, &"n".repeat(NAME_MAX_CHARS + 1)),
            (422, "name".into())
        );
        assert_eq!(bad("a@b.io", pw, "a\u{7}b"), (422, "name".into()));
        assert_eq!(bad("a@b.io", "short1A", "A"), (422, "password".into()));
    }

    #[test]
    fn the_password_policy_wants_length_and_some_variety() {
        let email = "ann@example.com";
        let too_long = format!("{}x", "aB".repeat(64));
        for good in [
            "correct horse battery",
            "abcdefghi1",
            "ABCDEFGHIj",
            "ünïcödé-pässwörd",
            &"aB".repeat(64),
        ] {
            assert!(password_policy(good, email).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "abc1",
            "Abcdefgh1",       // 9 characters
            "aaaaaaaaaaaa",    // one class
            "ABCDEFGHIJKL",    // one class
            "12345678901234",  // one class
            "!@#$%^&*()_+",    // one class
            "ünïcödépässwörd", // one class, beyond ASCII
            &too_long,         // 129 characters
            "tab\tseparated1", // control character
            "ANN@example.com", // the email
        ] {
            let e = password_policy(bad, email).expect_err(bad);
            assert_eq!(field(e), (422, "password".into()), "{bad:?}");
        }
        // Length counts characters, not bytes.
        assert!(password_policy(&"é1".repeat(5), email).is_ok());
    }

    #[test]
    fn login_checks_shape_not_policy() {
        let c = LoginRequest {
            email: "ANN@Example.com".into(),
            password: "old-weak".into(),
        }
        .validate()
        .expect("valid");
        assert_eq!(c.email, "ann@example.com");
        let e = LoginRequest {
            email: "ann@example.com".into(),
            password: String::new(),
        }
        .validate()
        .expect_err("empty");
        assert_eq!(field(e), (422, "password".into()));
        let e = LoginRequest {
            email: "ann@example.com".into(),
            password: "x".repeat(PASSWORD_MAX_CHARS + 1),
        }
        .validate()
        .expect_err("huge");
        assert_eq!(field(e), (422, "password".into()));
    }

    #[test]
    fn only_the_admin_address_becomes_admin() {
        let admin = Some(" Admin@SpinShop.local ");
        assert_eq!(role_for("admin@spinshop.local", admin), Role::Admin);
        assert_eq!(role_for("ann@spinshop.local", admin), Role::Customer);
        assert_eq!(role_for("admin@spinshop.local", None), Role::Customer);
        assert_eq!(role_for("", Some("")), Role::Customer);
        assert_eq!(parse_role("admin"), Some(Role::Admin));
        assert_eq!(parse_role("root"), None);
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let a = new_refresh_token().expect("token");
        let b = new_refresh_token().expect("token");
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "32 bytes, base64url without padding");
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        let h = refresh_token_hash(&a);
        assert_eq!(h.len(), 64);
        assert_ne!(h, a);
        assert_eq!(h, refresh_token_hash(&a));
        assert_eq!(
            refresh_token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(presented_refresh_token(&a).is_ok());
        assert_eq!(
            field(presented_refresh_token("").expect_err("empty")),
            (422, "refresh_token".into())
        );
        assert!(presented_refresh_token(&"t".repeat(129)).is_err());
    }

    #[test]
    fn rotation_reuse_and_rejection() {
        let now = 1_000_000;
        let state = |status, expires_at_ms| {
            Some(RefreshState {
                status,
                expires_at_ms,
            })
        };
        use RefreshDecision::*;
        use RefreshStatus::*;
        assert_eq!(refresh_decision(state(Active, now + 1), now), Rotate);
        assert_eq!(
            refresh_decision(state(Active, now), now),
            Reject(RejectReason::Expired)
        );
        assert_eq!(refresh_decision(state(Used, now + 1), now), RevokeFamily);
        assert_eq!(
            refresh_decision(state(Used, now - 1), now),
            RevokeFamily,
            "an expired copy is still evidence of theft"
        );
        assert_eq!(
            refresh_decision(state(Revoked, now + 1), now),
            Reject(RejectReason::Revoked)
        );
        assert_eq!(refresh_decision(None, now), Reject(RejectReason::Unknown));
        for s in [Active, Used, Revoked] {
            assert_eq!(RefreshStatus::parse(s.as_str()), Some(s));
        }
    }
}
