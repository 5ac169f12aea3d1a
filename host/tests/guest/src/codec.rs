//! JSON <-> SQL value mapping shared by both SQLite interfaces.
//!
//! JSON parameters: an integer number is `Integer`, any other number `Real`,
//! a string `Text`, `null` `Null`, a bool `Integer` 0/1 (SQLite has no
//! booleans) and `{"blob": "<hex>"}` a `Blob`. Results map back the same way,
//! a `Blob` becoming `{"blob": "<hex>"}`.

use serde_json::{json, Value as Json};
use spin_sdk::{sqlite, sqlite3};

/// A SQL value independent of which SQLite interface carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

impl SqlValue {
    /// Maps a JSON parameter; the error names what was wrong with it.
    pub fn from_json(value: &Json) -> Result<SqlValue, String> {
        match value {
            Json::Null => Ok(SqlValue::Null),
            Json::Bool(b) => Ok(SqlValue::Integer(i64::from(*b))),
            Json::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Ok(SqlValue::Integer(i)),
                (None, Some(f)) => Ok(SqlValue::Real(f)),
                (None, None) => Err(format!("number {n} is not representable")),
            },
            Json::String(s) => Ok(SqlValue::Text(s.clone())),
            Json::Object(map) => match (map.get("blob"), map.len()) {
                (Some(Json::String(hex)), 1) => hex_decode(hex).map(SqlValue::Blob),
                _ => Err(format!(
                    "unsupported parameter {value}: objects must be {{\"blob\": \"<hex>\"}}"
                )),
            },
            Json::Array(_) => Err(format!(
                "unsupported parameter {value}: arrays are not SQL values"
            )),
        }
    }

    /// The JSON form of a result value.
    pub fn to_json(&self) -> Json {
        match self {
            SqlValue::Integer(i) => json!(i),
            // JSON has no NaN or infinities; serde_json turns them into null.
            SqlValue::Real(f) => json!(f),
            SqlValue::Text(s) => json!(s),
            SqlValue::Blob(bytes) => json!({ "blob": hex_encode(bytes) }),
            SqlValue::Null => Json::Null,
        }
    }
}

macro_rules! sql_value_conversions {
    ($module:ident) => {
        impl From<SqlValue> for $module::Value {
            fn from(value: SqlValue) -> Self {
                match value {
                    SqlValue::Integer(i) => $module::Value::Integer(i),
                    SqlValue::Real(f) => $module::Value::Real(f),
                    SqlValue::Text(s) => $module::Value::Text(s),
                    SqlValue::Blob(b) => $module::Value::Blob(b),
                    SqlValue::Null => $module::Value::Null,
                }
            }
        }

        impl From<&$module::Value> for SqlValue {
            fn from(value: &$module::Value) -> Self {
                match value {
                    $module::Value::Integer(i) => SqlValue::Integer(*i),
                    $module::Value::Real(f) => SqlValue::Real(*f),
                    $module::Value::Text(s) => SqlValue::Text(s.clone()),
                    $module::Value::Blob(b) => SqlValue::Blob(b.clone()),
                    $module::Value::Null => SqlValue::Null,
                }
            }
        }
    };
}

sql_value_conversions!(sqlite3);
sql_value_conversions!(sqlite);

/// Lower-case hex of `bytes`.
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Decodes hex (either case).
pub fn hex_decode(hex: &str) -> Result<Vec<u8>, String> {
    fn nibble(digit: u8) -> Option<u8> {
        char::from(digit)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let digits = hex.as_bytes();
    if digits.len() % 2 != 0 {
        return Err(format!("hex {hex:?} has an odd number of digits"));
    }
    digits
        .chunks_exact(2)
        .map(|pair| match (nibble(pair[0]), nibble(pair[1])) {
            (Some(high), Some(low)) => Ok(high << 4 | low),
            _ => Err(format!("{hex:?} is not hex")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let bytes = [0x00, 0x01, 0xab, 0xff, 0x7f];
        assert_eq!(hex_encode(&bytes), "0001abff7f");
        assert_eq!(hex_decode("0001ABff7f"), Ok(bytes.to_vec()));
        assert_eq!(hex_decode(""), Ok(vec![]));
        assert!(hex_decode("abc").is_err());
        assert!(hex_decode("zz").is_err());
    }

    #[test]
    fn json_parameters_map_to_sql_values() {
        let cases = [
            (json!(42), SqlValue::Integer(42)),
            (json!(-7), SqlValue::Integer(-7)),
            (json!(1.5), SqlValue::Real(1.5)),
            (json!(u64::MAX), SqlValue::Real(u64::MAX as f64)),
            (json!("hi"), SqlValue::Text("hi".into())),
            (Json::Null, SqlValue::Null),
            (json!(true), SqlValue::Integer(1)),
            (json!({"blob": "cafe"}), SqlValue::Blob(vec![0xca, 0xfe])),
        ];
        for (input, expected) in cases {
            assert_eq!(SqlValue::from_json(&input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn unsupported_parameters_are_errors() {
        assert!(SqlValue::from_json(&json!([1])).is_err());
        assert!(SqlValue::from_json(&json!({"text": "x"})).is_err());
        assert!(SqlValue::from_json(&json!({"blob": "xyz"})).is_err());
        assert!(SqlValue::from_json(&json!({"blob": 1})).is_err());
    }

    #[test]
    fn results_map_to_json() {
        assert_eq!(SqlValue::Integer(3).to_json(), json!(3));
        assert_eq!(SqlValue::Real(0.25).to_json(), json!(0.25));
        assert_eq!(SqlValue::Text("t".into()).to_json(), json!("t"));
        assert_eq!(
            SqlValue::Blob(vec![1, 2]).to_json(),
            json!({"blob": "0102"})
        );
        assert_eq!(SqlValue::Null.to_json(), Json::Null);
    }

    #[test]
    fn both_interfaces_convert_both_ways() {
        let value = SqlValue::Blob(vec![9]);
        let v3: sqlite3::Value = value.clone().into();
        let v2: sqlite::Value = value.clone().into();
        assert_eq!(SqlValue::from(&v3), value);
        assert_eq!(SqlValue::from(&v2), value);
    }
}
