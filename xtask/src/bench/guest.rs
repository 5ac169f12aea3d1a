//! What the benchmark asks of the host's test guest, and how it reads the
//! answers. The guest's SQLite route answers 200 even when a statement
//! fails (the error is in the body), so wrk cannot see those failures; the
//! benchmark checks bodies before the load and counts rows after it.

/// Creates the table the SQLite scenario fills.
pub const CREATE_TABLE: &str =
    r#"{"statements":[{"sql":"CREATE TABLE IF NOT EXISTS hits(n INTEGER NOT NULL)","params":[]}]}"#;

/// One SQLite scenario request: a write, then a read.
pub const INSERT_AND_COUNT: &str = r#"{"statements":[{"sql":"INSERT INTO hits(n) VALUES (1)","params":[]},{"sql":"SELECT count(*) FROM hits","params":[]}]}"#;

/// Reads the table size after the load.
pub const COUNT: &str = r#"{"statements":[{"sql":"SELECT count(*) FROM hits","params":[]}]}"#;

/// Whether a SQLite batch answer reports no error (`"error":null`).
pub fn batch_succeeded(body: &str) -> bool {
    body.replace(char::is_whitespace, "")
        .contains(r#""error":null"#)
}

/// The value of a batch answer whose last statement selected one integer:
/// `..."rows":[[42]]...`.
pub fn counted(body: &str) -> Option<u64> {
    let compact = body.replace(char::is_whitespace, "");
    let (_, after) = compact.rsplit_once(r#""rows":[["#)?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    after[digits.len()..].starts_with("]]").then_some(())?;
    digits.parse().ok()
}

/// Batches that must have failed: each completed request inserted a row,
/// plus `extra` rows from requests outside the load. Requests cut off when
/// wrk stopped may have inserted rows without being counted, so only a
/// shortfall is evidence of failures.
pub fn failed_inserts(rows: u64, completed_requests: u64, extra: u64) -> u64 {
    (completed_requests + extra).saturating_sub(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_batch_answers() {
        let ok = r#"{"results":[{"columns":["count(*)"],"rows":[[1234]],"changes":0,"last_insert_rowid":7}],"error":null}"#;
        assert!(batch_succeeded(ok));
        assert_eq!(counted(ok), Some(1234));
        let failed = r#"{"results":[],"error":"Io(\"no such table: hits\")"}"#;
        assert!(!batch_succeeded(failed));
        assert_eq!(counted(failed), None);
        assert_eq!(
            counted(r#"{"results":[{"rows":[["x"]]}],"error":null}"#),
            None
        );
        assert_eq!(
            counted(r#"{"results":[{"rows":[[1, 2]]}],"error":null}"#),
            None
        );
    }

    #[test]
    fn only_a_shortfall_of_rows_counts_as_failures() {
        assert_eq!(failed_inserts(1_001, 1_000, 1), 0);
        assert_eq!(failed_inserts(1_010, 1_000, 1), 0);
        assert_eq!(failed_inserts(990, 1_000, 1), 11);
    }
}
