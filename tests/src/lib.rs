//! Shared helpers for the end-to-end tests: an in-memory exporter harness and attribute
//! accessors. Tests assert on what the exporter received.

use std::sync::{Mutex, MutexGuard, PoisonError};

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use trace_llm::{TracingConfig, TracingGuard};

pub mod collector;
pub mod fixtures;
pub mod metrics;
pub mod phoenix;

/// A multi-threaded Tokio runtime with `workers` threads, I/O and timers on.
pub fn multi_thread_runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The tracing pipeline is process-global: tests of one binary take turns.
static SERIAL: Mutex<()> = Mutex::new(());

/// Takes the process-wide test lock (tolerating a poisoned lock from a failed test).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running pipeline exporting into memory, shut down on drop.
pub struct Harness {
    pub exporter: InMemorySpanExporter,
    guard: Option<TracingGuard>,
    _serial: MutexGuard<'static, ()>,
}

impl Harness {
    /// Starts tracing into an in-memory exporter with default settings.
    pub fn new() -> Harness {
        Harness::with(|c| c)
    }

    /// Starts tracing into an in-memory exporter, with `configure` applied to the config.
    pub fn with(configure: impl FnOnce(TracingConfig) -> TracingConfig) -> Harness {
        let serial = serial();
        let exporter = InMemorySpanExporter::default();
        let guard = configure(TracingConfig::default().with_span_exporter(exporter.clone()))
            .init()
            .expect("init_tracing");
        Harness {
            exporter,
            guard: Some(guard),
            _serial: serial,
        }
    }

    pub fn guard(&self) -> &TracingGuard {
        self.guard.as_ref().expect("guard")
    }

    /// Flushes, then returns every span exported so far.
    pub fn spans(&self) -> Vec<SpanData> {
        self.guard().force_flush().expect("force_flush");
        self.exporter.get_finished_spans().expect("finished spans")
    }

    /// Flushes, then returns the one span named `name` (fails if there are zero or several).
    pub fn span(&self, name: &str) -> SpanData {
        let spans = self.spans();
        let mut matching: Vec<SpanData> =
            spans.iter().filter(|s| s.name == name).cloned().collect();
        assert_eq!(
            matching.len(),
            1,
            "expected exactly one span named {name:?}, got {}; all: {:?}",
            matching.len(),
            spans.iter().map(|s| s.name.to_string()).collect::<Vec<_>>()
        );
        matching.remove(0)
    }

    pub fn shutdown(mut self) -> Result<(), trace_llm::Error> {
        self.guard.take().expect("guard").shutdown()
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take() {
            let _ = guard.shutdown();
        }
    }
}

/// An exporter that keeps every span it receives, also across shutdown (the SDK's
/// in-memory exporter clears itself on shutdown).
#[derive(Clone, Debug, Default)]
pub struct Collecting {
    spans: std::sync::Arc<Mutex<Vec<SpanData>>>,
}

impl Collecting {
    pub fn spans(&self) -> Vec<SpanData> {
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl opentelemetry_sdk::trace::SpanExporter for Collecting {
    async fn export(&self, batch: Vec<SpanData>) -> opentelemetry_sdk::error::OTelSdkResult {
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch);
        Ok(())
    }
}

/// The value of attribute `key`, if present (fails if present twice).
pub fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    attr_in(&span.attributes, key)
}

pub fn attr_in<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    let mut found = attributes.iter().filter(|kv| kv.key.as_str() == key);
    let first = found.next();
    assert!(found.next().is_none(), "attribute {key} set twice");
    first.map(|kv| &kv.value)
}

/// A string attribute (fails if present with another type).
pub fn attr_str<'a>(span: &'a SpanData, key: &str) -> Option<&'a str> {
    attr(span, key).map(|v| match v {
        Value::String(s) => s.as_str(),
        other => panic!("attribute {key} is {other:?}, not a string"),
    })
}

/// An int attribute (fails if present with another type).
pub fn attr_i64(span: &SpanData, key: &str) -> Option<i64> {
    attr(span, key).map(|v| match v {
        Value::I64(i) => *i,
        other => panic!("attribute {key} is {other:?}, not an int"),
    })
}

/// A double attribute (fails if present with another type).
pub fn attr_f64(span: &SpanData, key: &str) -> Option<f64> {
    attr(span, key).map(|v| match v {
        Value::F64(f) => *f,
        other => panic!("attribute {key} is {other:?}, not a double"),
    })
}

/// A bool attribute (fails if present with another type).
pub fn attr_bool(span: &SpanData, key: &str) -> Option<bool> {
    attr(span, key).map(|v| match v {
        Value::Bool(b) => *b,
        other => panic!("attribute {key} is {other:?}, not a bool"),
    })
}

/// A string-array attribute (fails if present with another type).
pub fn attr_strings(span: &SpanData, key: &str) -> Option<Vec<String>> {
    attr(span, key).map(|v| match v {
        Value::Array(opentelemetry::Array::String(items)) => {
            items.iter().map(|s| s.as_str().to_owned()).collect()
        }
        other => panic!("attribute {key} is {other:?}, not a string array"),
    })
}

pub fn is_error(span: &SpanData) -> bool {
    matches!(span.status, Status::Error { .. })
}

/// Ended without error: the status is left Unset, as the conventions ask (Ok is the
/// application's own override).
pub fn is_ok(span: &SpanData) -> bool {
    matches!(span.status, Status::Unset)
}

/// Asserts `child`'s parent is `parent` (same trace, parent id).
pub fn assert_child_of(child: &SpanData, parent: &SpanData) {
    assert_eq!(
        child.span_context.trace_id(),
        parent.span_context.trace_id(),
        "{} and {} are in different traces",
        child.name,
        parent.name
    );
    assert_eq!(
        child.parent_span_id,
        parent.span_context.span_id(),
        "{}'s parent is not {}",
        child.name,
        parent.name
    );
}

pub fn assert_root(span: &SpanData) {
    assert_eq!(
        span.parent_span_id,
        SpanId::INVALID,
        "{} has a parent",
        span.name
    );
}

/// Asserts no span id appears twice (every span ended exactly once).
pub fn assert_unique(spans: &[SpanData]) {
    let mut ids: Vec<SpanId> = spans.iter().map(|s| s.span_context.span_id()).collect();
    ids.sort_by_key(|id| u64::from_be_bytes(id.to_bytes()));
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "a span was exported twice");
}

pub fn kind(span: &SpanData) -> SpanKind {
    span.span_kind.clone()
}

/// The events named `name`.
pub fn events<'a>(span: &'a SpanData, name: &str) -> Vec<&'a opentelemetry::trace::Event> {
    span.events.iter().filter(|e| e.name == name).collect()
}
