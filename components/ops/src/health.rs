//! Probes. `GET /health` is liveness: 200 whenever the application
//! answers at all, so an orchestrator never restarts a pod because a
//! dependency is down (that would only kill sagas in flight). `GET /ready`
//! is readiness: it checks the component's SQLite database and Redis and
//! answers 503 naming what failed. Anonymous callers learn only which
//! check failed; the cause (addresses, driver errors) is shown only to
//! callers with the internal credential, and always logged.
//!
//! The probes talk to the host; [`HealthReport`] is plain data so the
//! verdict and its JSON shape are tested natively.

use std::collections::BTreeMap;

use platform::Response;
use schemars::JsonSchema;
use serde::Serialize;
use spin_sdk::redis::{self, RedisResult};
use spin_sdk::{sqlite3, variables};

/// The SQLite database label this component is granted in `spin.toml`.
const SQLITE_LABEL: &str = "ops";
/// The Spin variable holding the Redis address (`redis://host:port`).
const REDIS_URL_VARIABLE: &str = "redis_url";

/// The answer to `GET /health`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Liveness {
    /// Always `ok`.
    status: &'static str,
    version: &'static str,
}

/// `GET /health`: the application answers.
pub fn live() -> Response {
    let alive = Liveness {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    };
    Response::json(200, &alive).with_header("cache-control", "no-store")
}

/// `GET /ready`: runs every check and answers 200 (all ok) or 503
/// (degraded); `detailed` callers see why a check failed.
pub fn ready(detailed: bool) -> Response {
    let report = HealthReport::new([("sqlite", check_sqlite()), ("redis", check_redis())]);
    for (name, check) in &report.checks {
        if let Check::Error { error } = check {
            platform::redis_store::log_warning("not_ready", &format!("{name}: {error}"));
        }
    }
    let report = if detailed { report } else { report.redacted() };
    Response::json(report.http_status(), &report).with_header("cache-control", "no-store")
}

/// Overall health, each check's outcome and the component's version.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HealthReport {
    status: Status,
    checks: BTreeMap<&'static str, Check>,
    version: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "HealthStatus")]
enum Status {
    Ok,
    Degraded,
}

/// One check: `{"status":"ok"}`, `{"status":"error","error":"..."}`, or
/// for anonymous callers `{"status":"error"}`.
#[derive(Debug, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
#[schemars(rename = "HealthCheck")]
enum Check {
    Ok,
    Error {
        #[serde(skip_serializing_if = "String::is_empty")]
        error: String,
    },
}

impl HealthReport {
    /// Builds the report from named check outcomes.
    pub fn new(checks: impl IntoIterator<Item = (&'static str, Result<(), String>)>) -> Self {
        let checks: BTreeMap<_, _> = checks
            .into_iter()
            .map(|(name, outcome)| {
                let check = match outcome {
                    Ok(()) => Check::Ok,
                    Err(error) => Check::Error { error },
                };
                (name, check)
            })
            .collect();
        let status = if checks.values().all(|check| *check == Check::Ok) {
            Status::Ok
        } else {
            Status::Degraded
        };
        HealthReport {
            status,
            checks,
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    /// The report without the failures' causes.
    pub fn redacted(self) -> Self {
        let checks = self
            .checks
            .into_iter()
            .map(|(name, check)| match check {
                Check::Error { .. } => (
                    name,
                    Check::Error {
                        error: String::new(),
                    },
                ),
                ok => (name, ok),
            })
            .collect();
        Self { checks, ..self }
    }

    /// 200 when everything is ok, 503 otherwise.
    pub fn http_status(&self) -> u16 {
        match self.status {
            Status::Ok => 200,
            Status::Degraded => 503,
        }
    }
}

/// Opens the `ops` database and runs `SELECT 1`.
fn check_sqlite() -> Result<(), String> {
    let conn = sqlite3::Connection::open(SQLITE_LABEL)
        .map_err(|e| format!("opening database {SQLITE_LABEL:?}: {e:?}"))?;
    let result = conn
        .execute("SELECT 1", &[])
        .map_err(|e| format!("SELECT 1: {e:?}"))?;
    match result.rows.first().and_then(|row| row.get::<i64>(0)) {
        Some(1) => Ok(()),
        other => Err(format!("SELECT 1 returned {other:?}")),
    }
}

/// Opens the Redis at variable `redis_url` and sends `PING`.
fn check_redis() -> Result<(), String> {
    let address = variables::get(REDIS_URL_VARIABLE)
        .map_err(|e| format!("variable {REDIS_URL_VARIABLE}: {e:?}"))?;
    let conn = redis::Connection::open(&address).map_err(|e| format!("connecting: {e:?}"))?;
    let reply = conn
        .execute("PING", &[])
        .map_err(|e| format!("PING: {e:?}"))?;
    if is_pong(&reply) {
        Ok(())
    } else {
        Err(format!("PING answered {reply:?}"))
    }
}

/// Hosts report `PONG` as a status; accept a bulk string too.
fn is_pong(reply: &[RedisResult]) -> bool {
    match reply {
        [RedisResult::Status(s)] => s == "PONG",
        [RedisResult::Binary(b)] => b == b"PONG",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn all_ok_is_200() {
        let report = HealthReport::new([("sqlite", Ok(())), ("redis", Ok(()))]);
        assert_eq!(report.http_status(), 200);
        assert_eq!(
            serde_json::to_value(&report).expect("serialises"),
            json!({
                "status": "ok",
                "checks": {"sqlite": {"status": "ok"}, "redis": {"status": "ok"}},
                "version": env!("CARGO_PKG_VERSION"),
            })
        );
    }

    #[test]
    fn a_failing_check_is_503_degraded() {
        let report = HealthReport::new([
            ("sqlite", Ok(())),
            ("redis", Err("connecting: Other(\"refused\")".to_owned())),
        ]);
        assert_eq!(report.http_status(), 503);
        let body = serde_json::to_value(&report).expect("serialises");
        assert_eq!(body["status"], "degraded");
        assert_eq!(body["checks"]["sqlite"], json!({"status": "ok"}));
        assert_eq!(
            body["checks"]["redis"],
            json!({"status": "error", "error": "connecting: Other(\"refused\")"})
        );
    }

    #[test]
    fn anonymous_callers_see_what_failed_but_not_why() {
        let report = HealthReport::new([
            ("sqlite", Ok(())),
            (
                "redis",
                Err("connecting to redis://10.0.0.7:6379: refused".to_owned()),
            ),
        ])
        .redacted();
        assert_eq!(report.http_status(), 503);
        let body = serde_json::to_value(&report).expect("serialises");
        assert_eq!(body["checks"]["redis"], json!({"status": "error"}));
        assert!(!body.to_string().contains("10.0.0.7"));
    }

    #[test]
    fn pong_detection() {
        assert!(is_pong(&[RedisResult::Status("PONG".into())]));
        assert!(is_pong(&[RedisResult::Binary(b"PONG".to_vec())]));
        assert!(!is_pong(&[RedisResult::Status("OK".into())]));
        assert!(!is_pong(&[]));
    }
}
