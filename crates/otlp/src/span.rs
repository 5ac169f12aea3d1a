//! A span as it is exported: plain data, filled in while the work runs and
//! handed to the [`Tracer`](crate::Tracer) when it ends.

use std::time::SystemTime;

use crate::context::{SpanContext, SpanId};

/// OTLP's `SpanKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// The enum's number in OTLP (protobuf and JSON alike).
    pub fn number(self) -> u64 {
        match self {
            Self::Internal => 1,
            Self::Server => 2,
            Self::Client => 3,
            Self::Producer => 4,
            Self::Consumer => 5,
        }
    }
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Float(f64),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Str(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Str(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<u16> for Value {
    fn from(v: u16) -> Self {
        Self::Int(i64::from(v))
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Self::Int(i64::from(v))
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Self::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}

/// A span's final status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Status {
    #[default]
    Unset,
    Ok,
    Error(String),
}

/// One span.
#[derive(Debug, Clone)]
pub struct Span {
    pub context: SpanContext,
    /// `None` for the root of a trace.
    pub parent: Option<SpanId>,
    pub name: String,
    pub kind: SpanKind,
    pub start: SystemTime,
    /// Set by [`Span::end`]; until then the start.
    pub end: SystemTime,
    pub attributes: Vec<(&'static str, Value)>,
    /// Other spans this one relates to (the events of a batch).
    pub links: Vec<SpanContext>,
    pub status: Status,
}

impl Span {
    /// Starts a span now at `context`, under `parent`.
    pub fn start(
        name: impl Into<String>,
        kind: SpanKind,
        context: SpanContext,
        parent: Option<&SpanContext>,
    ) -> Self {
        let now = SystemTime::now();
        Self {
            context,
            parent: parent.map(|p| p.span_id),
            name: name.into(),
            kind,
            start: now,
            end: now,
            attributes: Vec::new(),
            links: Vec::new(),
            status: Status::Unset,
        }
    }

    /// Starts a child of `parent` (or a new root).
    pub fn child(name: impl Into<String>, kind: SpanKind, parent: Option<&SpanContext>) -> Self {
        Self::start(name, kind, SpanContext::child_of(parent), parent)
    }

    /// Sets an attribute, replacing one of the same key (keys are unique
    /// in OTLP).
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        let value = value.into();
        match self.attributes.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((key, value)),
        }
    }

    /// Builder form of [`Span::set`].
    pub fn with(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.set(key, value);
        self
    }

    /// The attribute's value, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// Marks the span failed, with `error.type` as the semantic
    /// conventions name it.
    pub fn fail(&mut self, error_type: &str, message: impl Into<String>) {
        self.set("error.type", error_type);
        self.status = Status::Error(message.into());
    }

    /// Links another span's context, once, and never the parent's own.
    pub fn link(&mut self, other: SpanContext) {
        if Some(other.span_id) != self.parent && !self.links.contains(&other) {
            self.links.push(other);
        }
    }

    /// Stops the clock.
    pub fn end(&mut self) {
        self.end = SystemTime::now().max(self.start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_unique_by_key() {
        let mut s = Span::child("x", SpanKind::Internal, None);
        s.set("k", 1i64);
        s.set("k", "two");
        assert_eq!(s.attributes.len(), 1);
        assert_eq!(s.get("k"), Some(&Value::Str("two".into())));
        assert!(s.parent.is_none(), "a root");
    }

    #[test]
    fn links_skip_the_parent_and_duplicates() {
        let parent = SpanContext::new_root();
        let other = SpanContext::new_root();
        let mut s = Span::child("x", SpanKind::Consumer, Some(&parent));
        s.link(parent);
        s.link(other);
        s.link(other);
        assert_eq!(s.links, vec![other]);
        assert_eq!(s.parent, Some(parent.span_id));
        assert_eq!(s.context.trace_id, parent.trace_id);
    }
}
