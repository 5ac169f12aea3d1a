//! A loopback HTTP/1.1 server that answers every request with JSON
//! describing it, for tests of outbound calls.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// A plain HTTP/1.1 server on loopback for outbound tests: answers every
/// request with JSON describing it, counts requests and keeps what each
/// one was.
pub struct EchoServer {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicU32>,
    /// Each request, in arrival order, as the JSON it was answered with
    /// (`method`, `path`, `headers`, `body`).
    pub received: Arc<Mutex<Vec<serde_json::Value>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl EchoServer {
    /// Answers every request 200.
    pub fn start() -> Self {
        Self::answering(Vec::new())
    }

    /// Answers the first requests with `statuses`, in order, and every
    /// later one 200 (a receiver that fails before it recovers).
    pub fn answering(statuses: Vec<u16>) -> Self {
        use std::io::{Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo server");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicU32::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (h, r, s) = (hits.clone(), received.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(mut stream) = stream else { continue };
                let n = h.fetch_add(1, Ordering::Relaxed);
                let status = usize::try_from(n)
                    .ok()
                    .and_then(|n| statuses.get(n))
                    .copied()
                    .unwrap_or(200);
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let mut headers = serde_json::Map::new();
                let mut length = 0usize;
                let mut chunked = false;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        let k = k.trim().to_ascii_lowercase();
                        if k == "content-length" {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if k == "transfer-encoding" && v.trim().eq_ignore_ascii_case("chunked") {
                            chunked = true;
                        }
                        headers.insert(k, serde_json::Value::String(v.trim().to_string()));
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                // A chunked body: chunks until the terminating zero-size one.
                while chunked {
                    let mut size = String::new();
                    let _ = reader.read_line(&mut size);
                    let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                    let mut chunk = vec![0u8; n + 2];
                    if reader.read_exact(&mut chunk).is_err() || n == 0 {
                        chunked = false;
                    } else {
                        body.extend_from_slice(&chunk[..n]);
                    }
                }
                let mut parts = request_line.split_whitespace();
                let request = serde_json::json!({
                    "method": parts.next(),
                    "path": parts.next(),
                    "headers": headers,
                    "body": String::from_utf8_lossy(&body),
                });
                let reply = request.to_string();
                if let Ok(mut all) = r.lock() {
                    all.push(request);
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} Echo\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    reply.len(),
                    reply
                );
            }
        });
        Self {
            addr,
            hits,
            received,
            stop,
        }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}
