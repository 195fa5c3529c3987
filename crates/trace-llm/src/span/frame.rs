//! The per-thread "current frame": which span is the parent of new spans, where their token
//! and cost totals roll up, which request context they carry, and (for a recording span)
//! the span's own state, so `current_span()` can record on it.
//!
//! Futures and streams own their frame and swap it into the thread-local for the duration of
//! each poll (as `tokio::task_local!` does), then swap it back out: nothing leaks into the
//! caller between polls, no reference count is touched per poll, and the span's state is
//! reachable from the code it wraps without shared ownership or locks. Frames are boxed
//! (the boxes reused per thread), except the commonest one in a sampled-out service: an
//! unsampled span that records nothing is just its ids, held inline.

use std::cell::RefCell;
use std::mem;
use std::sync::Arc;
use std::thread::AccessError;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use super::SpanState;
use super::local::Local;
use super::request::RequestData;
use super::reuse;
use super::tally::Tally;

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
    /// OpenTelemetry's context while this frame is current: `span` as its span, over the
    /// context that was current when the frame was first entered (built then, once).
    pub(crate) otel: Option<opentelemetry::Context>,
}

impl Frame {
    pub(crate) const EMPTY: Frame = Frame {
        span: None,
        tally: None,
        request: None,
        state: None,
        otel: None,
    };

    /// What work running elsewhere inherits: everything but the span's state.
    fn share(&self) -> Frame {
        Frame {
            span: self.span.clone(),
            tally: self.tally.clone(),
            request: self.request.clone(),
            state: None,
            otel: self.otel.clone(),
        }
    }

    /// The OpenTelemetry context to make current with this frame: none without a span.
    /// Callers check first that OpenTelemetry's context may be used (see `with_otel`).
    fn otel_context(&mut self) -> Option<opentelemetry::Context> {
        let span = self.span.as_ref()?;
        let stale = self
            .otel
            .as_ref()
            .is_none_or(|cx| cx.span().span_context().span_id() != span.span_id());
        if stale {
            self.otel = Some(otel_context_with(span.clone()));
        }
        self.otel.clone()
    }
}

/// The ids of an unsampled trace-llm span that records nothing, below no request context
/// and no trace state: all that its children and outgoing requests need from it (flags
/// `00`, not remote, empty trace state). Needs no allocation to start or end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BareIds {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
}

impl BareIds {
    pub(crate) fn span_context(self) -> SpanContext {
        SpanContext::new(
            self.trace_id,
            self.span_id,
            TraceFlags::default(),
            false,
            TraceState::NONE,
        )
    }
}

/// A scope's own frame. Making it current exchanges it with the thread's.
#[derive(Default)]
pub(crate) enum OwnedFrame {
    /// No span and no request context (also: tracing off, or the span ended).
    #[default]
    Empty,
    /// An unsampled span that records nothing: its ids only.
    Bare(BareIds),
    /// Anything else, boxed so that the frame stays small to exchange; boxes are reused per
    /// thread.
    Boxed(Box<Frame>),
}

impl OwnedFrame {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, OwnedFrame::Empty)
    }

    /// Takes the frame out, leaving the empty one.
    #[inline]
    pub(crate) fn take(&mut self) -> OwnedFrame {
        mem::take(self)
    }

    #[inline]
    pub(crate) fn boxed(&self) -> Option<&Frame> {
        match self {
            OwnedFrame::Boxed(frame) => Some(frame),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn boxed_mut(&mut self) -> Option<&mut Frame> {
        match self {
            OwnedFrame::Boxed(frame) => Some(frame),
            _ => None,
        }
    }

    /// The frame as a box whose parts can be changed (a bare span's ids become its span
    /// context).
    pub(crate) fn into_boxed(self) -> Box<Frame> {
        match self {
            OwnedFrame::Boxed(frame) => frame,
            OwnedFrame::Empty => reuse::boxed_frame(Frame::EMPTY),
            OwnedFrame::Bare(ids) => reuse::boxed_frame(Frame {
                span: Some(ids.span_context()),
                ..Frame::EMPTY
            }),
        }
    }

    #[cfg(feature = "tracing")]
    /// What a span whose state stays with its owner makes current each time it is entered
    /// (a `tracing` span: entered on any thread, its state in the subscriber's registry):
    /// the frame without its state. The span gets its tally and its OpenTelemetry context
    /// first, so every copy adds up into the one tally and carries the one context.
    pub(crate) fn share_for_entry(&mut self) -> OwnedFrame {
        match self {
            OwnedFrame::Empty => OwnedFrame::Empty,
            OwnedFrame::Bare(ids) => OwnedFrame::Bare(*ids),
            OwnedFrame::Boxed(frame) => {
                if frame.state.is_some() && frame.tally.is_none() {
                    frame.tally = Some(reuse::tally());
                }
                let _ = with_otel(|| frame.otel_context());
                OwnedFrame::Boxed(reuse::boxed_frame(frame.share()))
            }
        }
    }

    #[cfg(feature = "tracing")]
    /// A copy of a frame from [`share_for_entry`](Self::share_for_entry) (or [`capture`]),
    /// to enter once.
    pub(crate) fn copy(&self) -> OwnedFrame {
        match self {
            OwnedFrame::Empty => OwnedFrame::Empty,
            OwnedFrame::Bare(ids) => OwnedFrame::Bare(*ids),
            OwnedFrame::Boxed(frame) => OwnedFrame::Boxed(reuse::boxed_frame(frame.share())),
        }
    }

    #[cfg(feature = "tracing")]
    /// The id of the frame's span, if it has one.
    pub(crate) fn span_id(&self) -> Option<SpanId> {
        match self {
            OwnedFrame::Empty => None,
            OwnedFrame::Bare(ids) => Some(ids.span_id),
            OwnedFrame::Boxed(frame) => frame.span.as_ref().map(SpanContext::span_id),
        }
    }

    #[cfg(feature = "tracing")]
    /// Gives a frame's box back for reuse.
    pub(crate) fn release(self) {
        if let OwnedFrame::Boxed(frame) = self {
            reuse::release_frame(frame);
        }
    }

    /// Reads the frame (a bare span's as the frame it stands for).
    #[inline]
    fn read<R>(&self, f: impl FnOnce(&Frame) -> R) -> R {
        match self {
            OwnedFrame::Empty => f(&Frame::EMPTY),
            OwnedFrame::Bare(ids) => f(&Frame {
                span: Some(ids.span_context()),
                ..Frame::EMPTY
            }),
            OwnedFrame::Boxed(frame) => f(frame),
        }
    }
}

/// Runs `f` with this thread's current frame (an error during thread teardown).
#[inline]
pub(super) fn current<R>(f: impl FnOnce(&RefCell<OwnedFrame>) -> R) -> Result<R, AccessError> {
    super::local::with(|local| f(&local.frame))
}

/// Exchanges `frame` with the thread's current frame.
#[inline]
pub(crate) fn swap(frame: &mut OwnedFrame) {
    // During thread teardown the thread-local may be gone: then there is no current frame to
    // exchange with, and the caller's frame simply stays where it is.
    let _ = super::local::with(|local| swap_in(local, frame));
}

/// Exchanges `frame` with the current frame kept in `local`.
#[inline]
fn swap_in(local: &Local, frame: &mut OwnedFrame) {
    if let Ok(mut current) = local.frame.try_borrow_mut() {
        mem::swap(&mut *current, frame);
    }
}

/// Exchanges `request` with the current frame's request context, leaving the span alone.
#[inline]
pub(crate) fn swap_request(request: &mut Option<Arc<RequestData>>) {
    let _ = current(|cell| {
        if let Ok(mut current) = cell.try_borrow_mut() {
            if current.is_empty() && request.is_none() {
                return;
            }
            if current.boxed().is_none() {
                // A request context needs a boxed frame (a bare span's ids move into it).
                *current = OwnedFrame::Boxed(current.take().into_boxed());
            }
            if let Some(frame) = current.boxed_mut() {
                mem::swap(&mut frame.request, request);
            }
        }
    });
}

/// Runs `f`, which uses OpenTelemetry's current context, unless this thread's cache is gone
/// (thread teardown): OpenTelemetry's thread-local may be gone then too, and its access
/// would panic. While the cache is alive, OpenTelemetry's is, unless it was gone already
/// when the cache was made (see `local`).
#[cfg(feature = "tracing")]
#[inline]
fn with_otel<R>(f: impl FnOnce() -> R) -> Option<R> {
    super::local::with(|local| local.otel.then(f))
        .ok()
        .flatten()
}

/// OpenTelemetry's current context, `span` over what is current now.
fn otel_context_with(span: SpanContext) -> opentelemetry::Context {
    opentelemetry::Context::map_current(|cx| cx.with_remote_span_context(span))
}

/// Makes OpenTelemetry's current context empty until the guard drops (nothing during
/// thread teardown).
#[cfg(feature = "tracing")]
pub(crate) fn attach_empty_otel_context() -> Option<opentelemetry::ContextGuard> {
    with_otel(|| opentelemetry::Context::new().attach())
}

/// OpenTelemetry's current context made to carry an entered frame's span, until dropped
/// (which restores the context that was current before, also out of order).
#[must_use]
pub(crate) struct Attached(
    #[allow(dead_code, reason = "held for its drop")] Option<opentelemetry::ContextGuard>,
);

impl Attached {
    /// Makes OpenTelemetry's current context carry `frame`'s span (nothing without one).
    ///
    /// A bare frame (an unsampled root that records nothing) is left out: a context with a
    /// span costs an allocation, and that path allocates nothing. Under it OpenTelemetry
    /// code sees the context of the code around it, which holds no span (a bare span has no
    /// parent), so a span started there by other code is a root it samples on its own.
    ///
    /// Only while OpenTelemetry's context may be used (see `with_otel`).
    #[inline]
    fn to(frame: &mut OwnedFrame) -> Attached {
        Attached(match frame {
            OwnedFrame::Empty | OwnedFrame::Bare(_) => None,
            OwnedFrame::Boxed(frame) => frame.otel_context().map(opentelemetry::Context::attach),
        })
    }
}

/// Makes `frame` current, for this thread's trace-llm spans and for OpenTelemetry's
/// `Context::current()`; the caller's frame comes back in `frame`. Undo with
/// [`leave`], in reverse order (dropping the `Attached` first).
#[inline]
pub(crate) fn enter(frame: &mut OwnedFrame) -> Attached {
    // One access to the thread's cache: whether OpenTelemetry's context may be used (see
    // `with_otel`), and the exchange.
    super::local::with(|local| {
        let attached = if local.otel {
            Attached::to(frame)
        } else {
            Attached(None)
        };
        swap_in(local, frame);
        attached
    })
    .unwrap_or(Attached(None))
}

/// Undoes [`enter`]: `frame` holds the caller's frame and gets the entered one back.
#[inline]
pub(crate) fn leave(frame: &mut OwnedFrame, attached: Attached) {
    drop(attached);
    swap(frame);
}

/// Makes `frame` current until the guard drops (also during unwinding), then restores.
pub(crate) struct Entered<'a> {
    frame: &'a mut OwnedFrame,
    attached: Attached,
}

impl<'a> Entered<'a> {
    #[inline]
    pub(crate) fn new(frame: &'a mut OwnedFrame) -> Self {
        let attached = enter(frame);
        Entered { frame, attached }
    }
}

impl Drop for Entered<'_> {
    #[inline]
    fn drop(&mut self) {
        leave(self.frame, mem::replace(&mut self.attached, Attached(None)));
    }
}

/// Reads the current frame.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&Frame) -> R) -> Option<R> {
    current(|cell| cell.try_borrow().ok().map(|current| current.read(f)))
        .ok()
        .flatten()
}

/// Runs `f` on the state of the current span, if it is a recording trace-llm span.
pub(crate) fn with_current_state<R>(f: impl FnOnce(&mut SpanState) -> R) -> Option<R> {
    current(|cell| {
        let mut current = cell.try_borrow_mut().ok()?;
        current.boxed_mut()?.state.as_deref_mut().map(f)
    })
    .ok()
    .flatten()
}

/// Runs `f` on the current frame, after giving a boxed frame's span its tally: it is
/// created when something first needs to add to it, so leaf spans never allocate one (a
/// bare span adds nothing up).
fn with_current_tallied<R>(f: impl FnOnce(&OwnedFrame) -> R) -> Option<R> {
    current(|cell| {
        let mut current = cell.try_borrow_mut().ok()?;
        if let Some(frame) = current.boxed_mut() {
            if frame.span.is_some() && frame.tally.is_none() {
                frame.tally = Some(reuse::tally());
            }
        }
        Some(f(&current))
    })
    .ok()
    .flatten()
}

/// The current span's tally and the current request context: what a span starting now
/// adds its totals to.
pub(crate) fn capture_totals() -> (Option<Arc<Tally>>, Option<Arc<RequestData>>) {
    with_current_tallied(|current| {
        current
            .boxed()
            .map(|frame| (frame.tally.clone(), frame.request.clone()))
    })
    .flatten()
    .unwrap_or_default()
}

/// A copy of the current frame, for work that runs elsewhere (spawned tasks, threads); the
/// copies share the current span's tally.
pub(crate) fn capture() -> OwnedFrame {
    with_current_tallied(|current| match current {
        OwnedFrame::Empty => OwnedFrame::Empty,
        OwnedFrame::Bare(ids) => OwnedFrame::Bare(*ids),
        OwnedFrame::Boxed(frame) => OwnedFrame::Boxed(reuse::boxed_frame(frame.share())),
    })
    .unwrap_or_default()
}

/// Runs `f` with the current frame replaced by `frame`, restoring it afterwards.
#[inline]
pub(crate) fn in_frame<R>(frame: &mut OwnedFrame, f: impl FnOnce() -> R) -> R {
    if let OwnedFrame::Boxed(_) = frame {
        let _entered = Entered::new(frame);
        f()
    } else {
        // Empty and bare frames attach nothing to OpenTelemetry's context (`Attached::to`):
        // the exchange alone, inline, keeps the unsampled path as cheap as it was.
        let _swapped = Swapped::new(frame);
        f()
    }
}

/// Makes an empty or bare frame current until dropped (also during unwinding).
struct Swapped<'a> {
    frame: &'a mut OwnedFrame,
}

impl<'a> Swapped<'a> {
    #[inline]
    fn new(frame: &'a mut OwnedFrame) -> Self {
        debug_assert!(!matches!(frame, OwnedFrame::Boxed(_)));
        swap(frame);
        Swapped { frame }
    }
}

impl Drop for Swapped<'_> {
    #[inline]
    fn drop(&mut self) {
        swap(self.frame);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A bare frame whose trace and span ids are `n`.
    pub(in crate::span) fn ids(n: u64) -> OwnedFrame {
        OwnedFrame::Bare(BareIds {
            trace_id: TraceId::from(u128::from(n)),
            span_id: SpanId::from(n),
        })
    }

    /// The id of the current frame's span.
    pub(in crate::span) fn current_span_id() -> Option<SpanId> {
        with_current(|f| f.span.as_ref().map(SpanContext::span_id)).flatten()
    }

    #[test]
    fn a_frame_is_current_inside_and_the_previous_one_after() {
        assert_eq!(current_span_id(), None);
        let mut outer = ids(1);
        in_frame(&mut outer, || {
            assert_eq!(current_span_id(), Some(SpanId::from(1)));
            let mut inner = ids(2);
            in_frame(&mut inner, || {
                assert_eq!(current_span_id(), Some(SpanId::from(2)));
            });
            assert_eq!(current_span_id(), Some(SpanId::from(1)));
        });
        assert_eq!(current_span_id(), None);
        assert!(
            matches!(outer, OwnedFrame::Bare(_)),
            "the frame came back to its owner"
        );
    }

    #[test]
    fn a_panic_inside_restores_the_previous_frame() {
        let mut frame = ids(3);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            in_frame(&mut frame, || panic!("inside"));
        }));
        assert!(caught.is_err());
        assert_eq!(current_span_id(), None);
        assert!(matches!(frame, OwnedFrame::Bare(_)));
    }

    #[test]
    fn capture_copies_the_current_ids_for_work_elsewhere() {
        let mut frame = ids(4);
        let captured = in_frame(&mut frame, capture);
        match captured {
            OwnedFrame::Bare(ids) => assert_eq!(ids.span_id, SpanId::from(4)),
            _ => panic!("bare ids are copied as bare ids"),
        }
    }
}
