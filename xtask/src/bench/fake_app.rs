//! A loopback HTTP/1.1 server for the benchmarks' own tests: it answers
//! each request with what a handler makes of it, so the measuring loops
//! can run against just enough of the application.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;

use anyhow::Result;

use crate::net;

/// What the handler is told of a request: method, path with query, and
/// the whole request head (for headers such as `Authorization`).
pub type Handler = dyn Fn(&str, &str, &str) -> (u16, String) + Send + Sync;

/// Serves `handler` on a free loopback port, one thread per connection,
/// until the test process ends.
pub fn serve(handler: Arc<Handler>) -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(net::loopback(0))?;
    let addr = listener.local_addr()?;
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = Arc::clone(&handler);
            thread::spawn(move || -> std::io::Result<()> {
                let mut stream = stream;
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                let head_end = loop {
                    let n = stream.read(&mut buf)?;
                    raw.extend_from_slice(&buf[..n]);
                    if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at;
                    }
                    if n == 0 {
                        return Ok(());
                    }
                };
                let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while raw.len() < head_end + 4 + length {
                    let n = stream.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    raw.extend_from_slice(&buf[..n]);
                }
                let mut request = head.split(' ');
                let method = request.next().unwrap_or_default();
                let path = request.next().unwrap_or_default();
                let (status, body) = handler(method, path, &head);
                write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
            });
        }
    });
    Ok(addr)
}
