//! The event log's SQL. The table is append-only: triggers refuse every
//! UPDATE and DELETE, so not even a bug here can rewrite history.

use platform::clock::rfc3339_from_ms;
use platform::db::{int, opt_text, text, Db, Migration};
use platform::{inbox, ApiError};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as Json;
use spin_sdk::sqlite3::Value;

use crate::domain::{AuditRecord, LogQuery};

const SCHEMA: Migration = &[
    "CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        topic TEXT NOT NULL,
        aggregate_type TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        occurred_at_ms INTEGER NOT NULL,
        recorded_at_ms INTEGER NOT NULL,
        correlation_id TEXT NOT NULL,
        causation_id TEXT,
        traceparent TEXT,
        payload TEXT NOT NULL)",
    // One index per filter, each ending in seq so a filtered page is read
    // in order straight from the index.
    "CREATE INDEX audit_events_aggregate ON audit_events (aggregate_id, seq)",
    "CREATE INDEX audit_events_aggregate_type ON audit_events (aggregate_type, seq)",
    "CREATE INDEX audit_events_type ON audit_events (type, seq)",
    "CREATE INDEX audit_events_correlation ON audit_events (correlation_id, seq)",
    "CREATE INDEX audit_events_occurred ON audit_events (occurred_at_ms)",
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
     BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
     BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
];

/// The schema, in order.
pub const MIGRATIONS: &[Migration] = &[SCHEMA, inbox::MIGRATION];

/// Appends a record; an id already in the log is left as it was.
pub fn append(db: &Db, r: &AuditRecord, recorded_at_ms: i64) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO audit_events (id, type, topic, aggregate_type, aggregate_id, occurred_at,
             occurred_at_ms, recorded_at_ms, correlation_id, causation_id, traceparent, payload)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO NOTHING",
        &[
            text(&r.id),
            text(&r.event_type),
            text(&r.topic),
            text(r.aggregate_type),
            text(&r.aggregate_id),
            text(&r.occurred_at),
            int(r.occurred_at_ms),
            int(recorded_at_ms),
            text(&r.correlation_id),
            opt_text(r.causation_id.as_deref()),
            opt_text(r.traceparent.as_deref()),
            text(&r.payload),
        ],
    )?;
    Ok(())
}

/// A recorded event, and where it is in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    pub at: crate::domain::Position,
    pub event: AuditEvent,
}

/// A recorded event as the API shows it: the envelope as delivered, its
/// place in the log and when it was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AuditEvent {
    /// Its place in the log (ascending, gap-free per database).
    pub seq: i64,
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub topic: Option<String>,
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub occurred_at: Option<String>,
    /// RFC 3339.
    pub recorded_at: String,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub traceparent: Option<String>,
    /// The event's payload, as delivered.
    pub payload: Json,
}

const COLUMNS: &str = "seq, id, type, topic, aggregate_type, aggregate_id, occurred_at, \
     occurred_at_ms, recorded_at_ms, correlation_id, causation_id, traceparent, payload";

/// Up to `limit` events matching the query, in ascending sequence order
/// (or by `occurred_at`, then sequence).
pub fn query(db: &Db, q: &LogQuery, limit: u32) -> Result<Vec<LoggedEvent>, ApiError> {
    // Only constant fragments are joined into the SQL; every value is a
    // parameter.
    let after = q.after.unwrap_or(crate::domain::Position {
        occurred_at_ms: -1,
        seq: 0,
    });
    let (mut clauses, mut params, order) = if q.by_occurred {
        (
            vec!["(occurred_at_ms, seq) > (?, ?)"],
            vec![int(after.occurred_at_ms), int(after.seq)],
            "occurred_at_ms, seq",
        )
    } else {
        (vec!["seq > ?"], vec![int(after.seq)], "seq")
    };
    let mut filter = |clause, value: Value| {
        clauses.push(clause);
        params.push(value);
    };
    if let Some(v) = &q.aggregate_id {
        filter("aggregate_id = ?", text(v));
    }
    if let Some(v) = q.aggregate_type {
        filter("aggregate_type = ?", text(v));
    }
    if let Some(v) = &q.event_type {
        filter("type = ?", text(v));
    }
    if let Some(v) = &q.correlation_id {
        filter("correlation_id = ?", text(v));
    }
    if let Some(v) = q.from_ms {
        filter("occurred_at_ms >= ?", int(v));
    }
    if let Some(v) = q.to_ms {
        filter("occurred_at_ms < ?", int(v));
    }
    params.push(int(limit));
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_events WHERE {} ORDER BY {order} LIMIT ?",
        clauses.join(" AND ")
    );
    let rows = db.execute(&sql, &params)?;
    rows.rows()
        .map(|row| {
            let seq = row
                .get::<i64>("seq")
                .ok_or_else(|| ApiError::internal("audit row without seq"))?;
            let s = |c: &str| row.get::<&str>(c).map(str::to_string);
            let payload = s("payload").unwrap_or_default();
            // Stored as delivered; shown as the document it is.
            let payload = serde_json::from_str::<Json>(&payload).unwrap_or(Json::String(payload));
            let occurred_at_ms = row.get::<i64>("occurred_at_ms").unwrap_or_default();
            Ok(LoggedEvent {
                at: crate::domain::Position {
                    occurred_at_ms,
                    seq,
                },
                event: AuditEvent {
                    seq,
                    id: s("id"),
                    event_type: s("type"),
                    topic: s("topic"),
                    aggregate_type: s("aggregate_type"),
                    aggregate_id: s("aggregate_id"),
                    occurred_at: s("occurred_at"),
                    recorded_at: rfc3339_from_ms(row.get::<i64>("recorded_at_ms").unwrap_or(0)),
                    correlation_id: s("correlation_id"),
                    causation_id: s("causation_id"),
                    traceparent: s("traceparent"),
                    payload,
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use platform::events::Envelope;

    use super::*;
    use crate::domain::{Position, DEFAULT_LIMIT};

    fn record(id: &str, event_type: &str, key: &str, occurred_at: &str) -> AuditRecord {
        AuditRecord::from_envelope(&Envelope {
            id: id.into(),
            type_: event_type.into(),
            topic: "orders.events".into(),
            key: key.into(),
            occurred_at: occurred_at.into(),
            correlation_id: format!("corr-{key}"),
            causation_id: None,
            traceparent: None,
            payload: r#"{"order_id":"o1"}"#.into(),
        })
        .expect("valid")
    }

    fn ids(events: &[LoggedEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| e.event.id.clone().unwrap_or_default())
            .collect()
    }

    fn filled() -> Db {
        let db = Db::memory(MIGRATIONS).expect("db");
        for r in [
            record("e1", "order.created", "o1", "2026-11-22T10:00:02Z"),
            record("e2", "payment.failed", "o1", "2026-11-22T10:00:01Z"),
            record("e3", "order.created", "o2", "2026-11-22T10:00:03Z"),
        ] {
            append(&db, &r, 1_000).expect("append");
        }
        db
    }

    #[test]
    fn the_log_is_append_only_and_takes_an_event_once() {
        let db = filled();
        append(
            &db,
            &record("e1", "order.created", "o9", "2026-11-22T10:00:09Z"),
            2_000,
        )
        .expect("repeat");
        let all = query(
            &db,
            &LogQuery {
                limit: DEFAULT_LIMIT,
                ..LogQuery::default()
            },
            10,
        )
        .expect("query");
        assert_eq!(ids(&all), ["e1", "e2", "e3"]);
        assert_eq!(
            all[0].event.aggregate_id.as_deref(),
            Some("o1"),
            "the first copy stays"
        );
        assert_eq!(all[0].event.payload["order_id"], "o1");
        assert!(db.execute("DELETE FROM audit_events", &[]).is_err());
        assert!(db
            .execute("UPDATE audit_events SET type = 'x'", &[])
            .is_err());
    }

    #[test]
    fn queries_filter_and_order_by_record_or_by_occurrence() {
        let db = filled();
        let by_key = LogQuery {
            aggregate_id: Some("o1".into()),
            ..LogQuery::default()
        };
        assert_eq!(ids(&query(&db, &by_key, 10).expect("query")), ["e1", "e2"]);
        let occurred = LogQuery {
            aggregate_id: Some("o1".into()),
            by_occurred: true,
            ..LogQuery::default()
        };
        assert_eq!(
            ids(&query(&db, &occurred, 10).expect("query")),
            ["e2", "e1"]
        );
        let typed = LogQuery {
            event_type: Some("order.created".into()),
            ..LogQuery::default()
        };
        let page = query(&db, &typed, 1).expect("query");
        assert_eq!(ids(&page), ["e1"]);
        let next = LogQuery {
            after: Some(page[0].at),
            ..typed
        };
        assert_eq!(ids(&query(&db, &next, 10).expect("query")), ["e3"]);
        let window = LogQuery {
            from_ms: crate::domain::parse_time("2026-11-22T10:00:02Z"),
            to_ms: crate::domain::parse_time("2026-11-22T10:00:03Z"),
            ..LogQuery::default()
        };
        assert_eq!(ids(&query(&db, &window, 10).expect("query")), ["e1"]);
        assert_eq!(
            page[0].at,
            Position {
                occurred_at_ms: crate::domain::parse_time("2026-11-22T10:00:02Z").unwrap_or(0),
                seq: 1
            }
        );
    }
}
