//! One JSON object per line on stderr: level, message, fields.

use std::time::{SystemTime, UNIX_EPOCH};

fn emit(level: &str, message: &str, fields: &[(&str, &str)]) {
    let mut line = serde_json::Map::new();
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    line.insert("ts_ms".into(), ts.into());
    line.insert("level".into(), level.into());
    line.insert("component".into(), "kafka-bridge".into());
    line.insert("msg".into(), message.into());
    for (k, v) in fields {
        line.insert((*k).to_string(), (*v).into());
    }
    eprintln!("{}", serde_json::Value::Object(line));
}

pub fn info(message: &str, fields: &[(&str, &str)]) {
    emit("info", message, fields);
}

pub fn warn(message: &str, fields: &[(&str, &str)]) {
    emit("warn", message, fields);
}
