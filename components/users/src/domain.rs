//! Account rules, free of storage and host: what a registration may
//! contain, the password policy, who may become admin, what the profile
//! looks like, how long sessions last, and what presenting a refresh token
//! leads to.

use base64::Engine as _;
use platform::auth::Role;
use platform::domain::Email;
use platform::validate;
use platform::{ApiError, Id};
use schemars::JsonSchema;
use serde::Deserialize;

/// Shortest accepted password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest accepted password, in characters.
pub const PASSWORD_MAX_CHARS: usize = 128;
/// Longest display name, in characters.
pub const NAME_MAX_CHARS: usize = 100;
/// Access token lifetime: 15 minutes.
pub const ACCESS_TTL_SECS: u64 = 15 * 60;
/// Refresh token lifetime: 30 days from its issue (each rotation starts a
/// new 30 days), never past its session's end.
pub const REFRESH_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// A session (one login and every token refreshed from it) ends 90 days
/// after the login, however often it is refreshed: then the user signs in
/// again.
pub const SESSION_MAX_MS: i64 = 90 * 24 * 60 * 60 * 1000;
/// The header that carries the admin bootstrap token at registration.
pub const BOOTSTRAP_HEADER: &str = "x-admin-bootstrap-token";
/// Bytes of randomness in a refresh token.
pub const REFRESH_TOKEN_BYTES: usize = 32;
/// Longest string accepted where a refresh token is expected (ours are 43).
pub const REFRESH_TOKEN_MAX_CHARS: usize = 128;

/// The body of `POST /api/auth/register`.
#[derive(Debug, Deserialize, JsonSchema)]
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
        let email = Email::parse("email", &self.email)?.into_string();
        let name = display_name(&self.name)?;
        password_policy(&self.password, &email)?;
        Ok(NewAccount {
            email,
            name,
            password: self.password,
        })
    }
}

/// The body of `POST /internal/users/federated-sessions`: an identity
/// another provider vouches for (the marketplace component, after
/// MercadoLibre's OAuth).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FederatedLogin {
    /// `mercadolibre`.
    pub provider: String,
    /// The provider's id of the person.
    pub subject: String,
    pub email: String,
    pub name: String,
    /// The account the identity belongs to when the provider's side
    /// already knows it (an account that linked the provider while signed
    /// in); otherwise the first sign-in creates one.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// A federated identity that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Federated {
    pub provider: &'static str,
    pub subject: String,
    pub email: String,
    pub name: String,
    pub user_id: Option<Id>,
}

/// The providers a person may sign in with.
pub const PROVIDERS: &[&str] = &["mercadolibre"];

impl FederatedLogin {
    pub fn validate(self) -> Result<Federated, ApiError> {
        let provider = PROVIDERS
            .iter()
            .find(|p| **p == self.provider)
            .ok_or_else(|| ApiError::invalid("provider", "must be mercadolibre"))?;
        let subject = self.subject.trim();
        if subject.is_empty()
            || subject.len() > 64
            || !subject
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ApiError::invalid(
                "subject",
                "must be 1 to 64 letters, digits, '-' or '_'",
            ));
        }
        Ok(Federated {
            provider,
            subject: subject.to_string(),
            email: Email::parse("email", &self.email)?.into_string(),
            name: display_name(&self.name)?,
            user_id: self
                .user_id
                .as_deref()
                .map(|id| Id::parse("user_id", id))
                .transpose()?,
        })
    }
}

/// The stored "password" of an account made by a federated sign-in: no
/// argon2 hash parses as it, so no password ever matches.
pub const NO_PASSWORD: &str = "!federated";

/// The body of `POST /api/auth/login`.
#[derive(Debug, Deserialize, JsonSchema)]
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
        let email = Email::parse("email", &self.email)?.into_string();
        validate::length("password", &self.password, 1, PASSWORD_MAX_CHARS)?;
        Ok(Credentials {
            email,
            password: self.password,
        })
    }
}

/// The body of `POST /api/auth/refresh`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// The (optional) body of `POST /api/auth/logout`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// The body of `PUT /api/users/me`: only the name can be changed here.
#[derive(Debug, Deserialize, JsonSchema)]
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

/// When a new refresh token of a session expires: 30 days on, but never
/// after the session itself ends.
pub fn refresh_expiry(now_ms: i64, session_ends_at_ms: i64) -> i64 {
    now_ms
        .saturating_add(REFRESH_TTL_MS)
        .min(session_ends_at_ms)
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

/// What is stored of a refresh token (256 random bits): see
/// [`platform::auth::stored_hash`].
pub fn refresh_token_hash(token: &str) -> String {
    platform::auth::stored_hash(token)
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
mod tests;
