//! Outbound HTTP (`wasi:http/outgoing-handler`): the allow-list check, and
//! service chaining to `http://<component>.spin.internal`, which is served
//! in-process without a socket.

use std::future::Future;
use std::sync::{Arc, Weak};

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::allowed_hosts::SERVICE_CHAINING_SUFFIX;
use crate::app::App;
use crate::state::ComponentConfig;
use crate::telemetry::{ClientSpan, Invocation};

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;

/// Hooks for one request's outbound calls.
pub struct OutboundHooks {
    pub component: Arc<ComponentConfig>,
    /// Weak, so a request never keeps a stopped host alive.
    pub app: Weak<App>,
    /// The request's spans, when tracing is on.
    pub trace: Option<Arc<Invocation>>,
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        // Spin starts its client span before the allow-list check, so a
        // denied call shows in the trace too.
        let span = self
            .trace
            .as_ref()
            .and_then(|t| t.send_request(&mut request));
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let port = uri.port_u16();
        if !self.component.allowed_hosts.allows(&scheme, &host, port) {
            tracing::warn!(
                component = %self.component.id,
                destination = %format!("{scheme}://{}", uri.authority().map(|a| a.as_str()).unwrap_or("")),
                "component tried to make an HTTP request to a host not in allowed_outbound_hosts"
            );
            if let Some(span) = span {
                span.finish(Err("HttpRequestDenied".into()));
            }
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        if let Some(target) = host.strip_suffix(SERVICE_CHAINING_SUFFIX) {
            let target = target.to_string();
            let app = self.app.clone();
            return Box::new(async move {
                let app = app.upgrade().ok_or(HttpError::ConnectionRefused)?;
                let parent = span.as_ref().map(|s| s.context());
                let response = app.handle_chained(&target, request, parent).await;
                finish(span, response.as_ref().map(|r| r.status().as_u16()));
                Ok((response?, Box::new(async { Ok(()) }) as IoFuture))
            });
        }
        Box::new(async move {
            let sent = wasmtime_wasi_http::default_send_request(request, options).await;
            finish(span, sent.as_ref().map(|(r, _)| r.status().as_u16()));
            let (response, io) = sent?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as IoFuture,
            ))
        })
    }
}

/// Ends an outbound request's span once its response head (or error) is in.
fn finish(span: Option<ClientSpan>, outcome: Result<u16, &HttpError>) {
    if let Some(span) = span {
        span.finish(outcome.map_err(|e| format!("{e:?}")));
    }
}
