//! What a seller's item update, a simulated sale and a search page may
//! ask for.

use platform::domain::Money;
use platform::{validate, ApiError};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::ml_error::{MlCause, MlError};

/// Highest price, in cents (100 million).
pub const MAX_PRICE_CENTS: i64 = 10_000_000_000;
/// Most units an item may have available.
pub const MAX_AVAILABLE_QUANTITY: i64 = 99_999;
/// Longest item title, as MercadoLibre allows.
pub const MAX_TITLE_CHARS: usize = 60;
/// Items a search page holds by default, and at most.
pub const DEFAULT_SEARCH_LIMIT: u32 = 50;
pub const MAX_SEARCH_LIMIT: u32 = 100;
/// How far a search may page.
pub const MAX_SEARCH_OFFSET: u32 = 10_000;

/// The body of `PUT /items/{id}`: any of these fields.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SandboxMlItemChange")]
pub struct ItemUpdate {
    /// Units for sale: a whole number from 0.
    #[serde(default)]
    pub available_quantity: Option<i64>,
    /// The price in the item's currency: above 0, at most two decimals.
    #[serde(default)]
    pub price: Option<f64>,
    /// 1 to 60 characters.
    #[serde(default)]
    pub title: Option<String>,
}

/// An item update that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemChange {
    pub available_quantity: Option<i64>,
    pub price: Option<Money>,
    pub title: Option<String>,
}

impl ItemUpdate {
    /// The change, or MercadoLibre's 400 naming every offending field.
    pub fn validate(self) -> Result<ItemChange, MlError> {
        let mut causes = Vec::new();
        let mut refuse = |field: &str, message: String| {
            causes.push(MlCause {
                code: format!("item.{field}.invalid"),
                message,
                references: vec![format!("item.{field}")],
            });
        };
        let available_quantity = self.available_quantity.filter(|q| {
            let ok = (0..=MAX_AVAILABLE_QUANTITY).contains(q);
            if !ok {
                refuse(
                    "available_quantity",
                    format!("available_quantity must be from 0 to {MAX_AVAILABLE_QUANTITY}"),
                );
            }
            ok
        });
        let price = match self.price {
            None => None,
            Some(p) if p > 0.0 => match Money::parse_decimal("price", p, MAX_PRICE_CENTS) {
                Ok(money) => Some(money),
                Err(e) => {
                    refuse("price", format!("price {e}"));
                    None
                }
            },
            Some(_) => {
                refuse("price", "price must be greater than 0".into());
                None
            }
        };
        let title = match self.title {
            None => None,
            Some(t) => match validate::required_text("title", &t, MAX_TITLE_CHARS) {
                Ok(title) => Some(title),
                Err(e) => {
                    refuse("title", format!("title {e}"));
                    None
                }
            },
        };
        if causes.is_empty() && available_quantity.is_none() && price.is_none() && title.is_none() {
            return Err(MlError::bad_request(
                "the body must change available_quantity, price or title",
            ));
        }
        if !causes.is_empty() {
            return Err(MlError::validation(causes));
        }
        Ok(ItemChange {
            available_quantity,
            price,
            title,
        })
    }
}

/// The body of `POST /sandbox/ml/control/items/{id}/sell`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SandboxMlSale")]
pub struct Sale {
    /// Units sold: from 1 to what is available.
    pub quantity: i64,
}

impl Sale {
    /// The units sold; 422 unless from 1 to [`MAX_AVAILABLE_QUANTITY`]
    /// (whether that many are available is the store's to say).
    pub fn quantity(&self) -> Result<i64, ApiError> {
        validate::range("quantity", self.quantity, 1, MAX_AVAILABLE_QUANTITY)
    }
}

/// A search page: `?offset=` and `?limit=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchPage {
    pub offset: u32,
    pub limit: u32,
}

impl SearchPage {
    /// The page the query asks for; MercadoLibre's 400 for a value that
    /// is not a whole number in range.
    pub fn parse(offset: Option<&str>, limit: Option<&str>) -> Result<Self, MlError> {
        let number = |name: &str, value: Option<&str>, default: u32, max: u32, min: u32| {
            let Some(v) = value else { return Ok(default) };
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    MlError::bad_request(format!(
                        "{name} must be a whole number from {min} to {max}"
                    ))
                })
        };
        Ok(Self {
            offset: number("offset", offset, 0, MAX_SEARCH_OFFSET, 0)?,
            limit: number("limit", limit, DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, 1)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_updates_name_every_bad_field() {
        let ok = ItemUpdate {
            available_quantity: Some(0),
            price: Some(15_999.5),
            title: Some("  Auriculares  ".into()),
        }
        .validate()
        .expect("valid");
        assert_eq!(ok.available_quantity, Some(0));
        assert_eq!(ok.price.map(Money::cents), Some(1_599_950));
        assert_eq!(ok.title.as_deref(), Some("Auriculares"));
        let err = ItemUpdate {
            available_quantity: Some(-1),
            price: Some(0.0),
            title: Some("x".repeat(MAX_TITLE_CHARS + 1)),
        }
        .validate()
        .expect_err("three bad fields");
        assert_eq!((err.status, err.error.as_str()), (400, "validation_error"));
        let codes: Vec<&str> = err
            .cause
            .iter()
            .flatten()
            .map(|c| c.code.as_str())
            .collect();
        assert_eq!(
            codes,
            [
                "item.available_quantity.invalid",
                "item.price.invalid",
                "item.title.invalid"
            ]
        );
        for bad in [
            ItemUpdate {
                price: Some(1.234),
                ..ItemUpdate::default()
            },
            ItemUpdate {
                price: Some(-5.0),
                ..ItemUpdate::default()
            },
            ItemUpdate {
                price: Some(1e12),
                ..ItemUpdate::default()
            },
            ItemUpdate {
                available_quantity: Some(MAX_AVAILABLE_QUANTITY + 1),
                ..ItemUpdate::default()
            },
            ItemUpdate {
                title: Some(" \u{7} ".into()),
                ..ItemUpdate::default()
            },
        ] {
            assert_eq!(bad.validate().expect_err("bad").status, 400);
        }
        let empty = ItemUpdate::default().validate().expect_err("nothing");
        assert_eq!(empty.error, "bad_request");
    }

    #[test]
    fn sales_and_search_pages_are_bounded() {
        assert_eq!(Sale { quantity: 2 }.quantity().expect("two"), 2);
        assert_eq!(
            Sale { quantity: 0 }.quantity().expect_err("none").status(),
            422
        );
        assert_eq!(
            SearchPage::parse(None, None).expect("defaults"),
            SearchPage {
                offset: 0,
                limit: DEFAULT_SEARCH_LIMIT
            }
        );
        assert_eq!(
            SearchPage::parse(Some("2"), Some("1")).expect("page"),
            SearchPage {
                offset: 2,
                limit: 1
            }
        );
        for (offset, limit) in [
            (Some("-1"), None),
            (Some("x"), None),
            (None, Some("0")),
            (None, Some("101")),
            (Some("10001"), None),
        ] {
            let err = SearchPage::parse(offset, limit).expect_err("bad page");
            assert_eq!((err.status, err.error.as_str()), (400, "bad_request"));
        }
    }
}
