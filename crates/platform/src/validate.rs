//! Value checks for parsed bodies: each failure is a 422 naming the field.
//! Values that recur across components have their own types in
//! [`domain`](crate::domain).

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
            count("tags", &[1, 2, 3], 0, 2).expect_err("3").problem("r")["field"],
            "tags"
        );
    }
}
