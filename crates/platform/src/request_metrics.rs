//! Metrics a request adds to its component's totals: the HTTP counters
//! and latency histogram every request gets, and whatever counts and
//! observations its handlers made (`Context::count`, `Context::observe`).
//! Spin gives a guest no place of its own to keep counters, and an
//! instance lives for one request, so they are kept in Redis: one hash per
//! component. A request adds one to one field, named by everything it
//! counted (its series, joined), with one `HINCRBY` after the answer: a
//! plain command, because a script call (with its arguments) cost the
//! cheapest route a quarter of its throughput, and one command, because
//! each costs a round trip. `GET /internal/<component>/metrics` splits
//! the fields back into series ([`render`]). Histograms so kept have
//! buckets and a count but no sum (which one integer field cannot carry);
//! quantiles need only the buckets.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use spin_sdk::redis::RedisResult;

use crate::redis_store::{bin, log_warning, Redis};

/// Latency buckets' upper bounds, seconds.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The variable that turns request metrics off (`off`), for measuring
/// what they cost.
pub const SWITCH_VARIABLE: &str = "request_metrics";

/// Separates the series that one request counted in its field.
const JOIN: char = '\u{1f}';

/// The hash of a component's request metrics.
pub fn key(component: &str) -> String {
    format!("metrics:{component}")
}

/// What one request adds: one to each of these series.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    series: Vec<String>,
}

/// A series' name with its labels, as Prometheus writes it.
pub fn series(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let labels = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect::<Vec<_>>()
        .join(",");
    format!("{name}{{{labels}}}")
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The bucket label of an observation: the smallest bound that holds it.
fn le(seconds: f64) -> String {
    DURATION_BUCKETS
        .iter()
        .find(|b| seconds <= **b)
        .map_or_else(|| "+Inf".to_string(), |b| format!("{b}"))
}

impl Tally {
    /// Adds one to the counter `name{labels}`.
    pub fn count(&mut self, name: &str, labels: &[(&str, &str)]) {
        self.series.push(series(name, labels));
    }

    /// Records `seconds` in the histogram `name{labels}` (buckets of
    /// [`DURATION_BUCKETS`]).
    pub fn observe(&mut self, name: &str, labels: &[(&str, &str)], seconds: f64) {
        let bucket = le(seconds);
        let mut with_le = labels.to_vec();
        with_le.push(("le", &bucket));
        self.series
            .push(series(&format!("{name}_bucket"), &with_le));
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The hash field this request adds one to.
    fn field(&self) -> String {
        let mut field = String::new();
        for (i, s) in self.series.iter().enumerate() {
            if i > 0 {
                field.push(JOIN);
            }
            field.push_str(s);
        }
        field
    }
}

/// Adds `tally` to `component`'s totals in one command. A failure is
/// logged: metrics never fail a request.
pub fn record(redis: Option<&Redis>, component: &str, tally: &Tally) {
    let Some(redis) = redis else {
        return;
    };
    if tally.is_empty() {
        return;
    }
    let params = vec![bin(key(component)), bin(tally.field()), bin("1")];
    if let Err(e) = redis.execute("HINCRBY", params) {
        log_warning("request_metrics_not_recorded", &e.to_string());
    }
}

/// Help texts of the series the platform and the components keep.
fn help(family: &str) -> &'static str {
    match family {
        "http_requests_total" => "HTTP requests answered, by component, route, method and status",
        "http_request_duration_seconds" => "Time to answer an HTTP request, by component and route",
        "cache_hits_total" => "Reads answered from the cache",
        "cache_misses_total" => "Reads the cache could not answer",
        "user_authentications_total" => "Login attempts, by result",
        "search_queries_total" => "Searches and suggestion requests, by kind",
        "search_duration_seconds" => "Time to answer a search, by kind",
        "inventory_operations_total" => "Stock operations, by operation and result",
        "rate_limit_decisions_total" => {
            "Rate-limit checks, by group and how full the bucket was (near_limit: over 90 % used)"
        }
        _ => "A spinshop metric",
    }
}

/// One series as stored: the family it belongs to, its labels and value.
struct Stored {
    family: String,
    suffix: &'static str,
    labels: String,
    value: f64,
}

fn parse_field(field: &str, value: f64) -> Stored {
    let (name, labels) = match field.split_once('{') {
        Some((name, rest)) => (name, rest.trim_end_matches('}').to_string()),
        None => (field, String::new()),
    };
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(family) = name.strip_suffix(suffix) {
            return Stored {
                family: family.to_string(),
                suffix,
                labels,
                value,
            };
        }
    }
    Stored {
        family: name.to_string(),
        suffix: "",
        labels,
        value,
    }
}

/// The `le` of a bucket's labels, and the labels without it.
fn split_le(labels: &str) -> (String, f64) {
    let mut rest = Vec::new();
    let mut bound = f64::INFINITY;
    for part in labels.split(',').filter(|p| !p.is_empty()) {
        match part.strip_prefix("le=\"") {
            Some(v) => bound = v.trim_end_matches('"').parse().unwrap_or(f64::INFINITY),
            None => rest.push(part),
        }
    }
    (rest.join(","), bound)
}

fn with_labels(name: &str, labels: &str) -> String {
    if labels.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{labels}}}")
    }
}

/// The Prometheus text of a component's stored totals: counters as they
/// are, histograms with their buckets made cumulative.
pub fn render(fields: &[(String, f64)]) -> String {
    let totals = totals(fields);
    let mut counters: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    // family -> labels -> (bucket bound -> count, count)
    type Histogram = BTreeMap<String, (Vec<(f64, f64)>, f64)>;
    let mut histograms: BTreeMap<String, Histogram> = BTreeMap::new();
    for (field, value) in totals {
        let s = parse_field(field, value);
        match s.suffix {
            "_bucket" => {
                // The count of a histogram is the sum of its buckets.
                let (labels, bound) = split_le(&s.labels);
                let h = histograms.entry(s.family).or_default();
                let series = h.entry(labels).or_default();
                series.0.push((bound, s.value));
                series.1 += s.value;
            }
            _ => counters
                .entry(s.family)
                .or_default()
                .push((s.labels, s.value)),
        }
    }
    let mut out = String::new();
    for (family, samples) in counters {
        let _ = writeln!(out, "# HELP {family} {}", help(&family));
        let _ = writeln!(out, "# TYPE {family} counter");
        for (labels, value) in samples {
            let _ = writeln!(out, "{} {value}", with_labels(&family, &labels));
        }
    }
    for (family, series) in histograms {
        let _ = writeln!(out, "# HELP {family} {}", help(&family));
        let _ = writeln!(out, "# TYPE {family} histogram");
        for (labels, (mut buckets, count)) in series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut cumulative = 0.0;
            let sep = if labels.is_empty() { "" } else { "," };
            for bound in DURATION_BUCKETS {
                cumulative += buckets
                    .iter()
                    .filter(|(b, _)| *b == bound)
                    .map(|(_, n)| n)
                    .sum::<f64>();
                let _ = writeln!(
                    out,
                    "{family}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(out, "{family}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
            let _ = writeln!(
                out,
                "{} {count}",
                with_labels(&format!("{family}_count"), &labels)
            );
        }
    }
    out
}

/// Each series' total (`name{labels}` as Prometheus writes it): each
/// stored field adds its count to every series it names.
pub fn totals(fields: &[(String, f64)]) -> BTreeMap<&str, f64> {
    let mut totals: BTreeMap<&str, f64> = BTreeMap::new();
    for (field, n) in fields {
        for series in field.split(JOIN).filter(|s| !s.is_empty()) {
            *totals.entry(series).or_insert(0.0) += n;
        }
    }
    totals
}

/// A component's stored totals, as `(field, value)` pairs.
pub fn read(redis: &Redis, component: &str) -> Result<Vec<(String, f64)>, crate::ApiError> {
    let reply = redis.execute("HGETALL", vec![bin(key(component))])?;
    Ok(reply
        .chunks(2)
        .filter_map(|pair| match pair {
            [RedisResult::Binary(k), RedisResult::Binary(v)] => Some((
                String::from_utf8_lossy(k).into_owned(),
                std::str::from_utf8(v).ok()?.parse::<f64>().ok()?,
            )),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the hash holds after each tally's `HINCRBY`.
    fn stored(tallies: &[Tally]) -> Vec<(String, f64)> {
        let mut hash: BTreeMap<String, f64> = BTreeMap::new();
        for tally in tallies {
            *hash.entry(tally.field()).or_insert(0.0) += 1.0;
        }
        hash.into_iter().collect()
    }

    /// One request of `component`: its HTTP series and an extra count.
    fn request(status: &str, seconds: f64, extra: Option<&str>) -> Tally {
        let mut tally = Tally::default();
        tally.count(
            "http_requests_total",
            &[("component", "orders"), ("status", status)],
        );
        tally.observe(
            "http_request_duration_seconds",
            &[("component", "orders"), ("route", "/api/orders/:id")],
            seconds,
        );
        if let Some(cache) = extra {
            tally.count("cache_hits_total", &[("cache", cache)]);
        }
        tally
    }

    #[test]
    fn one_field_a_request_renders_as_counters_and_histograms() {
        let tallies = [
            request("200", 0.004, Some("catalog")),
            request("200", 0.004, Some("catalog")),
            request("200", 0.2, None),
            request("503", 9.0, None),
        ];
        let stored = stored(&tallies);
        assert_eq!(stored.len(), 3, "the same request shape shares a field");
        let text = render(&stored);
        assert!(text.contains("# TYPE http_requests_total counter\n"));
        assert!(
            text.contains("http_requests_total{component=\"orders\",status=\"200\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("http_requests_total{component=\"orders\",status=\"503\"} 1\n"));
        assert!(text.contains("cache_hits_total{cache=\"catalog\"} 2\n"));
        assert!(text.contains("# TYPE http_request_duration_seconds histogram\n"));
        let series = "component=\"orders\",route=\"/api/orders/:id\"";
        for (le, n) in [
            ("0.001", 0),
            ("0.005", 2),
            ("0.25", 3),
            ("5", 3),
            ("+Inf", 4),
        ] {
            assert!(
                text.contains(&format!(
                    "http_request_duration_seconds_bucket{{{series},le=\"{le}\"}} {n}\n"
                )),
                "{le}: {text}"
            );
        }
        assert!(text.contains(&format!(
            "http_request_duration_seconds_count{{{series}}} 4\n"
        )));
        assert!(!text.contains("_sum"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            series("x_total", &[("q", "a\"b\\c")]),
            "x_total{q=\"a\\\"b\\\\c\"}"
        );
        assert_eq!(series("x_total", &[]), "x_total");
    }
}
