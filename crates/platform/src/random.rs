//! Random values from the host's randomness (WASI random on
//! wasm32-wasip2): uniform draws for failure injection and random hex for
//! opaque tokens.

use crate::problem::ApiError;

/// A uniform number in `[0, 1)` from random bits.
pub fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform draw in `[0, 1)`; without randomness, just under 1 (the
/// draw that injects no failure).
pub fn draw() -> f64 {
    unit_interval(getrandom::u64().unwrap_or(u64::MAX))
}

/// `bytes` random bytes as lower-case hex.
pub fn hex(bytes: usize) -> Result<String, ApiError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| ApiError::internal(format!("randomness: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bits_map_into_the_unit_interval() {
        assert_eq!(unit_interval(0), 0.0);
        let top = unit_interval(u64::MAX);
        assert!(top < 1.0 && top > 0.999_999);
        assert!((unit_interval(1 << 63) - 0.5).abs() < 1e-12);
        assert!((0.0..1.0).contains(&draw()));
    }

    #[test]
    fn hex_is_lower_case_and_fresh() {
        let a = hex(12).expect("hex");
        assert_eq!(a.len(), 24);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(hex(12).expect("hex"), a);
    }
}
