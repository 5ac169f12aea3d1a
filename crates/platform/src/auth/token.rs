//! EdDSA access tokens: issued by `users` with the private key, verified by
//! every component with the public keys (several, named by `kid`, so a new
//! key can be rolled out before the old one is retired).

use std::collections::HashSet;
use std::sync::OnceLock;

use jwt_simple::prelude::{
    Claims, Duration, Ed25519KeyPair, Ed25519PublicKey, EdDSAKeyPairLike, EdDSAPublicKeyLike,
    JWTClaims, Token, VerificationOptions,
};
use jwt_simple::JWTError;
use serde::{Deserialize, Serialize};

use super::{Principal, Role};
use crate::problem::ApiError;

/// `iss` and `aud` of every access token.
pub const ISSUER: &str = "spinshop";
/// Clock skew tolerated between instances, in seconds.
pub const LEEWAY_SECS: u64 = 30;
/// Variable: the Ed25519 private key, PKCS#8 PEM (`openssl genpkey -algorithm ed25519`).
pub const SIGNING_KEY_VARIABLE: &str = "jwt_signing_key";
/// Variable: the `kid` put in the header of issued tokens.
pub const KEY_ID_VARIABLE: &str = "jwt_key_id";
/// Variable: `kid=PEM` entries separated by `;`, SPKI PEM (`openssl pkey -pubout`).
pub const PUBLIC_KEYS_VARIABLE: &str = "jwt_public_keys";

/// The claims we add to the registered ones (`sub` is the user id).
#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    email: String,
    role: Role,
    /// The session (login) the token belongs to: logging out, or a
    /// refresh token's reuse, revokes every token of the session at once.
    #[serde(default)]
    sid: String,
}

/// A freshly signed access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub jti: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Signs access tokens (only the `users` component has the private key).
#[derive(Debug)]
pub struct TokenIssuer {
    key: Ed25519KeyPair,
}

impl TokenIssuer {
    /// From a PKCS#8 PEM private key and the `kid` to announce.
    pub fn new(private_key_pem: &str, kid: &str) -> Result<Self, String> {
        let kid = kid.trim();
        if kid.is_empty() {
            return Err("the key id is empty".into());
        }
        // The key text is secret: the error never repeats it.
        let key = Ed25519KeyPair::from_pem(&normalize_pem(private_key_pem))
            .map_err(|_| "not an Ed25519 private key in PKCS#8 PEM".to_string())?;
        Ok(Self {
            key: key.with_key_id(kid),
        })
    }

    /// From the variables `jwt_signing_key` and `jwt_key_id`, parsed once
    /// per instance; a missing or bad key is a 500 (a deployment bug).
    pub fn from_variables() -> Result<&'static Self, ApiError> {
        static ISSUER_CELL: OnceLock<Result<TokenIssuer, String>> = OnceLock::new();
        ISSUER_CELL
            .get_or_init(|| {
                let pem = variable(SIGNING_KEY_VARIABLE)?;
                let kid = variable(KEY_ID_VARIABLE)?;
                Self::new(&pem, &kid).map_err(|e| format!("variable {SIGNING_KEY_VARIABLE}: {e}"))
            })
            .as_ref()
            .map_err(ApiError::internal)
    }

    /// Signs a token for `user_id`, valid for `ttl_secs`, in a session of
    /// its own.
    pub fn issue(
        &self,
        user_id: &str,
        email: &str,
        role: Role,
        ttl_secs: u64,
    ) -> Result<IssuedToken, ApiError> {
        let session = uuid::Uuid::now_v7().to_string();
        self.issue_in_session(user_id, email, role, &session, ttl_secs)
    }

    /// Signs a token for `user_id` in the session `session_id`, valid for
    /// `ttl_secs`.
    pub fn issue_in_session(
        &self,
        user_id: &str,
        email: &str,
        role: Role,
        session_id: &str,
        ttl_secs: u64,
    ) -> Result<IssuedToken, ApiError> {
        let jti = uuid::Uuid::now_v7().to_string();
        let custom = AccessClaims {
            email: email.to_string(),
            role,
            sid: session_id.to_string(),
        };
        let claims = Claims::with_custom_claims(custom, Duration::from_secs(ttl_secs))
            .with_issuer(ISSUER)
            .with_audience(ISSUER)
            .with_subject(user_id)
            .with_jwt_id(&jti);
        let expires_at = claims.expires_at.map(|t| t.as_secs()).unwrap_or_default();
        let token = self
            .key
            .sign(claims)
            .map_err(|e| ApiError::internal(format!("signing a token: {e}")))?;
        Ok(IssuedToken {
            token,
            jti,
            expires_at,
        })
    }

    /// The public half, PEM (for `jwt_public_keys` and tests).
    pub fn public_key_pem(&self) -> String {
        self.key.public_key().to_pem()
    }
}

/// Verifies access tokens against the configured public keys.
#[derive(Debug)]
pub struct TokenVerifier {
    keys: Vec<(String, Ed25519PublicKey)>,
}

impl TokenVerifier {
    /// Parses `kid=PEM;kid=PEM`. Literal `\n` sequences count as newlines,
    /// so a PEM fits in one environment variable line.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut keys: Vec<(String, Ed25519PublicKey)> = Vec::new();
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            // Split at the first '=': base64 padding in the PEM has '=' too.
            let (kid, pem) = entry
                .split_once('=')
                .ok_or_else(|| "each entry must be kid=PEM".to_string())?;
            let kid = kid.trim();
            if kid.is_empty() {
                return Err("an entry has an empty key id".into());
            }
            if keys.iter().any(|(k, _)| k == kid) {
                return Err(format!("key id {kid} appears twice"));
            }
            let key = Ed25519PublicKey::from_pem(&normalize_pem(pem))
                .map_err(|_| format!("key {kid} is not an Ed25519 public key in SPKI PEM"))?;
            keys.push((kid.to_string(), key));
        }
        if keys.is_empty() {
            return Err("no public keys configured".into());
        }
        Ok(Self { keys })
    }

    /// From the variable `jwt_public_keys`, parsed once per instance.
    pub fn from_variables() -> Result<&'static Self, ApiError> {
        static VERIFIER_CELL: OnceLock<Result<TokenVerifier, String>> = OnceLock::new();
        VERIFIER_CELL
            .get_or_init(|| {
                let spec = variable(PUBLIC_KEYS_VARIABLE)?;
                Self::parse(&spec).map_err(|e| format!("variable {PUBLIC_KEYS_VARIABLE}: {e}"))
            })
            .as_ref()
            .map_err(ApiError::internal)
    }

    /// The key ids this verifier accepts.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(k, _)| k.as_str())
    }

    /// Checks signature, `kid`, issuer, audience and expiry (with leeway);
    /// any failure is a 401 saying what was wrong.
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        self.verify_at(token, None)
    }

    /// `verify` as if the clock read `now` (unix seconds).
    pub(crate) fn verify_at(&self, token: &str, now: Option<u64>) -> Result<Principal, ApiError> {
        let metadata = Token::decode_metadata(token)
            .map_err(|_| ApiError::Unauthorized("malformed bearer token".into()))?;
        let kid = metadata
            .key_id()
            .ok_or_else(|| ApiError::Unauthorized("token has no key id (kid)".into()))?;
        let key = self
            .keys
            .iter()
            .find(|(k, _)| k == kid)
            .map(|(_, key)| key)
            .ok_or_else(|| ApiError::Unauthorized("token signed with an unknown key".into()))?;
        let options = VerificationOptions {
            allowed_issuers: Some(HashSet::from([ISSUER.to_string()])),
            allowed_audiences: Some(HashSet::from([ISSUER.to_string()])),
            time_tolerance: Some(Duration::from_secs(LEEWAY_SECS)),
            artificial_time: now.map(Duration::from_secs),
            ..Default::default()
        };
        let claims: JWTClaims<AccessClaims> = key
            .verify_token(token, Some(options))
            .map_err(|e| ApiError::Unauthorized(rejection(&e).into()))?;
        principal_from(claims)
    }
}

fn principal_from(claims: JWTClaims<AccessClaims>) -> Result<Principal, ApiError> {
    let incomplete = || ApiError::Unauthorized("token lacks required claims".into());
    // jwt-simple accepts a token without `exp`; ours always have one.
    let expires_at = claims.expires_at.ok_or_else(incomplete)?.as_secs();
    Ok(Principal {
        user_id: claims
            .subject
            .filter(|s| !s.is_empty())
            .ok_or_else(incomplete)?,
        email: claims.custom.email,
        role: claims.custom.role,
        token_id: claims
            .jwt_id
            .filter(|s| !s.is_empty())
            .ok_or_else(incomplete)?,
        session_id: Some(claims.custom.sid)
            .filter(|s| !s.is_empty())
            .ok_or_else(incomplete)?,
        expires_at,
    })
}

/// What a client is told about a token that did not verify.
fn rejection(e: &jwt_simple::Error) -> &'static str {
    match e.downcast_ref::<JWTError>() {
        Some(JWTError::TokenHasExpired) => "token expired",
        Some(JWTError::InvalidSignature) => "token signature is invalid",
        Some(JWTError::TokenNotValidYet | JWTError::ClockDrift) => "token is not valid yet",
        Some(JWTError::RequiredIssuerMismatch | JWTError::RequiredIssuerMissing) => {
            "token was not issued by spinshop"
        }
        Some(JWTError::RequiredAudienceMismatch | JWTError::RequiredAudienceMissing) => {
            "token is not meant for spinshop"
        }
        Some(JWTError::AlgorithmMismatch) => "token must be signed with EdDSA",
        _ => "malformed bearer token",
    }
}

/// Accepts a PEM whose newlines were written as `\n` (common when a key is
/// passed through an environment variable).
fn normalize_pem(pem: &str) -> String {
    pem.trim().replace("\\n", "\n")
}

fn variable(name: &str) -> Result<String, String> {
    spin_sdk::variables::get(name).map_err(|e| format!("variable {name}: {e}"))
}

#[cfg(test)]
mod tests;
