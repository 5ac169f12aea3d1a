//! SQLite for components: `fermyon:spin/sqlite@2.0.0` and
//! `spin:sqlite/sqlite@3.0.0` on rusqlite.
//!
//! Each database label has a pool of open connections. A guest's connection
//! resource owns one rusqlite connection for its lifetime, so `BEGIN` ...
//! `COMMIT` across several `execute` calls works; when the guest drops it (or
//! the request ends) an unfinished transaction is rolled back and the
//! connection goes back to the pool. Statements run on tokio's blocking pool.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use rusqlite::types::ValueRef;
use wasmtime::component::Resource;

use crate::bindings::fermyon::spin::sqlite as v2;
use crate::bindings::spin::sqlite::sqlite as v3;
use crate::runtime_config::SqliteBackend;
use crate::state::RequestState;

/// Idle connections kept per database.
const MAX_IDLE: usize = 32;
/// How long a writer waits for another writer's lock before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A value crossing the guest boundary (the same in both WIT versions).
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

/// The rows of one statement.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlRows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<SqlValue>>,
    pub changes: u64,
    pub last_insert_rowid: i64,
}

/// A database label's pool of connections.
#[derive(Debug)]
pub struct SqlitePool {
    label: String,
    backend: SqliteBackend,
    idle: Mutex<Vec<rusqlite::Connection>>,
    /// Keeps an in-memory database alive while the host runs.
    _keepalive: Option<Mutex<rusqlite::Connection>>,
}

impl SqlitePool {
    /// Prepares the pool (creating the file's directory) without opening it.
    pub fn new(label: &str, backend: SqliteBackend) -> Result<Self> {
        if let SqliteBackend::File(path) = &backend {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!(
                        "cannot create directory {} for SQLite database {label:?}",
                        dir.display()
                    )
                })?;
            }
        }
        let mut pool = Self {
            label: label.to_string(),
            backend,
            idle: Mutex::new(Vec::new()),
            _keepalive: None,
        };
        if pool.backend == SqliteBackend::Memory {
            let conn = pool
                .connect()
                .with_context(|| format!("cannot create in-memory database {label:?}"))?;
            pool._keepalive = Some(Mutex::new(conn));
        }
        Ok(pool)
    }

    fn connect(&self) -> rusqlite::Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = match &self.backend {
            SqliteBackend::File(path) => rusqlite::Connection::open_with_flags(path, flags)?,
            SqliteBackend::Memory => rusqlite::Connection::open_with_flags(
                format!("file:spinshop-host-{}?mode=memory&cache=shared", self.label),
                flags,
            )?,
        };
        // As Spin opens them: SQLite's own defaults (rollback journal,
        // `synchronous=FULL`) plus a busy timeout. The journal mode and sync
        // level a component wants are its own to set (`platform::db` puts
        // every database in WAL), so a component sees the same database on
        // this host and on Spin, and figures measured here hold there.
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    /// An idle connection, or a new one.
    pub fn take(&self) -> rusqlite::Result<rusqlite::Connection> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(conn) => Ok(conn),
            None => self.connect(),
        }
    }

    /// Returns a connection, rolling back whatever the guest left open.
    pub fn give_back(&self, conn: rusqlite::Connection) {
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
    }

    /// The label this pool serves.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// The guest's `connection` resource.
#[derive(Debug)]
pub struct SqliteConnection {
    conn: Option<rusqlite::Connection>,
    pool: Arc<SqlitePool>,
}

impl Drop for SqliteConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.give_back(conn);
        }
    }
}

/// Why an operation failed, before it becomes a WIT error of either version.
#[derive(Debug)]
enum SqlError {
    NoSuchDatabase,
    AccessDenied,
    InvalidConnection,
    DatabaseFull,
    Io(String),
}

impl From<rusqlite::Error> for SqlError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(code, _) = &e {
            if code.code == rusqlite::ErrorCode::DiskFull {
                return SqlError::DatabaseFull;
            }
        }
        SqlError::Io(e.to_string())
    }
}

/// Runs one statement with positional parameters.
pub fn execute(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[SqlValue],
) -> rusqlite::Result<SqlRows> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
    let width = columns.len();
    let params = rusqlite::params_from_iter(params.iter().map(|p| match p {
        SqlValue::Integer(i) => rusqlite::types::Value::Integer(*i),
        SqlValue::Real(f) => rusqlite::types::Value::Real(*f),
        SqlValue::Text(s) => rusqlite::types::Value::Text(s.clone()),
        SqlValue::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
        SqlValue::Null => rusqlite::types::Value::Null,
    }));
    let mut rows = Vec::new();
    let mut cursor = stmt.query(params)?;
    while let Some(row) = cursor.next()? {
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(match row.get_ref(i)? {
                ValueRef::Null => SqlValue::Null,
                ValueRef::Integer(v) => SqlValue::Integer(v),
                ValueRef::Real(v) => SqlValue::Real(v),
                ValueRef::Text(v) => SqlValue::Text(String::from_utf8_lossy(v).into_owned()),
                ValueRef::Blob(v) => SqlValue::Blob(v.to_vec()),
            });
        }
        rows.push(values);
    }
    drop(cursor);
    Ok(SqlRows {
        columns,
        rows,
        changes: conn.changes(),
        last_insert_rowid: conn.last_insert_rowid(),
    })
}

impl RequestState {
    fn sqlite_open(&mut self, label: &str) -> Result<Resource<SqliteConnection>, SqlError> {
        if !self.component.sqlite_databases.contains(label) {
            tracing::warn!(component = %self.component.id, label, "component opened an undeclared SQLite database");
            return Err(SqlError::AccessDenied);
        }
        let pool = self
            .services
            .sqlite
            .get(label)
            .cloned()
            .ok_or(SqlError::NoSuchDatabase)?;
        let conn = SqliteConnection { conn: None, pool };
        self.table
            .push(conn)
            .map_err(|e| SqlError::Io(e.to_string()))
    }

    async fn sqlite_execute(
        &mut self,
        resource: &Resource<SqliteConnection>,
        sql: String,
        params: Vec<SqlValue>,
    ) -> Result<SqlRows, SqlError> {
        let handle = self
            .table
            .get_mut(resource)
            .map_err(|_| SqlError::InvalidConnection)?;
        let pool = handle.pool.clone();
        let conn = match handle.conn.take() {
            Some(conn) => conn,
            None => tokio::task::spawn_blocking(move || pool.take())
                .await
                .map_err(|e| SqlError::Io(e.to_string()))??,
        };
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = execute(&conn, &sql, &params);
            (conn, result)
        })
        .await
        .map_err(|e| SqlError::Io(e.to_string()))?;
        if let Ok(handle) = self.table.get_mut(resource) {
            handle.conn = Some(conn);
        }
        Ok(result?)
    }

    fn sqlite_connection_stats(&mut self, resource: &Resource<SqliteConnection>) -> (i64, u64) {
        match self.table.get(resource).ok().and_then(|h| h.conn.as_ref()) {
            Some(conn) => (conn.last_insert_rowid(), conn.changes()),
            None => (0, 0),
        }
    }
}

macro_rules! sqlite_conversions {
    ($m:ident) => {
        impl From<SqlError> for $m::Error {
            fn from(e: SqlError) -> Self {
                match e {
                    SqlError::NoSuchDatabase => $m::Error::NoSuchDatabase,
                    SqlError::AccessDenied => $m::Error::AccessDenied,
                    SqlError::InvalidConnection => $m::Error::InvalidConnection,
                    SqlError::DatabaseFull => $m::Error::DatabaseFull,
                    SqlError::Io(s) => $m::Error::Io(s),
                }
            }
        }
        impl From<$m::Value> for SqlValue {
            fn from(v: $m::Value) -> Self {
                match v {
                    $m::Value::Integer(i) => SqlValue::Integer(i),
                    $m::Value::Real(f) => SqlValue::Real(f),
                    $m::Value::Text(s) => SqlValue::Text(s),
                    $m::Value::Blob(b) => SqlValue::Blob(b),
                    $m::Value::Null => SqlValue::Null,
                }
            }
        }
        impl From<SqlValue> for $m::Value {
            fn from(v: SqlValue) -> Self {
                match v {
                    SqlValue::Integer(i) => $m::Value::Integer(i),
                    SqlValue::Real(f) => $m::Value::Real(f),
                    SqlValue::Text(s) => $m::Value::Text(s),
                    SqlValue::Blob(b) => $m::Value::Blob(b),
                    SqlValue::Null => $m::Value::Null,
                }
            }
        }
        impl From<SqlRows> for $m::QueryResult {
            fn from(r: SqlRows) -> Self {
                $m::QueryResult {
                    columns: r.columns,
                    rows: r
                        .rows
                        .into_iter()
                        .map(|values| $m::RowResult {
                            values: values.into_iter().map(Into::into).collect(),
                        })
                        .collect(),
                }
            }
        }
    };
}

sqlite_conversions!(v2);
sqlite_conversions!(v3);

impl v2::Host for RequestState {}

impl v2::HostConnection for RequestState {
    async fn open(
        &mut self,
        database: String,
    ) -> wasmtime::Result<Result<Resource<SqliteConnection>, v2::Error>> {
        Ok(self.sqlite_open(&database).map_err(Into::into))
    }

    async fn execute(
        &mut self,
        this: Resource<SqliteConnection>,
        statement: String,
        parameters: Vec<v2::Value>,
    ) -> wasmtime::Result<Result<v2::QueryResult, v2::Error>> {
        let params = parameters.into_iter().map(Into::into).collect();
        Ok(self
            .sqlite_execute(&this, statement, params)
            .await
            .map(Into::into)
            .map_err(Into::into))
    }

    async fn drop(&mut self, this: Resource<SqliteConnection>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl v3::Host for RequestState {}

impl v3::HostConnection for RequestState {
    async fn open(
        &mut self,
        database: String,
    ) -> wasmtime::Result<Result<Resource<SqliteConnection>, v3::Error>> {
        Ok(self.sqlite_open(&database).map_err(Into::into))
    }

    async fn execute(
        &mut self,
        this: Resource<SqliteConnection>,
        statement: String,
        parameters: Vec<v3::Value>,
    ) -> wasmtime::Result<Result<v3::QueryResult, v3::Error>> {
        let params = parameters.into_iter().map(Into::into).collect();
        Ok(self
            .sqlite_execute(&this, statement, params)
            .await
            .map(Into::into)
            .map_err(Into::into))
    }

    async fn last_insert_rowid(
        &mut self,
        this: Resource<SqliteConnection>,
    ) -> wasmtime::Result<i64> {
        Ok(self.sqlite_connection_stats(&this).0)
    }

    async fn changes(&mut self, this: Resource<SqliteConnection>) -> wasmtime::Result<u64> {
        Ok(self.sqlite_connection_stats(&this).1)
    }

    async fn drop(&mut self, this: Resource<SqliteConnection>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execute_maps_values_and_reports_changes() {
        let pool = SqlitePool::new("t", SqliteBackend::Memory).expect("pool");
        let conn = pool.take().expect("conn");
        execute(
            &conn,
            "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB)",
            &[],
        )
        .expect("create");
        let r = execute(
            &conn,
            "INSERT INTO t VALUES (?, ?, ?, ?)",
            &[
                SqlValue::Integer(7),
                SqlValue::Real(1.5),
                SqlValue::Text("x".into()),
                SqlValue::Blob(vec![1, 2]),
            ],
        )
        .expect("insert");
        assert_eq!(r.changes, 1);
        assert_eq!(r.last_insert_rowid, 1);
        let r = execute(&conn, "SELECT i, r, s, b, NULL AS n FROM t", &[]).expect("select");
        assert_eq!(r.columns, vec!["i", "r", "s", "b", "n"]);
        assert_eq!(
            r.rows,
            vec![vec![
                SqlValue::Integer(7),
                SqlValue::Real(1.5),
                SqlValue::Text("x".into()),
                SqlValue::Blob(vec![1, 2]),
                SqlValue::Null
            ]]
        );
        assert!(execute(&conn, "SELECT 1; SELECT 2", &[]).is_err());
    }

    #[test]
    fn a_returned_connection_has_its_transaction_rolled_back() {
        let pool = SqlitePool::new("rollback", SqliteBackend::Memory).expect("pool");
        let conn = pool.take().expect("conn");
        execute(&conn, "CREATE TABLE t (v INTEGER)", &[]).expect("create");
        execute(&conn, "BEGIN", &[]).expect("begin");
        execute(&conn, "INSERT INTO t VALUES (1)", &[]).expect("insert");
        pool.give_back(conn);
        let conn = pool.take().expect("conn again");
        assert!(conn.is_autocommit());
        let r = execute(&conn, "SELECT count(*) FROM t", &[]).expect("count");
        assert_eq!(r.rows[0][0], SqlValue::Integer(0));
    }
}
