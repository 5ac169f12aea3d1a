//! Per-request store state, and the per-component and shared services it
//! points at.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime::component::ResourceTable;
use wasmtime::StoreLimits;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::allowed_hosts::AllowedHosts;
use crate::bindings::fermyon::spin::variables;
use crate::key_value::KvBackend;
use crate::outbound_http::OutboundHooks;
use crate::redis::RedisPool;
use crate::sqlite::SqlitePool;
use crate::variables::ComponentVariables;

/// What a component was granted in the manifest, resolved at start-up.
#[derive(Debug)]
pub struct ComponentConfig {
    pub id: String,
    pub allowed_hosts: AllowedHosts,
    pub variables: ComponentVariables,
    pub environment: Vec<(String, String)>,
    pub sqlite_databases: HashSet<String>,
    pub key_value_stores: HashSet<String>,
    /// Host directory -> guest path, mounted read-only.
    pub files: Vec<(std::path::PathBuf, String)>,
}

/// Backends shared by every component and request.
#[derive(Debug, Default)]
pub struct Services {
    pub sqlite: HashMap<String, Arc<SqlitePool>>,
    pub key_value: HashMap<String, Arc<KvBackend>>,
    pub redis: Arc<RedisPool>,
}

/// The `T` of each request's `Store<T>`.
pub struct RequestState {
    pub component: Arc<ComponentConfig>,
    pub services: Arc<Services>,
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub hooks: OutboundHooks,
    pub limits: StoreLimits,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl variables::Host for RequestState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        Ok(self.component.variables.get(&name))
    }
}

/// Which of a guest's output streams a line came from.
#[derive(Debug, Clone, Copy)]
pub enum GuestStream {
    Stdout,
    Stderr,
}

/// Guest stdout/stderr: each line goes to the host log tagged with the
/// component, so interleaved requests stay readable.
#[derive(Debug, Clone)]
pub struct GuestOutput {
    pub component: Arc<str>,
    pub stream: GuestStream,
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            output: self.clone(),
            pending: Vec::new(),
        })
    }
}

struct LineWriter {
    output: GuestOutput,
    pending: Vec<u8>,
}

/// Longest partial line kept before it is logged anyway.
const MAX_LINE: usize = 16 * 1024;

impl LineWriter {
    fn emit(&self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r');
        // A component's own structured line stays structured: the host adds
        // where it came from and writes it as one JSON object.
        if line.starts_with('{') {
            if let Ok(serde_json::Value::Object(mut fields)) = serde_json::from_str(line) {
                fields
                    .entry("component")
                    .or_insert_with(|| self.output.component.as_ref().into());
                fields.insert("target".into(), "guest".into());
                fields.insert("stream".into(), self.stream_name().into());
                use std::io::Write as _;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", serde_json::Value::Object(fields));
                return;
            }
        }
        match self.output.stream {
            GuestStream::Stdout => {
                tracing::info!(target: "guest", component = %self.output.component, stream = "stdout", line = %line)
            }
            GuestStream::Stderr => {
                tracing::warn!(target: "guest", component = %self.output.component, stream = "stderr", line = %line)
            }
        }
    }

    fn stream_name(&self) -> &'static str {
        match self.output.stream {
            GuestStream::Stdout => "stdout",
            GuestStream::Stderr => "stderr",
        }
    }

    fn flush_lines(&mut self) {
        while let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=pos).collect();
            self.emit(&line[..line.len() - 1]);
        }
        if self.pending.len() > MAX_LINE {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.pending.extend_from_slice(buf);
        self.flush_lines();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
    }
}
