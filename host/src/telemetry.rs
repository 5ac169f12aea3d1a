//! Traces of the HTTP trigger, shaped as Spin's are so that operators see
//! the same traces on both runtimes: a server span per request
//! (`spin_trigger_http.handle_http_request`, named `<METHOD> <route>`)
//! whose parent is the request's `traceparent`; inside it the component's
//! execution (`spin_trigger_http.execute_wasm`, named
//! `execute_wasm_component <id>`); and a client span per outbound request
//! (`spin_outbound_http.send_request`, named by its method), whose context
//! replaces the guest's `traceparent` header, as Spin's injection does, so
//! the callee's parent is a span that exists. Service chaining is an
//! execution under that client span, without a server span, as in Spin.
//!
//! One addition keeps the chain whole where the guest makes span ids of
//! its own: a component cannot export spans, yet spinshop's platform names
//! its request with a fresh span id (its `traceparent`) and writes that
//! into every event it publishes, so the bridge's spans would hang under a
//! span nobody exported. The guest shows that id on its outbound requests
//! and its response; the execution span takes it as its own (and a root
//! request takes the guest's trace id), unless something already points
//! at the execution span. A guest that shows none changes nothing.

use std::sync::{Arc, Mutex};

use http::HeaderMap;
use spinshop_otlp::{Span, SpanContext, SpanId, SpanKind, Tracer};

/// The spans of one component invocation: an inbound request (server span
/// and execution) or a chained one (execution only).
pub struct Invocation {
    tracer: Tracer,
    state: Mutex<State>,
}

struct State {
    server: Option<Span>,
    execute: Option<Span>,
    /// The span the execution hangs under: the server span, or the
    /// caller's client span for a chained request.
    parent: SpanContext,
    /// The trace id is the guest's to choose: the server span is a root
    /// and nothing has been exported or sent under it yet.
    trace_open: bool,
    /// The execution span's id is the guest's to choose.
    id_open: bool,
}

impl Invocation {
    /// An inbound request: its server span starts now, under the request's
    /// `traceparent` if it has a valid one. `None` when tracing is off.
    pub fn inbound(
        tracer: &Tracer,
        method: &http::Method,
        uri: &http::Uri,
        headers: &HeaderMap,
        client: std::net::SocketAddr,
    ) -> Option<Arc<Self>> {
        if !tracer.is_on() {
            return None;
        }
        let incoming = traceparent(headers);
        let mut server = Span::child(method.as_str(), SpanKind::Server, incoming.as_ref())
            .with("http.request.method", method.as_str())
            .with("network.peer.address", client.ip().to_string())
            .with("network.peer.port", client.port())
            .with("network.protocol.name", "http")
            .with("url.path", uri.path())
            .with("url.scheme", "http");
        if let Some(query) = uri.query() {
            server.set("url.query", query);
        }
        if let Some(forwarded) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            server.set("client.address", forwarded);
        }
        let parent = server.context;
        Some(Arc::new(Self {
            tracer: tracer.clone(),
            state: Mutex::new(State {
                server: Some(server),
                execute: None,
                parent,
                trace_open: incoming.is_none(),
                id_open: true,
            }),
        }))
    }

    /// A chained request, under the caller's client span.
    pub fn chained(tracer: &Tracer, parent: SpanContext) -> Arc<Self> {
        Arc::new(Self {
            tracer: tracer.clone(),
            state: Mutex::new(State {
                server: None,
                execute: None,
                parent,
                trace_open: false,
                id_open: true,
            }),
        })
    }

    /// The component starts executing.
    pub fn start_execution(&self, component: &str) {
        self.with(|s| {
            let span = Span::child(
                format!("execute_wasm_component {component}"),
                SpanKind::Internal,
                Some(&s.parent),
            );
            s.execute = Some(span);
        });
    }

    /// A guest's outbound request: adopts the span the guest names in its
    /// `traceparent`, starts the client span under the execution, and puts
    /// the client span's context in the request's `traceparent`.
    pub fn send_request<B>(&self, request: &mut http::Request<B>) -> Option<ClientSpan> {
        let guest = traceparent(request.headers());
        let span = self.with(|s| {
            if let Some(guest) = guest {
                s.adopt(guest);
            }
            s.trace_open = false;
            s.id_open = false;
            let under = s.execute.as_ref().map_or(s.parent, |e| e.context);
            let uri = request.uri();
            let mut span = Span::child(request.method().as_str(), SpanKind::Client, Some(&under))
                .with("http.request.method", request.method().as_str())
                .with("url.full", uri.to_string());
            if let Some(host) = uri.host() {
                span.set("server.address", host);
            }
            if let Some(port) = uri.port_u16() {
                span.set("server.port", port);
            }
            span
        })?;
        if let Ok(value) = http::HeaderValue::from_str(&span.context.traceparent()) {
            request.headers_mut().insert("traceparent", value);
        }
        Some(ClientSpan {
            span,
            tracer: self.tracer.clone(),
        })
    }

    /// The guest's response head: the last place it may name its span.
    pub fn response(&self, headers: &HeaderMap) {
        let guest = traceparent(headers);
        self.with(|s| {
            if let Some(guest) = guest {
                s.adopt(guest);
            }
            s.trace_open = false;
            s.id_open = false;
        });
    }

    /// Ends the server span: named `<METHOD> <route>` when a route
    /// matched, else by the method alone, as Spin names it.
    pub fn finish_server(&self, route: Option<&str>, status: u16) {
        let server = self.with(|s| {
            s.trace_open = false;
            s.server.take()
        });
        if let Some(Some(mut span)) = server {
            if let Some(route) = route {
                span.name = format!("{} {route}", span.name);
                span.set("http.route", route);
            }
            span.set("http.response.status_code", status);
            if status >= 500 {
                span.fail(&status.to_string(), format!("status {status}"));
            }
            span.end();
            self.tracer.record(span);
        }
    }

    /// Ends the execution span, failed with `error` if the guest trapped
    /// or ran out of time.
    pub fn finish_execution(&self, error: Option<(&str, String)>) {
        let execute = self.with(|s| {
            s.id_open = false;
            s.execute.take()
        });
        if let Some(Some(mut span)) = execute {
            if let Some((kind, message)) = error {
                span.fail(kind, message);
            }
            span.end();
            self.tracer.record(span);
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Option<T> {
        self.state.lock().ok().map(|mut s| f(&mut s))
    }
}

impl State {
    /// Takes the guest's span id (and, for a root, its trace id) for the
    /// execution span, where nothing points at either yet and the id is
    /// not one of ours or the caller's (a guest that forwards the header
    /// it was given names no span of its own).
    fn adopt(&mut self, guest: SpanContext) {
        let Some(execute) = self.execute.as_mut() else {
            return;
        };
        if !self.id_open {
            return;
        }
        let ours: [Option<SpanId>; 3] = [
            Some(self.parent.span_id),
            self.server.as_ref().and_then(|s| s.parent),
            execute.parent,
        ];
        if ours.contains(&Some(guest.span_id)) {
            return;
        }
        if guest.trace_id != execute.context.trace_id {
            if !self.trace_open {
                return;
            }
            // A root request: the whole invocation moves to the guest's trace.
            self.parent.trace_id = guest.trace_id;
            if let Some(server) = self.server.as_mut() {
                server.context.trace_id = guest.trace_id;
            }
        }
        execute.context = SpanContext {
            trace_id: guest.trace_id,
            span_id: guest.span_id,
            sampled: execute.context.sampled,
        };
        self.trace_open = false;
        self.id_open = false;
    }
}

/// An outbound request's span, ended when the response head arrives.
pub struct ClientSpan {
    span: Span,
    tracer: Tracer,
}

impl ClientSpan {
    /// The context the callee sees as its parent.
    pub fn context(&self) -> SpanContext {
        self.span.context
    }

    pub fn finish(mut self, outcome: Result<u16, String>) {
        match outcome {
            Ok(status) => {
                self.span.set("http.response.status_code", status);
                if status >= 400 {
                    self.span
                        .fail(&status.to_string(), format!("status {status}"));
                }
            }
            Err(error) => self.span.fail("error", error),
        }
        self.span.end();
        self.tracer.record(self.span);
    }
}

fn traceparent(headers: &HeaderMap) -> Option<SpanContext> {
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(SpanContext::from_traceparent)
}
