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

/// An optional query parameter as text: absent or blank is `None`, else
/// trimmed within `max` characters (see [`required_text`]).
pub fn optional_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if !v.trim().is_empty() => required_text(field, &v, max).map(Some),
        _ => Ok(None),
    }
}

/// An optional query parameter as a price: a number with at most two
/// decimals, up to `max_cents`, in cents.
pub fn optional_price(
    field: &str,
    value: Option<String>,
    max_cents: i64,
) -> Result<Option<i64>, ApiError> {
    let Some(v) = value else {
        return Ok(None);
    };
    let n: f64 = v
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid(field, "must be a number"))?;
    crate::domain::Money::parse_decimal(field, n, max_cents).map(|m| Some(m.cents()))
}

/// An optional query parameter as `true` or `false`.
pub fn optional_bool(field: &str, value: Option<String>) -> Result<Option<bool>, ApiError> {
    match value.as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::invalid(field, "must be true or false")),
    }
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
