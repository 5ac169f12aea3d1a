//! Exporter settings from the standard OpenTelemetry environment variables
//! (https://opentelemetry.io/docs/specs/otel/protocol/exporter/ and the SDK
//! configuration), read the way Spin reads them: tracing is on when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is
//! set and not empty, unless `OTEL_SDK_DISABLED` is.

use std::time::Duration;

use http::Uri;

/// The OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `http/protobuf`, the default (as in Spin and the specification).
    HttpProtobuf,
    /// `http/json`.
    HttpJson,
}

impl Protocol {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::HttpProtobuf => "application/x-protobuf",
            Self::HttpJson => "application/json",
        }
    }
}

/// Everything the exporter needs.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// The traces URL (`.../v1/traces`), plain `http`.
    pub endpoint: Uri,
    pub protocol: Protocol,
    /// `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`, e.g. a collector's API key.
    pub headers: Vec<(String, String)>,
    /// One export's time limit.
    pub timeout: Duration,
    /// How long a span may wait for its batch (`OTEL_BSP_SCHEDULE_DELAY`).
    pub schedule_delay: Duration,
    /// Spans waiting beyond this are dropped (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub max_queue: usize,
    /// Spans per export (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
    pub max_batch: usize,
    /// `service.name` and the rest of the resource.
    pub resource: Vec<(String, String)>,
}

impl ExportConfig {
    /// Reads the process environment; `Ok(None)` when tracing is off.
    pub fn from_env(default_service: &str) -> Result<Option<Self>, String> {
        Self::from_vars(default_service, |k| std::env::var(k).ok())
    }

    /// Reads the variables through `var` (so tests need not touch the
    /// process environment).
    pub fn from_vars(
        default_service: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, String> {
        let var = |k: &str| {
            var(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let endpoint = match (
            var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            var("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(url), _) => parse_endpoint(&url, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)?,
            (None, Some(base)) => {
                parse_endpoint(&base, "OTEL_EXPORTER_OTLP_ENDPOINT", Some("v1/traces"))?
            }
            (None, None) => return Ok(None),
        };
        let protocol = match var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .as_deref()
        {
            None | Some("http/protobuf") => Protocol::HttpProtobuf,
            Some("http/json") => Protocol::HttpJson,
            Some(other) => {
                return Err(format!(
                    "OTEL_EXPORTER_OTLP_PROTOCOL {other:?} is not supported: use http/protobuf or http/json (a collector's port 4318)"
                ))
            }
        };
        let headers = var("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
            .or_else(|| var("OTEL_EXPORTER_OTLP_HEADERS"))
            .map(|h| pairs(&h, "OTEL_EXPORTER_OTLP_HEADERS"))
            .transpose()?
            .unwrap_or_default();
        let millis = |name: &str, default: u64| -> Result<Duration, String> {
            var(name).map_or(Ok(Duration::from_millis(default)), |v| {
                v.parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| format!("{name} {v:?} is not a number of milliseconds"))
            })
        };
        let count = |name: &str, default: usize| -> Result<usize, String> {
            var(name).map_or(Ok(default), |v| match v.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{name} {v:?} is not a positive number")),
            })
        };
        let timeout = match var("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") {
            Some(_) => millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", 10_000)?,
            None => millis("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000)?,
        };
        let max_queue = count("OTEL_BSP_MAX_QUEUE_SIZE", 2048)?;
        let mut resource = match var("OTEL_RESOURCE_ATTRIBUTES") {
            Some(attrs) => pairs(&attrs, "OTEL_RESOURCE_ATTRIBUTES")?,
            None => Vec::new(),
        };
        let service = var("OTEL_SERVICE_NAME")
            .or_else(|| {
                resource
                    .iter()
                    .find(|(k, _)| k == "service.name")
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_else(|| default_service.to_string());
        resource.retain(|(k, _)| k != "service.name");
        resource.insert(0, ("service.name".into(), service));
        Ok(Some(Self {
            endpoint,
            protocol,
            headers,
            timeout,
            schedule_delay: millis("OTEL_BSP_SCHEDULE_DELAY", 5_000)?,
            max_queue,
            max_batch: count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)?.min(max_queue),
            resource,
        }))
    }

    /// The service name spans are exported under.
    pub fn service_name(&self) -> &str {
        self.resource
            .iter()
            .find(|(k, _)| k == "service.name")
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The traces URL: `url` itself, or `url` with `append` added to its path.
fn parse_endpoint(url: &str, name: &str, append: Option<&str>) -> Result<Uri, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("{name} {url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(format!(
                "{name} {url:?}: https is not supported; export over http to a collector (an agent or sidecar on port 4318) that forwards with TLS"
            ))
        }
        _ => return Err(format!("{name} {url:?} must start with http://")),
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("{name} {url:?} has no host"))?
        .clone();
    let path = uri.path();
    let path = match append {
        Some(tail) => format!("{}/{tail}", path.trim_end_matches('/')),
        None => path.to_string(),
    };
    Uri::builder()
        .scheme("http")
        .authority(authority)
        .path_and_query(path)
        .build()
        .map_err(|e| format!("{name} {url:?}: {e}"))
}

/// `key1=value1,key2=value2` with percent-encoded values (W3C Baggage
/// syntax, as both variables use).
fn pairs(text: &str, name: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| format!("{name}: {p:?} is not key=value"))?;
            Ok((percent_decode(k.trim()), percent_decode(v.trim())))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b.get(i + 1..i + 3).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (b[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Option<ExportConfig>, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ExportConfig::from_vars("spinshop", |k| {
            vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn off_without_an_endpoint_or_when_disabled() {
        assert!(config(&[]).expect("ok").is_none());
        assert!(config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])
            .expect("ok")
            .is_none());
        assert!(config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SDK_DISABLED", "true")
        ])
        .expect("ok")
        .is_none());
    }

    #[test]
    fn the_base_endpoint_gets_the_traces_path_and_the_signal_endpoint_is_kept() {
        let c = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")])
            .expect("ok")
            .expect("on");
        assert_eq!(c.endpoint.to_string(), "http://collector:4318/v1/traces");
        assert_eq!(c.protocol, Protocol::HttpProtobuf);
        assert_eq!(c.service_name(), "spinshop");
        let c = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/otlp/")])
            .expect("ok")
            .expect("on");
        assert_eq!(c.endpoint.path(), "/otlp/v1/traces");
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:1"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:9/custom"),
        ])
        .expect("ok")
        .expect("on");
        assert_eq!(c.endpoint.to_string(), "http://c:9/custom");
    }

    #[test]
    fn protocol_headers_service_and_batching_come_from_their_variables() {
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b,x=1"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from-attrs,deployment.environment=ci",
            ),
            ("OTEL_SERVICE_NAME", "shop"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
        ])
        .expect("ok")
        .expect("on");
        assert_eq!(c.protocol, Protocol::HttpJson);
        assert_eq!(c.headers[0], ("api-key".to_string(), "a b".to_string()));
        assert_eq!(c.service_name(), "shop");
        assert!(c
            .resource
            .contains(&("deployment.environment".into(), "ci".into())));
        assert_eq!(
            c.resource
                .iter()
                .filter(|(k, _)| k == "service.name")
                .count(),
            1
        );
        assert_eq!(c.schedule_delay, Duration::from_millis(100));
        assert_eq!((c.max_queue, c.max_batch), (10, 10));
    }

    #[test]
    fn what_cannot_work_is_refused_with_the_variable_named() {
        for (vars, needle) in [
            (
                vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ],
                "grpc",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4318")],
                "https",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                    ("OTEL_BSP_SCHEDULE_DELAY", "soon"),
                ],
                "OTEL_BSP_SCHEDULE_DELAY",
            ),
        ] {
            let e = config(&vars).expect_err("refused");
            assert!(e.contains(needle), "{e}");
        }
    }
}
