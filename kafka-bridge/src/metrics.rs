//! The bridge's Prometheus metrics: counters and gauges keyed by label
//! set, and the relay latency histogram, rendered in the text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Upper bounds (seconds) of the relay latency histogram: fine in the
/// milliseconds a hop should take, coarse beyond.
pub const LATENCY_BUCKETS: [f64; 20] = [
    0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 60.0, 300.0,
];

type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    counters: BTreeMap<(&'static str, Labels), f64>,
    gauges: BTreeMap<(&'static str, Labels), f64>,
    latency: BTreeMap<Labels, Histogram>,
}

/// Every metric the bridge exports.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Help text per metric name, in export order.
const HELP: &[(&str, &str, &str)] = &[
    (
        "bridge_relayed_out_total",
        "counter",
        "Events produced to Kafka from component outboxes, by topic.",
    ),
    (
        "bridge_outbox_errors_total",
        "counter",
        "Failed outbox drains or produces, by component and stage.",
    ),
    (
        "kafka_messages_consumed_total",
        "counter",
        "Events consumed from Kafka and done with (delivered or dead-lettered), by topic (seed 000's name).",
    ),
    (
        "bridge_delivered_total",
        "counter",
        "Events a component acknowledged with a 2xx, by topic and component.",
    ),
    (
        "bridge_delivery_retries_total",
        "counter",
        "Delivery attempts repeated after a 5xx, timeout or connection error.",
    ),
    (
        "bridge_delivery_unavailable_total",
        "counter",
        "Delivery attempts that found the platform unreachable or not ready; the partition waits and tries again.",
    ),
    (
        "bridge_partitions_waiting",
        "gauge",
        "Partitions holding their next event until the platform can be reached, by component.",
    ),
    (
        "bridge_partitions_assigned",
        "gauge",
        "Partitions this replica consumes, by component (the group protocol shares them among replicas).",
    ),
    (
        "bridge_rebalances_total",
        "counter",
        "Partition assignments and revocations this replica went through, by component and kind.",
    ),
    (
        "bridge_outbox_wakeups_total",
        "counter",
        "Outbox wake-ups received from components over Redis.",
    ),
    (
        "bridge_dead_lettered_total",
        "counter",
        "Events sent to a .dlq topic, by source topic, component and reason.",
    ),
    (
        "bridge_ticks_total",
        "counter",
        "POST /internal/<component>/tick calls, by component and outcome.",
    ),
    (
        "bridge_consumer_lag",
        "gauge",
        "Messages between a partition's committed offset and its high watermark.",
    ),
    (
        "bridge_relay_latency_seconds",
        "histogram",
        "From outbox row creation to the subscribed component's 2xx.",
    ),
];

impl Metrics {
    /// Adds `by` to a counter.
    pub fn count(&self, name: &'static str, labels: &[(&'static str, &str)], by: f64) {
        let key = (name, own(labels));
        let mut inner = self.lock();
        *inner.counters.entry(key).or_insert(0.0) += by;
    }

    /// Sets a gauge.
    pub fn set(&self, name: &'static str, labels: &[(&'static str, &str)], value: f64) {
        self.lock().gauges.insert((name, own(labels)), value);
    }

    /// Adds `by` (which may be negative) to a gauge.
    pub fn add(&self, name: &'static str, labels: &[(&'static str, &str)], by: f64) {
        let key = (name, own(labels));
        *self.lock().gauges.entry(key).or_insert(0.0) += by;
    }

    /// The sum of a gauge over all its label sets.
    pub fn gauge_sum(&self, name: &str) -> f64 {
        self.lock()
            .gauges
            .iter()
            .filter(|((n, _), _)| *n == name)
            .map(|(_, v)| v)
            .sum()
    }

    /// Records one relay latency.
    pub fn observe_latency(&self, labels: &[(&'static str, &str)], seconds: f64) {
        let mut inner = self.lock();
        let h = inner.latency.entry(own(labels)).or_default();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| seconds <= *b) {
            h.counts[i] += 1;
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let inner = self.lock();
        let mut out = String::new();
        for (name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let series = match *kind {
                "counter" => &inner.counters,
                "gauge" => &inner.gauges,
                _ => {
                    for (labels, h) in &inner.latency {
                        let mut cumulative = 0;
                        for (bound, n) in LATENCY_BUCKETS.iter().zip(h.counts) {
                            cumulative += n;
                            let le = format!("{bound}");
                            let _ = writeln!(
                                out,
                                "{name}_bucket{} {cumulative}",
                                label_text(labels, Some(&le))
                            );
                        }
                        let _ = writeln!(
                            out,
                            "{name}_bucket{} {}",
                            label_text(labels, Some("+Inf")),
                            h.count
                        );
                        let _ = writeln!(out, "{name}_sum{} {}", label_text(labels, None), h.sum);
                        let _ =
                            writeln!(out, "{name}_count{} {}", label_text(labels, None), h.count);
                    }
                    continue;
                }
            };
            for ((n, labels), value) in series {
                if n == name {
                    let _ = writeln!(out, "{name}{} {value}", label_text(labels, None));
                }
            }
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere must not take the metrics down with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn own(labels: &[(&'static str, &str)]) -> Labels {
    labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

fn label_text(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.count(
            "bridge_relayed_out_total",
            &[("topic", "catalog.events")],
            2.0,
        );
        m.count(
            "bridge_relayed_out_total",
            &[("topic", "catalog.events")],
            1.0,
        );
        m.set(
            "bridge_consumer_lag",
            &[("topic", "t"), ("partition", "0")],
            7.0,
        );
        m.observe_latency(&[("topic", "t")], 0.003);
        m.observe_latency(&[("topic", "t")], 0.2);
        m.observe_latency(&[("topic", "t")], 999.0);
        let text = m.render();
        assert!(
            text.contains("bridge_relayed_out_total{topic=\"catalog.events\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("bridge_consumer_lag{topic=\"t\",partition=\"0\"} 7\n"));
        assert!(text.contains("bridge_relay_latency_seconds_bucket{topic=\"t\",le=\"0.005\"} 1\n"));
        assert!(text.contains("bridge_relay_latency_seconds_bucket{topic=\"t\",le=\"0.25\"} 2\n"));
        assert!(text.contains("bridge_relay_latency_seconds_bucket{topic=\"t\",le=\"300\"} 2\n"));
        assert!(text.contains("bridge_relay_latency_seconds_bucket{topic=\"t\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("bridge_relay_latency_seconds_count{topic=\"t\"} 3\n"));
        assert!(text.contains("# TYPE bridge_relay_latency_seconds histogram"));
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::default();
        m.count(
            "bridge_dead_lettered_total",
            &[("reason", "say \"no\"\n")],
            1.0,
        );
        assert!(m.render().contains(r#"reason="say \"no\"\n""#));
    }
}
