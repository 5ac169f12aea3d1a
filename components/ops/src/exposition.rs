//! Merging Prometheus text documents: every component renders its own,
//! with its own `# HELP` and `# TYPE` lines, and a family may appear in
//! several (`http_requests_total` from each component). One valid
//! document has each family once, its samples together.

use std::collections::BTreeMap;

/// One metric family as read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Family {
    help: Option<String>,
    kind: Option<String>,
    samples: Vec<String>,
}

/// The family a sample line belongs to: its name without the suffixes
/// a histogram's or summary's series add.
fn family_of(sample: &str, known: &BTreeMap<String, Family>) -> String {
    let name = sample
        .split(|c: char| c == '{' || c.is_whitespace())
        .next()
        .unwrap_or_default();
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if known
                .get(base)
                .and_then(|f| f.kind.as_deref())
                .is_some_and(|k| k == "histogram" || k == "summary")
            {
                return base.to_string();
            }
        }
    }
    name.to_string()
}

/// `documents` as one: families in name order, each with the first help
/// and type seen, samples in the order they came (duplicates dropped).
pub fn merge<'a>(documents: impl IntoIterator<Item = &'a str>) -> String {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for document in documents {
        for line in document.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
                let family = families.entry(name.to_string()).or_default();
                family.help.get_or_insert_with(|| help.to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
                let family = families.entry(name.to_string()).or_default();
                family.kind.get_or_insert_with(|| kind.to_string());
            } else if !line.starts_with('#') {
                let name = family_of(line, &families);
                let family = families.entry(name).or_default();
                if !family.samples.iter().any(|s| s == line) {
                    family.samples.push(line.to_string());
                }
            }
        }
    }
    let mut out = String::new();
    for (name, family) in families {
        if family.samples.is_empty() {
            continue;
        }
        if let Some(help) = family.help {
            out.push_str(&format!("# HELP {name} {help}\n"));
        }
        if let Some(kind) = family.kind {
            out.push_str(&format!("# TYPE {name} {kind}\n"));
        }
        for sample in family.samples {
            out.push_str(&sample);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_from_several_components_appears_once() {
        let orders = "# HELP http_requests_total Requests\n# TYPE http_requests_total counter\n\
                      http_requests_total{component=\"orders\"} 3\n\
                      # HELP active_orders Orders in flight\n# TYPE active_orders gauge\nactive_orders 2\n";
        let users = "# HELP http_requests_total Requests\n# TYPE http_requests_total counter\n\
                     http_requests_total{component=\"users\"} 5\n\
                     # HELP http_request_duration_seconds Latency\n\
                     # TYPE http_request_duration_seconds histogram\n\
                     http_request_duration_seconds_bucket{le=\"+Inf\"} 5\n\
                     http_request_duration_seconds_sum 0.5\nhttp_request_duration_seconds_count 5\n";
        let merged = merge([orders, users]);
        assert_eq!(merged.matches("# TYPE http_requests_total").count(), 1);
        assert!(merged.contains(
            "http_requests_total{component=\"orders\"} 3\nhttp_requests_total{component=\"users\"} 5\n"
        ));
        // A histogram's series stay under its one TYPE line.
        let at = merged
            .find("# TYPE http_request_duration_seconds histogram")
            .expect("histogram");
        assert!(merged[at..].starts_with(
            "# TYPE http_request_duration_seconds histogram\nhttp_request_duration_seconds_bucket"
        ));
        assert!(merged.starts_with("# HELP active_orders"), "{merged}");
    }
}
