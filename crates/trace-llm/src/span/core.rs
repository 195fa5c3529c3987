//! The running pipeline as the span core sees it: the settings spans read while they
//! record, and a [`Sink`] that takes ended spans. The pipeline layer (`init`) implements the
//! sink and installs the core; the span core never imports it.

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::SpanData;

use super::Outcome;
use super::sampler::Sampler;
use crate::cost::PriceTable;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::util::Redactor;

/// Where ended spans go.
pub(crate) trait Sink: Send + Sync {
    /// Counts sampled spans started (for `Stats::started`).
    fn started(&self, spans: u64);
    /// Takes an ended, sampled span for export, without blocking.
    fn submit(&self, span: SpanData);
    /// Takes an ended span the head sampler dropped, held for the outcome rules.
    fn hold(&self, span: SpanData, outcome: Outcome);
    /// Whether it still takes spans (not shut down).
    fn accepts(&self) -> bool;
}

/// The outcome rules; a trace the head sampler dropped is kept if any matches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TailRules {
    pub(crate) keep_errors: bool,
    pub(crate) slower_than: Option<Duration>,
    pub(crate) costlier_than: Option<f64>,
    pub(crate) max_spans: usize,
}

/// Settings that spans read while they record.
pub(crate) struct Settings {
    pub(crate) scope: InstrumentationScope,
    pub(crate) sampler: Sampler,
    pub(crate) capture_content: bool,
    /// The newest GenAI conventions' names instead of v1.41.0's.
    pub(crate) latest_conventions: bool,
    #[cfg_attr(not(feature = "json"), allow(dead_code))]
    pub(crate) content_max_bytes: usize,
    #[cfg_attr(not(feature = "json"), allow(dead_code))]
    pub(crate) redact: Option<Redactor>,
    /// Keep state for unsampled spans too (metrics need their durations and usage).
    pub(crate) keep_unsampled: bool,
    /// The GenAI metrics instruments, when metrics are on.
    pub(crate) metrics: Option<Metrics>,
    /// Prices for `trace_llm.usage.cost`.
    pub(crate) prices: PriceTable,
    /// Outcome rules for the traces the head sampler drops, if any is set.
    pub(crate) tail: Option<TailRules>,
}

/// The settings and the sink of one running pipeline.
pub(crate) struct Core {
    pub(crate) settings: Settings,
    pub(crate) sink: &'static dyn Sink,
}

/// Set while a pipeline accepts spans: the one relaxed load the generated code does first.
static ENABLED: AtomicBool = AtomicBool::new(false);
/// The running core. Cores (and their pipelines) are leaked on purpose: a span that started
/// under one may end after it was replaced, and must still find valid memory (it then
/// counts as dropped). One small struct per `init` call is the price.
static CURRENT: AtomicPtr<Core> = AtomicPtr::new(ptr::null_mut());

#[inline(always)]
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

#[inline]
pub(crate) fn current() -> Option<&'static Core> {
    let p = CURRENT.load(Ordering::Acquire);
    // SAFETY: CURRENT only ever holds null or a pointer from `Box::leak`, never freed.
    unsafe { p.as_ref() }
}

/// Makes `core` the one spans go to, unless another is running.
pub(crate) fn install(core: &'static Core) -> Result<(), Error> {
    let new = ptr::from_ref(core).cast_mut();
    let previous = CURRENT.load(Ordering::Acquire);
    // SAFETY: as in `current`.
    if let Some(previous) = unsafe { previous.as_ref() } {
        if previous.sink.accepts() {
            return Err(Error::AlreadyInitialized);
        }
    }
    CURRENT
        .compare_exchange(previous, new, Ordering::AcqRel, Ordering::Acquire)
        .map_err(|_| Error::AlreadyInitialized)?;
    ENABLED.store(true, Ordering::Release);
    Ok(())
}

/// Turns tracing off if `sink` is the running core's (its pipeline is shutting down).
pub(crate) fn stop(sink: &dyn Sink) {
    let same =
        current().is_some_and(|core| ptr::addr_eq(ptr::from_ref(core.sink), ptr::from_ref(sink)));
    if same {
        ENABLED.store(false, Ordering::Release);
    }
}

/// Makes `core` the running one, whatever ran before (the span handle's unit tests).
#[cfg(test)]
pub(crate) fn replace_for_test(core: &'static Core) {
    CURRENT.store(ptr::from_ref(core).cast_mut(), Ordering::Release);
    ENABLED.store(true, Ordering::Release);
}
