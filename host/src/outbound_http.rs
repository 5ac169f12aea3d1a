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

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;

/// Hooks for one request's outbound calls.
pub struct OutboundHooks {
    pub component: Arc<ComponentConfig>,
    /// Weak, so a request never keeps a stopped host alive.
    pub app: Weak<App>,
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
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
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        if let Some(target) = host.strip_suffix(SERVICE_CHAINING_SUFFIX) {
            let target = target.to_string();
            let app = self.app.clone();
            return Box::new(async move {
                let app = app.upgrade().ok_or(HttpError::ConnectionRefused)?;
                let response = app.handle_chained(&target, request).await?;
                Ok((response, Box::new(async { Ok(()) }) as IoFuture))
            });
        }
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as IoFuture,
            ))
        })
    }
}
