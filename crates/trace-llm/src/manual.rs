//! The manual API (glue over the span core, futures and streams), for what a decorator
//! cannot express: spans named at the call site, a
//! loop summarised in one span, hand-built streams, and recording on whatever span is
//! current. Everything is a no-op, without allocation, when tracing is off.

use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;

use futures_core::Stream;
use opentelemetry::trace::SpanContext;
use opentelemetry::{Key, KeyValue};

use crate::future::{EndSpan, Instrumented};
use crate::genai::{
    Evaluation, GenAiRequest, GenAiResponse, RequestRecorder, ResponseRecorder, Usage,
};
use crate::semconv as sc;
use crate::span::frame::{self, OwnedFrame};
use crate::span::{AttributeValue, LiveSpan, Operation, SpanState, begin};
use crate::stream::{StreamItem, TracedIter, TracedStream, record_stream_item};

/// Starts a span by hand: `name` is the whole span name (keep it low-cardinality), the
/// builder sets the same attributes as the macro's options, and a finishing method says how
/// long it lasts. The span starts now, as a child of the current span.
///
/// ```
/// use trace_llm::{span, current_span, Operation};
///
/// # fn score(c: &str) -> f64 { c.len() as f64 }
/// let candidates = ["a", "bb", "ccc"];
/// let best = span(Operation::Retrieval, "retrieval vector-store")
///     .data_source("vector-store")
///     .attribute("app.candidates", candidates.len())
///     .in_scope(|| {
///         let best = candidates.iter().map(|c| score(c)).fold(0.0, f64::max);
///         current_span().set_attribute("app.best_score", best);
///         best
///     });
/// assert_eq!(best, 3.0);
/// ```
pub fn span(operation: Operation, name: impl Into<Cow<'static, str>>) -> SpanBuilder {
    if !crate::span::enabled() {
        return SpanBuilder {
            span: LiveSpan::OFF,
        };
    }
    let name = name.into();
    let span = begin(operation, |state| {
        if let Some(op) = operation.as_str() {
            state.push_attr(sc::GEN_AI_OPERATION_NAME, op);
        }
        if operation == Operation::ExecuteTool {
            state.push_attr(sc::GEN_AI_TOOL_TYPE, "function");
        }
        name
    });
    SpanBuilder { span }
}

/// A span started by [`span`], waiting for its attributes and for how it ends.
#[must_use = "a span ends when its builder is dropped: call start(), in_scope(), instrument(), stream() or iter()"]
pub struct SpanBuilder {
    span: LiveSpan,
}

impl std::fmt::Debug for SpanBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanBuilder")
            .field("recording", &self.span.is_recording())
            .finish()
    }
}

impl SpanBuilder {
    /// `gen_ai.provider.name`.
    pub fn provider(mut self, provider: impl Into<Cow<'static, str>>) -> Self {
        if let Some(state) = self.span.state_mut() {
            state.set_provider(provider.into());
        }
        self
    }

    /// `server.address` and `server.port` from the provider's base URL (the port defaults
    /// to the scheme's), as the macro's `base_url = ...` sets them.
    ///
    /// ```
    /// let _span = trace_llm::span(trace_llm::Operation::Chat, "chat gpt-4o")
    ///     .base_url("https://api.openai.com/v1")
    ///     .start();
    /// ```
    pub fn base_url(mut self, url: &str) -> Self {
        if let Some(state) = self.span.state_mut() {
            state.set_server_from_url(url);
        }
        self
    }

    /// `gen_ai.request.model`.
    pub fn model(mut self, model: &str) -> Self {
        if let Some(state) = self.span.state_mut() {
            state.set_request_model(model);
        }
        self
    }

    /// The request's model and settings, as the macro's `request = ...` records them.
    pub fn request<R: GenAiRequest + ?Sized>(mut self, request: &R) -> Self {
        if let Some(state) = self.span.state_mut() {
            crate::diag::isolate(crate::diag::Hook::Extractor, || {
                if let Some(model) = request.model() {
                    state.set_request_model(model);
                }
                request.record_request(&mut RequestRecorder { state });
            });
        }
        self
    }

    /// `gen_ai.tool.name`.
    pub fn tool(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        if let Some(state) = self.span.state_mut() {
            state.push_attr(sc::GEN_AI_TOOL_NAME, name.into());
        }
        self
    }

    /// `gen_ai.tool.call.id`.
    pub fn tool_call_id(mut self, id: &str) -> Self {
        if let Some(state) = self.span.state_mut() {
            state.push_attr(sc::GEN_AI_TOOL_CALL_ID, id.to_owned());
        }
        self
    }

    /// `gen_ai.agent.name`.
    pub fn agent(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        if let Some(state) = self.span.state_mut() {
            state.push_attr(sc::GEN_AI_AGENT_NAME, name.into());
        }
        self
    }

    /// `gen_ai.workflow.name`.
    pub fn workflow(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        if let Some(state) = self.span.state_mut() {
            state.push_attr(sc::GEN_AI_WORKFLOW_NAME, name.into());
        }
        self
    }

    /// `gen_ai.data_source.id`.
    pub fn data_source(mut self, id: impl Into<Cow<'static, str>>) -> Self {
        if let Some(state) = self.span.state_mut() {
            state.push_attr(sc::GEN_AI_DATA_SOURCE_ID, id.into());
        }
        self
    }

    /// A custom attribute (counts towards the per-span bound on user attributes).
    pub fn attribute(mut self, key: impl Into<Key>, value: impl AttributeValue) -> Self {
        if let Some(state) = self.span.state_mut() {
            if let Some(value) = value.to_attribute_value() {
                state.set_user_attr(key.into(), value);
            }
        }
        self
    }

    /// Makes the span current until the guard drops, then ends it. Children started in
    /// between nest under it. Hold it in synchronous code only: across an `.await`, use
    /// [`instrument`](Self::instrument).
    ///
    /// ```
    /// let _span = trace_llm::span(trace_llm::Operation::Task, "load corpus").start();
    /// // ... work; child spans nest under "load corpus" ...
    /// ```
    pub fn start(mut self) -> SpanGuard {
        // The span's frame becomes current; the caller's waits in `previous`.
        let mut previous = self.span.take_frame();
        let attached = (!previous.is_empty()).then(|| frame::enter(&mut previous));
        SpanGuard {
            span: self.span,
            previous,
            attached,
            _not_send: PhantomData,
        }
    }

    /// Runs `f` with the span current, then ends it (a panic ends it with an error).
    pub fn in_scope<R>(mut self, f: impl FnOnce() -> R) -> R {
        let value = self.span.call(f);
        self.span.end();
        value
    }

    /// The span follows `future`: current on every poll, ended when it completes, ended as
    /// cancelled if it is dropped first.
    pub fn instrument<F: Future>(self, future: F) -> Instrumented<F, EndSpan> {
        Instrumented::new(self.span, future, EndSpan)
    }

    /// The span follows `stream`: current while each item is produced, time to first chunk
    /// and chunk count recorded, items recorded ([`StreamItem`]), ended when the stream ends
    /// or is dropped.
    pub fn stream<S>(mut self, stream: S) -> TracedStream<S>
    where
        S: Stream,
        S::Item: StreamItem,
    {
        if let Some(state) = self.span.state_mut() {
            if state.operation.is_inference() {
                state.set_stream_flag(true);
            }
        }
        TracedStream::new(stream, self.span, record_stream_item::<S::Item>)
    }

    /// The span follows `iter`, as [`stream`](Self::stream) does for streams.
    pub fn iter<I>(mut self, iter: I) -> TracedIter<I>
    where
        I: Iterator,
        I::Item: StreamItem,
    {
        if let Some(state) = self.span.state_mut() {
            if state.operation.is_inference() {
                state.set_stream_flag(true);
            }
        }
        TracedIter::new(iter, self.span, record_stream_item::<I::Item>)
    }
}

/// The span of [`SpanBuilder::start`]: current until dropped, then ended. Not `Send`: a
/// guard must not live across an `.await`.
#[must_use = "the span ends when the guard is dropped"]
pub struct SpanGuard {
    span: LiveSpan,
    /// The frame that was current before, restored on drop.
    previous: OwnedFrame,
    /// The span's frame is current (it was not off), and OpenTelemetry's context with it.
    attached: Option<frame::Attached>,
    _not_send: PhantomData<*const ()>,
}

impl std::fmt::Debug for SpanGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanGuard").finish_non_exhaustive()
    }
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        if let Some(attached) = self.attached.take() {
            // Take the span's frame back from the thread-local, restoring the caller's.
            frame::leave(&mut self.previous, attached);
            let own = self.previous.take();
            self.span.restore_frame(own);
        }
        if std::thread::panicking() {
            self.span.end_with_panic(None);
        } else {
            self.span.end();
        }
    }
}

/// Records on whatever trace-llm span is current when its methods are called: the span of
/// the enclosing `#[trace_llm]` function, `in_scope` closure, instrumented future or guard.
/// Every method is a no-op when there is none (tracing off, not sampled, no span).
///
/// ```
/// use trace_llm::{current_span, trace_llm};
///
/// #[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o")]
/// fn chat_by_hand() -> String {
///     // ... a call whose response type has no GenAiResponse impl ...
///     current_span().record_usage(120, 45);
///     current_span().set_attribute("app.cache_hit", false);
///     "answer".to_owned()
/// }
/// # chat_by_hand();
/// ```
pub fn current_span() -> SpanHandle {
    SpanHandle {
        _not_send: PhantomData,
    }
}

/// See [`current_span`].
#[derive(Debug, Clone, Copy)]
pub struct SpanHandle {
    _not_send: PhantomData<*const ()>,
}

impl SpanHandle {
    fn with_state(self, f: impl FnOnce(&mut SpanState)) {
        if crate::span::enabled() {
            frame::with_current_state(f);
        }
    }

    /// Whether a recording trace-llm span is current.
    pub fn is_recording(&self) -> bool {
        crate::span::enabled() && frame::with_current_state(|_| ()).is_some()
    }

    /// The current span's context (also for an unsampled or remote parent), for links or
    /// manual propagation.
    pub fn span_context(&self) -> Option<SpanContext> {
        frame::with_current(|f| f.span.clone()).flatten()
    }

    /// Sets a custom attribute (bounded like the macro's `attributes(...)`).
    pub fn set_attribute(&self, key: impl Into<Key>, value: impl AttributeValue) {
        self.with_state(|state| {
            if let Some(value) = value.to_attribute_value() {
                state.set_user_attr(key.into(), value);
            }
        });
    }

    /// Adds an event.
    pub fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        self.with_state(|state| state.add_event(name, attributes));
    }

    /// Records token usage (input includes cached input tokens).
    pub fn record_usage(&self, input_tokens: i64, output_tokens: i64) {
        self.record_full_usage(Usage::new(input_tokens, output_tokens));
    }

    /// Records token usage with the cache and reasoning breakdown.
    pub fn record_full_usage(&self, usage: Usage) {
        self.with_state(|state| state.response.usage.merge(usage));
    }

    /// Records a response, as the macro does for returned values.
    pub fn record_response<R: GenAiResponse + ?Sized>(&self, response: &R) {
        self.with_state(|state| {
            crate::diag::isolate(crate::diag::Hook::Extractor, || {
                response.record_response(&mut ResponseRecorder { state });
            });
        });
    }

    /// Records an error: status Error, `error.type` (the error type's short name), an
    /// `exception` event with its message.
    pub fn record_error<E: std::fmt::Display + ?Sized>(&self, error: &E) {
        self.with_state(|state| {
            let full = std::any::type_name::<E>();
            state.record_error(
                crate::genai::short_type_name(full),
                full,
                crate::diag::isolate(crate::diag::Hook::ErrorType, || error.to_string()),
            );
        });
    }

    /// Records an error with an `error.type` of your choosing (see the README's table).
    pub fn record_error_type(&self, error_type: &str, message: &str) {
        self.with_state(|state| {
            let message = (!message.is_empty()).then(|| message.to_owned());
            state.record_error(error_type.to_owned().into(), "error", message);
        });
    }

    /// Records an evaluation result as a `gen_ai.evaluation.result` event.
    pub fn record_evaluation(&self, evaluation: &Evaluation) {
        self.with_state(|state| ResponseRecorder { state }.evaluation(evaluation));
    }
}
