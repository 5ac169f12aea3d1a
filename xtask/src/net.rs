//! Just enough networking for readiness checks and the benchmark's set-up
//! requests: free loopback ports, a Redis `PING`, and HTTP/1.1 requests
//! written by hand over a `TcpStream`.

use std::io::{self, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// `127.0.0.1:<port>`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// A loopback port nobody listens on right now (the kernel's choice).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(loopback(0)).context("cannot bind a loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// What answered a Redis `PING`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ping {
    /// A Redis server: `+PONG`.
    Pong,
    /// Nothing listens there.
    Nobody,
    /// Something else, or a Redis that refuses us (e.g. `-NOAUTH`).
    Other(String),
}

/// Sends an inline `PING` to `addr`.
pub fn redis_ping(addr: SocketAddr) -> Ping {
    let answer = (|| -> io::Result<Vec<u8>> {
        let mut stream = connect(addr)?;
        stream.write_all(b"PING\r\n")?;
        let mut buf = [0u8; 256];
        let n = stream.read(&mut buf)?;
        Ok(buf[..n].to_vec())
    })();
    match answer {
        Ok(reply) if reply.starts_with(b"+PONG") => Ping::Pong,
        Ok(reply) if reply.is_empty() => Ping::Other("closed the connection".into()),
        Ok(reply) => Ping::Other(format!(
            "answered {:?}",
            String::from_utf8_lossy(&reply).trim_end()
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ping::Nobody,
        Err(e) => Ping::Other(e.to_string()),
    }
}

/// Whether something accepts TCP connections on `addr`.
pub fn accepts_connections(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).is_ok()
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// An HTTP response: status and (de-chunked) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, without transfer encoding.
    pub body: Vec<u8>,
}

impl Response {
    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text, shortened for messages.
    pub fn body_text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(500) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_owned(),
        }
    }
}

/// `GET path` on `addr`.
pub fn get(addr: SocketAddr, path: &str) -> Result<Response> {
    request(addr, "GET", path, None)
}

/// One request on a fresh connection (`Connection: close`). A body is
/// sent as `application/json`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<Response> {
    request_with_headers(addr, method, path, &[], body)
}

/// [`request`] with further headers, e.g. `("Authorization", "Bearer …")`.
pub fn request_with_headers(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: spinshop-xtask\r\nAccept: */*\r\nConnection: close\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str("Content-Type: application/json\r\n");
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    } else if method != "GET" && method != "HEAD" {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");

    let mut message = head.into_bytes();
    message.extend_from_slice(body.unwrap_or_default());

    let exchange = || -> io::Result<Vec<u8>> {
        let mut stream = connect(addr)?;
        stream.write_all(&message)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        Ok(raw)
    };
    let raw = exchange().with_context(|| format!("{method} http://{addr}{path}"))?;
    parse_response(&raw).with_context(|| format!("{method} http://{addr}{path}: bad response"))
}

/// Parses a whole HTTP/1.x response as read up to the end of the stream.
fn parse_response(raw: &[u8]) -> Result<Response> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of headers")?;
    let head = std::str::from_utf8(&raw[..split]).context("headers are not UTF-8")?;
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = match status_line.split(' ').collect::<Vec<_>>().as_slice() {
        [version, code, ..] if version.starts_with("HTTP/1.") => code.parse::<u16>().ok(),
        _ => None,
    };
    let Some(status) = status else {
        bail!("bad status line {status_line:?}");
    };
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().context("bad content-length")?);
        }
    }
    let body = if chunked {
        dechunk(body)?
    } else {
        match length {
            Some(n) if n <= body.len() => body[..n].to_vec(),
            Some(n) => bail!("body ends after {} of {n} bytes", body.len()),
            None => body.to_vec(),
        }
    };
    Ok(Response { status, body })
}

/// Decodes a `Transfer-Encoding: chunked` body.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("chunk size line is not terminated")?;
        let size_line = std::str::from_utf8(&rest[..eol]).context("chunk size is not text")?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .with_context(|| format!("bad chunk size {size_hex:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size + 2 {
            bail!("chunk of {size} bytes is cut short");
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use std::thread;

    use super::*;

    #[test]
    fn parses_a_response_with_content_length() -> Result<()> {
        let raw = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":false}";
        let response = parse_response(raw)?;
        assert_eq!(response.status, 503);
        assert_eq!(response.body, b"{\"ok\":false".to_vec());
        assert!(!response.is_success());
        Ok(())
    }

    #[test]
    fn parses_a_chunked_response() -> Result<()> {
        let raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
        let response = parse_response(raw)?;
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"hello, world".to_vec());
        Ok(())
    }

    #[test]
    fn rejects_what_is_not_http() {
        assert!(parse_response(b"+PONG\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn talks_to_a_server_on_a_free_port() -> Result<()> {
        let listener = TcpListener::bind(loopback(0))?;
        let addr = listener.local_addr()?;
        let server = thread::spawn(move || -> io::Result<String> {
            let (mut stream, _) = listener.accept()?;
            let mut sent = Vec::new();
            let mut buf = [0u8; 1024];
            while !sent.ends_with(b"\r\n\r\n{}") {
                let n = stream.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                sent.extend_from_slice(&buf[..n]);
            }
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")?;
            Ok(String::from_utf8_lossy(&sent).into_owned())
        });
        let response = request(addr, "POST", "/guest/sqlite/default", Some(b"{}"))?;
        assert_eq!(
            response,
            Response {
                status: 200,
                body: b"ok".to_vec()
            }
        );
        let sent = server
            .join()
            .map_err(|_| anyhow::anyhow!("server panicked"))??;
        assert!(
            sent.starts_with("POST /guest/sqlite/default HTTP/1.1\r\n"),
            "{sent}"
        );
        assert!(
            sent.contains("Content-Length: 2\r\n") && sent.ends_with("\r\n\r\n{}"),
            "{sent}"
        );
        Ok(())
    }

    #[test]
    fn nobody_answers_ping_on_a_free_port() -> Result<()> {
        assert_eq!(redis_ping(loopback(free_port()?)), Ping::Nobody);
        Ok(())
    }
}
