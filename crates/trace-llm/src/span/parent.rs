//! The parent of a span started now: the current trace-llm span, or whatever span was made
//! current in OpenTelemetry's context after it (or with none of ours current).

use std::cell::RefCell;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceId, TraceState};

use super::frame::{OwnedFrame, current};

/// What a span starting now needs to know of its parent to take its sampling decision, read
/// without copying the parent's context (which only a recording span needs:
/// [`parent_context`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ParentFacts {
    /// The parent's trace id; `None` when the span starts a trace.
    pub(crate) trace_id: Option<TraceId>,
    /// Whether the parent is sampled.
    pub(crate) sampled: bool,
    /// Whether the parent carries a trace state for its children to pass on.
    pub(crate) has_trace_state: bool,
    /// Whether the current scope carries a request context.
    pub(crate) has_request: bool,
    /// The parent is OpenTelemetry's current span, not the current frame's.
    pub(crate) foreign: bool,
}

impl ParentFacts {
    /// Whether the parent is sampled, when there is one.
    #[inline]
    pub(crate) fn parent_sampled(&self) -> Option<bool> {
        self.trace_id.map(|_| self.sampled)
    }

    fn of(cx: &SpanContext, has_request: bool) -> Self {
        ParentFacts {
            trace_id: Some(cx.trace_id()),
            sampled: cx.is_sampled(),
            has_trace_state: *cx.trace_state() != TraceState::NONE,
            has_request,
            foreign: false,
        }
    }
}

/// What a span started now would have as its parent (the current trace-llm span, or else
/// whatever OpenTelemetry span is current), and whether the current scope carries a request
/// context. Reads the frame without touching its shared parts, so that a span that turns
/// out unsampled costs no reference counting and no copy.
// Always inlined, so that in `begin` (every span start) the facts stay in registers.
#[inline(always)]
pub(crate) fn peek_parent() -> ParentFacts {
    // Without the thread's cache (thread teardown) OpenTelemetry's context is not read
    // either (see `with_otel`): no parent.
    let Ok((peeked, otel)) = super::local::with(|local| (peek_frame(&local.frame), local.otel))
    else {
        return ParentFacts::default();
    };
    let peeked = peeked.flatten();
    // A bare parent's children need no look at OpenTelemetry's context (see `peek_frame`).
    // The match below gives them the same answer; returning here first keeps them, the hot
    // path of an unsampled trace, clear of the other checks.
    if let Some((facts, None)) = peeked {
        if facts.trace_id.is_some() {
            return facts;
        }
    }
    if !otel {
        return peeked.map_or_else(ParentFacts::default, |(facts, _)| facts);
    }
    // OpenTelemetry's context outlives the cache here: it may be read below.
    match peeked {
        Some((facts, own))
            if facts.trace_id.is_some() && !own.is_some_and(foreign_span_entered_since) =>
        {
            facts
        }
        Some((facts, _)) => foreign_parent_facts(facts.has_request),
        None => foreign_parent_facts(false),
    }
}

/// The facts of the current frame, and its span's id when it is a boxed one's; `None` when
/// the frame is borrowed (read as no frame).
#[inline(always)]
fn peek_frame(cell: &RefCell<OwnedFrame>) -> Option<Option<(ParentFacts, Option<SpanId>)>> {
    let current = cell.try_borrow().ok()?;
    Some(match &*current {
        OwnedFrame::Empty => None,
        // A bare frame is an unsampled root: what starts under it takes its decision
        // (and is off), whatever was made current in OpenTelemetry's context since,
        // so it needs no look there.
        OwnedFrame::Bare(ids) => Some((
            ParentFacts {
                trace_id: Some(ids.trace_id),
                ..ParentFacts::default()
            },
            None,
        )),
        OwnedFrame::Boxed(f) => match &f.span {
            Some(span) => Some((
                ParentFacts::of(span, f.request.is_some()),
                Some(span.span_id()),
            )),
            None => Some((
                ParentFacts {
                    has_request: f.request.is_some(),
                    ..ParentFacts::default()
                },
                None,
            )),
        },
    })
}

/// Whether OpenTelemetry's current context holds a span other than the current frame's
/// (`own`): one made current after the frame was entered (a `tracing` span entered through
/// `tracing-opentelemetry`, `Tracer::in_span`, ...), which is then the innermost span. An
/// entered boxed frame always attaches its own span, so any other span there came later.
#[inline]
fn foreign_span_entered_since(own: SpanId) -> bool {
    opentelemetry::Context::map_current(|cx| {
        cx.has_active_span() && {
            let span = cx.span();
            let span = span.span_context();
            span.is_valid() && span.span_id() != own
        }
    })
}

/// The facts of the current OpenTelemetry span, when no trace-llm span is current.
fn foreign_parent_facts(has_request: bool) -> ParentFacts {
    // Asked as a yes or no first: the usual answer (no span there) then copies nothing out.
    let parent = if opentelemetry::Context::map_current(|cx| cx.has_active_span()) {
        otel_current_parent()
    } else {
        None
    };
    match parent {
        Some(parent) => ParentFacts {
            foreign: true,
            ..ParentFacts::of(&parent, has_request)
        },
        None => ParentFacts {
            has_request,
            ..ParentFacts::default()
        },
    }
}

/// The context of the parent [`peek_parent`] found (`facts`, when it found one): for a span
/// that records, or that passes on a trace state.
pub(crate) fn parent_context(facts: &ParentFacts) -> Option<SpanContext> {
    facts.trace_id?;
    if facts.foreign {
        return otel_current_parent();
    }
    current(|cell| match &*cell.try_borrow().ok()? {
        OwnedFrame::Empty => None,
        OwnedFrame::Bare(ids) => Some(ids.span_context()),
        OwnedFrame::Boxed(f) => f.span.clone(),
    })
    .ok()
    .flatten()
}

/// The span context of the current `opentelemetry::Context`, if it holds a valid one: an
/// HTTP server span from other instrumentation, or a `tracing` span entered under
/// `tracing-opentelemetry` (whose context activation, on by default, attaches it).
fn otel_current_parent() -> Option<SpanContext> {
    opentelemetry::Context::map_current(|cx| {
        cx.has_active_span()
            .then(|| cx.span().span_context().clone())
            .filter(SpanContext::is_valid)
    })
}
