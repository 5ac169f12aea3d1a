//! Search analytics, kept in Redis per day: how many searches and
//! suggestion calls, the commonest queries and those that found nothing,
//! how many searches came from a picked suggestion, and a latency
//! histogram. One script call per request records everything; the
//! per-day sets are bounded (anonymous queries must not grow Redis
//! without end) and expire after a week.

use std::collections::BTreeMap;

use platform::clock::now_ms;
use platform::redis_store::{bin, log_warning, reply_int, Redis};
use platform::ApiError;
use serde::Serialize;
use spin_sdk::redis::{RedisParameter, RedisResult};

const DAY_MS: i64 = 86_400_000;
/// Days kept, today included.
pub const KEEP_DAYS: i64 = 8;
/// Distinct queries tracked per day and list: past it, the least searched
/// make room.
const MAX_TRACKED: i64 = 10_000;
/// Latency buckets' upper bounds, milliseconds (the last is unbounded).
pub const BUCKETS_MS: [f64; 11] = [
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    50.0,
    100.0,
    200.0,
    500.0,
    1000.0,
    f64::INFINITY,
];

/// What was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Search,
    Suggest,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Search => "search",
            Kind::Suggest => "suggest",
        }
    }
}

/// Records one request. KEYS: queries, empty queries, counts, latency.
const RECORD: &str = r#"
local kind, query, results = ARGV[1], ARGV[2], tonumber(ARGV[3])
redis.call('HINCRBY', KEYS[3], kind, 1)
redis.call('HINCRBY', KEYS[4], kind .. ':' .. ARGV[4], 1)
if ARGV[5] == '1' then redis.call('HINCRBY', KEYS[3], 'from_suggestion', 1) end
if kind == 'search' and query ~= '' then
  redis.call('ZINCRBY', KEYS[1], 1, query)
  if results == 0 then
    redis.call('ZINCRBY', KEYS[2], 1, query)
    redis.call('HINCRBY', KEYS[3], 'empty', 1)
  end
  for i = 1, 2 do
    if redis.call('ZCARD', KEYS[i]) > tonumber(ARGV[7]) then
      redis.call('ZREMRANGEBYRANK', KEYS[i], 0, 0)
    end
  end
end
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[6]) end
return 1
"#;

fn keys(day: i64) -> [String; 4] {
    ["queries", "empty", "counts", "latency"].map(|k| format!("search:analytics:{day}:{k}"))
}

/// The label of the bucket `ms` falls in.
fn bucket(ms: f64) -> String {
    let upper = BUCKETS_MS
        .iter()
        .find(|b| ms <= **b)
        .copied()
        .unwrap_or(f64::INFINITY);
    if upper.is_infinite() {
        "inf".into()
    } else {
        format!("{upper}")
    }
}

/// Records a request; a failure is logged, never the request's problem.
pub fn record(
    redis: Option<&Redis>,
    kind: Kind,
    query: &str,
    results: i64,
    elapsed_ms: f64,
    from_suggestion: bool,
) {
    let Some(redis) = redis else {
        return;
    };
    let keys = keys(now_ms().div_euclid(DAY_MS));
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let args = [
        bin(kind.as_str()),
        bin(query),
        RedisParameter::Int64(results),
        bin(bucket(elapsed_ms)),
        bin(if from_suggestion { "1" } else { "0" }),
        RedisParameter::Int64(KEEP_DAYS * DAY_MS / 1000),
        RedisParameter::Int64(MAX_TRACKED),
    ];
    if let Err(e) = redis.eval(RECORD, &keys, &args) {
        log_warning("search_analytics_not_recorded", &e.to_string());
    }
}

/// Latency percentiles of one kind, milliseconds (the upper bound of the
/// bucket the percentile falls in; `None` without requests).
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Latency {
    pub requests: i64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// The `q`-quantile of a histogram (counts per bucket of [`BUCKETS_MS`]).
pub fn quantile(counts: &[i64], q: f64) -> Option<f64> {
    let total: i64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0) as i64;
    let mut seen = 0;
    for (count, upper) in counts.iter().zip(BUCKETS_MS) {
        seen += count;
        if seen >= rank {
            // The open-ended bucket has no bound: say the last finite one.
            return Some(if upper.is_infinite() { 1000.0 } else { upper });
        }
    }
    None
}

/// What the analytics say over some days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Summary {
    pub days: i64,
    pub searches: i64,
    pub suggestions: i64,
    pub searches_from_suggestions: i64,
    pub searches_without_results: i64,
    pub top_queries: Vec<QueryCount>,
    pub queries_without_results: Vec<QueryCount>,
    pub search_latency: Latency,
    pub suggest_latency: Latency,
}

/// A query and how often it was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct QueryCount {
    pub query: String,
    pub count: i64,
}

fn pairs(reply: &[RedisResult]) -> Vec<(String, i64)> {
    reply
        .chunks(2)
        .filter_map(|pair| match pair {
            [RedisResult::Binary(k), v] => Some((
                String::from_utf8_lossy(k).into_owned(),
                match v {
                    RedisResult::Binary(n) => std::str::from_utf8(n)
                        .ok()
                        .and_then(|s| s.parse::<f64>().ok())
                        .map_or(0, |n| n as i64),
                    other => reply_int(other).unwrap_or(0),
                },
            )),
            _ => None,
        })
        .collect()
}

fn top(totals: BTreeMap<String, i64>, n: usize) -> Vec<QueryCount> {
    let mut list: Vec<QueryCount> = totals
        .into_iter()
        .map(|(query, count)| QueryCount { query, count })
        .collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.query.cmp(&b.query)));
    list.truncate(n);
    list
}

/// The last `days` days (today included), the `n` commonest queries.
pub fn summary(redis: &Redis, days: i64, n: usize) -> Result<Summary, ApiError> {
    let today = now_ms().div_euclid(DAY_MS);
    let mut out = Summary {
        days,
        ..Summary::default()
    };
    let mut queries = BTreeMap::new();
    let mut empty = BTreeMap::new();
    let mut histogram: BTreeMap<(String, String), i64> = BTreeMap::new();
    for day in (today - days + 1)..=today {
        let [q, e, counts, latency] = keys(day);
        let span = |key: &str| {
            redis.execute(
                "ZREVRANGE",
                vec![
                    bin(key),
                    bin("0"),
                    bin((n * 4).to_string()),
                    bin("WITHSCORES"),
                ],
            )
        };
        for (query, count) in pairs(&span(&q)?) {
            *queries.entry(query).or_insert(0) += count;
        }
        for (query, count) in pairs(&span(&e)?) {
            *empty.entry(query).or_insert(0) += count;
        }
        for (field, count) in pairs(&redis.execute("HGETALL", vec![bin(&counts)])?) {
            match field.as_str() {
                "search" => out.searches += count,
                "suggest" => out.suggestions += count,
                "from_suggestion" => out.searches_from_suggestions += count,
                "empty" => out.searches_without_results += count,
                _ => {}
            }
        }
        for (field, count) in pairs(&redis.execute("HGETALL", vec![bin(&latency)])?) {
            if let Some((kind, bucket)) = field.split_once(':') {
                *histogram
                    .entry((kind.to_string(), bucket.to_string()))
                    .or_insert(0) += count;
            }
        }
    }
    out.top_queries = top(queries, n);
    out.queries_without_results = top(empty, n);
    out.search_latency = latency(&histogram, Kind::Search);
    out.suggest_latency = latency(&histogram, Kind::Suggest);
    Ok(out)
}

fn latency(histogram: &BTreeMap<(String, String), i64>, kind: Kind) -> Latency {
    let counts: Vec<i64> = BUCKETS_MS
        .iter()
        .map(|b| {
            let label = if b.is_infinite() {
                "inf".to_string()
            } else {
                format!("{b}")
            };
            histogram
                .get(&(kind.as_str().to_string(), label))
                .copied()
                .unwrap_or(0)
        })
        .collect();
    Latency {
        requests: counts.iter().sum(),
        p50_ms: quantile(&counts, 0.5),
        p95_ms: quantile(&counts, 0.95),
        p99_ms: quantile(&counts, 0.99),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_their_buckets() {
        assert_eq!(bucket(0.3), "1");
        assert_eq!(bucket(1.0), "1");
        assert_eq!(bucket(7.5), "10");
        assert_eq!(bucket(5_000.0), "inf");
    }

    #[test]
    fn quantiles_come_from_the_histogram() {
        let mut counts = [0i64; 11];
        counts[1] = 90; // <= 2 ms
        counts[4] = 9; // <= 20 ms
        counts[7] = 1; // <= 200 ms
        assert_eq!(quantile(&counts, 0.5), Some(2.0));
        assert_eq!(quantile(&counts, 0.95), Some(20.0));
        assert_eq!(quantile(&counts, 0.99), Some(20.0));
        assert_eq!(quantile(&counts, 1.0), Some(200.0));
        assert_eq!(quantile(&[0; 11], 0.5), None);
    }

    #[test]
    fn top_lists_order_by_count_then_query() {
        let totals = BTreeMap::from([("b".to_string(), 3), ("a".into(), 3), ("c".into(), 9)]);
        let list = top(totals, 2);
        assert_eq!(
            list.iter().map(|q| q.query.as_str()).collect::<Vec<_>>(),
            ["c", "a"]
        );
    }
}
