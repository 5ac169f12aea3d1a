//! Quantiles of a Prometheus histogram read from `/metrics` text, computed
//! the way PromQL's `histogram_quantile` does: buckets summed over every
//! label but `le`, then linear interpolation inside the bucket the rank
//! falls in.

use std::collections::BTreeMap;

/// A histogram's cumulative buckets, summed over label sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// `(upper bound, cumulative count)`, by bound; `+Inf` last.
    buckets: Vec<(f64, f64)>,
}

impl Histogram {
    /// The `<name>_bucket{...,le="..."} <count>` lines of `metrics`, or
    /// `None` if there are none.
    pub fn parse(metrics: &str, name: &str) -> Option<Self> {
        Self::parse_matching(metrics, name, "")
    }

    /// [`Self::parse`], of the series whose labels contain `filter` (such
    /// as `component="inventory"`).
    pub fn parse_matching(metrics: &str, name: &str, filter: &str) -> Option<Self> {
        let prefix = format!("{name}_bucket{{");
        // Bounds as text keys would sort wrongly; f64 bits of non-negative
        // bounds sort like the numbers (and +Inf last).
        let mut sums: BTreeMap<u64, f64> = BTreeMap::new();
        for line in metrics.lines() {
            let Some(rest) = line.trim_start().strip_prefix(&prefix) else {
                continue;
            };
            let Some((labels, value)) = rest.rsplit_once('}') else {
                continue;
            };
            if !labels.contains(filter) {
                continue;
            }
            let (Some(bound), Some(count)) = (le(labels), sample_value(value)) else {
                continue;
            };
            if bound < 0.0 || bound.is_nan() {
                continue;
            }
            *sums.entry(bound.to_bits()).or_insert(0.0) += count;
        }
        if sums.is_empty() {
            return None;
        }
        Some(Self {
            buckets: sums
                .into_iter()
                .map(|(bits, count)| (f64::from_bits(bits), count))
                .collect(),
        })
    }

    /// What was observed since `earlier` (a snapshot of the same series).
    pub fn since(&self, earlier: Option<&Self>) -> Self {
        let before = |bound: f64| {
            earlier.map_or(0.0, |e| {
                e.buckets
                    .iter()
                    .find(|(b, _)| *b == bound)
                    .map_or(0.0, |(_, c)| *c)
            })
        };
        Self {
            buckets: self
                .buckets
                .iter()
                .map(|&(bound, count)| (bound, (count - before(bound)).max(0.0)))
                .collect(),
        }
    }

    /// Observations in all: the `+Inf` bucket (else the largest).
    pub fn count(&self) -> f64 {
        self.buckets.last().map_or(0.0, |&(_, count)| count)
    }

    /// The `q` quantile (0..=1) in the histogram's unit, or `None` without
    /// observations. A rank in the `+Inf` bucket answers the largest finite
    /// bound, as `histogram_quantile` does.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total <= 0.0 || total.is_nan() || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = q * total;
        let mut lower = 0.0;
        let mut below = 0.0;
        for &(upper, count) in &self.buckets {
            if count >= rank && count > below {
                if upper.is_infinite() {
                    return Some(lower);
                }
                return Some(lower + (upper - lower) * (rank - below) / (count - below));
            }
            lower = upper;
            below = count;
        }
        Some(lower)
    }
}

/// The `le` label's value, as a number (`+Inf` included).
fn le(labels: &str) -> Option<f64> {
    labels.split(',').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == "le").then(|| parse_number(value.trim().trim_matches('"')))?
    })
}

/// The sample value after the labels (a timestamp may follow it).
fn sample_value(rest: &str) -> Option<f64> {
    parse_number(rest.split_whitespace().next()?)
}

fn parse_number(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        _ => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = "\
# HELP bridge_relay_latency_seconds Outbox row to 2xx from the subscriber.
# TYPE bridge_relay_latency_seconds histogram
bridge_relay_latency_seconds_bucket{topic=\"catalog.events\",component=\"inventory\",le=\"0.005\"} 10
bridge_relay_latency_seconds_bucket{topic=\"catalog.events\",component=\"inventory\",le=\"0.01\"} 40
bridge_relay_latency_seconds_bucket{topic=\"catalog.events\",component=\"inventory\",le=\"0.1\"} 50
bridge_relay_latency_seconds_bucket{topic=\"catalog.events\",component=\"inventory\",le=\"+Inf\"} 50
bridge_relay_latency_seconds_bucket{topic=\"inventory.commands\",component=\"inventory\",le=\"0.005\"} 40
bridge_relay_latency_seconds_bucket{topic=\"inventory.commands\",component=\"inventory\",le=\"0.01\"} 40
bridge_relay_latency_seconds_bucket{topic=\"inventory.commands\",component=\"inventory\",le=\"0.1\"} 49
bridge_relay_latency_seconds_bucket{topic=\"inventory.commands\",component=\"inventory\",le=\"+Inf\"} 50
bridge_relay_latency_seconds_sum{topic=\"catalog.events\",component=\"inventory\"} 0.9
bridge_relay_latency_seconds_count{topic=\"catalog.events\",component=\"inventory\"} 50
bridge_deliveries_total{topic=\"catalog.events\"} 50
";

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn sums_buckets_over_labels() {
        let h = Histogram::parse(METRICS, "bridge_relay_latency_seconds").expect("present");
        assert_eq!(
            h.buckets,
            vec![
                (0.005, 50.0),
                (0.01, 80.0),
                (0.1, 99.0),
                (f64::INFINITY, 100.0)
            ]
        );
        assert!((h.count() - 100.0).abs() < f64::EPSILON);
    }

    #[test]
    fn interpolates_inside_the_bucket() {
        let h = Histogram::parse(METRICS, "bridge_relay_latency_seconds").expect("present");
        // Rank 50 of 100 is the top of the first bucket.
        assert!(close(h.quantile(0.5), 0.005), "{:?}", h.quantile(0.5));
        // Rank 65: halfway through (0.005, 0.01].
        assert!(close(h.quantile(0.65), 0.0075), "{:?}", h.quantile(0.65));
        // Rank 99 is the top of (0.01, 0.1].
        assert!(close(h.quantile(0.99), 0.1), "{:?}", h.quantile(0.99));
        // Rank 99.5 falls in +Inf: the largest finite bound.
        assert!(close(h.quantile(0.995), 0.1), "{:?}", h.quantile(0.995));
        // The first bucket interpolates from zero.
        assert!(close(h.quantile(0.25), 0.0025), "{:?}", h.quantile(0.25));
    }

    #[test]
    fn reads_unlabelled_histograms_and_timestamps() {
        let text = "latency_bucket{le=\"1\"} 2 1712345678000\nlatency_bucket{le=\"2\"} 4\nlatency_bucket{le=\"+Inf\"} 4\n";
        let h = Histogram::parse(text, "latency").expect("present");
        assert!(close(h.quantile(0.75), 1.5), "{:?}", h.quantile(0.75));
    }

    #[test]
    fn nothing_to_say_without_observations() {
        assert_eq!(Histogram::parse(METRICS, "bridge_lag"), None);
        assert_eq!(Histogram::parse("", "bridge_relay_latency_seconds"), None);
        let empty = "x_bucket{le=\"0.1\"} 0\nx_bucket{le=\"+Inf\"} 0\n";
        let h = Histogram::parse(empty, "x").expect("present");
        assert_eq!(h.quantile(0.5), None);
        let h = Histogram::parse(METRICS, "bridge_relay_latency_seconds").expect("present");
        assert_eq!(h.quantile(1.5), None);
    }
}
