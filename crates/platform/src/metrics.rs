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
}

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
    pub fn counts_by(mut self, db: &Db, label: &'static str, sql: &str) -> Result<Self, ApiError> {
        for row in db.execute(sql, &[])?.rows {
            if let (Some(v), Some(n)) = (row.get::<&str>(0), row.get::<i64>(1)) {
                self.samples.push((vec![(label, v.to_string())], n as f64));
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
        };
        let _ = writeln!(out, "# HELP {} {}", m.name, m.help);
        let _ = writeln!(out, "# TYPE {} {kind}", m.name);
        for (labels, value) in &m.samples {
            let labels = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect::<Vec<_>>()
                .join(",");
            if labels.is_empty() {
                let _ = writeln!(out, "{} {value}", m.name);
            } else {
                let _ = writeln!(out, "{}{{{labels}}} {value}", m.name);
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
        assert_eq!(total.samples[0].1, 3.0);
        assert_eq!(outbox_backlog(&db, "x").expect("backlog").samples[0].1, 0.0);
    }
}
