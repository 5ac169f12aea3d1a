//! `GET /health` and `GET /metrics` on the bridge's own address.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rdkafka::producer::{FutureProducer, Producer as _};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::platform::Platform;

/// What the endpoints read.
pub struct State {
    pub metrics: Arc<Metrics>,
    /// Its export counters are metrics too.
    pub tracer: spinshop_otlp::Tracer,
    pub producer: FutureProducer,
    pub platform: Platform,
}

/// Binds the address (so a port clash fails start-up).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Serves until `stop`.
pub async fn serve(listener: TcpListener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
            _ = stop.changed() => return,
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(req, state.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, content_type, body) = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/metrics") => (
            200,
            "text/plain; version=0.0.4",
            state.metrics.render() + &state.tracer.render_metrics("bridge_otlp"),
        ),
        ("GET", "/health") => {
            let (ok, body) = health(&state).await;
            (
                if ok { 200 } else { 503 },
                "application/json",
                body.to_string(),
            )
        }
        _ => (
            404,
            "application/problem+json",
            json!({"type": "about:blank", "title": "Not Found", "status": 404,
                   "detail": "the bridge serves GET /health and GET /metrics"})
            .to_string(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    Ok(response)
}

async fn health(state: &State) -> (bool, serde_json::Value) {
    let producer = state.producer.clone();
    let broker = tokio::task::spawn_blocking(move || {
        producer
            .client()
            .fetch_metadata(None, Duration::from_secs(2))
            .map(|m| m.brokers().len())
    })
    .await;
    let broker = match broker {
        Ok(Ok(n)) if n > 0 => json!({"status": "ok", "brokers": n}),
        Ok(Ok(_)) => json!({"status": "failed", "error": "no brokers in metadata"}),
        Ok(Err(e)) => json!({"status": "failed", "error": e.to_string()}),
        Err(e) => json!({"status": "failed", "error": e.to_string()}),
    };
    let platform = match state.platform.reachable().await {
        Ok(status) => json!({"status": "ok", "health_status": status}),
        Err(e) => json!({"status": "failed", "error": format!("{e:#}")}),
    };
    let ok = broker["status"] == "ok" && platform["status"] == "ok";
    // Partitions holding an event until the platform can be reached.
    let waiting = state.metrics.gauge_sum("bridge_partitions_waiting");
    (
        ok,
        json!({"status": if ok { "ok" } else { "degraded" }, "broker": broker, "platform": platform,
               "waiting_partitions": waiting}),
    )
}
