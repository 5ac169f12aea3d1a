//! Tokens at rest: AES-256-GCM with a fresh random nonce per value, the
//! account's id as associated data (a sealed token copied onto another
//! account's row does not open), and a key derived from the secret
//! variable `ml_token_key` (at least 32 bytes). A sealed value reads
//! `v1.<base64url(nonce || ciphertext)>`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use platform::internal::MIN_SECRET_BYTES;
use platform::ApiError;
use sha2::{Digest, Sha256};

const VERSION: &str = "v1.";
const NONCE_BYTES: usize = 12;

/// The sealing key, derived from a secret.
#[derive(Clone)]
pub struct SealKey([u8; 32]);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// The key of `secret` (which must be long enough to guard anything).
    pub fn derive(secret: &str) -> Result<Self, ApiError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ApiError::Unavailable(format!(
                "the marketplace is not configured: ml_token_key must hold a secret of at least \
                 {MIN_SECRET_BYTES} bytes"
            )));
        }
        let mut hash = Sha256::new();
        hash.update(b"spinshop marketplace tokens v1\0");
        hash.update(secret.as_bytes());
        Ok(Self(hash.finalize().into()))
    }

    /// From the variable `ml_token_key`.
    pub fn from_variables() -> Result<Self, ApiError> {
        Self::derive(&spin_sdk::variables::get("ml_token_key").unwrap_or_default())
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.0))
    }

    /// Seals `plain`, bound to `context`.
    pub fn seal(&self, plain: &str, context: &str) -> Result<String, ApiError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(ApiError::internal)?;
        let sealed = self
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| ApiError::internal("sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens what [`Self::seal`] sealed for `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, ApiError> {
        let unreadable = || ApiError::internal("a sealed token does not open with this key");
        let bytes = sealed
            .strip_prefix(VERSION)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .filter(|b| b.len() > NONCE_BYTES)
            .ok_or_else(unreadable)?;
        let (nonce, body) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| unreadable())?;
        let plain = self
            .cipher()
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| unreadable())?;
        String::from_utf8(plain).map_err(|_| unreadable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> SealKey {
        SealKey::derive(secret).expect("key")
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_sealed_token_opens_only_with_its_key_and_account() {
        let k = key(SECRET);
        let sealed = k.seal("APP_USR-secret", "1001").expect("seal");
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("APP_USR"));
        assert_eq!(k.open(&sealed, "1001").expect("open"), "APP_USR-secret");
        assert!(k.open(&sealed, "1002").is_err(), "another account's row");
        assert!(key("another secret of thirty-two bytes!")
            .open(&sealed, "1001")
            .is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(k.open(&tampered, "1001").is_err());
        assert!(k.open("plain", "1001").is_err());
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let k = key(SECRET);
        assert_ne!(k.seal("t", "1").expect("a"), k.seal("t", "1").expect("b"));
    }

    #[test]
    fn a_short_secret_seals_nothing() {
        assert_eq!(SealKey::derive("short").expect_err("short").status(), 503);
    }
}
