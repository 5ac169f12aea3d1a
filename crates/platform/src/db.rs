//! A component's SQLite database: versioned migrations, parameterised
//! statements, and transactions that span several statements.

use spin_sdk::sqlite3::{Connection, QueryResult, Value};

use crate::problem::ApiError;

const CURRENT_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

/// A migration: its statements, applied once, in order, atomically.
pub type Migration = &'static [&'static str];

/// An open database.
pub struct Db {
    conn: Connection,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

impl Db {
    /// Opens the database `label` (declared in the component's
    /// `sqlite_databases`) and brings its schema up to date.
    pub fn open(label: &str, migrations: &[Migration]) -> Result<Self, ApiError> {
        let conn = Connection::open(label)
            .map_err(|e| ApiError::internal(format!("opening database {label}: {e:?}")))?;
        let db = Self { conn };
        db.migrate(migrations)?;
        Ok(db)
    }

    fn migrate(&self, migrations: &[Migration]) -> Result<(), ApiError> {
        // Every request opens the database, so the common case (schema up
        // to date) costs one query; the table is created only when missing.
        let current = match self.conn.execute(CURRENT_VERSION, &[]) {
            Ok(r) => first_i64(&r).unwrap_or(0),
            Err(_) => {
                self.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
                    &[],
                )?;
                0
            }
        };
        if current >= migrations.len() as i64 {
            return Ok(());
        }
        self.transaction(|db| {
            // Another instance may have migrated while we waited for the lock.
            let current = db.current_version()?;
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
                    &[Value::Integer(version), Value::Integer(now_ms())],
                )?;
            }
            Ok(())
        })
    }

    fn current_version(&self) -> Result<i64, ApiError> {
        let r = self.execute(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?;
        Ok(first_i64(&r).unwrap_or(0))
    }

    /// Runs one statement.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<QueryResult, ApiError> {
        self.conn
            .execute(sql, params)
            .map_err(|e| ApiError::internal(format!("SQL failed ({}): {e:?}", first_words(sql))))
    }

    /// The underlying connection, for helpers that work on a raw
    /// `spin_sdk` connection (they join any transaction open on it).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Rows changed by the last statement.
    pub fn changes(&self) -> u64 {
        self.conn.changes()
    }

    /// Runs `f` inside `BEGIN IMMEDIATE` ... `COMMIT`, rolling back on error.
    /// Immediate: writers take the lock up front, so two concurrent
    /// transactions never deadlock upgrading a read lock.
    pub fn transaction<T>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.execute("BEGIN IMMEDIATE", &[])?;
        match f(self) {
            Ok(value) => {
                self.execute("COMMIT", &[])?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.conn.execute("ROLLBACK", &[]);
                Err(e)
            }
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

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
}
