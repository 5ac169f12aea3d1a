//! The notification templates, compiled in, one text per channel (email:
//! subject and body; SMS: a short body; push: title and body), rendered
//! with minijinja from the notification's data. A variable a template uses
//! but the data lacks is an error rather than an empty gap.

use minijinja::{Environment, UndefinedBehavior};

use platform::domain::Money;

use crate::domain::Channel;

/// A template's texts.
struct Template {
    name: &'static str,
    email_subject: &'static str,
    email_body: &'static str,
    sms: &'static str,
    push_title: &'static str,
    push_body: &'static str,
}

const TEMPLATES: &[Template] = &[
    Template {
        name: "welcome",
        email_subject: "Welcome to spinshop, {{ name }}",
        email_body: "Hi {{ name }},\n\nthank you for creating your spinshop account. \
                     You can now order, follow your orders and manage your notifications.\n\n\
                     The spinshop team",
        sms: "Welcome to spinshop, {{ name }}!",
        push_title: "Welcome, {{ name }}",
        push_body: "Your spinshop account is ready.",
    },
    Template {
        name: "order_confirmed",
        email_subject: "Your order {{ order_id }} is confirmed",
        email_body: "Hi {{ name }},\n\nyour order {{ order_id }} is confirmed and paid. \
                     Total: {{ total_cents|money }}{% if currency %} {{ currency }}{% endif %}.\n\n\
                     Thank you for shopping at spinshop.",
        sms: "spinshop: order {{ order_id }} confirmed, total \
              {{ total_cents|money }}{% if currency %} {{ currency }}{% endif %}.",
        push_title: "Order confirmed",
        push_body: "Order {{ order_id }} is confirmed: \
                    {{ total_cents|money }}{% if currency %} {{ currency }}{% endif %}.",
    },
    Template {
        name: "order_cancelled",
        email_subject: "Your order {{ order_id }} was cancelled",
        email_body: "Hi {{ name }},\n\nyour order {{ order_id }} was cancelled. \
                     Reason: {{ reason }}.\n\nNothing was charged for it, or the charge is refunded.",
        sms: "spinshop: order {{ order_id }} was cancelled ({{ reason }}).",
        push_title: "Order cancelled",
        push_body: "Order {{ order_id }} was cancelled: {{ reason }}.",
    },
    Template {
        name: "payment_failed",
        email_subject: "Payment for order {{ order_id }} failed",
        email_body: "Hi {{ name }},\n\nthe payment for your order {{ order_id }} failed: \
                     {{ reason }}.\n\nYou can place the order again with another payment method.",
        sms: "spinshop: payment for order {{ order_id }} failed ({{ reason }}).",
        push_title: "Payment failed",
        push_body: "The payment for order {{ order_id }} failed: {{ reason }}.",
    },
    Template {
        name: "payment_refunded",
        email_subject: "Refund for order {{ order_id }}",
        email_body: "Hi {{ name }},\n\nwe refunded {{ amount_cents|money }}\
                     {% if currency %} {{ currency }}{% endif %} for your order {{ order_id }} \
                     (payment {{ payment_id }}).\n\nThe spinshop team",
        sms: "spinshop: {{ amount_cents|money }}{% if currency %} {{ currency }}{% endif %} \
              refunded for order {{ order_id }}.",
        push_title: "Refund issued",
        push_body: "{{ amount_cents|money }}{% if currency %} {{ currency }}{% endif %} \
                    refunded for order {{ order_id }}.",
    },
    Template {
        name: "low_stock",
        email_subject: "Low stock: {{ product_id }}",
        email_body: "Product {{ product_id }} is low on stock: {{ available }} available \
                     (threshold {{ threshold }}).",
        sms: "spinshop: {{ product_id }} low on stock ({{ available }} left).",
        push_title: "Low stock",
        push_body: "{{ product_id }}: {{ available }} left (threshold {{ threshold }}).",
    },
];

/// Longest rendered texts (data can be long; what is sent is bounded).
const MAX_SUBJECT: usize = 200;
const MAX_BODY: usize = 4_000;
const MAX_SMS: usize = 480;

/// What a template produced for one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Email subject or push title; SMS has none.
    pub subject: Option<String>,
    pub body: String,
}

/// The templates' names.
pub fn names() -> Vec<&'static str> {
    TEMPLATES.iter().map(|t| t.name).collect()
}

pub fn is_known(name: &str) -> bool {
    TEMPLATES.iter().any(|t| t.name == name)
}

/// Renders `name` for `channel` with `data` (a JSON object). Errors are
/// readable reasons: an unknown template, or data a template needs.
pub fn render(name: &str, channel: Channel, data: &serde_json::Value) -> Result<Rendered, String> {
    let t = TEMPLATES
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| format!("unknown template {name:?}"))?;
    let env = environment();
    let ctx = minijinja::Value::from(minijinja::value::Serde(data));
    let text = |source: &str, max: usize| {
        env.render_str(source, ctx.clone())
            .map(|s| truncate(&s, max))
            .map_err(|e| format!("template {name} ({}): {}", channel.as_str(), reason(&e)))
    };
    Ok(match channel {
        Channel::Email => Rendered {
            subject: Some(text(t.email_subject, MAX_SUBJECT)?),
            body: text(t.email_body, MAX_BODY)?,
        },
        Channel::Sms => Rendered {
            subject: None,
            body: text(t.sms, MAX_SMS)?,
        },
        Channel::Push => Rendered {
            subject: Some(text(t.push_title, MAX_SUBJECT)?),
            body: text(t.push_body, MAX_BODY)?,
        },
    })
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // SemiStrict: printing a missing variable fails, `{% if x %}` does not.
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.add_filter("money", |cents: i64| Money::from_cents(cents).to_text());
    env
}

/// The error without minijinja's source excerpt.
fn reason(e: &minijinja::Error) -> String {
    let mut s = e.kind().to_string();
    if let Some(detail) = e.detail() {
        s.push_str(": ");
        s.push_str(detail);
    }
    if e.kind() == minijinja::ErrorKind::UndefinedError {
        s.push_str(" (the data lacks a value the template uses)");
    }
    s
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_template_renders_for_every_channel() {
        let data = json!({
            "name": "Ann", "order_id": "o-1", "total_cents": 2500, "currency": "EUR",
            "reason": "payment_failed", "payment_id": "pay-1", "amount_cents": 1999,
            "product_id": "p-1", "available": 2, "threshold": 5,
        });
        for name in names() {
            for channel in [Channel::Email, Channel::Sms, Channel::Push] {
                let r = render(name, channel, &data).expect(name);
                assert!(!r.body.is_empty());
                assert_eq!(r.subject.is_some(), channel != Channel::Sms);
                assert!(!r.body.contains("{{"), "{name}: {}", r.body);
            }
        }
    }

    #[test]
    fn totals_have_two_decimals_and_currency_is_optional() {
        let r = render(
            "order_confirmed",
            Channel::Email,
            &json!({"name": "Ann", "order_id": "o-7", "total_cents": 2500, "currency": "EUR"}),
        )
        .expect("renders");
        assert_eq!(r.subject.as_deref(), Some("Your order o-7 is confirmed"));
        assert!(r.body.contains("Total: 25.00 EUR."), "{}", r.body);
        let r = render(
            "order_confirmed",
            Channel::Push,
            &json!({"order_id": "o-7", "total_cents": 5, "currency": ""}),
        )
        .expect("renders");
        assert_eq!(r.body, "Order o-7 is confirmed: 0.05.");
    }

    #[test]
    fn missing_data_and_unknown_templates_are_reasons() {
        let e = render("order_cancelled", Channel::Sms, &json!({"order_id": "o"}))
            .expect_err("no reason");
        assert!(e.contains("undefined"), "{e}");
        let e = render("nope", Channel::Email, &json!({})).expect_err("unknown");
        assert_eq!(e, "unknown template \"nope\"");
        assert!(render(
            "low_stock",
            Channel::Email,
            &json!({"product_id": "p", "available": "x", "threshold": 1})
        )
        .is_ok());
        assert!(render(
            "order_confirmed",
            Channel::Sms,
            &json!({"order_id": "o", "total_cents": "lots"})
        )
        .is_err());
    }

    #[test]
    fn data_is_not_template_code_and_output_is_bounded() {
        let r = render(
            "welcome",
            Channel::Sms,
            &json!({"name": format!("{{{{ 7 * 7 }}}}{}", "x".repeat(1000))}),
        )
        .expect("renders");
        assert!(r.body.starts_with("Welcome to spinshop, {{ 7 * 7 }}"));
        assert_eq!(r.body.chars().count(), MAX_SMS);
    }
}
