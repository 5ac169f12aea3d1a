//! Tests of `domain`.

use super::*;

fn params(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    move |name: &str| {
        owned
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

#[test]
fn no_query_is_fts5_syntax() {
    for hostile in [
        "\"unbalanced",
        "head* OR x",
        "NEAR(a b, 2)",
        "-excluded",
        "name:lamp",
        "^start",
        "a\"b\"c",
        "(x) AND (y)",
        "\u{0}\u{7}\t\n",
    ] {
        for term in terms(hostile) {
            assert!(
                term.chars().all(char::is_alphanumeric),
                "{hostile:?} gave {term:?}"
            );
        }
        let q = fts_query(&terms(hostile));
        assert_eq!(q.matches('"').count() % 2, 0, "{q}");
    }
    assert_eq!(terms("NEAR(a b, 2)"), ["near", "a", "b", "2"]);
    assert_eq!(
        fts_query(&terms("Blue  PEN x")),
        "\"blue\"* AND \"pen\"* AND \"x\""
    );
    assert!(terms("").is_empty());
    assert_eq!(terms(&"w ".repeat(50)).len(), MAX_TERMS);
    assert_eq!(terms(&"a".repeat(100))[0].chars().count(), MAX_TERM_CHARS);
    assert_eq!(terms("Café Crème"), ["café", "crème"]);
}

#[test]
fn a_request_reads_filters_sort_and_refuses_what_it_cannot_serve() {
    let p = params(&[
        ("category", "Audio"),
        ("min_price", "10"),
        ("max_price", "99.5"),
        ("in_stock", "true"),
        ("sort", "-price"),
    ]);
    let r = SearchRequest::parse(Some("  sony  ".into()), &p, 20, 0).expect("valid");
    assert_eq!(r.text, "sony");
    assert_eq!(r.terms, ["sony"]);
    assert_eq!(r.sort, Sort::PriceDesc);
    assert_eq!(
        r.filters,
        Filters {
            category: Some("Audio".into()),
            brand: None,
            min_price_cents: Some(1000),
            max_price_cents: Some(9950),
            in_stock: Some(true),
        }
    );
    let field = |pairs: &[(&str, &str)], q: &str, offset: u32| {
        SearchRequest::parse(Some(q.into()), &params(pairs), 20, offset)
            .expect_err("invalid")
            .problem("r")["field"]
            .clone()
    };
    assert_eq!(field(&[], &"x".repeat(10_000), 0), "q");
    assert_eq!(field(&[("sort", "cheapest")], "x", 0), "sort");
    assert_eq!(field(&[("in_stock", "yes")], "x", 0), "in_stock");
    assert_eq!(field(&[("min_price", "-1")], "x", 0), "min_price");
    assert_eq!(
        field(&[("min_price", "9"), ("max_price", "1")], "x", 0),
        "min_price"
    );
    assert_eq!(field(&[("max_price", "1e400")], "x", 0), "max_price");
    assert_eq!(field(&[], "x", MAX_OFFSET + 1), "cursor");
    assert_eq!(field(&[("from", "ads")], "x", 0), "from");
    let p = params(&[("from", "suggest")]);
    assert!(
        SearchRequest::parse(None, &p, 20, 0)
            .expect("ok")
            .from_suggestion
    );
}

#[test]
fn highlights_are_escaped_html_with_marks() {
    let raw = format!("{MARK_OPEN}Blue{MARK_CLOSE} <pen> & \"ink\"");
    assert_eq!(
        marked_html(&raw),
        "<mark>Blue</mark> &lt;pen&gt; &amp; &quot;ink&quot;"
    );
    assert_eq!(plain_text(&format!("a{MARK_OPEN}b\u{7}c")), "abc");
}
