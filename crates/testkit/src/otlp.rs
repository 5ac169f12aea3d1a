//! An OTLP/HTTP trace receiver on loopback: a small hyper server that
//! takes what the host and the bridge POST to `/v1/traces`, in JSON or
//! protobuf, and keeps the spans for tests to read. Stopped when dropped.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// One span as a collector received it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// The resource's `service.name`.
    pub service: String,
    /// The instrumentation scope's name.
    pub scope: String,
    /// Ids in lowercase hex.
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    /// OTLP's number: 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    pub kind: u64,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Values as JSON: strings, integers, booleans, numbers.
    pub attributes: BTreeMap<String, Value>,
    /// `(trace_id, span_id)` of each link.
    pub links: Vec<(String, String)>,
    /// 0 unset, 1 ok, 2 error.
    pub status_code: u64,
    /// `json` or `protobuf`: how it came.
    pub encoding: &'static str,
}

impl ReceivedSpan {
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(Value::as_str)
    }

    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        self.attributes.get(key).and_then(Value::as_i64)
    }
}

/// A running receiver.
pub struct OtlpReceiver {
    pub addr: SocketAddr,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl OtlpReceiver {
    /// Starts on a free loopback port.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind OTLP receiver");
        let addr = listener.local_addr().expect("receiver address");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let spans: Arc<Mutex<Vec<ReceivedSpan>>> = Arc::default();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let store = spans.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("receiver runtime");
            runtime.block_on(serve(listener, store, stopped));
        });
        Self {
            addr,
            spans,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits (up to `limit`) until `probe` finds what it wants in the
    /// spans received; panics with what did arrive otherwise.
    pub fn wait_for<T>(
        &self,
        what: &str,
        limit: Duration,
        probe: impl Fn(&[ReceivedSpan]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            let spans = self.spans();
            if let Some(found) = probe(&spans) {
                return found;
            }
            if Instant::now() > deadline {
                let names: Vec<String> = spans
                    .iter()
                    .map(|s| format!("{} [{}] {}", s.service, s.trace_id, s.name))
                    .collect();
                panic!(
                    "timed out waiting for {what}; received {} spans:\n{}",
                    spans.len(),
                    names.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = &mut stopped => return,
        };
        let spans = spans.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let spans = spans.clone();
                async move { Ok::<_, Infallible>(receive(req, &spans).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn receive(
    req: hyper::Request<hyper::body::Incoming>,
    spans: &Mutex<Vec<ReceivedSpan>>,
) -> hyper::Response<Full<Bytes>> {
    let answer = |status: u16, body: String| {
        let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
        r
    };
    if req.method() != hyper::Method::POST || req.uri().path() != "/v1/traces" {
        return answer(404, "POST /v1/traces".into());
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) else {
        return answer(400, "unreadable body".into());
    };
    let decoded = match content_type.as_str() {
        "application/json" => decode_json(&body),
        "application/x-protobuf" => crate::otlp_proto::decode(&body),
        other => Err(anyhow::anyhow!("unsupported content type {other:?}")),
    };
    match decoded {
        Ok(received) => {
            if let Ok(mut all) = spans.lock() {
                all.extend(received);
            }
            answer(200, "{}".into())
        }
        Err(e) => answer(400, format!("{e:#}")),
    }
}

/// `ExportTraceServiceRequest` in OTLP/JSON.
pub fn decode_json(body: &[u8]) -> Result<Vec<ReceivedSpan>> {
    let request: Value = serde_json::from_slice(body).context("not JSON")?;
    let mut out = Vec::new();
    for rs in array(&request, "resourceSpans")? {
        let resource = attributes(&rs["resource"])?;
        let service = resource
            .get("service.name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        for ss in array(rs, "scopeSpans")? {
            let scope = ss["scope"]["name"].as_str().unwrap_or_default().to_string();
            for s in array(ss, "spans")? {
                let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
                let links = array(s, "links")?
                    .iter()
                    .map(|l| {
                        (
                            l["traceId"].as_str().unwrap_or_default().to_string(),
                            l["spanId"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
                out.push(ReceivedSpan {
                    service: service.clone(),
                    scope: scope.clone(),
                    trace_id: text("traceId"),
                    span_id: text("spanId"),
                    parent_span_id: s["parentSpanId"]
                        .as_str()
                        .filter(|p| !p.is_empty())
                        .map(str::to_string),
                    name: text("name"),
                    kind: integer(&s["kind"]).unwrap_or(0) as u64,
                    start_ns: integer(&s["startTimeUnixNano"]).unwrap_or(0) as u64,
                    end_ns: integer(&s["endTimeUnixNano"]).unwrap_or(0) as u64,
                    attributes: attributes(s)?,
                    links,
                    status_code: integer(&s["status"]["code"]).unwrap_or(0) as u64,
                    encoding: "json",
                });
            }
        }
    }
    Ok(out)
}

fn array<'a>(v: &'a Value, key: &str) -> Result<&'a [Value]> {
    match &v[key] {
        Value::Null => Ok(&[]),
        Value::Array(a) => Ok(a),
        other => bail!("{key} is not an array: {other}"),
    }
}

/// JSON's 64-bit integers may come as strings or numbers.
fn integer(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_u64().map(|u| u as i64))
        .or_else(|| {
            v.as_str().and_then(|s| {
                s.parse::<i64>()
                    .ok()
                    .or_else(|| s.parse::<u64>().ok().map(|u| u as i64))
            })
        })
}

fn attributes(v: &Value) -> Result<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    for kv in array(v, "attributes")? {
        let key = kv["key"].as_str().context("attribute without a key")?;
        let value = &kv["value"];
        let value = if let Some(s) = value.get("stringValue") {
            s.clone()
        } else if let Some(i) = value.get("intValue") {
            integer(i).map_or(Value::Null, Value::from)
        } else if let Some(b) = value.get("boolValue") {
            b.clone()
        } else if let Some(d) = value.get("doubleValue") {
            d.clone()
        } else {
            Value::Null
        };
        out.insert(key.to_string(), value);
    }
    Ok(out)
}
