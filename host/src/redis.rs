//! Outbound Redis for components (`fermyon:spin/redis@2.0.0`), and the
//! connection cache it shares with Redis-backed key-value stores.
//!
//! One multiplexed connection per address serves every request; addresses
//! are checked against the component's `allowed_outbound_hosts`.

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::Value;
use tokio::sync::Mutex;
use wasmtime::component::Resource;

use crate::bindings::fermyon::spin::redis::{self as wit, Error, RedisParameter, RedisResult};
use crate::state::RequestState;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Cached connections by address.
#[derive(Default)]
pub struct RedisPool {
    connections: Mutex<HashMap<String, MultiplexedConnection>>,
}

impl std::fmt::Debug for RedisPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPool").finish_non_exhaustive()
    }
}

impl RedisPool {
    /// The cached connection to `address`, connecting if there is none.
    pub async fn get(&self, address: &str) -> Result<MultiplexedConnection, String> {
        let mut connections = self.connections.lock().await;
        if let Some(conn) = connections.get(address) {
            return Ok(conn.clone());
        }
        let client = redis::Client::open(address).map_err(|e| e.to_string())?;
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| format!("timed out connecting to {address}"))?
            .map_err(|e| e.to_string())?;
        connections.insert(address.to_string(), conn.clone());
        Ok(conn)
    }

    /// Drops a connection after an I/O error so the next call reconnects.
    pub async fn forget(&self, address: &str) {
        self.connections.lock().await.remove(address);
    }

    /// Runs a command on `address`, reconnecting once if the cached
    /// connection turns out to be broken.
    pub async fn query(&self, address: &str, cmd: &redis::Cmd) -> Result<Value, String> {
        for attempt in 0..2 {
            let mut conn = self.get(address).await?;
            match cmd.query_async::<Value>(&mut conn).await {
                Ok(v) => return Ok(v),
                Err(e) if attempt == 0 && (e.is_io_error() || e.is_connection_dropped()) => {
                    self.forget(address).await;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Err(format!("cannot reach Redis at {address}"))
    }
}

/// The guest's `connection` resource: an address it was allowed to open.
#[derive(Debug)]
pub struct RedisConnection {
    address: String,
}

impl RequestState {
    async fn redis_query(
        &mut self,
        this: &Resource<RedisConnection>,
        cmd: redis::Cmd,
    ) -> Result<Value, Error> {
        let address = self
            .table
            .get(this)
            .map_err(|e| Error::Other(e.to_string()))?
            .address
            .clone();
        let value = self
            .services
            .redis
            .query(&address, &cmd)
            .await
            .map_err(Error::Other)?;
        if let Value::ServerError(e) = value {
            return Err(Error::Other(format!("{e:?}")));
        }
        Ok(value)
    }
}

fn as_u32(v: Value) -> Result<u32, Error> {
    match v {
        Value::Int(n) => u32::try_from(n).map_err(|_| Error::TypeError),
        _ => Err(Error::TypeError),
    }
}

fn as_strings(v: Value) -> Result<Vec<String>, Error> {
    match v {
        Value::Array(items) | Value::Set(items) => items
            .into_iter()
            .map(|item| match item {
                Value::BulkString(b) => String::from_utf8(b).map_err(|_| Error::TypeError),
                Value::SimpleString(s) => Ok(s),
                _ => Err(Error::TypeError),
            })
            .collect(),
        Value::Nil => Ok(Vec::new()),
        _ => Err(Error::TypeError),
    }
}

/// Flattens a reply into Spin's list of results.
fn flatten(value: Value, out: &mut Vec<RedisResult>) {
    match value {
        Value::Nil => out.push(RedisResult::Nil),
        Value::Int(n) => out.push(RedisResult::Int64(n)),
        Value::BulkString(b) => out.push(RedisResult::Binary(b)),
        Value::SimpleString(s) => out.push(RedisResult::Status(s)),
        Value::Okay => out.push(RedisResult::Status("OK".into())),
        Value::Array(items) | Value::Set(items) => {
            for item in items {
                flatten(item, out);
            }
        }
        Value::Map(pairs) => {
            for (k, v) in pairs {
                flatten(k, out);
                flatten(v, out);
            }
        }
        Value::Attribute { data, .. } => flatten(*data, out),
        Value::Double(d) => out.push(RedisResult::Binary(d.to_string().into_bytes())),
        Value::Boolean(b) => out.push(RedisResult::Int64(i64::from(b))),
        Value::VerbatimString { text, .. } => out.push(RedisResult::Binary(text.into_bytes())),
        Value::BigNumber(n) => out.push(RedisResult::Binary(n)),
        Value::Push { data, .. } => {
            for item in data {
                flatten(item, out);
            }
        }
        Value::ServerError(e) => out.push(RedisResult::Status(format!("{e:?}"))),
        _ => out.push(RedisResult::Nil),
    }
}

impl wit::Host for RequestState {}

impl wit::HostConnection for RequestState {
    async fn open(
        &mut self,
        address: String,
    ) -> wasmtime::Result<Result<Resource<RedisConnection>, Error>> {
        if !self.component.allowed_hosts.allows_url(&address) {
            tracing::warn!(
                component = %self.component.id,
                address = %address,
                "component tried to open a Redis connection to a host not in allowed_outbound_hosts"
            );
            return Ok(Err(Error::InvalidAddress));
        }
        if let Err(e) = self.services.redis.get(&address).await {
            return Ok(Err(Error::Other(e)));
        }
        Ok(Ok(self.table.push(RedisConnection { address })?))
    }

    async fn publish(
        &mut self,
        this: Resource<RedisConnection>,
        channel: String,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(channel).arg(payload);
        Ok(self.redis_query(&this, cmd).await.map(|_| ()))
    }

    async fn get(
        &mut self,
        this: Resource<RedisConnection>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        Ok(self.redis_query(&this, cmd).await.and_then(|v| match v {
            Value::Nil => Ok(None),
            Value::BulkString(b) => Ok(Some(b)),
            Value::SimpleString(s) => Ok(Some(s.into_bytes())),
            _ => Err(Error::TypeError),
        }))
    }

    async fn set(
        &mut self,
        this: Resource<RedisConnection>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        Ok(self.redis_query(&this, cmd).await.map(|_| ()))
    }

    async fn incr(
        &mut self,
        this: Resource<RedisConnection>,
        key: String,
    ) -> wasmtime::Result<Result<i64, Error>> {
        let mut cmd = redis::cmd("INCR");
        cmd.arg(key);
        Ok(self.redis_query(&this, cmd).await.and_then(|v| match v {
            Value::Int(n) => Ok(n),
            _ => Err(Error::TypeError),
        }))
    }

    async fn del(
        &mut self,
        this: Resource<RedisConnection>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(keys);
        Ok(self.redis_query(&this, cmd).await.and_then(as_u32))
    }

    async fn sadd(
        &mut self,
        this: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut cmd = redis::cmd("SADD");
        cmd.arg(key).arg(values);
        Ok(self.redis_query(&this, cmd).await.and_then(as_u32))
    }

    async fn smembers(
        &mut self,
        this: Resource<RedisConnection>,
        key: String,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        let mut cmd = redis::cmd("SMEMBERS");
        cmd.arg(key);
        Ok(self.redis_query(&this, cmd).await.and_then(as_strings))
    }

    async fn srem(
        &mut self,
        this: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut cmd = redis::cmd("SREM");
        cmd.arg(key).arg(values);
        Ok(self.redis_query(&this, cmd).await.and_then(as_u32))
    }

    async fn execute(
        &mut self,
        this: Resource<RedisConnection>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> wasmtime::Result<Result<Vec<RedisResult>, Error>> {
        let mut cmd = redis::cmd(&command);
        for arg in arguments {
            match arg {
                RedisParameter::Int64(n) => cmd.arg(n),
                RedisParameter::Binary(b) => cmd.arg(b),
            };
        }
        Ok(self.redis_query(&this, cmd).await.map(|v| {
            let mut out = Vec::new();
            flatten(v, &mut out);
            out
        }))
    }

    async fn drop(&mut self, this: Resource<RedisConnection>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_flatten_like_spin() {
        let mut out = Vec::new();
        flatten(
            Value::Array(vec![
                Value::Int(1),
                Value::Nil,
                Value::Array(vec![Value::BulkString(b"x".to_vec())]),
                Value::Okay,
            ]),
            &mut out,
        );
        assert_eq!(out.len(), 4);
        assert!(matches!(out[0], RedisResult::Int64(1)));
        assert!(matches!(out[1], RedisResult::Nil));
        assert!(matches!(&out[2], RedisResult::Binary(b) if b == b"x"));
        assert!(matches!(&out[3], RedisResult::Status(s) if s == "OK"));
    }
}
