//! The guest's route table, parsed from the method and `spin-path-info`.

use percent_encoding::percent_decode_str;
use spin_sdk::http::Method;

/// A deliberate failure, for the host's isolation tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trap {
    /// `panic!`.
    Panic,
    /// The wasm `unreachable` instruction.
    Unreachable,
    /// Spin forever on the CPU.
    Loop,
    /// Allocate until the memory limit stops us.
    OutOfMemory,
}

/// What a request asks the guest to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /ok`: 200 `ok`, the cheapest possible answer (benchmarks).
    Ok,
    /// Any method `/echo`.
    Echo,
    /// `GET /var/<name>`.
    Variable(String),
    /// `GET /env/<NAME>`.
    Env(String),
    /// `GET /kv/<label>/<key>`.
    KvGet { label: String, key: String },
    /// `PUT /kv/<label>/<key>`.
    KvSet { label: String, key: String },
    /// `DELETE /kv/<label>/<key>`.
    KvDelete { label: String, key: String },
    /// `GET /kv/<label>`.
    KvKeys { label: String },
    /// `POST /sqlite/<label>` (spin:sqlite@3.0.0).
    Sqlite { label: String },
    /// `POST /sqlite2/<label>` (fermyon:spin/sqlite@2.0.0).
    SqliteV2 { label: String },
    /// `POST /redis`.
    Redis,
    /// `GET /outbound?url=...&method=...`.
    Outbound,
    /// `GET /stdio`.
    Stdio,
    /// `GET /trap/<kind>`.
    Trap(Trap),
    /// `GET /sleep?ms=N`.
    Sleep,
    /// `GET /alloc?mb=N`.
    Alloc,
    /// Anything else.
    NotFound,
}

impl Route {
    /// Parses a route from the request method and the path below the
    /// component's route prefix. Path segments are percent-decoded; a
    /// key-value key is everything after the label, so it may contain `/`.
    pub fn parse(method: &Method, path_info: &str) -> Route {
        let path = path_info.trim_start_matches('/');
        let mut parts = path.splitn(3, '/');
        let first = parts.next().unwrap_or_default();
        let second = parts.next().map(decode);
        let rest = parts.next().map(decode);
        let is_get = matches!(method, Method::Get);

        match (first, second, rest) {
            ("ok", None, None) if is_get => Route::Ok,
            ("echo", None, None) => Route::Echo,
            ("var", Some(name), None) if is_get && !name.is_empty() => Route::Variable(name),
            ("env", Some(name), None) if is_get && !name.is_empty() => Route::Env(name),
            ("kv", Some(label), None) if is_get && !label.is_empty() => Route::KvKeys { label },
            ("kv", Some(label), Some(key)) if !label.is_empty() => match (method, key.is_empty()) {
                (Method::Get, true) => Route::KvKeys { label },
                (Method::Get, false) => Route::KvGet { label, key },
                (Method::Put, false) => Route::KvSet { label, key },
                (Method::Delete, false) => Route::KvDelete { label, key },
                _ => Route::NotFound,
            },
            ("sqlite", Some(label), None) if is_post(method) && !label.is_empty() => {
                Route::Sqlite { label }
            }
            ("sqlite2", Some(label), None) if is_post(method) && !label.is_empty() => {
                Route::SqliteV2 { label }
            }
            ("redis", None, None) if is_post(method) => Route::Redis,
            ("outbound", None, None) if is_get => Route::Outbound,
            ("stdio", None, None) if is_get => Route::Stdio,
            ("trap", Some(kind), None) if is_get => match kind.as_str() {
                "panic" => Route::Trap(Trap::Panic),
                "unreachable" => Route::Trap(Trap::Unreachable),
                "loop" => Route::Trap(Trap::Loop),
                "oom" => Route::Trap(Trap::OutOfMemory),
                _ => Route::NotFound,
            },
            ("sleep", None, None) if is_get => Route::Sleep,
            ("alloc", None, None) if is_get => Route::Alloc,
            _ => Route::NotFound,
        }
    }
}

fn is_post(method: &Method) -> bool {
    matches!(method, Method::Post)
}

fn decode(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// The first value of query parameter `name`, decoded.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Route {
        Route::parse(&Method::Get, path)
    }

    #[test]
    fn echo_accepts_any_method() {
        assert_eq!(get("/echo"), Route::Echo);
        assert_eq!(get("/ok"), Route::Ok);
        assert_eq!(Route::parse(&Method::Patch, "/echo"), Route::Echo);
        assert_eq!(
            Route::parse(&Method::Other("BREW".into()), "echo"),
            Route::Echo
        );
    }

    #[test]
    fn variables_and_env() {
        assert_eq!(get("/var/api_key"), Route::Variable("api_key".into()));
        assert_eq!(get("/env/HOME"), Route::Env("HOME".into()));
        assert_eq!(get("/var/"), Route::NotFound);
        assert_eq!(Route::parse(&Method::Post, "/var/x"), Route::NotFound);
    }

    #[test]
    fn key_value_routes() {
        let label = || "default".to_owned();
        assert_eq!(get("/kv/default"), Route::KvKeys { label: label() });
        assert_eq!(get("/kv/default/"), Route::KvKeys { label: label() });
        assert_eq!(
            get("/kv/default/a%20b/c"),
            Route::KvGet {
                label: label(),
                key: "a b/c".into()
            }
        );
        assert_eq!(
            Route::parse(&Method::Put, "/kv/default/k"),
            Route::KvSet {
                label: label(),
                key: "k".into()
            }
        );
        assert_eq!(
            Route::parse(&Method::Delete, "/kv/default/k"),
            Route::KvDelete {
                label: label(),
                key: "k".into()
            }
        );
        assert_eq!(
            Route::parse(&Method::Head, "/kv/default/k"),
            Route::NotFound
        );
        assert_eq!(Route::parse(&Method::Put, "/kv/default"), Route::NotFound);
    }

    #[test]
    fn sqlite_and_redis_need_post() {
        assert_eq!(
            Route::parse(&Method::Post, "/sqlite/main"),
            Route::Sqlite {
                label: "main".into()
            }
        );
        assert_eq!(
            Route::parse(&Method::Post, "/sqlite2/main"),
            Route::SqliteV2 {
                label: "main".into()
            }
        );
        assert_eq!(get("/sqlite/main"), Route::NotFound);
        assert_eq!(Route::parse(&Method::Post, "/redis"), Route::Redis);
        assert_eq!(get("/redis"), Route::NotFound);
    }

    #[test]
    fn faults() {
        assert_eq!(get("/trap/panic"), Route::Trap(Trap::Panic));
        assert_eq!(get("/trap/unreachable"), Route::Trap(Trap::Unreachable));
        assert_eq!(get("/trap/loop"), Route::Trap(Trap::Loop));
        assert_eq!(get("/trap/oom"), Route::Trap(Trap::OutOfMemory));
        assert_eq!(get("/trap/other"), Route::NotFound);
        assert_eq!(get("/sleep"), Route::Sleep);
        assert_eq!(get("/alloc"), Route::Alloc);
        assert_eq!(get("/stdio"), Route::Stdio);
        assert_eq!(get("/outbound"), Route::Outbound);
    }

    #[test]
    fn unknown_paths() {
        assert_eq!(get(""), Route::NotFound);
        assert_eq!(get("/"), Route::NotFound);
        assert_eq!(get("/nope"), Route::NotFound);
        assert_eq!(get("/echo/extra"), Route::NotFound);
    }

    #[test]
    fn query_params_are_decoded() {
        let query = "url=http%3A%2F%2F127.0.0.1%3A8080%2Fa%3Fb%3Dc&method=POST";
        assert_eq!(
            query_param(query, "url").as_deref(),
            Some("http://127.0.0.1:8080/a?b=c")
        );
        assert_eq!(query_param(query, "method").as_deref(), Some("POST"));
        assert_eq!(query_param(query, "missing"), None);
        assert_eq!(query_param("", "ms"), None);
    }
}
