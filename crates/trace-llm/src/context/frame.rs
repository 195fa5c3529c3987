//! The per-thread "current frame": which span is the parent of new spans, where their token
//! and cost totals roll up, which request context they carry, and (for a recording span)
//! the span's own state, so `current_span()` can record on it.
//!
//! Futures and streams own their frame and swap it into the thread-local for the duration of
//! each poll (as `tokio::task_local!` does), then swap it back out: nothing leaks into the
//! caller between polls, no reference count is touched per poll, and the span's state is
//! reachable from the code it wraps without shared ownership or locks. Frames are boxed
//! (the boxes reused per thread), so a swap exchanges one pointer.

use std::cell::RefCell;
use std::mem;
use std::sync::Arc;

use opentelemetry::trace::{SpanContext, TraceContextExt};

use super::request::RequestData;
use crate::span::SpanState;
use crate::span::reuse;
use crate::span::tally::Tally;

/// What new spans inherit from the code that starts them.
#[derive(Default)]
pub(crate) struct Frame {
    /// The parent of spans started here: one of ours, or a remote / bridged parent.
    pub(crate) span: Option<SpanContext>,
    /// Totals of the current trace-llm span, shared with the children that add to it.
    pub(crate) tally: Option<Arc<Tally>>,
    /// The request context of the current scope.
    pub(crate) request: Option<Arc<RequestData>>,
    /// The state of the span this frame belongs to, when it records.
    pub(crate) state: Option<Box<SpanState>>,
}

impl Frame {
    pub(crate) const EMPTY: Frame = Frame {
        span: None,
        tally: None,
        request: None,
        state: None,
    };

    /// What work running elsewhere inherits: everything but the span's state.
    fn share(&self) -> Frame {
        Frame {
            span: self.span.clone(),
            tally: self.tally.clone(),
            request: self.request.clone(),
            state: None,
        }
    }
}

/// A scope's own frame, boxed so that making it current exchanges one pointer; `None` is the
/// empty frame (no span, no request context). Boxes are reused per thread.
pub(crate) type OwnedFrame = Option<Box<Frame>>;

thread_local! {
    static CURRENT: RefCell<OwnedFrame> = const { RefCell::new(None) };
}

/// Exchanges `frame` with the thread's current frame.
#[inline]
pub(crate) fn swap(frame: &mut OwnedFrame) {
    // During thread teardown the thread-local may be gone: then there is no current frame to
    // exchange with, and the caller's frame simply stays where it is.
    let _ = CURRENT.try_with(|cell| {
        if let Ok(mut current) = cell.try_borrow_mut() {
            mem::swap(&mut *current, frame);
        }
    });
}

/// Exchanges `request` with the current frame's request context, leaving the span alone.
#[inline]
pub(crate) fn swap_request(request: &mut Option<Arc<RequestData>>) {
    let _ = CURRENT.try_with(|cell| {
        if let Ok(mut current) = cell.try_borrow_mut() {
            if current.is_none() {
                if request.is_none() {
                    return;
                }
                *current = Some(reuse::boxed_frame(Frame::EMPTY));
            }
            if let Some(frame) = current.as_deref_mut() {
                mem::swap(&mut frame.request, request);
            }
        }
    });
}

/// Makes `frame` current until the guard drops (also during unwinding), then restores.
pub(crate) struct Entered<'a> {
    frame: &'a mut OwnedFrame,
}

impl<'a> Entered<'a> {
    #[inline]
    pub(crate) fn new(frame: &'a mut OwnedFrame) -> Self {
        swap(frame);
        Entered { frame }
    }
}

impl Drop for Entered<'_> {
    #[inline]
    fn drop(&mut self) {
        swap(self.frame);
    }
}

/// Reads the current frame.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&Frame) -> R) -> Option<R> {
    CURRENT
        .try_with(|cell| {
            cell.try_borrow()
                .ok()
                .map(|current| match current.as_deref() {
                    Some(frame) => f(frame),
                    None => f(&Frame::EMPTY),
                })
        })
        .ok()
        .flatten()
}

/// Runs `f` on the state of the current span, if it is a recording trace-llm span.
pub(crate) fn with_current_state<R>(f: impl FnOnce(&mut SpanState) -> R) -> Option<R> {
    CURRENT
        .try_with(|cell| {
            let mut current = cell.try_borrow_mut().ok()?;
            current.as_deref_mut()?.state.as_deref_mut().map(f)
        })
        .ok()
        .flatten()
}

/// Runs `f` on the current frame (if not empty), after giving the current span its tally: it
/// is created when something first needs to add to it, so leaf spans never allocate one.
fn with_current_tallied<R>(f: impl FnOnce(&Frame) -> R) -> Option<R> {
    CURRENT
        .try_with(|cell| {
            let mut current = cell.try_borrow_mut().ok()?;
            let frame = current.as_deref_mut()?;
            if frame.span.is_some() && frame.tally.is_none() {
                frame.tally = Some(reuse::tally());
            }
            Some(f(frame))
        })
        .ok()
        .flatten()
}

/// The current span's tally and the current request context: what a span starting now
/// adds its totals to.
pub(crate) fn capture_totals() -> (Option<Arc<Tally>>, Option<Arc<RequestData>>) {
    with_current_tallied(|frame| (frame.tally.clone(), frame.request.clone())).unwrap_or_default()
}

/// A copy of the current frame, for work that runs elsewhere (spawned tasks, threads); the
/// copies share the current span's tally.
pub(crate) fn capture() -> OwnedFrame {
    with_current_tallied(|frame| reuse::boxed_frame(frame.share()))
}

/// The parent of a span started now (the current trace-llm span, or else whatever
/// OpenTelemetry span is current), and whether the current scope carries a request context.
/// Reads the frame without touching its shared parts, so that a span that turns out
/// unsampled costs no reference counting.
#[inline]
pub(crate) fn peek_parent() -> (Option<SpanContext>, bool) {
    let peeked = CURRENT
        .try_with(|cell| {
            let current = cell.try_borrow().ok()?;
            Some(
                current
                    .as_deref()
                    .map_or((None, false), |f| (f.span.clone(), f.request.is_some())),
            )
        })
        .ok()
        .flatten();
    match peeked {
        Some((Some(parent), has_request)) => (Some(parent), has_request),
        Some((None, has_request)) => (otel_current_parent(), has_request),
        None => (otel_current_parent(), false),
    }
}

/// The span context of the current `opentelemetry::Context`, if it holds a valid one: an
/// HTTP server span from other instrumentation, or a `tracing` span bridged by
/// `tracing-opentelemetry` (see the `tracing` feature).
fn otel_current_parent() -> Option<SpanContext> {
    let from_otel = opentelemetry::Context::map_current(|cx| {
        cx.has_active_span()
            .then(|| cx.span().span_context().clone())
            .filter(SpanContext::is_valid)
    });
    #[cfg(feature = "tracing")]
    let from_otel = from_otel.or_else(crate::context::tracing_bridge::current_parent);
    from_otel
}

/// Runs `f` with the current frame replaced by `frame`, restoring it afterwards.
#[inline]
pub(crate) fn in_frame<R>(frame: &mut OwnedFrame, f: impl FnOnce() -> R) -> R {
    let _entered = Entered::new(frame);
    f()
}
