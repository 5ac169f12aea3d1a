//! `redis-server`: a private one on a free port for a test, or the one
//! `cargo xtask up` keeps (a fixed port, data on disk, an existing server
//! reused).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::paths::{free_port, loopback, TempDir};
use crate::process::{wait_until, Output, Service};

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
pub fn ping(addr: SocketAddr) -> Ping {
    let answer = (|| -> std::io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
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
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ping::Nobody,
        Err(e) => Ping::Other(e.to_string()),
    }
}

/// How to run a Redis.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// The port; `None` picks a free one.
    pub port: Option<u16>,
    /// Where it keeps its files; `None` is a scratch directory.
    pub dir: Option<PathBuf>,
    /// Snapshot and append-only file on: data survives a restart.
    pub durable: bool,
    /// A Redis already answering on `port` is used instead of failing.
    pub reuse: bool,
    /// A memory bound and what to do at it; `None`: unbounded.
    pub memory: Option<MemoryLimit>,
    pub output: Output,
}

/// `maxmemory` and `maxmemory-policy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryLimit {
    /// As Redis writes it: `64mb`.
    pub max: String,
    /// `allkeys-lru`, `noeviction`, ...
    pub policy: &'static str,
}

impl MemoryLimit {
    /// A cache's bound: at `max`, the least recently used keys go.
    pub fn cache(max: &str) -> Self {
        Self {
            max: max.to_string(),
            policy: "allkeys-lru",
        }
    }
}

impl RedisOptions {
    /// A throw-away cache: bounded at `max`, evicting least recently used
    /// keys (what `cargo xtask up`, the tests and Kubernetes run for
    /// `cache_redis_host`).
    pub fn cache(max: &str) -> Self {
        Self {
            memory: Some(MemoryLimit::cache(max)),
            ..Self::default()
        }
    }
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            port: None,
            dir: None,
            durable: false,
            reuse: false,
            memory: None,
            output: Output::Capture(None),
        }
    }
}

/// A `redis-server` of our own, or one that was already there.
#[derive(Debug)]
pub struct Redis {
    service: Option<Service>,
    pub port: u16,
    _scratch: Option<TempDir>,
}

impl Redis {
    /// A private, throw-away server on a free port; panics if it cannot start.
    pub fn start() -> Self {
        match Self::launch(RedisOptions::default()) {
            Ok(redis) => redis,
            Err(e) => panic!("{e:#}"),
        }
    }

    /// Starts (or, with `reuse`, finds) a server as `options` say.
    pub fn launch(options: RedisOptions) -> Result<Self> {
        let port = options.port.unwrap_or_else(free_port);
        let addr = loopback(port);
        match ping(addr) {
            Ping::Nobody => {}
            Ping::Pong if options.reuse => {
                return Ok(Self {
                    service: None,
                    port,
                    _scratch: None,
                })
            }
            Ping::Pong => bail!("a Redis already answers on {addr}"),
            Ping::Other(what) => bail!(
                "something other than a usable Redis listens on {addr} ({what}); stop it, or pick another port"
            ),
        }
        let (dir, scratch) = match options.dir {
            Some(dir) => {
                crate::paths::create_dir(&dir)?;
                (dir, None)
            }
            None => {
                let scratch = TempDir::new("redis");
                (scratch.0.clone(), Some(scratch))
            }
        };
        let mut command = Command::new("redis-server");
        command.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"]);
        command.arg(&dir);
        if options.durable {
            command.args(["--save", "60", "1", "--appendonly", "yes"]);
        } else {
            command.args(["--save", "", "--appendonly", "no"]);
        }
        if let Some(limit) = &options.memory {
            command.args([
                "--maxmemory",
                &limit.max,
                "--maxmemory-policy",
                limit.policy,
            ]);
        }
        let mut service = Service::start("redis-server", &mut command, options.output)
            .map_err(|e| e.context("is redis-server installed? `cargo xtask setup` installs it"))?;
        wait_until(
            &format!("Redis on {addr}"),
            Duration::from_secs(20),
            &mut [&mut service],
            || ping(addr) == Ping::Pong,
        )?;
        Ok(Self {
            service: Some(service),
            port,
            _scratch: scratch,
        })
    }

    /// Sends one command (inline protocol, arguments without spaces) and
    /// returns the raw reply: for tests that inspect or reconfigure the
    /// server (`CONFIG SET maxmemory 4mb`, `INFO memory`, `DBSIZE`).
    pub fn command(&self, args: &[&str]) -> Result<String> {
        let mut stream = TcpStream::connect_timeout(&self.addr(), Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(format!("{}\r\n", args.join(" ")).as_bytes())?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = stream.read(&mut buf)?;
            reply.extend_from_slice(&buf[..n]);
            if n == 0 || reply_complete(&reply) {
                break;
            }
        }
        Ok(String::from_utf8_lossy(&reply).into_owned())
    }

    /// Whether this Redis was already running (and will not be stopped here).
    pub fn reused(&self) -> bool {
        self.service.is_none()
    }

    /// The server, when started here.
    pub fn service(&mut self) -> Option<&mut Service> {
        self.service.as_mut()
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the server (to test what happens when Redis is down).
    pub fn stop(&mut self) {
        if let Some(service) = &mut self.service {
            service.stop();
        }
    }

    /// The address.
    pub fn addr(&self) -> SocketAddr {
        loopback(self.port)
    }
}

/// Whether `reply` holds one whole RESP reply of the simple kinds a
/// `command` reads (status, error, integer, or one bulk string).
fn reply_complete(reply: &[u8]) -> bool {
    let Some(first_line_end) = reply.windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    match reply.first() {
        Some(b'$') => {
            let len: i64 = std::str::from_utf8(&reply[1..first_line_end])
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(-1);
            len < 0 || reply.len() >= first_line_end + 2 + len as usize + 2
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_pong_until_stopped() {
        let mut redis = Redis::start();
        assert_eq!(ping(redis.addr()), Ping::Pong);
        assert!(!redis.reused());
        let again = Redis::launch(RedisOptions {
            port: Some(redis.port),
            reuse: true,
            ..RedisOptions::default()
        })
        .expect("reused");
        assert!(again.reused());
        assert!(Redis::launch(RedisOptions {
            port: Some(redis.port),
            ..RedisOptions::default()
        })
        .is_err());
        redis.stop();
        assert_eq!(ping(redis.addr()), Ping::Nobody);
    }
}
