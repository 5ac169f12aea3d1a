//! A component's metrics in the Prometheus text format, for
//! `GET /internal/<component>/metrics`: the business figures its
//! declaration's hook reads from its own state, and the platform's own
//! (the outbox backlog).

use std::fmt::Write as _;

use crate::db::Db;
use crate::problem::ApiError;

/// What a metric measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only ever goes up (a total).
    Counter,
    /// Goes up and down (a level).
    Gauge,
    /// Observations counted into buckets, with their sum and count.
    Histogram,
}

/// The pseudo-label that marks a histogram's `_sum` and `_count` samples
/// (rendered as the series' suffix, never as a label).
const SERIES: &str = "__series";

/// Buckets for durations of business processes, seconds (an order's
/// saga takes from milliseconds to the step timeout).
pub const PROCESS_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// One metric and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Metric {
    /// A total.
    pub fn counter(name: &'static str, help: &'static str) -> Self {
        Self::new(name, help, Kind::Counter)
    }

    /// A level.
    pub fn gauge(name: &'static str, help: &'static str) -> Self {
        Self::new(name, help, Kind::Gauge)
    }

    /// A histogram.
    pub fn histogram(name: &'static str, help: &'static str) -> Self {
        Self::new(name, help, Kind::Histogram)
    }

    /// Adds the series `labels` of a histogram from the durations (in
    /// seconds, one column named `d`) that `sql` selects, counted into
    /// `buckets` by SQLite itself.
    pub fn durations(
        mut self,
        db: &Db,
        labels: Vec<(&'static str, String)>,
        buckets: &[f64],
        sql: &str,
    ) -> Result<Self, ApiError> {
        let counts: Vec<String> = buckets
            .iter()
            .map(|b| format!("COALESCE(SUM(d <= {b}), 0)"))
            .collect();
        let query = format!(
            "SELECT {}, COALESCE(SUM(d), 0.0), COUNT(*) FROM ({sql})",
            counts.join(", ")
        );
        let r = db.execute(&query, &[])?;
        let Some(row) = r.rows.first() else {
            return Ok(self);
        };
        let number = |i: usize| match row.values.get(i) {
            Some(spin_sdk::sqlite3::Value::Integer(n)) => *n as f64,
            Some(spin_sdk::sqlite3::Value::Real(x)) => *x,
            _ => 0.0,
        };
        for (i, bound) in buckets.iter().enumerate() {
            let mut with_le = labels.clone();
            with_le.push(("le", format!("{bound}")));
            self.samples.push((with_le, number(i)));
        }
        let count = number(buckets.len() + 1);
        let mut inf = labels.clone();
        inf.push(("le", "+Inf".into()));
        self.samples.push((inf, count));
        let mut sum = labels.clone();
        sum.push((SERIES, "sum".into()));
        self.samples.push((sum, number(buckets.len())));
        let mut total = labels;
        total.push((SERIES, "count".into()));
        self.samples.push((total, count));
        Ok(self)
    }

    fn new(name: &'static str, help: &'static str, kind: Kind) -> Self {
        Self {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    /// The metric's one value.
    pub fn value(self, value: f64) -> Self {
        self.sample(Vec::new(), value)
    }

    /// A value for one combination of labels.
    pub fn sample(mut self, labels: Vec<(&'static str, String)>, value: f64) -> Self {
        self.samples.push((labels, value));
        self
    }

    /// One sample per `(label value, count)` row of `sql` (a `GROUP BY`
    /// whose first column is text and second an integer).
    pub fn counts_by(self, db: &Db, label: &'static str, sql: &str) -> Result<Self, ApiError> {
        self.counts_by_labels(db, &[label], sql)
    }

    /// One sample per row of `sql`: the values of `labels` (text columns,
    /// in order), then the count (an integer column).
    pub fn counts_by_labels(
        mut self,
        db: &Db,
        labels: &[&'static str],
        sql: &str,
    ) -> Result<Self, ApiError> {
        for row in db.execute(sql, &[])?.rows {
            let values: Option<Vec<(&'static str, String)>> = labels
                .iter()
                .enumerate()
                .map(|(i, label)| row.get::<&str>(i).map(|v| (*label, v.to_string())))
                .collect();
            if let (Some(values), Some(n)) = (values, row.get::<i64>(labels.len())) {
                self.samples.push((values, n as f64));
            }
        }
        Ok(self)
    }

    /// The metric's value as the count `sql` answers (one integer).
    pub fn count(self, db: &Db, sql: &str) -> Result<Self, ApiError> {
        let n = crate::db::first_i64(&db.execute(sql, &[])?).unwrap_or(0);
        Ok(self.value(n as f64))
    }
}

/// The outbox rows waiting for the bridge.
pub fn outbox_backlog(db: &Db, component: &str) -> Result<Metric, ApiError> {
    let n = crate::db::first_i64(&db.execute("SELECT COUNT(*) FROM outbox", &[])?).unwrap_or(0);
    Ok(Metric::gauge(
        "spinshop_outbox_pending_events",
        "Events in the outbox not yet acknowledged by the bridge",
    )
    .sample(vec![("component", component.to_string())], n as f64))
}

/// The events this component processed from its inbox, by type.
pub fn processed_events(db: &Db, component: &str) -> Result<Metric, ApiError> {
    let r = db.execute(
        "SELECT type, COUNT(*) FROM processed_events GROUP BY type ORDER BY type",
        &[],
    )?;
    let mut m = Metric::counter(
        "spinshop_events_processed_total",
        "Events the component processed, by type",
    );
    for row in r.rows {
        if let (Some(t), Some(n)) = (row.get::<&str>(0), row.get::<i64>(1)) {
            m = m.sample(
                vec![
                    ("component", component.to_string()),
                    ("type", t.to_string()),
                ],
                n as f64,
            );
        }
    }
    Ok(m)
}

/// The Prometheus text exposition of `metrics`.
pub fn render(metrics: &[Metric]) -> String {
    let mut out = String::new();
    for m in metrics {
        let kind = match m.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(out, "# HELP {} {}", m.name, m.help);
        let _ = writeln!(out, "# TYPE {} {kind}", m.name);
        for (labels, value) in &m.samples {
            let name = match (m.kind, labels.iter().find(|(k, _)| *k == SERIES)) {
                (Kind::Histogram, Some((_, series))) => format!("{}_{series}", m.name),
                (Kind::Histogram, None) => format!("{}_bucket", m.name),
                _ => m.name.to_string(),
            };
            let labels = labels
                .iter()
                .filter(|(k, _)| *k != SERIES)
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect::<Vec<_>>()
                .join(",");
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {value}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        }
    }
    out
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_as_prometheus_text() {
        let text = render(&[
            Metric::counter("orders_created_total", "Orders placed").value(3.0),
            Metric::gauge("orders", "Orders by status")
                .sample(vec![("status", "PENDING".into())], 1.0)
                .sample(vec![("status", "a\"b".into())], 2.0),
        ]);
        assert_eq!(
            text,
            "# HELP orders_created_total Orders placed\n# TYPE orders_created_total counter\n\
             orders_created_total 3\n# HELP orders Orders by status\n# TYPE orders gauge\n\
             orders{status=\"PENDING\"} 1\norders{status=\"a\\\"b\"} 2\n"
        );
    }

    #[test]
    fn counts_come_from_sql() {
        let db = Db::memory(&[
            crate::outbox::MIGRATION,
            &[
                "CREATE TABLE t (status TEXT)",
                "INSERT INTO t VALUES ('a'), ('a'), ('b')",
            ],
        ])
        .expect("db");
        let m = Metric::gauge("t", "t")
            .counts_by(
                &db,
                "status",
                "SELECT status, COUNT(*) FROM t GROUP BY status ORDER BY status",
            )
            .expect("counts");
        assert_eq!(
            m.samples,
            vec![
                (vec![("status", "a".to_string())], 2.0),
                (vec![("status", "b".to_string())], 1.0)
            ]
        );
        let total = Metric::counter("n", "n")
            .count(&db, "SELECT COUNT(*) FROM t")
            .expect("n");
        let durations = Metric::histogram("d_seconds", "d")
            .durations(
                &db,
                vec![("kind", "x".into())],
                &[0.5, 2.0],
                "SELECT length(status) * 1.0 AS d FROM t",
            )
            .expect("histogram");
        let text = render(&[durations]);
        assert!(text.contains("# TYPE d_seconds histogram\n"), "{text}");
        assert!(
            text.contains("d_seconds_bucket{kind=\"x\",le=\"0.5\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("d_seconds_bucket{kind=\"x\",le=\"2\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("d_seconds_bucket{kind=\"x\",le=\"+Inf\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("d_seconds_sum{kind=\"x\"} 3\n"), "{text}");
        assert!(text.contains("d_seconds_count{kind=\"x\"} 3\n"), "{text}");
        assert_eq!(total.samples[0].1, 3.0);
        assert_eq!(outbox_backlog(&db, "x").expect("backlog").samples[0].1, 0.0);
    }
}
