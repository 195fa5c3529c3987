//! `TracingConfig` / `init_tracing` / `TracingGuard`: resource, sampler, the batching span
//! pipeline, and the OTLP, console and custom exporters.

mod config;
mod config_env;
mod console;
mod env;
mod exporter;
mod guard;
#[cfg_attr(not(any(feature = "grpc", feature = "http")), allow(dead_code))]
mod headers;
mod otlp;
pub(crate) mod pipeline;
pub(crate) mod tail;
mod worker;

pub use config::{
    DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENT_EXPORTS, DEFAULT_CONTENT_MAX_BYTES, DEFAULT_QUEUE_SIZE,
    TracingConfig,
};
pub use guard::{Stats, TracingGuard};
pub use otlp::Protocol;

/// Starts tracing with everything from the environment: OTLP export configured by
/// `OTEL_EXPORTER_OTLP_*`, sampling by `OTEL_TRACES_SAMPLER`, and so on. Same as
/// `TracingConfig::from_env().init()`.
///
/// Keep the guard alive: dropping it flushes and stops the pipeline.
///
/// ```no_run
/// #[tokio::main]
/// async fn main() -> Result<(), trace_llm::Error> {
///     let _guard = trace_llm::init_tracing()?;
///     // ... traced work ...
///     Ok(())
/// }
/// ```
pub fn init_tracing() -> Result<TracingGuard, crate::Error> {
    TracingConfig::from_env().init()
}

/// A minimal ended span for the pipeline's unit tests.
#[cfg(test)]
pub(crate) fn test_span(
    trace: u128,
    id: u64,
    parent: u64,
    flags: opentelemetry::trace::TraceFlags,
) -> opentelemetry_sdk::trace::SpanData {
    use opentelemetry::trace::{SpanContext, SpanId, TraceId, TraceState};
    opentelemetry_sdk::trace::SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace),
            SpanId::from(id),
            flags,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::from(parent),
        parent_span_is_remote: false,
        span_kind: opentelemetry::trace::SpanKind::Internal,
        name: "s".into(),
        start_time: std::time::SystemTime::UNIX_EPOCH,
        end_time: std::time::SystemTime::UNIX_EPOCH,
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: opentelemetry_sdk::trace::SpanEvents::default(),
        links: opentelemetry_sdk::trace::SpanLinks::default(),
        status: opentelemetry::trace::Status::Unset,
        instrumentation_scope: Default::default(),
    }
}
