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
    pub output: Output,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            port: None,
            dir: None,
            durable: false,
            reuse: false,
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
