//! `/sqlite/<label>` (spin:sqlite@3.0.0) and `/sqlite2/<label>`
//! (fermyon:spin/sqlite@2.0.0): run a batch of statements on one connection.
//!
//! Each statement is its own `execute` call on the same connection, so a
//! batch `BEGIN; INSERT ...; COMMIT` proves the host keeps a transaction open
//! across calls. The first failing statement ends the batch; its error is
//! reported next to the results so far, with status 200.

use std::fmt::Debug;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use spin_sdk::http::Response;
use spin_sdk::{sqlite, sqlite3};

use crate::codec::SqlValue;
use crate::reply;

/// Runs the batch in `body` with the spin:sqlite@3.0.0 interface.
pub fn run_v3(label: &str, body: &[u8]) -> Response {
    let statements = match parse_batch(body) {
        Ok(statements) => statements,
        Err(message) => return reply::error_message(400, &message),
    };
    match sqlite3::Connection::open(label) {
        Ok(conn) => reply::json(200, &run_batch(&conn, statements)),
        Err(e @ (sqlite3::Error::AccessDenied | sqlite3::Error::NoSuchDatabase)) => {
            reply::error(403, &e)
        }
        Err(e) => reply::error(500, &e),
    }
}

/// Runs the batch in `body` with the fermyon:spin/sqlite@2.0.0 interface.
pub fn run_v2(label: &str, body: &[u8]) -> Response {
    let statements = match parse_batch(body) {
        Ok(statements) => statements,
        Err(message) => return reply::error_message(400, &message),
    };
    match sqlite::Connection::open(label) {
        Ok(conn) => reply::json(200, &run_batch(&conn, statements)),
        Err(e @ (sqlite::Error::AccessDenied | sqlite::Error::NoSuchDatabase)) => {
            reply::error(403, &e)
        }
        Err(e) => reply::error(500, &e),
    }
}

#[derive(Debug, Deserialize)]
struct BatchRequest {
    statements: Vec<StatementRequest>,
}

#[derive(Debug, Deserialize)]
struct StatementRequest {
    sql: String,
    #[serde(default)]
    params: Vec<Json>,
}

/// A statement whose parameters have been mapped to SQL values.
#[derive(Debug, PartialEq)]
struct Statement {
    sql: String,
    params: Vec<SqlValue>,
}

/// The outcome of one statement.
#[derive(Debug, Serialize)]
struct StatementResult {
    columns: Vec<String>,
    rows: Vec<Vec<Json>>,
    /// Only the v3 interface reports these.
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_insert_rowid: Option<i64>,
}

#[derive(Debug, Serialize)]
struct BatchResult {
    results: Vec<StatementResult>,
    error: Option<String>,
}

/// Parses the request body; every parameter is checked before anything runs.
fn parse_batch(body: &[u8]) -> Result<Vec<Statement>, String> {
    let batch: BatchRequest =
        serde_json::from_slice(body).map_err(|e| format!("invalid batch body: {e}"))?;
    batch
        .statements
        .into_iter()
        .enumerate()
        .map(|(index, statement)| {
            let params = statement
                .params
                .iter()
                .map(SqlValue::from_json)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("statement {index}: {e}"))?;
            Ok(Statement {
                sql: statement.sql,
                params,
            })
        })
        .collect()
}

/// The part of a SQLite connection a batch needs, for both interfaces.
trait Database {
    type Error: Debug;
    fn run(&self, statement: &Statement) -> Result<StatementResult, Self::Error>;
}

impl Database for sqlite3::Connection {
    type Error = sqlite3::Error;

    fn run(&self, statement: &Statement) -> Result<StatementResult, Self::Error> {
        let params: Vec<sqlite3::Value> =
            statement.params.iter().cloned().map(Into::into).collect();
        let result = self.execute(&statement.sql, &params)?;
        Ok(StatementResult {
            rows: result
                .rows
                .iter()
                .map(|row| {
                    row.values
                        .iter()
                        .map(|v| SqlValue::from(v).to_json())
                        .collect()
                })
                .collect(),
            columns: result.columns,
            changes: Some(self.changes()),
            last_insert_rowid: Some(self.last_insert_rowid()),
        })
    }
}

impl Database for sqlite::Connection {
    type Error = sqlite::Error;

    fn run(&self, statement: &Statement) -> Result<StatementResult, Self::Error> {
        let params: Vec<sqlite::Value> = statement.params.iter().cloned().map(Into::into).collect();
        let result = self.execute(&statement.sql, &params)?;
        Ok(StatementResult {
            rows: result
                .rows
                .iter()
                .map(|row| {
                    row.values
                        .iter()
                        .map(|v| SqlValue::from(v).to_json())
                        .collect()
                })
                .collect(),
            columns: result.columns,
            changes: None,
            last_insert_rowid: None,
        })
    }
}

fn run_batch(db: &impl Database, statements: Vec<Statement>) -> BatchResult {
    let mut results = Vec::with_capacity(statements.len());
    for statement in &statements {
        match db.run(statement) {
            Ok(result) => results.push(result),
            Err(e) => {
                return BatchResult {
                    results,
                    error: Some(format!("{e:?}")),
                }
            }
        }
    }
    BatchResult {
        results,
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use serde_json::json;

    use super::*;

    #[test]
    fn batch_parses_with_and_without_params() {
        let body = json!({"statements": [
            {"sql": "CREATE TABLE t (x)"},
            {"sql": "INSERT INTO t VALUES (?, ?)", "params": [1, {"blob": "ff"}]},
        ]});
        let statements = parse_batch(body.to_string().as_bytes()).expect("valid batch");
        assert_eq!(statements.len(), 2);
        assert!(statements[0].params.is_empty());
        assert_eq!(
            statements[1].params,
            vec![SqlValue::Integer(1), SqlValue::Blob(vec![0xff])]
        );
    }

    #[test]
    fn bad_batches_are_rejected_before_running() {
        assert!(parse_batch(b"not json").is_err());
        assert!(parse_batch(br#"{"statements": [{"params": []}]}"#).is_err());
        let err = parse_batch(br#"{"statements": [{"sql": "x"}, {"sql": "y", "params": [[1]]}]}"#)
            .expect_err("array parameter");
        assert!(err.starts_with("statement 1:"), "{err}");
    }

    /// Fails the statement at `fail_at`; records what ran.
    struct FakeDatabase {
        fail_at: usize,
        ran: RefCell<Vec<String>>,
    }

    impl Database for FakeDatabase {
        type Error = String;

        fn run(&self, statement: &Statement) -> Result<StatementResult, String> {
            let mut ran = self.ran.borrow_mut();
            if ran.len() == self.fail_at {
                return Err("boom".into());
            }
            ran.push(statement.sql.clone());
            Ok(StatementResult {
                columns: vec![],
                rows: vec![],
                changes: None,
                last_insert_rowid: None,
            })
        }
    }

    #[test]
    fn batch_stops_at_first_error() {
        let statements = ["a", "b", "c"]
            .map(|sql| Statement {
                sql: sql.into(),
                params: vec![],
            })
            .into_iter()
            .collect();
        let db = FakeDatabase {
            fail_at: 1,
            ran: RefCell::default(),
        };
        let result = run_batch(&db, statements);
        assert_eq!(result.results.len(), 1);
        assert_eq!(result.error.as_deref(), Some("\"boom\""));
        assert_eq!(*db.ran.borrow(), vec!["a".to_owned()]);
        let body = serde_json::to_value(&result).expect("serialises");
        assert_eq!(
            body,
            json!({"results": [{"columns": [], "rows": []}], "error": "\"boom\""})
        );
    }
}
