//! Value checks for parsed bodies: each failure is a 422 naming the field.

use crate::problem::ApiError;

/// A string's length in characters must be within `min..=max`.
pub fn length(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(ApiError::invalid(
            field,
            format!("must be {min} to {max} characters long (got {n})"),
        ));
    }
    Ok(())
}

/// A trimmed, non-empty string within `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    length(field, v, 1, max)?;
    if v.chars().any(|c| c.is_control()) {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_string())
}

/// A number within `min..=max`.
pub fn range<T: PartialOrd + std::fmt::Display + Copy>(
    field: &str,
    value: T,
    min: T,
    max: T,
) -> Result<T, ApiError> {
    if value < min || value > max {
        return Err(ApiError::invalid(
            field,
            format!("must be between {min} and {max} (got {value})"),
        ));
    }
    Ok(value)
}

/// At most `max` items.
pub fn count<T>(field: &str, items: &[T], min: usize, max: usize) -> Result<(), ApiError> {
    if items.len() < min || items.len() > max {
        return Err(ApiError::invalid(
            field,
            format!("must have {min} to {max} items (got {})", items.len()),
        ));
    }
    Ok(())
}

/// A normalised email address (trimmed, lower-case) of plausible shape.
pub fn email(field: &str, value: &str) -> Result<String, ApiError> {
    let v = value.trim().to_lowercase();
    length(field, &v, 3, 254)?;
    let valid = match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local.len() <= 64
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    };
    if !valid {
        return Err(ApiError::invalid(field, "must be an email address"));
    }
    Ok(v)
}

/// Money as JSON: a decimal with at most two places, to integer cents.
pub fn cents(field: &str, value: f64, max_cents: i64) -> Result<i64, ApiError> {
    if !value.is_finite() || value < 0.0 {
        return Err(ApiError::invalid(field, "must be a non-negative amount"));
    }
    let scaled = value * 100.0;
    let rounded = scaled.round();
    if (scaled - rounded).abs() > 1e-6 {
        return Err(ApiError::invalid(
            field,
            "must have at most two decimal places",
        ));
    }
    if rounded > max_cents as f64 {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {}.{:02}", max_cents / 100, max_cents % 100),
        ));
    }
    Ok(rounded as i64)
}

/// Integer cents as the JSON number clients see (two decimals).
pub fn cents_to_json(cents: i64) -> serde_json::Value {
    serde_json::Number::from_f64(cents as f64 / 100.0)
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_name_the_field() {
        assert_eq!(
            length("name", "", 1, 10).expect_err("empty").problem("r")["field"],
            "name"
        );
        assert!(required_text("name", "  ok  ", 10).is_ok_and(|v| v == "ok"));
        assert!(required_text("name", "a\u{0}b", 10).is_err());
        assert!(range("quantity", 0, 1, 100).is_err());
        assert!(range("quantity", 5, 1, 100).is_ok());
        assert_eq!(
            email("email", " Ann@Example.COM ").expect("valid"),
            "ann@example.com"
        );
        for bad in ["a", "a@b", "@b.c", "a b@c.d", "a@.c", "a@b@c.d"] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn money_is_exact_cents() {
        assert_eq!(cents("price", 19.99, 10_000_000).expect("ok"), 1999);
        assert_eq!(cents("price", 0.1 + 0.2, 10_000_000).expect("ok"), 30);
        assert!(cents("price", 1.005, 10_000_000).is_err());
        assert!(cents("price", -1.0, 10_000_000).is_err());
        assert!(cents("price", f64::INFINITY, 10_000_000).is_err());
        assert!(cents("price", 1e12, 10_000_000).is_err());
        assert_eq!(cents_to_json(1999), serde_json::json!(19.99));
    }
}
