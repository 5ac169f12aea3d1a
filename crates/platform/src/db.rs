//! A component's SQLite database: versioned migrations, parameterised
//! statements, and transactions that span several statements (nested ones
//! become savepoints, so a workflow that opens a transaction can run on its
//! own or inside a caller's).
//!
//! Durability: every database is put in WAL mode (persistent in the file)
//! and each connection runs with `synchronous=NORMAL`. A committed
//! transaction survives the death of any process (the component's host,
//! the bridge); only an operating-system crash or a power cut can lose the
//! last commits before the WAL is checkpointed. That trade buys commits
//! without an `fsync` each, which is what every request and event pays.
//! Spin opens connections with a 5 s busy timeout, enough for writers that
//! hold the lock for one short transaction each.
//!
//! In native tests the same code runs on an in-memory SQLite
//! ([`Db::memory`]), so each component's `store.rs` is tested as it runs.

use std::cell::Cell;

use spin_sdk::sqlite3::{QueryResult, Value};

use crate::problem::ApiError;

/// A migration: its statements, applied once, in order, atomically.
pub type Migration = &'static [&'static str];

/// The schema version, the journal mode and the connection's sync level,
/// in one statement: opening a database that is already as it should be
/// costs this query and nothing else.
const STATE_SQL: &str = "SELECT (SELECT COALESCE(MAX(version), 0) FROM schema_migrations), \
     (SELECT journal_mode FROM pragma_journal_mode), \
     (SELECT synchronous FROM pragma_synchronous)";
const CREATE_MIGRATIONS_SQL: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
     (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)";
/// `synchronous=NORMAL` as `pragma_synchronous` reports it.
const SYNCHRONOUS_NORMAL: i64 = 1;

enum Connection {
    Spin(spin_sdk::sqlite3::Connection),
    #[cfg(not(target_arch = "wasm32"))]
    Memory(rusqlite::Connection),
}

/// An open database.
pub struct Db {
    conn: Connection,
    /// Open transactions: 0 outside one, 1 in `BEGIN`, more in savepoints.
    depth: Cell<u32>,
    /// Outbox rows written in the open transaction.
    outbox_pending: Cell<bool>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

impl Db {
    /// Opens the database `label` (declared in the component's
    /// `sqlite_databases`) and brings its mode and schema up to date.
    pub fn open(label: &str, migrations: &[Migration]) -> Result<Self, ApiError> {
        let conn = spin_sdk::sqlite3::Connection::open(label)
            .map_err(|e| ApiError::internal(format!("opening database {label}: {e:?}")))?;
        let db = Self::over(Connection::Spin(conn));
        db.prepare(migrations)?;
        Ok(db)
    }

    /// A fresh in-memory database with `migrations` applied, for native
    /// tests of SQL.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn memory(migrations: &[Migration]) -> Result<Self, ApiError> {
        let conn = rusqlite::Connection::open_in_memory()
            .map_err(|e| ApiError::internal(format!("in-memory database: {e}")))?;
        let db = Self::over(Connection::Memory(conn));
        db.prepare(migrations)?;
        Ok(db)
    }

    fn over(conn: Connection) -> Self {
        Self {
            conn,
            depth: Cell::new(0),
            outbox_pending: Cell::new(false),
        }
    }

    fn prepare(&self, migrations: &[Migration]) -> Result<(), ApiError> {
        let state = match self.execute(STATE_SQL, &[]) {
            Ok(r) => r,
            Err(_) => {
                self.execute(CREATE_MIGRATIONS_SQL, &[])?;
                self.execute(STATE_SQL, &[])?
            }
        };
        let row = state.rows.first().map(|r| r.values.as_slice());
        let (version, journal, synchronous) = match row {
            Some([Value::Integer(v), Value::Text(j), Value::Integer(s)]) => (*v, j.as_str(), *s),
            _ => (0, "", 0),
        };
        // In-memory databases have no WAL to switch to.
        if !journal.eq_ignore_ascii_case("wal") && !journal.eq_ignore_ascii_case("memory") {
            self.pragma("PRAGMA journal_mode = WAL");
        }
        if synchronous != SYNCHRONOUS_NORMAL {
            self.pragma("PRAGMA synchronous = NORMAL");
        }
        if version < migrations.len() as i64 {
            self.migrate(migrations)?;
        }
        Ok(())
    }

    /// A setting the backend may refuse (a remote libSQL, for one): the
    /// database still works, only with its own defaults.
    fn pragma(&self, sql: &str) {
        if let Err(e) = self.execute(sql, &[]) {
            crate::redis_store::log_warning("sqlite_pragma_refused", &format!("{sql}: {e}"));
        }
    }

    fn migrate(&self, migrations: &[Migration]) -> Result<(), ApiError> {
        self.transaction(|db| {
            // Another instance may have migrated while we waited for the lock.
            let current = first_i64(&db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )?)
            .unwrap_or(0);
            for (i, migration) in migrations.iter().enumerate() {
                let version = i as i64 + 1;
                if version <= current {
                    continue;
                }
                for statement in *migration {
                    db.execute(statement, &[])?;
                }
                db.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    &[int(version), int(crate::clock::now_ms())],
                )?;
            }
            Ok(())
        })
    }

    /// Runs one statement.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<QueryResult, ApiError> {
        let failed =
            |e: String| ApiError::internal(format!("SQL failed ({}): {e}", first_words(sql)));
        match &self.conn {
            Connection::Spin(c) => c.execute(sql, params).map_err(|e| failed(format!("{e:?}"))),
            #[cfg(not(target_arch = "wasm32"))]
            Connection::Memory(c) => {
                memory::execute(c, sql, params).map_err(|e| failed(e.to_string()))
            }
        }
    }

    /// Rows changed by the last statement.
    pub fn changes(&self) -> u64 {
        match &self.conn {
            Connection::Spin(c) => c.changes(),
            #[cfg(not(target_arch = "wasm32"))]
            Connection::Memory(c) => c.changes(),
        }
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.depth.get() > 0
    }

    /// Runs `f` inside `BEGIN IMMEDIATE` ... `COMMIT`, rolling back on
    /// error; inside an open transaction, inside a savepoint of it.
    /// Immediate: writers take the lock up front, so two concurrent
    /// transactions never deadlock upgrading a read lock.
    pub fn transaction<T>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let depth = self.depth.get();
        let savepoint = format!("nested_{depth}");
        if depth == 0 {
            self.execute("BEGIN IMMEDIATE", &[])?;
        } else {
            self.execute(&format!("SAVEPOINT {savepoint}"), &[])?;
        }
        self.depth.set(depth + 1);
        let result = f(self);
        self.depth.set(depth);
        match (result, depth) {
            (Ok(value), 0) => {
                self.execute("COMMIT", &[])?;
                if self.outbox_pending.replace(false) {
                    crate::outbox::note_committed();
                }
                Ok(value)
            }
            (Ok(value), _) => {
                self.execute(&format!("RELEASE {savepoint}"), &[])?;
                Ok(value)
            }
            (Err(e), 0) => {
                let _ = self.execute("ROLLBACK", &[]);
                self.outbox_pending.set(false);
                Err(e)
            }
            (Err(e), _) => {
                let _ = self.execute(&format!("ROLLBACK TO {savepoint}"), &[]);
                let _ = self.execute(&format!("RELEASE {savepoint}"), &[]);
                Err(e)
            }
        }
    }

    /// Records that outbox rows were written: once they are committed, the
    /// serving layer wakes the bridge.
    pub(crate) fn note_outbox_write(&self) {
        if self.in_transaction() {
            self.outbox_pending.set(true);
        } else {
            crate::outbox::note_committed();
        }
    }
}

/// The first column of the first row as an integer.
pub fn first_i64(r: &QueryResult) -> Option<i64> {
    match r.rows.first()?.values.first()? {
        Value::Integer(i) => Some(*i),
        _ => None,
    }
}

/// A text parameter.
pub fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// An integer parameter.
pub fn int(i: impl Into<i64>) -> Value {
    Value::Integer(i.into())
}

/// A nullable text parameter.
pub fn opt_text(s: Option<impl Into<String>>) -> Value {
    s.map_or(Value::Null, |s| Value::Text(s.into()))
}

/// A nullable integer parameter.
pub fn opt_int(i: Option<impl Into<i64>>) -> Value {
    i.map_or(Value::Null, |i| Value::Integer(i.into()))
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
}

/// Statements on rusqlite, answered in Spin's shapes.
#[cfg(not(target_arch = "wasm32"))]
mod memory {
    use rusqlite::types::{Value as Sql, ValueRef};
    use spin_sdk::sqlite3::{QueryResult, RowResult, Value};

    pub fn execute(
        conn: &rusqlite::Connection,
        sql: &str,
        params: &[Value],
    ) -> rusqlite::Result<QueryResult> {
        let mut statement = conn.prepare(sql)?;
        let columns: Vec<String> = statement
            .column_names()
            .into_iter()
            .map(str::to_string)
            .collect();
        let params = params.iter().map(|v| match v {
            Value::Integer(i) => Sql::Integer(*i),
            Value::Real(r) => Sql::Real(*r),
            Value::Text(t) => Sql::Text(t.clone()),
            Value::Blob(b) => Sql::Blob(b.clone()),
            Value::Null => Sql::Null,
        });
        let mut rows = statement.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let values = (0..columns.len())
                .map(|i| {
                    Ok(match row.get_ref(i)? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(n) => Value::Integer(n),
                        ValueRef::Real(r) => Value::Real(r),
                        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                    })
                })
                .collect::<rusqlite::Result<Vec<_>>>()?;
            out.push(RowResult { values });
        }
        Ok(QueryResult { columns, rows: out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: Migration = &["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"];

    fn count(db: &Db) -> i64 {
        first_i64(&db.execute("SELECT COUNT(*) FROM t", &[]).expect("count")).unwrap_or(-1)
    }

    #[test]
    fn migrations_apply_once_and_the_connection_is_set_up() {
        let db = Db::memory(&[SCHEMA]).expect("open");
        db.execute("INSERT INTO t (v) VALUES (?)", &[text("a")])
            .expect("insert");
        assert_eq!(db.changes(), 1);
        db.prepare(&[SCHEMA]).expect("again");
        assert_eq!(count(&db), 1, "the schema was not applied twice");
        let sync = db.execute("PRAGMA synchronous", &[]).expect("pragma");
        assert_eq!(first_i64(&sync), Some(SYNCHRONOUS_NORMAL));
    }

    #[test]
    fn nested_transactions_are_savepoints() {
        let db = Db::memory(&[SCHEMA]).expect("open");
        let outcome = db.transaction(|db| {
            db.execute("INSERT INTO t (v) VALUES ('kept')", &[])?;
            let inner: Result<(), ApiError> = db.transaction(|db| {
                db.execute("INSERT INTO t (v) VALUES ('undone')", &[])?;
                Err(ApiError::Conflict("no".into()))
            });
            assert!(inner.is_err());
            assert!(db.in_transaction());
            db.transaction(|db| db.execute("INSERT INTO t (v) VALUES ('kept too')", &[]))?;
            Ok(())
        });
        assert!(outcome.is_ok());
        assert!(!db.in_transaction());
        assert_eq!(count(&db), 2);
        let failed: Result<(), ApiError> = db.transaction(|db| {
            db.execute("INSERT INTO t (v) VALUES ('gone')", &[])?;
            Err(ApiError::Conflict("no".into()))
        });
        assert!(failed.is_err());
        assert_eq!(count(&db), 2, "a failed transaction leaves nothing");
    }

    #[test]
    fn values_cross_in_both_directions() {
        let db = Db::memory(&[&["CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB, n TEXT)"]])
            .expect("open");
        db.execute(
            "INSERT INTO v VALUES (?, ?, ?, ?, ?)",
            &[
                int(7),
                Value::Real(1.5),
                text("x"),
                Value::Blob(vec![1, 2]),
                opt_text(None::<String>),
            ],
        )
        .expect("insert");
        let r = db
            .execute("SELECT i, r, t, b, n FROM v", &[])
            .expect("select");
        assert_eq!(r.columns, ["i", "r", "t", "b", "n"]);
        assert_eq!(
            format!("{:?}", r.rows[0].values),
            format!(
                "{:?}",
                [
                    Value::Integer(7),
                    Value::Real(1.5),
                    Value::Text("x".into()),
                    Value::Blob(vec![1, 2]),
                    Value::Null
                ]
            )
        );
        assert!(db.execute("SELECT nope FROM v", &[]).is_err());
    }
}
