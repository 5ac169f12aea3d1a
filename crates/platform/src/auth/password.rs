//! Password hashing with argon2id, stored as PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
//!
//! Parameters: m = 19 MiB, t = 2, p = 1, OWASP's minimum recommendation
//! for argon2id. Every login attempt runs one hash inside a wasm instance
//! (single-threaded, no SIMD); measured on spinshop-host (wasmtime), a
//! verification takes about 40 ms and a new hash about 55 ms (native: about
//! 30 ms), well under the 100 ms login budget, while an attacker still pays
//! 19 MiB and two passes per guess. More memory or passes would push login
//! towards that budget on a loaded node. The parameters are written into
//! every PHC string, so raising them later affects only new hashes;
//! `needs_rehash` tells the login handler when to upgrade a stored one.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::problem::ApiError;

/// Memory cost in KiB.
pub const M_COST_KIB: u32 = 19 * 1024;
/// Iterations.
pub const T_COST: u32 = 2;
/// Lanes (wasm runs single-threaded; more lanes would only cost time).
pub const P_COST: u32 = 1;
/// Longer inputs are refused before hashing, so a huge body cannot buy
/// extra work.
pub const MAX_PASSWORD_BYTES: usize = 1024;

const PARAMS: Params = match Params::new(M_COST_KIB, T_COST, P_COST, None) {
    Ok(p) => p,
    Err(_) => panic!("invalid argon2 parameters"),
};

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
}

/// Hashes `password` with a fresh random 16-byte salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid(
            "password",
            format!("must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| ApiError::internal(format!("salt: {e}")))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| ApiError::internal(format!("salt: {e}")))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::internal(format!("hashing a password: {e}")))
}

/// Whether `password` matches the PHC string; the parameters come from the
/// string and the comparison is constant-time (argon2's verifier). An
/// unparsable hash is a mismatch.
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Whether a stored hash was made with other parameters than today's.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let current = parsed.algorithm.as_str() == Algorithm::Argon2id.as_str()
        && parsed.version == Some(Version::V0x13.into())
        && Params::try_from(&parsed)
            .is_ok_and(|p| (p.m_cost(), p.t_cost(), p.p_cost()) == (M_COST_KIB, T_COST, P_COST));
    !current
}

/// Spends the time of one verification without a stored hash, so a login
/// for an unknown account takes as long as one with a wrong password (no
/// account enumeration by timing).
pub fn equalize_login_timing(password: &str) {
    let input = &password.as_bytes()[..password.len().min(MAX_PASSWORD_BYTES)];
    let mut out = [0u8; 32];
    let _ = hasher().hash_password_into(input, b"spinshop-no-such-user", &mut out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash_password("correct horse battery staple").expect("hash");
        let b = hash_password("correct horse battery staple").expect("hash");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "salts must differ");
        assert!(verify_password("correct horse battery staple", &a));
        assert!(!verify_password("correct horse battery stapler", &a));
        assert!(!verify_password("", &a));
        assert!(!needs_rehash(&a));
    }

    #[test]
    fn bad_hashes_and_huge_passwords_never_verify() {
        assert!(!verify_password("x", "not a phc string"));
        assert!(!verify_password("x", ""));
        assert!(needs_rehash("not a phc string"));
        let huge = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert_eq!(hash_password(&huge).expect_err("huge").status(), 422);
        equalize_login_timing(&huge);
    }

    #[test]
    fn weaker_old_hashes_still_verify_but_ask_for_a_rehash() {
        let params = Params::new(1024, 1, 1, None).expect("params");
        let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pw", &salt)
            .expect("hash")
            .to_string();
        assert!(verify_password("pw", &old));
        assert!(needs_rehash(&old));
    }
}
