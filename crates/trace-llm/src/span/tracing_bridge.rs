//! Interop with the `tracing` ecosystem: when a `tracing` span bridged to OpenTelemetry by
//! `tracing-opentelemetry` is current, `#[trace_llm]` spans become its children.

use opentelemetry::trace::{SpanContext, TraceContextExt};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The OpenTelemetry span context of the current `tracing` span, if it has a valid one.
pub(crate) fn current_parent() -> Option<SpanContext> {
    let span = tracing::Span::current();
    if span.is_none() {
        return None;
    }
    let cx = span.context();
    let parent = cx.span().span_context().clone();
    parent.is_valid().then_some(parent)
}
