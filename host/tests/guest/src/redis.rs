//! `POST /redis`: one Redis operation, described by the JSON body
//! `{"address": "redis://host:port", "op": "...", ...}`.

use serde::Deserialize;
use serde_json::{json, Value as Json};
use spin_sdk::http::Response;
use spin_sdk::redis::{Connection, Error, RedisParameter, RedisResult};

use crate::reply;

#[derive(Debug, Deserialize)]
struct RedisRequest {
    address: String,
    #[serde(flatten)]
    op: Op,
}

/// The operations of `fermyon:spin/redis@2.0.0`.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Op {
    Set {
        key: String,
        value: String,
    },
    Get {
        key: String,
    },
    Incr {
        key: String,
    },
    Del {
        keys: Vec<String>,
    },
    Sadd {
        key: String,
        values: Vec<String>,
    },
    Srem {
        key: String,
        values: Vec<String>,
    },
    Smembers {
        key: String,
    },
    Publish {
        channel: String,
        value: String,
    },
    Execute {
        command: String,
        #[serde(default)]
        args: Vec<Argument>,
    },
}

/// An `execute` argument: JSON integers go as `int64`, strings as `binary`.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum Argument {
    Integer(i64),
    Text(String),
}

impl From<&Argument> for RedisParameter {
    fn from(arg: &Argument) -> Self {
        match arg {
            Argument::Integer(i) => RedisParameter::Int64(*i),
            Argument::Text(s) => RedisParameter::Binary(s.as_bytes().to_vec()),
        }
    }
}

/// Runs the operation; host errors answer 502 (403 for a refused address).
pub fn run(body: &[u8]) -> Response {
    let request: RedisRequest = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(e) => return reply::error_message(400, &format!("invalid redis body: {e}")),
    };
    let conn = match Connection::open(&request.address) {
        Ok(conn) => conn,
        // Spin answers InvalidAddress for an address outside allowed_outbound_hosts too.
        Err(e @ Error::InvalidAddress) => return reply::error(403, &e),
        Err(e) => return reply::error(502, &e),
    };
    match perform(&conn, &request.op) {
        Ok(None) => reply::empty(204),
        Ok(Some(value)) => reply::json(200, &json!({ "value": value })),
        Err(e) => reply::error(502, &e),
    }
}

/// `None` means "nothing to return" (204).
fn perform(conn: &Connection, op: &Op) -> Result<Option<Json>, Error> {
    Ok(match op {
        Op::Set { key, value } => {
            conn.set(key, value.as_bytes())?;
            None
        }
        Op::Get { key } => Some(match conn.get(key)? {
            Some(bytes) => json!(String::from_utf8_lossy(&bytes)),
            None => Json::Null,
        }),
        Op::Incr { key } => Some(json!(conn.incr(key)?)),
        Op::Del { keys } => Some(json!(conn.del(keys)?)),
        Op::Sadd { key, values } => Some(json!(conn.sadd(key, values)?)),
        Op::Srem { key, values } => Some(json!(conn.srem(key, values)?)),
        Op::Smembers { key } => {
            let mut members = conn.smembers(key)?;
            members.sort();
            Some(json!(members))
        }
        Op::Publish { channel, value } => {
            conn.publish(channel, value.as_bytes())?;
            None
        }
        Op::Execute { command, args } => {
            let args: Vec<RedisParameter> = args.iter().map(Into::into).collect();
            let results = conn.execute(command, &args)?;
            Some(Json::Array(results.iter().map(result_to_json).collect()))
        }
    })
}

/// `null`, `{"status": s}`, an integer, or a (lossy UTF-8) string.
fn result_to_json(result: &RedisResult) -> Json {
    match result {
        RedisResult::Nil => Json::Null,
        RedisResult::Status(s) => json!({ "status": s }),
        RedisResult::Int64(i) => json!(i),
        RedisResult::Binary(bytes) => json!(String::from_utf8_lossy(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Json) -> RedisRequest {
        serde_json::from_value(body).expect("valid redis request")
    }

    #[test]
    fn requests_parse_by_op() {
        let request = parse(
            json!({"address": "redis://127.0.0.1:6379", "op": "set", "key": "k", "value": "v"}),
        );
        assert_eq!(request.address, "redis://127.0.0.1:6379");
        assert_eq!(
            request.op,
            Op::Set {
                key: "k".into(),
                value: "v".into()
            }
        );
        let request =
            parse(json!({"address": "a", "op": "execute", "command": "SET", "args": ["k", 5]}));
        assert_eq!(
            request.op,
            Op::Execute {
                command: "SET".into(),
                args: vec![Argument::Text("k".into()), Argument::Integer(5)]
            }
        );
        assert!(
            serde_json::from_value::<RedisRequest>(json!({"address": "a", "op": "flush"})).is_err()
        );
    }

    #[test]
    fn execute_results_map_to_json() {
        assert_eq!(result_to_json(&RedisResult::Nil), Json::Null);
        assert_eq!(
            result_to_json(&RedisResult::Status("OK".into())),
            json!({"status": "OK"})
        );
        assert_eq!(result_to_json(&RedisResult::Int64(-2)), json!(-2));
        assert_eq!(
            result_to_json(&RedisResult::Binary(b"v\xff".to_vec())),
            json!("v\u{fffd}")
        );
    }

    #[test]
    fn arguments_map_to_parameters() {
        assert!(matches!(
            RedisParameter::from(&Argument::Integer(3)),
            RedisParameter::Int64(3)
        ));
        assert!(matches!(
            RedisParameter::from(&Argument::Text("x".into())),
            RedisParameter::Binary(b) if b == b"x"
        ));
    }
}
