//! `TracingGuard`: flushes and stops the pipeline, reports its counters.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::pipeline::Pipeline;
use crate::error::Error;

/// Counters of the span pipeline since `init`.
///
/// `started` counts sampled spans; each of them ends up `exported` (the backend
/// acknowledged it), `dropped` (queue full, pipeline shut down, or export failed after its
/// retries), or is still in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Sampled spans started.
    pub started: u64,
    /// Spans the exporter acknowledged.
    pub exported: u64,
    /// Spans lost to a full queue, a shut-down pipeline, or a failed export.
    pub dropped: u64,
    /// Export calls that failed (each may have carried many spans).
    pub export_errors: u64,
    /// Panics caught in user code since `init`: the redact hook, `ErrorType` / `Display` /
    /// `Debug` impls of returned errors, `GenAiRequest` / `GenAiResponse` / `GenAiChunk`
    /// impls, and exporters. Each is contained: the application's call goes on, and the
    /// first panic of each kind is reported on stderr.
    pub hook_panics: u64,
    /// Traces the head sampler dropped that an outcome rule (`keep_errors`,
    /// `keep_slower_than`, `keep_costlier_than`) kept; their spans count as `started`.
    pub tail_kept: u64,
    /// Spans held for the outcome rules and then dropped: by a decision, or by the bound
    /// on held spans ([`TracingConfig::tail_max_spans`](crate::TracingConfig::tail_max_spans)).
    pub tail_dropped: u64,
}

/// Keeps the tracing pipeline running; dropping it flushes what is queued (bounded by the
/// shutdown timeout) and stops it.
///
/// ```
/// let guard = trace_llm::TracingConfig::default()
///     .with_span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default())
///     .init()?;
/// guard.force_flush()?;
/// assert_eq!(guard.stats().dropped, 0);
/// guard.shutdown()?;
/// # Ok::<(), trace_llm::Error>(())
/// ```
#[must_use = "dropping the guard stops tracing at once; keep it alive for the program's lifetime"]
#[derive(Debug)]
pub struct TracingGuard {
    pipeline: Option<&'static Pipeline>,
    shutdown_timeout: Duration,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pipeline")
    }
}

impl TracingGuard {
    pub(crate) fn new(pipeline: &'static Pipeline, shutdown_timeout: Duration) -> Self {
        TracingGuard {
            pipeline: Some(pipeline),
            shutdown_timeout,
        }
    }

    /// The guard of a disabled pipeline (`OTEL_SDK_DISABLED=true`): everything is a no-op.
    pub(crate) fn disabled() -> Self {
        TracingGuard {
            pipeline: None,
            shutdown_timeout: Duration::ZERO,
        }
    }

    /// Exports every span that ended before this call; returns when the exporter
    /// acknowledged them, or with [`Error::Timeout`] after the shutdown timeout.
    pub fn force_flush(&self) -> Result<(), Error> {
        match self.pipeline {
            Some(p) => p.force_flush(self.shutdown_timeout),
            None => Ok(()),
        }
    }

    /// Flushes, then stops the pipeline: spans ending afterwards are dropped.
    pub fn shutdown(mut self) -> Result<(), Error> {
        match self.pipeline.take() {
            Some(p) => p.shutdown(self.shutdown_timeout),
            None => Ok(()),
        }
    }

    /// The pipeline's counters.
    pub fn stats(&self) -> Stats {
        let Some(p) = self.pipeline else {
            return Stats::default();
        };
        let c = &p.counters;
        Stats {
            started: c.started.sum(),
            exported: c.exported.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            export_errors: c.export_errors.load(Ordering::Relaxed),
            hook_panics: crate::diag::hook_panics().saturating_sub(c.hook_panics_at_start),
            tail_kept: c.tail_kept.load(Ordering::Relaxed),
            tail_dropped: c.tail_dropped.load(Ordering::Relaxed),
        }
    }
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if let Some(p) = self.pipeline.take() {
            let _ = p.shutdown(self.shutdown_timeout);
        }
    }
}
