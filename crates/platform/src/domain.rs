//! Values that recur across components, each with one rule and a
//! `parse(field, ...)` whose failure is a 422 naming the field: ids,
//! email addresses, quantities, money, currencies and merchant references.
//! A value of these types has passed its rule.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::problem::ApiError;
use crate::validate;

/// Longest id, in characters.
pub const MAX_ID_LEN: usize = 64;

/// An identifier of anything (a product, an order, a user, a charge): 1 to
/// 64 ASCII letters, digits, `-` and `_`. Ids are compared without regard
/// to case, as the UUIDs the components issue are, so they are kept in
/// lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

impl Id {
    /// The id in `value`; 422 naming `field` unless it is one.
    pub fn parse(field: &str, value: &str) -> Result<Self, ApiError> {
        validate::length(field, value, 1, MAX_ID_LEN)?;
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ApiError::invalid(
                field,
                "may contain only letters, digits, '-' and '_'",
            ));
        }
        Ok(Self(value.to_ascii_lowercase()))
    }

    /// A new id: a UUID v7, so ids sort by creation time.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id's text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl From<Id> for String {
    fn from(id: Id) -> Self {
        id.0
    }
}

/// An email address, trimmed and in lower case, of plausible shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// The address in `value`; 422 naming `field` unless it is one.
    pub fn parse(field: &str, value: &str) -> Result<Self, ApiError> {
        let v = value.trim().to_lowercase();
        validate::length(field, &v, 3, 254)?;
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
        Ok(Self(v))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address's text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Most units of one product on one line (of an order or a reservation).
pub const MAX_QUANTITY: u32 = 1_000;

/// How many units of a product a line asks for: 1 to [`MAX_QUANTITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(u32);

impl Quantity {
    /// The quantity `value`; 422 naming `field` unless it is one.
    pub fn parse(field: &str, value: i64) -> Result<Self, ApiError> {
        let v = validate::range(field, value, 1, i64::from(MAX_QUANTITY))?;
        Ok(Self(u32::try_from(v).unwrap_or(MAX_QUANTITY)))
    }

    /// The number of units.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The sum of two quantities, if it is still one.
    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        let sum = self.0.checked_add(other.0)?;
        (sum <= MAX_QUANTITY).then_some(Self(sum))
    }
}

/// An amount of money in integer minor units (cents); never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    /// No money.
    pub const ZERO: Money = Money(0);

    /// A price a client sends as a JSON number with at most two decimals,
    /// up to `max` cents.
    pub fn parse_decimal(field: &str, value: f64, max: i64) -> Result<Self, ApiError> {
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
        if rounded > max as f64 {
            return Err(ApiError::invalid(
                field,
                format!("must be at most {}.{:02}", max / 100, max % 100),
            ));
        }
        Ok(Self(rounded as i64))
    }

    /// A whole number of cents from `min` to `max`.
    pub fn parse_cents(field: &str, cents: i64, min: i64, max: i64) -> Result<Self, ApiError> {
        validate::range(field, cents, min.max(0), max).map(Self)
    }

    /// A price another service answered with (a two-decimal JSON number),
    /// or `None` if it is not a sensible one.
    pub fn from_decimal(value: f64) -> Option<Self> {
        if !value.is_finite() || !(0.0..=1e13).contains(&value) {
            return None;
        }
        Some(Self((value * 100.0).round() as i64))
    }

    /// Cents read back from storage or an event the component wrote.
    pub fn from_cents(cents: i64) -> Self {
        Self(cents.max(0))
    }

    /// The amount in cents.
    pub fn cents(self) -> i64 {
        self.0
    }

    /// `self * quantity`, unless it would overflow.
    pub fn times(self, quantity: u32) -> Option<Money> {
        self.0.checked_mul(i64::from(quantity)).map(Self)
    }

    /// `self + other`, unless it would overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Self)
    }

    /// As clients see it: a JSON number with two decimals.
    pub fn to_json(self) -> serde_json::Value {
        serde_json::Number::from_f64(self.0 as f64 / 100.0)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)
    }

    /// As people read it: `12.50`.
    pub fn to_text(self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// As clients see it: a number with two decimals (`12.5` for 1250 cents).
impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0 as f64 / 100.0)
    }
}

/// An ISO 4217-shaped currency code, in upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Currency(String);

impl Currency {
    /// The code in `value`; 422 naming `field` unless it is one.
    pub fn parse(field: &str, value: &str) -> Result<Self, ApiError> {
        let v = value.trim().to_ascii_uppercase();
        if v.len() != 3 || !v.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ApiError::invalid(
                field,
                "must be a three-letter currency code",
            ));
        }
        Ok(Self(v))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Longest merchant reference.
pub const MAX_REFERENCE_LEN: usize = 128;

/// A merchant's reference for a charge: 1 to 128 visible ASCII characters,
/// trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference(String);

impl Reference {
    /// The reference in `value`; 422 naming `field` unless it is one.
    pub fn parse(field: &str, value: &str) -> Result<Self, ApiError> {
        let v = value.trim();
        validate::length(field, v, 1, MAX_REFERENCE_LEN)?;
        if !v.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::invalid(
                field,
                "must be visible ASCII characters without spaces",
            ));
        }
        Ok(Self(v.to_string()))
    }

    /// The reference as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: ApiError) -> (u16, String) {
        let field = e.problem("r")["field"].as_str().unwrap_or("").to_string();
        (e.status(), field)
    }

    #[test]
    fn ids_have_one_rule_and_name_the_field() {
        assert_eq!(Id::parse("id", "B-2_x").expect("valid").as_str(), "b-2_x");
        let uuid = Id::generate();
        assert_eq!(Id::parse("id", uuid.as_str()).expect("uuid"), uuid);
        for bad in ["", "a b", "../x", "é", &"x".repeat(MAX_ID_LEN + 1)] {
            let e = Id::parse("payload.order_id", bad).expect_err(bad);
            assert_eq!(field(e), (422, "payload.order_id".into()), "{bad:?}");
        }
        assert_eq!(
            serde_json::to_value(Id::parse("id", "P1").expect("id")).expect("json"),
            "p1"
        );
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse("email", " Ann@Example.COM ")
                .expect("valid")
                .as_str(),
            "ann@example.com"
        );
        for bad in ["a", "a@b", "@b.c", "a b@c.d", "a@.c", "a@b@c.d"] {
            assert_eq!(field(Email::parse("email", bad).expect_err(bad)).1, "email");
        }
    }

    #[test]
    fn quantities_stay_within_a_line() {
        assert_eq!(Quantity::parse("q", 3).expect("3").get(), 3);
        for bad in [0, -1, i64::from(MAX_QUANTITY) + 1, i64::MAX] {
            assert_eq!(
                field(Quantity::parse("items[0].quantity", bad).expect_err("q")).1,
                "items[0].quantity"
            );
        }
        let most = Quantity::parse("q", 600).expect("600");
        assert_eq!(most.checked_add(most), None);
        assert_eq!(
            most.checked_add(Quantity::parse("q", 400).expect("400")),
            Some(Quantity(1_000))
        );
    }

    #[test]
    fn money_is_exact_cents() {
        assert_eq!(
            Money::parse_decimal("price", 19.99, 10_000_000)
                .expect("ok")
                .cents(),
            1999
        );
        assert_eq!(
            Money::parse_decimal("price", 0.1 + 0.2, 10_000_000)
                .expect("ok")
                .cents(),
            30
        );
        for bad in [1.005, -1.0, f64::INFINITY, 1e12] {
            assert!(
                Money::parse_decimal("price", bad, 10_000_000).is_err(),
                "{bad}"
            );
        }
        assert_eq!(Money::from_decimal(19.99), Some(Money(1999)));
        assert_eq!(Money::from_decimal(-1.0), None);
        assert_eq!(Money::from_decimal(f64::NAN), None);
        assert_eq!(Money(1999).to_json(), serde_json::json!(19.99));
        assert_eq!(Money(1205).to_text(), "12.05");
        assert_eq!(Money(i64::MAX).times(2), None);
        assert_eq!(
            field(Money::parse_cents("amount_cents", 0, 1, 100).expect_err("zero")),
            (422, "amount_cents".into())
        );
    }

    #[test]
    fn currencies_and_references() {
        assert_eq!(Currency::parse("c", " usd ").expect("usd").as_str(), "USD");
        for bad in ["US", "dollars", "U$D"] {
            assert!(Currency::parse("c", bad).is_err(), "{bad}");
        }
        assert_eq!(
            Reference::parse("r", " inv-7 ").expect("ok").as_str(),
            "inv-7"
        );
        for bad in ["", "a b", &"r".repeat(MAX_REFERENCE_LEN + 1)] {
            assert!(Reference::parse("r", bad).is_err(), "{bad:?}");
        }
    }
}
