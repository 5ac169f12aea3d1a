//! Audit rules, free of storage: which aggregate an event belongs to, what
//! a recordable envelope looks like, and what a query of the log may ask.

use platform::events::Envelope;
use platform::pagination::PageRequest;
use platform::ApiError;

/// Aggregate types an event can belong to; `other` takes event types
/// whose prefix is none of ours (they are still recorded).
pub const AGGREGATE_TYPES: &[&str] = &[
    "order",
    "payment",
    "inventory",
    "product",
    "user",
    "marketplace",
    "notification",
    "other",
];

/// Page sizes of the query.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 500;

/// Longest accepted values of envelope fields and filters.
const MAX_ID: usize = 128;
const MAX_TYPE: usize = 128;
/// Kafka's own limit on topic names.
const MAX_TOPIC: usize = 249;
const MAX_KEY: usize = 512;
const MAX_META: usize = 512;

/// The aggregate an event type belongs to, from its prefix:
/// `order.created` -> `order`, `catalog.product_created` -> `product`.
pub fn aggregate_type(event_type: &str) -> &'static str {
    match event_type.split_once('.').map(|(prefix, _)| prefix) {
        Some("order") => "order",
        Some("payment") => "payment",
        Some("inventory") => "inventory",
        Some("catalog") => "product",
        Some("user") => "user",
        Some("marketplace") => "marketplace",
        Some("notification") => "notification",
        _ => "other",
    }
}

/// An envelope as the log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: String,
    pub event_type: String,
    pub topic: String,
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    /// As the producer wrote it.
    pub occurred_at: String,
    /// The same instant, for time filters.
    pub occurred_at_ms: i64,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub traceparent: Option<String>,
    /// The payload document, exactly as delivered.
    pub payload: String,
}

impl AuditRecord {
    /// Checks an envelope; each failure is a 422 naming the envelope field.
    pub fn from_envelope(e: &Envelope) -> Result<Self, ApiError> {
        token("id", &e.id, MAX_ID)?;
        token("type", &e.type_, MAX_TYPE)?;
        token("topic", &e.topic, MAX_TOPIC)?;
        text("key", &e.key, 1, MAX_KEY)?;
        text("correlation_id", &e.correlation_id, 0, MAX_META)?;
        if let Some(c) = &e.causation_id {
            text("causation_id", c, 0, MAX_META)?;
        }
        if let Some(t) = &e.traceparent {
            text("traceparent", t, 0, MAX_META)?;
        }
        let occurred_at_ms = parse_time(&e.occurred_at)
            .ok_or_else(|| ApiError::invalid("occurred_at", "must be an RFC 3339 timestamp"))?;
        if serde_json::from_str::<serde_json::Value>(&e.payload).is_err() {
            return Err(ApiError::invalid("payload", "must be a JSON document"));
        }
        Ok(Self {
            id: e.id.clone(),
            event_type: e.type_.clone(),
            topic: e.topic.clone(),
            aggregate_type: aggregate_type(&e.type_),
            aggregate_id: e.key.clone(),
            occurred_at: e.occurred_at.clone(),
            occurred_at_ms,
            correlation_id: e.correlation_id.clone(),
            causation_id: e.causation_id.clone(),
            traceparent: e.traceparent.clone(),
            payload: e.payload.clone(),
        })
    }
}

/// 1 to `max` visible ASCII characters (ids, types, topics).
fn token(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > max || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            field,
            format!("must be 1 to {max} visible ASCII characters"),
        ));
    }
    Ok(())
}

/// `min` to `max` characters without control characters.
fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n < min || n > max || value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            format!("must be {min} to {max} characters without control characters"),
        ));
    }
    Ok(())
}

/// An RFC 3339 timestamp as Unix milliseconds.
pub fn parse_time(value: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(value.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A validated query of the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    pub aggregate_id: Option<String>,
    pub aggregate_type: Option<&'static str>,
    pub event_type: Option<String>,
    pub correlation_id: Option<String>,
    /// Inclusive lower bound on `occurred_at`, Unix ms.
    pub from_ms: Option<i64>,
    /// Exclusive upper bound on `occurred_at`, Unix ms.
    pub to_ms: Option<i64>,
    pub limit: u32,
    /// `order=occurred`: by when the events happened (the producers'
    /// clocks: a cause before its effects), instead of the default order
    /// they were recorded in (which interleaves topics as they arrive).
    pub by_occurred: bool,
    /// The page starts after this position.
    pub after: Option<Position>,
}

/// A place in the log, in either order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub occurred_at_ms: i64,
    pub seq: i64,
}

/// Sizes of a page.
pub fn page_request(req: &platform::Request) -> Result<PageRequest, ApiError> {
    PageRequest::from_request(req, DEFAULT_LIMIT, MAX_LIMIT)
}

const PARAMETERS: &str =
    "aggregate_id, aggregate_type, type, correlation_id, from, to, order, limit, cursor";

impl LogQuery {
    /// Reads the decoded query parameters and the page (`limit` and
    /// `cursor`, already read by the platform). Unknown or repeated
    /// parameters are 400 (a misspelt filter must not silently widen an
    /// audit query); bad values are 422; each names the parameter.
    pub fn parse(pairs: &[(String, String)], page: PageRequest) -> Result<Self, ApiError> {
        let mut q = Self {
            limit: page.limit,
            after: match page.after {
                Some(key) => Some(decode_cursor(&key)?),
                None => None,
            },
            ..Self::default()
        };
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            if seen.contains(&name.as_str()) {
                return Err(ApiError::bad_field(name.as_str(), "may be given only once"));
            }
            seen.push(name);
            match name.as_str() {
                "aggregate_id" => q.aggregate_id = Some(filter_text(name, value, MAX_KEY)?),
                "type" => q.event_type = Some(filter_text(name, value, MAX_TYPE)?),
                "correlation_id" => q.correlation_id = Some(filter_text(name, value, MAX_META)?),
                "aggregate_type" => {
                    q.aggregate_type = Some(
                        AGGREGATE_TYPES
                            .iter()
                            .find(|t| **t == value.as_str())
                            .copied()
                            .ok_or_else(|| {
                                ApiError::invalid(
                                    "aggregate_type",
                                    format!("must be one of {}", AGGREGATE_TYPES.join(", ")),
                                )
                            })?,
                    )
                }
                "order" => {
                    q.by_occurred = match value.as_str() {
                        "recorded" => false,
                        "occurred" => true,
                        _ => {
                            return Err(ApiError::invalid(
                                "order",
                                "must be recorded (the default) or occurred",
                            ))
                        }
                    }
                }
                "from" => q.from_ms = Some(query_time(name, value)?),
                "to" => q.to_ms = Some(query_time(name, value)?),
                "limit" | "cursor" => {}
                other => {
                    return Err(ApiError::bad_field(
                        other,
                        format!("unknown query parameter; the filters are {PARAMETERS}"),
                    ))
                }
            }
        }
        if let Some(after) = q.after {
            if (after.occurred_at_ms >= 0) != q.by_occurred {
                return Err(ApiError::invalid(
                    "cursor",
                    "belongs to a listing in the other order",
                ));
            }
        }
        if let (Some(from), Some(to)) = (q.from_ms, q.to_ms) {
            if to <= from {
                return Err(ApiError::invalid("to", "must be later than `from`"));
            }
        }
        Ok(q)
    }
}

fn filter_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    text(field, value, 1, max)?;
    Ok(value.to_string())
}

fn query_time(field: &str, value: &str) -> Result<i64, ApiError> {
    // An unencoded `+` in a query string arrives as a space.
    parse_time(value)
        .or_else(|| parse_time(&value.replace(' ', "+")))
        .ok_or_else(|| {
            ApiError::invalid(
                field,
                "must be an RFC 3339 timestamp, e.g. 2026-11-22T00:00:00Z",
            )
        })
}

/// The cursor of the page after the item at `at`, in the query's order.
pub fn cursor_after(q: &LogQuery, at: Position) -> String {
    if q.by_occurred {
        platform::pagination::encode(&format!("occ:{}:{}", at.occurred_at_ms, at.seq))
    } else {
        platform::pagination::encode(&format!("seq:{}", at.seq))
    }
}

/// The position in a decoded cursor key; `occurred_at_ms` is -1 in a
/// cursor of the recorded order.
fn decode_cursor(key: &str) -> Result<Position, ApiError> {
    let bad = || ApiError::invalid("cursor", "is not a cursor this API issued");
    let number = |s: &str| s.parse::<i64>().ok().filter(|n| *n >= 0);
    if let Some(seq) = key.strip_prefix("seq:") {
        return Ok(Position {
            occurred_at_ms: -1,
            seq: number(seq).ok_or_else(bad)?,
        });
    }
    let (ms, seq) = key
        .strip_prefix("occ:")
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(bad)?;
    Ok(Position {
        occurred_at_ms: number(ms).ok_or_else(bad)?,
        seq: number(seq).ok_or_else(bad)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Envelope {
        Envelope {
            id: "0193a1b2-0000-7000-8000-000000000001".into(),
            type_: "catalog.product_created".into(),
            topic: "catalog.events".into(),
            key: "p1".into(),
            occurred_at: "2026-11-22T10:00:00.250+01:00".into(),
            correlation_id: "req-1".into(),
            causation_id: None,
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            payload: r#"{"product_id":"p1"}"#.into(),
        }
    }

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn page(limit: u32, after: Option<&str>) -> PageRequest {
        PageRequest {
            limit,
            after: after.map(str::to_string),
        }
    }

    fn field_of(e: &ApiError) -> serde_json::Value {
        e.problem("r")["field"].clone()
    }

    #[test]
    fn event_prefixes_name_their_aggregate() {
        assert_eq!(aggregate_type("order.created"), "order");
        assert_eq!(aggregate_type("payment.refund_requested"), "payment");
        assert_eq!(aggregate_type("inventory.low_stock"), "inventory");
        assert_eq!(aggregate_type("catalog.product_deleted"), "product");
        assert_eq!(aggregate_type("user.registered"), "user");
        assert_eq!(aggregate_type("marketplace.item_synced"), "marketplace");
        assert_eq!(aggregate_type("notification.requested"), "notification");
        assert_eq!(aggregate_type("shipment.sent"), "other");
        assert_eq!(aggregate_type("order"), "other");
        for t in ["order", "product", "other"] {
            assert!(AGGREGATE_TYPES.contains(&t));
        }
    }

    #[test]
    fn a_record_keeps_the_envelope_as_given() {
        let r = AuditRecord::from_envelope(&envelope()).expect("valid");
        assert_eq!(r.aggregate_type, "product");
        assert_eq!(r.aggregate_id, "p1");
        assert_eq!(r.occurred_at, "2026-11-22T10:00:00.250+01:00");
        assert_eq!(r.occurred_at_ms, 1_795_338_000_250);
        assert_eq!(r.payload, r#"{"product_id":"p1"}"#);
    }

    #[test]
    fn malformed_envelopes_name_the_field() {
        type Mutation = Box<dyn Fn(&mut Envelope)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("id", Box::new(|e| e.id = String::new())),
            ("type", Box::new(|e| e.type_ = "has space".into())),
            ("topic", Box::new(|e| e.topic = "t".repeat(250))),
            ("key", Box::new(|e| e.key = String::new())),
            (
                "occurred_at",
                Box::new(|e| e.occurred_at = "yesterday".into()),
            ),
            ("payload", Box::new(|e| e.payload = "{not json".into())),
            (
                "correlation_id",
                Box::new(|e| e.correlation_id = "a\nb".into()),
            ),
        ];
        for (field, mutate) in cases {
            let mut e = envelope();
            mutate(&mut e);
            let err = AuditRecord::from_envelope(&e).expect_err(field);
            assert_eq!(err.status(), 422, "{field}");
            assert_eq!(field_of(&err), field);
        }
    }

    #[test]
    fn queries_read_every_filter() {
        let q = LogQuery::parse(
            &pairs(&[
                ("aggregate_id", "o1"),
                ("aggregate_type", "order"),
                ("type", "order.created"),
                ("correlation_id", "req-1"),
                ("from", "2026-11-22T00:00:00Z"),
                ("to", "2026-11-22T02:00:00 01:00"),
                ("limit", "500"),
                ("cursor", "c2VxOjQx"),
            ]),
            page(500, Some("seq:41")),
        )
        .expect("valid");
        assert_eq!(q.aggregate_id.as_deref(), Some("o1"));
        assert_eq!(q.aggregate_type, Some("order"));
        assert_eq!(q.event_type.as_deref(), Some("order.created"));
        assert_eq!(q.from_ms, Some(1_795_305_600_000));
        assert_eq!(q.to_ms, Some(1_795_309_200_000), "+01:00 sent unencoded");
        assert_eq!(q.limit, 500);
        assert_eq!(q.after.map(|a| a.seq), Some(41));
        let recorded = LogQuery::default();
        let occurred = LogQuery {
            by_occurred: true,
            ..LogQuery::default()
        };
        let at = Position {
            occurred_at_ms: 1_700_000_000_000,
            seq: 41,
        };
        assert!(cursor_after(&recorded, at).len() > 4);
        assert_ne!(cursor_after(&recorded, at), cursor_after(&occurred, at));
        assert_eq!(decode_cursor("seq:41").expect("ours").seq, 41);
        assert_eq!(decode_cursor("occ:1700000000000:41").expect("ours"), at);
        for bad in ["41", "seq:x", "seq:-1"] {
            assert_eq!(field_of(&decode_cursor(bad).expect_err(bad)), "cursor");
        }
    }

    #[test]
    fn bad_queries_name_the_parameter() {
        for (q, field, status) in [
            (vec![("from", "yesterday")], "from", 422),
            (vec![("to", "2026-13-01T00:00:00Z")], "to", 422),
            (vec![("aggregate_type", "spaceship")], "aggregate_type", 422),
            (vec![("type", "")], "type", 422),
            (vec![("aggregateid", "o1")], "aggregateid", 400),
            (vec![("type", "a"), ("type", "b")], "type", 400),
            (
                vec![
                    ("from", "2026-11-22T01:00:00Z"),
                    ("to", "2026-11-22T00:00:00Z"),
                ],
                "to",
                422,
            ),
        ] {
            let err = LogQuery::parse(&pairs(&q), page(10, None)).expect_err(field);
            assert_eq!(
                (err.status(), field_of(&err)),
                (status, field.into()),
                "{q:?}"
            );
        }
    }
}
