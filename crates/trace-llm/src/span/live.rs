//! `LiveSpan`: the handle generated code holds from span start to span end.

use std::any::Any;
use std::borrow::Cow;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use opentelemetry::trace::{TraceFlags, TraceId, TraceState};
use opentelemetry::{Key, trace::SpanContext};

use super::Operation;
use super::core::{self, Core};
use super::ids::{new_span_id, new_trace_id};
use super::state::SpanState;
use super::value::{AttributeValue, StrValue};
use crate::semconv as sc;
use crate::span::frame::{self, BareIds, Entered, Frame, OwnedFrame};
use crate::span::parent;
use crate::span::request::RequestData;

/// What a decorated function's attribute says, fixed at compile time. One `static` per
/// decorated function; generated code only.
#[doc(hidden)]
#[derive(Debug)]
pub struct Meta {
    pub operation: Operation,
    /// The whole span name, or the operation prefix when `name_from_model`.
    pub name: &'static str,
    /// The name is `"{name} {model}"` with the model known only at run time.
    pub name_from_model: bool,
    /// `code.function.name`.
    pub function: &'static str,
    pub provider: Option<&'static str>,
    pub model: Option<&'static str>,
    pub tool: Option<&'static str>,
    pub agent: Option<&'static str>,
    pub workflow: Option<&'static str>,
    pub data_source: Option<&'static str>,
    pub stream: bool,
}

/// What a started span is, as [`begin`] decided it from the sampling decision: one of four
/// encodings of [`LiveSpan`]'s frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Started {
    /// `OwnedFrame::Empty`: tracing is off, the span ended, or it is unsampled below an
    /// unsampled parent and records nothing (the parent's frame stays current, so what
    /// starts below gets the same decision in the same trace).
    Off,
    /// `OwnedFrame::Bare`: unsampled, records nothing, no trace state to pass on: only its
    /// ids, inline, so children and outgoing requests carry consistent unsampled ids.
    Ids,
    /// `OwnedFrame::Boxed` without state: unsampled and records nothing, but passes on its
    /// parent's trace state.
    Passing,
    /// `OwnedFrame::Boxed` with state: sampled, held for the outcome rules, or kept for
    /// request totals and metrics.
    Recording,
}

/// A started span: ends exactly once, through [`end`](LiveSpan::end) or, when dropped
/// unfinished, as cancelled (or panicked, when dropped during unwinding).
#[doc(hidden)]
pub struct LiveSpan {
    /// One of the four encodings of [`Started`]; `Off` once the span ended.
    // Never dropped in place: `Drop` moves a boxed frame out (an ended span holds the empty
    // frame, and bare ids need no drop), so dropping a span that is off costs one compare,
    // with no drop glue call.
    frame: ManuallyDrop<OwnedFrame>,
}

impl LiveSpan {
    /// [`Started::Off`]: a span that records nothing and has no ids of its own.
    pub const OFF: LiveSpan = LiveSpan {
        frame: ManuallyDrop::new(OwnedFrame::Empty),
    };

    /// Which of the four encodings this span is.
    #[inline]
    pub(crate) fn started(&self) -> Started {
        match &*self.frame {
            OwnedFrame::Empty => Started::Off,
            OwnedFrame::Bare(_) => Started::Ids,
            OwnedFrame::Boxed(frame) if frame.state.is_none() => Started::Passing,
            OwnedFrame::Boxed(_) => Started::Recording,
        }
    }

    /// Whether there is state to record into (sampled, or kept for totals and metrics).
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.started() == Started::Recording
    }

    #[inline]
    pub(crate) fn state_mut(&mut self) -> Option<&mut SpanState> {
        self.frame.boxed_mut()?.state.as_deref_mut()
    }

    /// Runs `f` with this span current. A panic in `f` is recorded, ends the span, and
    /// continues unwinding.
    #[inline]
    pub fn call<R>(&mut self, f: impl FnOnce() -> R) -> R {
        match &*self.frame {
            OwnedFrame::Empty => f(),
            OwnedFrame::Bare(_) => frame::in_frame(&mut self.frame, f),
            OwnedFrame::Boxed(frame) if frame.state.is_none() => {
                frame::in_frame(&mut self.frame, f)
            }
            OwnedFrame::Boxed(_) => {
                let result = {
                    let _entered = Entered::new(&mut self.frame);
                    catch_unwind(AssertUnwindSafe(f))
                };
                match result {
                    Ok(value) => value,
                    Err(payload) => {
                        self.end_with_panic(Some(&*payload));
                        resume_unwind(payload)
                    }
                }
            }
        }
    }

    /// Takes the state and the frame out, leaving the span ended (an unsampled span's frame
    /// goes straight back for reuse).
    fn take(&mut self) -> Option<(Box<SpanState>, Box<Frame>)> {
        let OwnedFrame::Boxed(mut frame) = self.frame.take() else {
            return None;
        };
        match frame.state.take() {
            Some(state) => Some((state, frame)),
            None => {
                super::reuse::release_frame(frame);
                None
            }
        }
    }

    /// Moves the span's frame out (to make it current by hand), leaving the span looking
    /// ended until [`restore_frame`](Self::restore_frame) puts it back.
    pub(crate) fn take_frame(&mut self) -> OwnedFrame {
        self.frame.take()
    }

    #[cfg(feature = "tracing")]
    /// What to make current each time the span is entered while its state stays here
    /// (see [`OwnedFrame::share_for_entry`]); `None` for a span that is off.
    pub(crate) fn frame_for_entry(&mut self) -> Option<OwnedFrame> {
        (!self.frame.is_empty()).then(|| self.frame.share_for_entry())
    }

    /// Puts back the frame [`take_frame`](Self::take_frame) moved out.
    pub(crate) fn restore_frame(&mut self, frame: OwnedFrame) {
        *self.frame = frame;
    }

    pub(crate) fn end_with_panic(&mut self, payload: Option<&(dyn Any + Send)>) {
        if let Some((mut state, frame)) = self.take() {
            state.record_panic(payload);
            state.finish(frame);
        }
    }

    /// Whether tracing was off when the span started (or it already ended): nothing to do.
    #[inline]
    pub fn is_off(&self) -> bool {
        self.frame.is_empty()
    }

    /// Ends the span now. Later calls do nothing.
    #[inline]
    pub fn end(&mut self) {
        // Inline checks, out-of-line work: tracing off costs a compare here, and a bare
        // span has nothing to do but forget its ids.
        match &*self.frame {
            OwnedFrame::Empty => {}
            OwnedFrame::Bare(_) => *self.frame = OwnedFrame::Empty,
            OwnedFrame::Boxed(_) => self.end_active(),
        }
    }

    #[inline(never)]
    fn end_active(&mut self) {
        if let Some((state, frame)) = self.take() {
            state.finish(frame);
        }
    }

    /// Whether the returned value should be recorded as `gen_ai.tool.call.result`.
    pub fn wants_tool_result(&self) -> bool {
        self.frame
            .boxed()
            .and_then(|f| f.state.as_deref())
            .is_some_and(|state| {
                state.operation == Operation::ExecuteTool && state.capture_content()
            })
    }

    /// Records a tool's returned value as `gen_ai.tool.call.result`.
    #[cfg(feature = "json")]
    pub fn record_tool_result<T: serde::Serialize + ?Sized>(&mut self, result: &T) {
        if let Some(state) = self.state_mut() {
            state.set_content(
                sc::GEN_AI_TOOL_CALL_RESULT,
                crate::content::to_content_value(result),
            );
        }
    }

    /// Records an error: status Error, `error.type`, an `exception` event.
    pub fn record_error_parts(
        &mut self,
        error_type: Cow<'static, str>,
        exception_type: &'static str,
        message: Option<String>,
    ) {
        if let Some(state) = self.state_mut() {
            state.record_error(error_type, exception_type, message);
        }
    }
}

impl Drop for LiveSpan {
    #[inline]
    fn drop(&mut self) {
        // Bare ids have nothing to release (and nothing to record).
        if let OwnedFrame::Boxed(_) = &*self.frame {
            self.drop_active();
        }
    }
}

impl LiveSpan {
    /// Dropped before it ended: cancelled, or unwinding from a panic.
    #[inline(never)]
    fn drop_active(&mut self) {
        if let Some((mut state, frame)) = self.take() {
            if std::thread::panicking() {
                state.record_panic(None);
            } else {
                state.record_cancelled();
            }
            state.finish(frame);
        }
    }
}

/// Sets the per-call values of a starting span (`model = expr`, `request = expr`, ...);
/// generated code only.
#[doc(hidden)]
pub struct SpanInit<'a> {
    pub(crate) state: &'a mut SpanState,
}

impl SpanInit<'_> {
    pub fn model<V: StrValue + ?Sized>(&mut self, model: &V) {
        if let Some(model) = model.str_value() {
            self.state.set_request_model(model);
        }
    }

    /// `server.address` / `server.port` from the provider's base URL (`base_url = expr`).
    pub fn base_url<U: AsRef<str> + ?Sized>(&mut self, url: &U) {
        self.state.set_server_from_url(url.as_ref());
    }

    pub fn tool_call_id<V: StrValue + ?Sized>(&mut self, id: &V) {
        if let Some(id) = id.str_value() {
            self.state.push_attr(sc::GEN_AI_TOOL_CALL_ID, id.to_owned());
        }
    }

    /// `gen_ai.tool.call.arguments` (content capture on only).
    #[cfg(feature = "json")]
    pub fn tool_arguments<T: serde::Serialize + ?Sized>(&mut self, arguments: &T) {
        if self.state.capture_content() {
            self.state.set_content(
                sc::GEN_AI_TOOL_CALL_ARGUMENTS,
                crate::content::to_content_value(arguments),
            );
        }
    }

    /// `gen_ai.retrieval.query.text` (content capture on only).
    #[cfg(feature = "json")]
    pub fn retrieval_query<V: StrValue + ?Sized>(&mut self, query: &V) {
        if self.state.capture_content() {
            if let Some(query) = query.str_value() {
                self.state
                    .set_content_text(sc::GEN_AI_RETRIEVAL_QUERY_TEXT, query);
            }
        }
    }

    pub fn attribute<V: AttributeValue + ?Sized>(&mut self, key: &'static str, value: &V) {
        if let Some(value) = value.to_attribute_value() {
            self.state.set_user_attr(Key::from_static_str(key), value);
        }
    }
}

/// Starts the span of a decorated function: one relaxed load and a return when tracing is
/// off; otherwise ids, parent, sampling, then the attributes.
#[inline]
pub(crate) fn start<F>(meta: &'static Meta, init: F) -> LiveSpan
where
    F: FnOnce(&mut SpanInit<'_>),
{
    if !core::enabled() {
        return LiveSpan::OFF;
    }
    start_enabled(meta, init)
}

// Out of line: the off path above stays a load and a branch wherever it is inlined (an
// async function's first poll, a stream's constructor).
#[inline(never)]
fn start_enabled<F>(meta: &'static Meta, init: F) -> LiveSpan
where
    F: FnOnce(&mut SpanInit<'_>),
{
    begin(meta.operation, |state| {
        apply_meta(state, meta);
        init(&mut SpanInit { state });
        span_name(meta, state.request_model.as_ref())
    })
}

/// Where a span started by [`begin_under`] takes its parent from.
#[cfg(feature = "tracing")]
pub(crate) enum ParentFrom<'a> {
    /// The current span (trace-llm's frame, or OpenTelemetry's context).
    Current,
    /// No parent: the span starts a trace.
    Nothing,
    /// The span that `frame` belongs to (a copy from [`LiveSpan::frame_for_entry`] or
    /// [`frame::capture`]), entered while the span starts and handed back unchanged.
    Frame(&'a mut OwnedFrame),
}

/// [`begin`] with the parent chosen by the caller (an explicit parent, or none).
#[cfg(feature = "tracing")]
pub(crate) fn begin_under(
    parent: ParentFrom<'_>,
    operation: Operation,
    describe: impl FnOnce(&mut SpanState) -> Cow<'static, str>,
) -> LiveSpan {
    match parent {
        ParentFrom::Current => begin(operation, describe),
        ParentFrom::Nothing => {
            let mut empty = OwnedFrame::Empty;
            frame::in_frame(&mut empty, || {
                // Neither OpenTelemetry's current span.
                let _none = frame::attach_empty_otel_context();
                begin(operation, describe)
            })
        }
        ParentFrom::Frame(parent) => frame::in_frame(parent, || begin(operation, describe)),
    }
}

/// Starts a span: ids, parent, sampling decision, and from them which [`Started`] encoding
/// the span is (the one place that chooses); for a recording span, `describe` sets its
/// attributes and returns its name (the request context's values are applied after it).
pub(crate) fn begin(
    operation: Operation,
    describe: impl FnOnce(&mut SpanState) -> Cow<'static, str>,
) -> LiveSpan {
    let Some(core) = core::current() else {
        return LiveSpan::OFF;
    };
    let parent = parent::peek_parent();
    let trace_id = parent.trace_id.unwrap_or_else(new_trace_id);
    let sampled = core
        .settings
        .sampler
        .should_sample(parent.parent_sampled(), trace_id);
    // Spans the sampler drops still record when totals, metrics or the outcome rules
    // (which hold them until their trace is decided) need them.
    let records = sampled
        || core.settings.keep_unsampled
        || parent.has_request
        || core.settings.tail.is_some();
    if !records {
        if parent.parent_sampled() == Some(false) {
            // Unsampled below an unsampled parent, and nothing to record: the span needs no
            // frame or ids of its own. The parent's stays current, so what starts below gets
            // the same decision in the same trace, and outgoing requests carry the parent's
            // unsampled context (its span id is never exported either).
            return LiveSpan::OFF;
        }
        if !parent.has_trace_state {
            // Nothing to record or add up, no trace state to pass on: the span only carries
            // consistent (unsampled) ids to its children and outgoing requests.
            return LiveSpan {
                frame: ManuallyDrop::new(OwnedFrame::Bare(BareIds {
                    trace_id,
                    span_id: new_span_id(),
                })),
            };
        }
    }
    begin_boxed(
        core, sampled, records, operation, parent, trace_id, describe,
    )
}

/// Starts a span with a boxed frame: one that records, or passes on its parent's trace
/// state. Out of line, so that the unsampled paths above stay small.
#[inline(never)]
fn begin_boxed(
    core: &'static Core,
    sampled: bool,
    records: bool,
    operation: Operation,
    facts: parent::ParentFacts,
    trace_id: TraceId,
    describe: impl FnOnce(&mut SpanState) -> Cow<'static, str>,
) -> LiveSpan {
    // A root (most sampled spans) has no parent to read again.
    let parent = parent::parent_context(&facts);
    let trace_state = parent
        .as_ref()
        .map_or(TraceState::NONE, |p| p.trace_state().clone());
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let span_context = SpanContext::new(trace_id, new_span_id(), flags, false, trace_state);
    if !records {
        // Nothing to record: the span only passes on consistent (unsampled) ids and its
        // parent's trace state.
        return LiveSpan {
            frame: ManuallyDrop::new(OwnedFrame::Boxed(super::reuse::boxed_frame(Frame {
                span: Some(span_context),
                tally: None,
                request: None,
                state: None,
                otel: None,
            }))),
        };
    }
    begin_recording(core, sampled, operation, span_context, parent, describe)
}

/// Starts a span with state: sampled, or kept for request totals and metrics.
fn begin_recording(
    core: &'static Core,
    sampled: bool,
    operation: Operation,
    span_context: SpanContext,
    parent: Option<SpanContext>,
    describe: impl FnOnce(&mut SpanState) -> Cow<'static, str>,
) -> LiveSpan {
    let (parent_tally, request) = frame::capture_totals();
    let (state, mut frame) = SpanState::new(
        core,
        sampled,
        operation,
        span_context,
        parent.as_ref(),
        parent_tally,
        request,
    );
    let mut state = super::reuse::boxed(state);
    state.name = describe(&mut state);
    if let Some(request) = &frame.request {
        apply_request_context(&mut state, request);
    }
    if sampled {
        core.sink.started(1);
    }
    frame.state = Some(state);
    LiveSpan {
        frame: ManuallyDrop::new(OwnedFrame::Boxed(super::reuse::boxed_frame(frame))),
    }
}

/// The sampling-relevant attributes, set first (as the conventions ask).
fn apply_meta(state: &mut SpanState, meta: &'static Meta) {
    if let Some(op) = meta.operation.as_str() {
        state.push_attr(sc::GEN_AI_OPERATION_NAME, op);
    }
    if let Some(provider) = meta.provider {
        state.set_provider(Cow::Borrowed(provider));
    }
    if let Some(model) = meta.model {
        state.set_request_model(model);
    }
    if let Some(tool) = meta.tool {
        state.push_attr(sc::GEN_AI_TOOL_NAME, tool);
        state.push_attr(sc::GEN_AI_TOOL_TYPE, "function");
    }
    if let Some(agent) = meta.agent {
        state.push_attr(sc::GEN_AI_AGENT_NAME, agent);
    }
    if let Some(workflow) = meta.workflow {
        state.push_attr(sc::GEN_AI_WORKFLOW_NAME, workflow);
    }
    if let Some(data_source) = meta.data_source {
        state.push_attr(sc::GEN_AI_DATA_SOURCE_ID, data_source);
    }
    if meta.stream && meta.operation.is_inference() {
        state.set_stream_flag(true);
    }
    state.push_attr(sc::CODE_FUNCTION_NAME, meta.function);
}

fn apply_request_context(state: &mut SpanState, request: &RequestData) {
    let values = &request.values;
    let (prompt_name, prompt_version) = if state.core.settings.latest_conventions {
        (
            sc::latest::GEN_AI_PROMPT_NAME,
            sc::latest::GEN_AI_PROMPT_VERSION,
        )
    } else {
        (sc::TRACE_LLM_PROMPT_NAME, sc::TRACE_LLM_PROMPT_VERSION)
    };
    for (key, value) in [
        (prompt_name, values.get_prompt_name()),
        (prompt_version, values.get_prompt_version()),
        (sc::TRACE_LLM_USER_COHORT, values.get_user_cohort()),
        (sc::TRACE_LLM_TENANT_ID, values.get_tenant_id()),
        (sc::USER_ID, values.get_user_id()),
    ] {
        if let Some(value) = value {
            state.push_attr(key, value.to_owned());
        }
    }
    if let Some(session) = values.get_session_id() {
        state.push_attr(sc::SESSION_ID, session.to_owned());
        state.set_conversation_id(session);
    }
    for kv in values.attributes() {
        state.set_user_attr(kv.key.clone(), kv.value.clone());
    }
}

fn span_name(meta: &'static Meta, model: Option<&Cow<'static, str>>) -> Cow<'static, str> {
    match model {
        Some(Cow::Borrowed(model)) if meta.name_from_model => {
            super::local::intern_joined_static(meta.name, model)
        }
        Some(model) if meta.name_from_model => super::local::intern_joined(meta.name, model),
        _ => Cow::Borrowed(meta.name),
    }
}
