//! Catalog rules, free of storage: what a product body may hold, money in
//! integer cents, the sorts a list offers and the cursors that page them.

use platform::domain::Money;
use platform::validate;
use platform::ApiError;
use schemars::JsonSchema;
use serde::Deserialize;

mod listing;

pub use listing::{sort_name, Cursor, Filters, Sort, SortKey};

/// Longest product name, in characters.
pub const MAX_NAME: usize = 200;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 5_000;
/// Longest category or brand.
pub const MAX_LABEL: usize = 64;
/// Longest SKU.
pub const MAX_SKU: usize = 64;
/// Most tags on a product, and the longest tag.
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG: usize = 32;
/// Most images on a product, and the longest image URL.
pub const MAX_IMAGES: usize = 10;
pub const MAX_IMAGE_URL: usize = 2_048;
/// Highest price: 1,000,000.00.
pub const MAX_PRICE_CENTS: i64 = 100_000_000;
/// Largest initial stock (inventory's own bound).
pub const MAX_STOCK: u32 = 10_000_000;
/// Longest `q` search text.
pub const MAX_QUERY: usize = 100;

/// The body of `POST /api/catalog`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub price: f64,
    pub category: String,
    pub brand: String,
    pub stock: u32,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub images: Vec<String>,
    #[serde(default)]
    pub featured: bool,
}

/// The body of `PUT /api/catalog/:id`: every editable field (absent
/// optional fields take their defaults; an absent `sku` keeps the current
/// one). `stock` belongs to inventory and is refused by name.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductReplacement {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub price: f64,
    pub category: String,
    pub brand: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub images: Vec<String>,
    #[serde(default)]
    pub featured: bool,
    /// Refused: stock is inventory's (`PUT /api/inventory/{product_id}`).
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub stock: Option<serde::de::IgnoredAny>,
}

/// Validated, normalised product fields (everything an admin edits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFields {
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub category: String,
    pub brand: String,
    pub tags: Vec<String>,
    /// `None`: generate one (create) or keep the current one (replace).
    pub sku: Option<String>,
    pub images: Vec<String>,
    pub featured: bool,
}

impl NewProduct {
    /// The validated fields and the initial stock.
    pub fn validate(self) -> Result<(ProductFields, u32), ApiError> {
        let stock = validate::range("stock", self.stock, 0, MAX_STOCK)?;
        let fields = fields(
            &self.name,
            &self.description,
            self.price,
            &self.category,
            &self.brand,
            &self.tags,
            self.sku.as_deref(),
            &self.images,
            self.featured,
        )?;
        Ok((fields, stock))
    }
}

impl ProductReplacement {
    pub fn validate(self) -> Result<ProductFields, ApiError> {
        if self.stock.is_some() {
            return Err(ApiError::invalid(
                "stock",
                "stock is owned by inventory: change it with PUT /api/inventory/:product_id",
            ));
        }
        fields(
            &self.name,
            &self.description,
            self.price,
            &self.category,
            &self.brand,
            &self.tags,
            self.sku.as_deref(),
            &self.images,
            self.featured,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn fields(
    name: &str,
    description: &str,
    price: f64,
    category: &str,
    brand: &str,
    tags: &[String],
    sku: Option<&str>,
    images: &[String],
    featured: bool,
) -> Result<ProductFields, ApiError> {
    Ok(ProductFields {
        name: validate::required_text("name", name, MAX_NAME)?,
        description: description_text(description)?,
        price_cents: Money::parse_decimal("price", price, MAX_PRICE_CENTS)?.cents(),
        category: validate::required_text("category", category, MAX_LABEL)?,
        brand: validate::required_text("brand", brand, MAX_LABEL)?,
        tags: normalise_tags(tags)?,
        sku: sku.map(|s| normalise_sku("sku", s)).transpose()?,
        images: validate_images(images)?,
        featured,
    })
}

/// Free text that may span lines, but holds no other control characters.
fn description_text(value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    validate::length("description", v, 0, MAX_DESCRIPTION)?;
    if v.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::invalid(
            "description",
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(v.to_string())
}

/// A tag as stored and matched: trimmed, lower-case.
pub fn normalise_tag(field: &str, tag: &str) -> Result<String, ApiError> {
    Ok(validate::required_text(field, tag, MAX_TAG)?.to_lowercase())
}

/// Tags normalised, duplicates dropped (first occurrence kept).
fn normalise_tags(tags: &[String]) -> Result<Vec<String>, ApiError> {
    validate::count("tags", tags, 0, MAX_TAGS)?;
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let tag = normalise_tag(&format!("tags[{i}]"), tag)?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// An SKU: letters, digits, `-`, `_`, `.`, stored upper-case.
pub fn normalise_sku(field: &str, sku: &str) -> Result<String, ApiError> {
    let sku = sku.trim();
    validate::length(field, sku, 1, MAX_SKU)?;
    if !sku
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(ApiError::invalid(
            field,
            "may contain only letters, digits, '-', '_' and '.'",
        ));
    }
    Ok(sku.to_ascii_uppercase())
}

/// An SKU for a product created without one: the random tail of a fresh
/// UUID v7 (48 random bits).
pub fn generated_sku(uuid: &str) -> String {
    let hex: String = uuid.chars().filter(char::is_ascii_hexdigit).collect();
    let tail = &hex[hex.len().saturating_sub(12)..];
    format!("SKU-{}", tail.to_ascii_uppercase())
}

fn validate_images(images: &[String]) -> Result<Vec<String>, ApiError> {
    validate::count("images", images, 0, MAX_IMAGES)?;
    images
        .iter()
        .enumerate()
        .map(|(i, url)| image_url(&format!("images[{i}]"), url))
        .collect()
}

/// An absolute http(s) URL without spaces or control characters.
fn image_url(field: &str, url: &str) -> Result<String, ApiError> {
    let url = url.trim();
    validate::length(field, url, 1, MAX_IMAGE_URL)?;
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let valid = rest.is_some_and(|r| {
        !r.is_empty()
            && !r.starts_with('/')
            && !url.chars().any(|c| c.is_whitespace() || c.is_control())
    });
    if !valid {
        return Err(ApiError::invalid(
            field,
            "must be an absolute http:// or https:// URL",
        ));
    }
    Ok(url.to_string())
}

pub use platform::conditional::{etag, etag_matches};

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: serde_json::Value) -> NewProduct {
        serde_json::from_value(json).expect("shape")
    }

    fn pen() -> serde_json::Value {
        serde_json::json!({
            "name": "  Fountain Pen ", "description": "Writes.\nWell.", "price": 19.99,
            "category": "office", "brand": "Acme", "stock": 10, "tags": ["Blue", "blue", "ink"],
        })
    }

    fn field_of(e: ApiError) -> String {
        e.problem("r")["field"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn a_valid_product_is_normalised() {
        let (f, stock) = body(pen()).validate().expect("valid");
        assert_eq!(stock, 10);
        assert_eq!(f.name, "Fountain Pen");
        assert_eq!(f.description, "Writes.\nWell.");
        assert_eq!(f.price_cents, 1999);
        assert_eq!(f.tags, vec!["blue", "ink"]);
        assert_eq!(f.sku, None);
        assert!(f.images.is_empty() && !f.featured);
    }

    #[test]
    fn every_bound_names_its_field() {
        let cases: Vec<(&str, serde_json::Value)> = vec![
            ("name", serde_json::json!("")),
            ("name", serde_json::json!("x".repeat(10_000))),
            ("name", serde_json::json!("a\u{7}b")),
            (
                "description",
                serde_json::json!("d".repeat(MAX_DESCRIPTION + 1)),
            ),
            ("price", serde_json::json!(-1)),
            ("price", serde_json::json!(1.005)),
            ("price", serde_json::json!(1e300)),
            ("category", serde_json::json!(" ")),
            ("brand", serde_json::json!("b".repeat(65))),
            ("stock", serde_json::json!(MAX_STOCK + 1)),
            ("tags", serde_json::json!(vec!["t"; 21])),
            ("sku", serde_json::json!("has space")),
            ("images", serde_json::json!(vec!["https://x.y/a.png"; 11])),
        ];
        for (field, value) in cases {
            let mut json = pen();
            json[field] = value;
            let err = body(json).validate().expect_err(field);
            assert_eq!(err.status(), 422, "{field}");
            assert_eq!(field_of(err), field);
        }
        let mut json = pen();
        json["tags"] = serde_json::json!(["ok", ""]);
        assert_eq!(field_of(body(json).validate().expect_err("tag")), "tags[1]");
        for bad in [
            "ftp://x.y/a",
            "https://",
            "https:///a",
            "https://x y",
            "/a.png",
        ] {
            let mut json = pen();
            json["images"] = serde_json::json!([bad]);
            assert_eq!(field_of(body(json).validate().expect_err(bad)), "images[0]");
        }
    }

    #[test]
    fn bodies_reject_unknown_fields_and_wrong_types() {
        let mut json = pen();
        json["owner"] = serde_json::json!("me");
        assert!(serde_json::from_value::<NewProduct>(json).is_err());
        let mut json = pen();
        json["price"] = serde_json::json!("19.99");
        assert!(serde_json::from_value::<NewProduct>(json).is_err());
        let mut json = pen();
        json["stock"] = serde_json::json!(-1);
        assert!(serde_json::from_value::<NewProduct>(json).is_err());
    }

    #[test]
    fn a_replacement_may_not_touch_stock() {
        let mut json = pen();
        json["stock"] = serde_json::json!(3);
        let r: ProductReplacement = serde_json::from_value(json).expect("shape");
        assert_eq!(field_of(r.validate().expect_err("stock")), "stock");
        let mut json = pen();
        json.as_object_mut().map(|o| o.remove("stock"));
        let r: ProductReplacement = serde_json::from_value(json).expect("shape");
        assert_eq!(r.validate().expect("valid").price_cents, 1999);
    }

    #[test]
    fn skus_are_normalised_or_generated() {
        assert_eq!(normalise_sku("sku", " pen-1.b ").expect("ok"), "PEN-1.B");
        assert!(normalise_sku("sku", "").is_err());
        assert!(normalise_sku("sku", &"s".repeat(65)).is_err());
        let generated = generated_sku("01890a5d-ac96-774b-bcce-b302099a8057");
        assert_eq!(generated, "SKU-B302099A8057");
        assert!(normalise_sku("sku", &generated).is_ok());
    }

    #[test]
    fn money_is_integer_cents() {
        let mut json = pen();
        json["price"] = serde_json::json!(0.1 + 0.2);
        assert_eq!(body(json).validate().expect("ok").0.price_cents, 30);
        assert_eq!(Money::from_cents(1999).to_json(), serde_json::json!(19.99));
    }
}
