//! The host's own Prometheus metrics: requests by component, route and
//! status; request duration; instantiation time; in-flight requests; traps,
//! timeouts and requests turned away.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const INSTANTIATION_BUCKETS: &[f64] = &[
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005,
];

#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.counts[i] += 1;
        }
        self.sum += value;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Default, Debug)]
struct RouteStats {
    by_status: HashMap<u16, u64>,
    duration: Option<Histogram>,
}

/// (component, route) a request was served by.
type RouteKey = (Arc<str>, Arc<str>);

/// Metrics registry of the host.
#[derive(Debug)]
pub struct Metrics {
    routes: Mutex<HashMap<RouteKey, RouteStats>>,
    instantiation: Mutex<Histogram>,
    in_flight: AtomicI64,
    traps: Mutex<HashMap<Arc<str>, u64>>,
    timeouts: Mutex<HashMap<Arc<str>, u64>>,
    rejected: AtomicU64,
    not_found: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            routes: Mutex::default(),
            instantiation: Mutex::new(Histogram::new(INSTANTIATION_BUCKETS)),
            in_flight: AtomicI64::new(0),
            traps: Mutex::default(),
            timeouts: Mutex::default(),
            rejected: AtomicU64::new(0),
            not_found: AtomicU64::new(0),
        }
    }
}

/// Decrements the in-flight gauge when a request ends, however it ends.
#[derive(Debug)]
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn request(&self, component: &Arc<str>, route: &Arc<str>, status: u16, elapsed: Duration) {
        if let Ok(mut routes) = self.routes.lock() {
            let stats = routes
                .entry((component.clone(), route.clone()))
                .or_default();
            *stats.by_status.entry(status).or_default() += 1;
            stats
                .duration
                .get_or_insert_with(|| Histogram::new(DURATION_BUCKETS))
                .observe(elapsed.as_secs_f64());
        }
    }

    pub fn instantiated(&self, elapsed: Duration) {
        if let Ok(mut h) = self.instantiation.lock() {
            h.observe(elapsed.as_secs_f64());
        }
    }

    pub fn start(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    pub fn trap(&self, component: &Arc<str>) {
        if let Ok(mut t) = self.traps.lock() {
            *t.entry(component.clone()).or_default() += 1;
        }
    }

    pub fn timeout(&self, component: &Arc<str>) {
        if let Ok(mut t) = self.timeouts.lock() {
            *t.entry(component.clone()).or_default() += 1;
        }
    }

    pub fn rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn not_found(&self) {
        self.not_found.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP spinshop_host_requests_total HTTP requests served, by component, route and status.\n");
        out.push_str("# TYPE spinshop_host_requests_total counter\n");
        let routes = self.routes.lock().map(|r| {
            let mut v: Vec<_> = r
                .iter()
                .map(|((c, route), s)| {
                    (
                        c.clone(),
                        route.clone(),
                        s.by_status.clone(),
                        s.duration.clone(),
                    )
                })
                .collect();
            v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
            v
        });
        let routes = routes.unwrap_or_default();
        for (component, route, by_status, _) in &routes {
            let mut statuses: Vec<_> = by_status.iter().collect();
            statuses.sort();
            for (status, n) in statuses {
                let _ = writeln!(
                    out,
                    "spinshop_host_requests_total{{component=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(component),
                    escape(route)
                );
            }
        }
        out.push_str("# HELP spinshop_host_request_duration_seconds Time to the response head, by component and route.\n");
        out.push_str("# TYPE spinshop_host_request_duration_seconds histogram\n");
        for (component, route, _, duration) in &routes {
            if let Some(h) = duration {
                let labels = format!(
                    "component=\"{}\",route=\"{}\"",
                    escape(component),
                    escape(route)
                );
                h.render(&mut out, "spinshop_host_request_duration_seconds", &labels);
            }
        }
        out.push_str("# HELP spinshop_host_instantiation_seconds Time to instantiate a component for a request.\n");
        out.push_str("# TYPE spinshop_host_instantiation_seconds histogram\n");
        if let Ok(h) = self.instantiation.lock() {
            h.render(&mut out, "spinshop_host_instantiation_seconds", "");
        }
        out.push_str("# HELP spinshop_host_requests_in_flight Requests being handled now.\n");
        out.push_str("# TYPE spinshop_host_requests_in_flight gauge\n");
        let _ = writeln!(
            out,
            "spinshop_host_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        for (name, help, map) in [
            (
                "spinshop_host_traps_total",
                "Requests whose component trapped.",
                &self.traps,
            ),
            (
                "spinshop_host_timeouts_total",
                "Requests stopped at the time limit.",
                &self.timeouts,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            if let Ok(map) = map.lock() {
                let mut v: Vec<_> = map.iter().collect();
                v.sort();
                for (component, n) in v {
                    let _ = writeln!(out, "{name}{{component=\"{}\"}} {n}", escape(component));
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP spinshop_host_rejected_total Requests turned away with 503 at the instance limit.\n# TYPE spinshop_host_rejected_total counter\nspinshop_host_rejected_total {}",
            self.rejected.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP spinshop_host_not_found_total Requests no route matched.\n# TYPE spinshop_host_not_found_total counter\nspinshop_host_not_found_total {}",
            self.not_found.load(Ordering::Relaxed)
        );
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        let (c, r): (Arc<str>, Arc<str>) = ("ops".into(), "/health".into());
        m.request(&c, &r, 200, Duration::from_millis(2));
        m.request(&c, &r, 200, Duration::from_millis(20));
        m.request(&c, &r, 503, Duration::from_millis(2));
        m.instantiated(Duration::from_micros(20));
        let text = m.render();
        assert!(text.contains(
            "spinshop_host_requests_total{component=\"ops\",route=\"/health\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "spinshop_host_requests_total{component=\"ops\",route=\"/health\",status=\"503\"} 1"
        ));
        assert!(text.contains("spinshop_host_request_duration_seconds_bucket{component=\"ops\",route=\"/health\",le=\"0.0025\"} 2"));
        assert!(text.contains("spinshop_host_request_duration_seconds_bucket{component=\"ops\",route=\"/health\",le=\"+Inf\"} 3"));
        assert!(text.contains("spinshop_host_instantiation_seconds_count 1"));
    }
}
