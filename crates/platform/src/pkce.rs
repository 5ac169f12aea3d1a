//! PKCE (RFC 7636) with the `S256` method, for both sides of an OAuth
//! authorization-code flow: the client makes a verifier and sends its
//! challenge, the authorization server checks the verifier against the
//! challenge it was given.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::problem::ApiError;

/// The only challenge method accepted (`plain` gives no protection).
pub const S256: &str = "S256";
/// Shortest verifier (and challenge) RFC 7636 allows.
pub const MIN_LEN: usize = 43;
/// Longest verifier (and challenge) RFC 7636 allows.
pub const MAX_LEN: usize = 128;

/// Whether `value` is 43 to 128 of RFC 7636's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`): the shape of a verifier and of a challenge.
pub fn well_formed(value: &str) -> bool {
    (MIN_LEN..=MAX_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The `S256` challenge of a verifier: `BASE64URL(SHA256(verifier))`,
/// without padding.
pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` is well formed and its `S256` challenge is
/// `challenge` (compared in constant time).
pub fn verifies(verifier: &str, challenge_sent: &str) -> bool {
    well_formed(verifier)
        && bool::from(
            challenge(verifier)
                .as_bytes()
                .ct_eq(challenge_sent.as_bytes()),
        )
}

/// A new verifier: 32 random bytes, base64url (43 characters).
pub fn new_verifier() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_example_verifies() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let expected = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(challenge(verifier), expected);
        assert!(verifies(verifier, expected));
        assert!(!verifies(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(
            !verifies(&verifier[1..], expected),
            "too short to be a verifier"
        );
    }

    #[test]
    fn verifiers_are_unreserved_characters_of_bounded_length() {
        let fresh = new_verifier().expect("verifier");
        assert_eq!(fresh.len(), MIN_LEN);
        assert!(well_formed(&fresh));
        assert!(verifies(&fresh, &challenge(&fresh)));
        assert_ne!(new_verifier().expect("another"), fresh);
        assert!(well_formed(&"a~._-".repeat(30)[..MAX_LEN]));
        assert!(!well_formed(&"a".repeat(MAX_LEN + 1)));
        assert!(!well_formed(&format!("{}+", "a".repeat(MIN_LEN))));
        assert!(!well_formed(""));
    }
}
