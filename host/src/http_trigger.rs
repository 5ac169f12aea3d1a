//! The HTTP listener: accepts connections, hands each request to the app,
//! logs one JSON line per request, and shuts down gracefully.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::app::{plain, App};
use crate::telemetry::Invocation;

/// Serves `listener` until `shutdown` resolves, then stops accepting and
/// waits up to `grace` for requests in flight.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, client) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let service = service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(handle(&app, req, client).await) }
                });
                let conn = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, client = %client, "connection closed with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: no new connections; finishing requests in flight");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_s = grace.as_secs(),
            "requests still in flight at the end of the grace period"
        );
    }
}

async fn handle(
    app: &Arc<App>,
    req: hyper::Request<Incoming>,
    client: SocketAddr,
) -> hyper::Response<HyperOutgoingBody> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let trace = Invocation::inbound(app.tracer(), &method, req.uri(), req.headers(), client);
    let req = req.map(|body| body.map_err(wasmtime_wasi_http::Error::from).boxed_unsync());
    match app.handle_inbound(req, client, trace.clone()).await {
        Some(dispatched) => {
            let status = dispatched.response.status().as_u16();
            if let Some(t) = &trace {
                t.finish_server(Some(&dispatched.route), status);
            }
            let elapsed = started.elapsed();
            app.metrics
                .request(&dispatched.component, &dispatched.route, status, elapsed);
            let request_id = dispatched
                .response
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .or(request_id);
            tracing::info!(
                target: "request",
                component = %dispatched.component,
                route = %dispatched.route,
                method = %method,
                path = %path,
                status,
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                request_id = request_id.as_deref().unwrap_or(""),
                client = %client,
            );
            dispatched.response
        }
        None => {
            app.metrics.not_found();
            if let Some(t) = &trace {
                t.finish_server(None, 404);
            }
            tracing::info!(
                target: "request",
                component = "",
                route = "",
                method = %method,
                path = %path,
                status = 404u16,
                duration_ms = started.elapsed().as_secs_f64() * 1000.0,
                request_id = request_id.as_deref().unwrap_or(""),
                client = %client,
            );
            plain(StatusCode::NOT_FOUND, "Not Found")
        }
    }
}

/// Serves `GET /metrics` in Prometheus text format on its own listener.
pub async fn serve_metrics(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let app = app.clone();
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    let app = app.clone();
                    async move {
                        let response = if req.uri().path() == "/metrics" {
                            let text = format!("{}{}", app.metrics.render(), app.tracer().render_metrics("spinshop_host_otlp"));
                            let mut r = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(text)));
                            r.headers_mut().insert(
                                http::header::CONTENT_TYPE,
                                http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                            );
                            r
                        } else {
                            let mut r = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(b"Not Found")));
                            *r.status_mut() = StatusCode::NOT_FOUND;
                            r
                        };
                        Ok::<_, Infallible>(response)
                    }
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
            () = &mut shutdown => return,
        }
    }
}
