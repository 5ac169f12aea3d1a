//! The tracer: takes finished spans without ever waiting, and a background
//! task batches them to the collector. The queue is bounded; when it is
//! full (a collector slower than the traffic) or an export fails (a
//! collector that is down), spans are dropped and counted, never retried
//! at the expense of what is being traced. Shutdown exports what waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::config::ExportConfig;
use crate::span::Span;
use crate::transport::Transport;
use crate::Origin;

/// How often a failing export is reported (the counters say the rest).
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// Records spans; cheap to clone. The default is off: it records nothing.
#[derive(Clone, Default)]
pub struct Tracer {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    spans: mpsc::Sender<Span>,
    stop: Mutex<Option<oneshot::Sender<oneshot::Sender<()>>>>,
    counters: Arc<Counters>,
    service: String,
}

/// What happened to the spans recorded so far.
#[derive(Debug, Default)]
struct Counters {
    exported: AtomicU64,
    queue_full: AtomicU64,
    export_failed: AtomicU64,
}

/// A snapshot of the tracer's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub exported: u64,
    /// Dropped because the queue was full (or the exporter had stopped).
    pub dropped_queue_full: u64,
    /// Dropped because the collector did not take them.
    pub dropped_export_failed: u64,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Some(inner) => write!(f, "Tracer({})", inner.service),
            None => f.write_str("Tracer(off)"),
        }
    }
}

impl Tracer {
    /// Starts exporting on the current tokio runtime; `report` hears about
    /// failed exports (at most once a minute).
    pub fn start(config: ExportConfig, origin_scope: (&str, &str), report: fn(&str)) -> Self {
        let (spans, rx) = mpsc::channel(config.max_queue);
        let (stop, stop_rx) = oneshot::channel();
        let counters = Arc::new(Counters::default());
        let origin = Origin {
            resource: config.resource.clone(),
            scope_name: origin_scope.0.to_string(),
            scope_version: origin_scope.1.to_string(),
        };
        let service = config.service_name().to_string();
        tokio::spawn(
            Batcher {
                transport: Transport::new(&config),
                config,
                origin,
                counters: counters.clone(),
                report,
                reported: None,
            }
            .run(rx, stop_rx),
        );
        Self {
            inner: Some(Arc::new(Inner {
                spans,
                stop: Mutex::new(Some(stop)),
                counters,
                service,
            })),
        }
    }

    /// Whether spans are recorded at all: callers skip building them when
    /// not.
    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Queues a finished span; never waits. Unsampled spans are not kept.
    pub fn record(&self, span: Span) {
        let Some(inner) = &self.inner else { return };
        if !span.context.sampled {
            return;
        }
        if inner.spans.try_send(span).is_err() {
            inner.counters.queue_full.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Exports what is queued and stops, waiting at most `limit`.
    pub async fn shutdown(&self, limit: Duration) {
        let Some(inner) = &self.inner else { return };
        let stop = inner.stop.lock().ok().and_then(|mut s| s.take());
        if let Some(stop) = stop {
            let (done, finished) = oneshot::channel();
            if stop.send(done).is_ok() {
                let _ = tokio::time::timeout(limit, finished).await;
            }
        }
    }

    pub fn stats(&self) -> Stats {
        self.inner.as_ref().map_or_else(Stats::default, |i| Stats {
            exported: i.counters.exported.load(Ordering::Relaxed),
            dropped_queue_full: i.counters.queue_full.load(Ordering::Relaxed),
            dropped_export_failed: i.counters.export_failed.load(Ordering::Relaxed),
        })
    }

    /// The counters in Prometheus text, as `<prefix>_spans_exported_total`
    /// and `<prefix>_spans_dropped_total{reason}`; empty when off.
    pub fn render_metrics(&self, prefix: &str) -> String {
        if !self.is_on() {
            return String::new();
        }
        let s = self.stats();
        format!(
            "# HELP {prefix}_spans_exported_total Spans the OTLP collector accepted.\n\
             # TYPE {prefix}_spans_exported_total counter\n\
             {prefix}_spans_exported_total {}\n\
             # HELP {prefix}_spans_dropped_total Spans dropped: the export queue was full, or the collector did not take them.\n\
             # TYPE {prefix}_spans_dropped_total counter\n\
             {prefix}_spans_dropped_total{{reason=\"queue_full\"}} {}\n\
             {prefix}_spans_dropped_total{{reason=\"export_failed\"}} {}\n",
            s.exported, s.dropped_queue_full, s.dropped_export_failed
        )
    }
}

/// The background side.
struct Batcher {
    config: ExportConfig,
    origin: Origin,
    transport: Transport,
    counters: Arc<Counters>,
    report: fn(&str),
    reported: Option<Instant>,
}

impl Batcher {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Span>,
        mut stop: oneshot::Receiver<oneshot::Sender<()>>,
    ) {
        let mut batch: Vec<Span> = Vec::with_capacity(self.config.max_batch);
        let mut due = tokio::time::Instant::now() + self.config.schedule_delay;
        loop {
            tokio::select! {
                done = &mut stop => {
                    rx.close();
                    while let Ok(span) = rx.try_recv() {
                        batch.push(span);
                    }
                    self.export_all(&mut batch).await;
                    if let Ok(done) = done {
                        let _ = done.send(());
                    }
                    return;
                }
                span = rx.recv() => match span {
                    Some(span) => {
                        batch.push(span);
                        if batch.len() >= self.config.max_batch {
                            self.export_all(&mut batch).await;
                            due = tokio::time::Instant::now() + self.config.schedule_delay;
                        }
                    }
                    // Every tracer is gone.
                    None => {
                        self.export_all(&mut batch).await;
                        return;
                    }
                },
                () = tokio::time::sleep_until(due) => {
                    self.export_all(&mut batch).await;
                    due = tokio::time::Instant::now() + self.config.schedule_delay;
                }
            }
        }
    }

    async fn export_all(&mut self, batch: &mut Vec<Span>) {
        while !batch.is_empty() {
            let take = batch.len().min(self.config.max_batch);
            let spans: Vec<Span> = batch.drain(..take).collect();
            self.export(&spans).await;
        }
    }

    async fn export(&mut self, spans: &[Span]) {
        let body = crate::encode(self.config.protocol, &self.origin, spans);
        let n = spans.len() as u64;
        let sent = tokio::time::timeout(self.config.timeout, self.transport.post(body)).await;
        let failure = match sent {
            Ok(Ok(())) => {
                self.counters.exported.fetch_add(n, Ordering::Relaxed);
                return;
            }
            Ok(Err(e)) => e,
            Err(_) => format!(
                "the collector did not answer within {} ms",
                self.config.timeout.as_millis()
            ),
        };
        self.counters.export_failed.fetch_add(n, Ordering::Relaxed);
        if self.reported.is_none_or(|t| t.elapsed() >= REPORT_EVERY) {
            self.reported = Some(Instant::now());
            (self.report)(&format!(
                "OTLP export failed; {n} spans dropped ({failure})"
            ));
        }
    }
}
