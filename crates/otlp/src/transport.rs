//! POSTs export requests to the collector over one kept-alive HTTP/1.1
//! connection (opened again when it drops), with hyper's client
//! connection: the host and the bridge build hyper already.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use http::{Request, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::config::ExportConfig;

/// The collector connection.
pub struct Transport {
    endpoint: Uri,
    content_type: &'static str,
    headers: Vec<(HeaderName, HeaderValue)>,
    connection: Option<SendRequest<Full<Bytes>>>,
}

impl Transport {
    pub fn new(config: &ExportConfig) -> Self {
        Self {
            endpoint: config.endpoint.clone(),
            content_type: config.protocol.content_type(),
            headers: config
                .headers
                .iter()
                .filter_map(|(k, v)| {
                    Some((
                        HeaderName::from_bytes(k.as_bytes()).ok()?,
                        HeaderValue::from_str(v).ok()?,
                    ))
                })
                .collect(),
            connection: None,
        }
    }

    /// Sends one body; `Err` says why it did not arrive.
    pub async fn post(&mut self, body: Vec<u8>) -> Result<(), String> {
        let authority = self
            .endpoint
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default();
        let mut request = Request::post(
            self.endpoint
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string(),
        )
        .header(HOST, authority.as_str())
        .header(CONTENT_TYPE, self.content_type)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
        for (k, v) in &self.headers {
            request.headers_mut().insert(k.clone(), v.clone());
        }
        let reusable = match self.connection.take() {
            Some(mut s) => s.ready().await.is_ok().then_some(s),
            None => None,
        };
        let mut sender = match reusable {
            Some(s) => s,
            None => connect(&authority).await?,
        };
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("POST {}: {e}", self.endpoint))?;
        let status = response.status();
        // Read the answer to the end so the connection can carry the next.
        let answer = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        self.connection = Some(sender);
        if status.is_success() {
            Ok(())
        } else {
            let text: String = String::from_utf8_lossy(&answer).chars().take(200).collect();
            Err(format!("POST {}: {status} {text}", self.endpoint))
        }
    }
}

async fn connect(authority: &str) -> Result<SendRequest<Full<Bytes>>, String> {
    let address = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let stream = TcpStream::connect(&address)
        .await
        .map_err(|e| format!("cannot connect to the collector at {address}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("collector at {address}: {e}"))?;
    tokio::spawn(async move {
        // Ends when the collector closes the connection or the sender drops.
        let _ = connection.await;
    });
    Ok(sender)
}
