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
pub use platform::clock::parse_rfc3339 as parse_time;

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

/// The sort key of the item at `at`, in the query's order: what the
/// cursor of the page after it encodes.
pub fn cursor_key(q: &LogQuery, at: Position) -> String {
    if q.by_occurred {
        format!("occ:{}:{}", at.occurred_at_ms, at.seq)
    } else {
        format!("seq:{}", at.seq)
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
mod tests;
