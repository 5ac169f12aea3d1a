//! Key-value stores for components (`fermyon:spin/key-value@2.0.0`): a
//! SQLite-backed file per Spin's default, or Redis when the runtime config
//! says `type = "redis"`.

use std::sync::Arc;

use redis::Value;
use wasmtime::component::Resource;

use crate::bindings::fermyon::spin::key_value::{self as wit, Error};
use crate::redis::RedisPool;
use crate::sqlite::{execute, SqlValue, SqlitePool};
use crate::state::RequestState;

/// What serves one key-value label.
#[derive(Debug)]
pub enum KvBackend {
    Sqlite(Arc<SqlitePool>),
    Redis { url: String, pool: Arc<RedisPool> },
}

/// The guest's `store` resource.
#[derive(Debug)]
pub struct KvStoreHandle {
    label: String,
    backend: Arc<KvBackend>,
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS spin_key_value (
    store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key))";

impl KvBackend {
    /// Creates the table a SQLite store needs.
    pub fn prepare(&self) -> anyhow::Result<()> {
        if let KvBackend::Sqlite(pool) = self {
            let conn = pool.take()?;
            conn.execute_batch(CREATE_TABLE)?;
            pool.give_back(conn);
        }
        Ok(())
    }

    async fn sql(
        &self,
        sql: &'static str,
        params: Vec<SqlValue>,
    ) -> Result<Vec<Vec<SqlValue>>, Error> {
        let KvBackend::Sqlite(pool) = self else {
            return Err(Error::Other("not a SQLite store".into()));
        };
        let pool = pool.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take().map_err(|e| Error::Other(e.to_string()))?;
            let result = execute(&conn, sql, &params).map_err(|e| Error::Other(e.to_string()));
            pool.give_back(conn);
            result.map(|r| r.rows)
        })
        .await
        .map_err(|e| Error::Other(e.to_string()))?
    }

    async fn redis(&self, cmd: redis::Cmd) -> Result<Value, Error> {
        let KvBackend::Redis { url, pool } = self else {
            return Err(Error::Other("not a Redis store".into()));
        };
        pool.query(url, &cmd).await.map_err(Error::Other)
    }

    async fn get(&self, label: &str, key: String) -> Result<Option<Vec<u8>>, Error> {
        match self {
            KvBackend::Sqlite(_) => {
                let rows = self
                    .sql(
                        "SELECT value FROM spin_key_value WHERE store = ? AND key = ?",
                        vec![SqlValue::Text(label.into()), SqlValue::Text(key)],
                    )
                    .await?;
                Ok(rows
                    .into_iter()
                    .next()
                    .and_then(|r| r.into_iter().next())
                    .and_then(|v| match v {
                        SqlValue::Blob(b) => Some(b),
                        SqlValue::Text(s) => Some(s.into_bytes()),
                        _ => None,
                    }))
            }
            KvBackend::Redis { .. } => {
                let mut cmd = redis::cmd("GET");
                cmd.arg(key);
                match self.redis(cmd).await? {
                    Value::Nil => Ok(None),
                    Value::BulkString(b) => Ok(Some(b)),
                    other => Err(Error::Other(format!("unexpected reply {other:?}"))),
                }
            }
        }
    }

    async fn set(&self, label: &str, key: String, value: Vec<u8>) -> Result<(), Error> {
        match self {
            KvBackend::Sqlite(_) => self
                .sql(
                    "INSERT INTO spin_key_value (store, key, value) VALUES (?, ?, ?)
                     ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                    vec![
                        SqlValue::Text(label.into()),
                        SqlValue::Text(key),
                        SqlValue::Blob(value),
                    ],
                )
                .await
                .map(|_| ()),
            KvBackend::Redis { .. } => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(key).arg(value);
                self.redis(cmd).await.map(|_| ())
            }
        }
    }

    async fn delete(&self, label: &str, key: String) -> Result<(), Error> {
        match self {
            KvBackend::Sqlite(_) => self
                .sql(
                    "DELETE FROM spin_key_value WHERE store = ? AND key = ?",
                    vec![SqlValue::Text(label.into()), SqlValue::Text(key)],
                )
                .await
                .map(|_| ()),
            KvBackend::Redis { .. } => {
                let mut cmd = redis::cmd("DEL");
                cmd.arg(key);
                self.redis(cmd).await.map(|_| ())
            }
        }
    }

    async fn exists(&self, label: &str, key: String) -> Result<bool, Error> {
        match self {
            KvBackend::Sqlite(_) => {
                let rows = self
                    .sql(
                        "SELECT 1 FROM spin_key_value WHERE store = ? AND key = ?",
                        vec![SqlValue::Text(label.into()), SqlValue::Text(key)],
                    )
                    .await?;
                Ok(!rows.is_empty())
            }
            KvBackend::Redis { .. } => {
                let mut cmd = redis::cmd("EXISTS");
                cmd.arg(key);
                Ok(matches!(self.redis(cmd).await?, Value::Int(n) if n > 0))
            }
        }
    }

    async fn keys(&self, label: &str) -> Result<Vec<String>, Error> {
        match self {
            KvBackend::Sqlite(_) => {
                let rows = self
                    .sql(
                        "SELECT key FROM spin_key_value WHERE store = ? ORDER BY key",
                        vec![SqlValue::Text(label.into())],
                    )
                    .await?;
                Ok(rows
                    .into_iter()
                    .filter_map(|r| match r.into_iter().next() {
                        Some(SqlValue::Text(s)) => Some(s),
                        _ => None,
                    })
                    .collect())
            }
            KvBackend::Redis { .. } => {
                let mut keys = Vec::new();
                let mut cursor = 0u64;
                loop {
                    let mut cmd = redis::cmd("SCAN");
                    cmd.arg(cursor).arg("COUNT").arg(1000);
                    let Value::Array(mut reply) = self.redis(cmd).await? else {
                        return Err(Error::Other("unexpected SCAN reply".into()));
                    };
                    let batch = reply.pop();
                    let next = reply.pop();
                    if let Some(Value::Array(items)) = batch {
                        for item in items {
                            if let Value::BulkString(b) = item {
                                keys.push(String::from_utf8_lossy(&b).into_owned());
                            }
                        }
                    }
                    cursor = match next {
                        Some(Value::BulkString(b)) => {
                            String::from_utf8_lossy(&b).parse().unwrap_or(0)
                        }
                        _ => 0,
                    };
                    if cursor == 0 {
                        break;
                    }
                }
                keys.sort();
                Ok(keys)
            }
        }
    }
}

impl RequestState {
    fn kv(&self, this: &Resource<KvStoreHandle>) -> Result<(String, Arc<KvBackend>), Error> {
        let handle = self
            .table
            .get(this)
            .map_err(|e| Error::Other(e.to_string()))?;
        Ok((handle.label.clone(), handle.backend.clone()))
    }
}

impl wit::Host for RequestState {}

impl wit::HostStore for RequestState {
    async fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<KvStoreHandle>, Error>> {
        if !self.component.key_value_stores.contains(&label) {
            tracing::warn!(component = %self.component.id, label, "component opened an undeclared key-value store");
            return Ok(Err(Error::AccessDenied));
        }
        let Some(backend) = self.services.key_value.get(&label).cloned() else {
            return Ok(Err(Error::NoSuchStore));
        };
        Ok(Ok(self.table.push(KvStoreHandle { label, backend })?))
    }

    async fn get(
        &mut self,
        this: Resource<KvStoreHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let (label, backend) = match self.kv(&this) {
            Ok(x) => x,
            Err(e) => return Ok(Err(e)),
        };
        Ok(backend.get(&label, key).await)
    }

    async fn set(
        &mut self,
        this: Resource<KvStoreHandle>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let (label, backend) = match self.kv(&this) {
            Ok(x) => x,
            Err(e) => return Ok(Err(e)),
        };
        Ok(backend.set(&label, key, value).await)
    }

    async fn delete(
        &mut self,
        this: Resource<KvStoreHandle>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        let (label, backend) = match self.kv(&this) {
            Ok(x) => x,
            Err(e) => return Ok(Err(e)),
        };
        Ok(backend.delete(&label, key).await)
    }

    async fn exists(
        &mut self,
        this: Resource<KvStoreHandle>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        let (label, backend) = match self.kv(&this) {
            Ok(x) => x,
            Err(e) => return Ok(Err(e)),
        };
        Ok(backend.exists(&label, key).await)
    }

    async fn get_keys(
        &mut self,
        this: Resource<KvStoreHandle>,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        let (label, backend) = match self.kv(&this) {
            Ok(x) => x,
            Err(e) => return Ok(Err(e)),
        };
        Ok(backend.keys(&label).await)
    }

    async fn drop(&mut self, this: Resource<KvStoreHandle>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
