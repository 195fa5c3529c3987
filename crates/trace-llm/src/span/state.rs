//! The state of one recording span, and how it becomes an exported `SpanData`.

use std::any::Any;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{Event, SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use super::core::Core;
use super::record::ResponseData;
use super::tally::{PICO_PER_USD, Subtotal, Tally};
use super::{Operation, truncate_utf8};
use crate::semconv as sc;
use crate::span::frame::Frame;
use crate::span::request::RequestData;

/// Most attributes a span takes from users (macro `attributes(...)`, request-context
/// attributes, manual `set_attribute`), so they cannot crowd out the GenAI attributes.
pub const MAX_USER_ATTRIBUTES: usize = 32;
/// Most events a span keeps.
pub const MAX_EVENTS: usize = 128;
/// Longest exception message (bytes) kept on an exception event.
pub const MAX_EXCEPTION_MESSAGE_BYTES: usize = 1024;

pub(crate) struct SpanState {
    pub(crate) core: &'static Core,
    /// Exported when the span ends; unsampled states exist only to feed totals and metrics.
    pub(crate) sampled: bool,
    pub(crate) operation: Operation,
    pub(crate) kind: SpanKind,
    pub(crate) name: Cow<'static, str>,
    pub(crate) parent_span_id: SpanId,
    pub(crate) parent_is_remote: bool,
    pub(crate) start: SystemTime,
    pub(crate) attributes: Vec<KeyValue>,
    user_attributes: usize,
    dropped_attributes: u32,
    events: Vec<Event>,
    dropped_events: u32,
    status: Status,
    pub(crate) error_type: Option<Cow<'static, str>>,
    pub(crate) provider: Option<Cow<'static, str>>,
    pub(crate) request_model: Option<Cow<'static, str>>,
    conversation_id_set: bool,
    stream_flag_set: bool,
    #[cfg(feature = "json")]
    content_truncated: bool,
    pub(crate) response: ResponseData,
    /// Where this span's subtotal goes when it ends.
    pub(crate) parent_tally: Option<Arc<Tally>>,
    /// The first span of a request scope with a budget: told at its end whether the
    /// request went over it.
    pub(crate) scope_root: bool,
    /// Not sampled, but recorded and held for the outcome rules (tail sampling): exported
    /// only if its local trace is kept.
    pub(crate) held: bool,
}

impl SpanState {
    /// A recording span's state, and the frame its body runs in (span context, request
    /// context; the span's own tally is created when a child first needs it).
    /// `parent_tally` is where its totals go, `request` the request context it runs in.
    pub(crate) fn new(
        core: &'static Core,
        sampled: bool,
        operation: Operation,
        span_context: SpanContext,
        parent: Option<&SpanContext>,
        parent_tally: Option<Arc<Tally>>,
        request: Option<Arc<RequestData>>,
    ) -> (Self, Frame) {
        let scope_root = request.as_ref().is_some_and(|r| {
            r.values.get_budget_usd().is_some()
                && !r
                    .root_claimed
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
        });
        let held = !sampled && core.settings.tail.is_some();
        let state = SpanState {
            core,
            sampled,
            operation,
            kind: operation.span_kind(),
            name: Cow::Borrowed(""),
            parent_span_id: parent.map_or(SpanId::INVALID, SpanContext::span_id),
            parent_is_remote: parent.is_some_and(SpanContext::is_remote),
            start: SystemTime::now(),
            attributes: super::buffers::attributes(),
            user_attributes: 0,
            dropped_attributes: 0,
            events: Vec::new(),
            dropped_events: 0,
            status: Status::Unset,
            error_type: None,
            provider: None,
            request_model: None,
            conversation_id_set: false,
            stream_flag_set: false,
            #[cfg(feature = "json")]
            content_truncated: false,
            response: ResponseData::default(),
            parent_tally,
            scope_root,
            held,
        };
        let frame = Frame {
            span: Some(span_context),
            tally: None,
            request,
            state: None,
            otel: None,
        };
        (state, frame)
    }

    /// What this span's metrics are recorded from.
    pub(crate) fn call_facts(&self) -> crate::metrics::CallFacts<'_> {
        crate::metrics::CallFacts {
            operation: self.operation,
            provider: self.provider.as_ref(),
            request_model: self.request_model.as_ref(),
            response_model: self.response.model.as_ref(),
            attributes: &self.attributes,
            error_type: self.error_type.as_ref(),
            usage: self.response.usage,
            time_to_first_chunk: self.response.stream.and_then(|s| s.time_to_first_chunk),
        }
    }

    pub(crate) fn capture_content(&self) -> bool {
        self.core.settings.capture_content
    }

    /// Appends an attribute this crate owns (semconv or `trace_llm.*` key).
    pub(crate) fn push_attr(&mut self, key: &'static str, value: impl Into<Value>) {
        self.attributes.push(KeyValue::new(key, value));
    }

    pub(crate) fn set_provider(&mut self, provider: Cow<'static, str>) {
        if self.provider.is_none() {
            self.push_attr(sc::GEN_AI_PROVIDER_NAME, provider.clone());
            self.provider = Some(provider);
        }
    }

    pub(crate) fn set_request_model(&mut self, model: &str) {
        if self.request_model.is_none() && !model.is_empty() {
            let model = super::local::intern(model);
            self.request_model = Some(model.clone());
            self.push_attr(sc::GEN_AI_REQUEST_MODEL, model);
        }
    }

    /// `server.address` and `server.port` from a base URL (`https://host[:port]/...`); the
    /// port defaults to the scheme's. A URL without a host sets nothing.
    pub(crate) fn set_server_from_url(&mut self, url: &str) {
        let Ok(uri) = url.trim().parse::<http::Uri>() else {
            return;
        };
        let Some(host) = uri.host().filter(|h| !h.is_empty()) else {
            return;
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        self.push_attr(sc::SERVER_ADDRESS, host);
        if let Some(port) = port {
            self.push_attr(sc::SERVER_PORT, i64::from(port));
        }
    }

    pub(crate) fn set_conversation_id(&mut self, id: &str) {
        if !self.conversation_id_set && !id.is_empty() {
            self.conversation_id_set = true;
            self.push_attr(sc::GEN_AI_CONVERSATION_ID, id.to_owned());
        }
    }

    pub(crate) fn set_stream_flag(&mut self, stream: bool) {
        if !self.stream_flag_set {
            self.stream_flag_set = true;
            self.push_attr(sc::GEN_AI_REQUEST_STREAM, stream);
        }
    }

    /// Sets a content attribute (content capture is on): masked, redacted, size-limited.
    #[cfg(feature = "json")]
    pub(crate) fn set_content(&mut self, key: &'static str, value: serde_json::Value) {
        let settings = &self.core.settings;
        let Some((text, truncated)) = crate::content::prepare(
            key,
            value,
            settings.content_max_bytes,
            settings.redact.as_ref(),
        ) else {
            return;
        };
        if let Some(existing) = self.attributes.iter_mut().find(|kv| kv.key.as_str() == key) {
            existing.value = text.into();
        } else {
            self.push_attr(key, text);
        }
        if truncated && !self.content_truncated {
            self.content_truncated = true;
            self.push_attr(sc::TRACE_LLM_CONTENT_TRUNCATED, true);
        }
    }

    /// Sets a plain-text content attribute (content capture is on).
    #[cfg(feature = "json")]
    pub(crate) fn set_content_text(&mut self, key: &'static str, text: &str) {
        let settings = &self.core.settings;
        let Some((text, truncated)) = crate::content::prepare_text(
            key,
            text,
            settings.content_max_bytes,
            settings.redact.as_ref(),
        ) else {
            return;
        };
        self.push_attr(key, text);
        if truncated && !self.content_truncated {
            self.content_truncated = true;
            self.push_attr(sc::TRACE_LLM_CONTENT_TRUNCATED, true);
        }
    }

    /// How many user-chosen attributes the span holds.
    #[cfg(feature = "tracing")]
    pub(crate) fn user_attribute_count(&self) -> usize {
        self.user_attributes
    }

    /// Sets a user-chosen attribute: replaces an earlier value of the same key; beyond
    /// [`MAX_USER_ATTRIBUTES`] the attribute is dropped and counted.
    pub(crate) fn set_user_attr(&mut self, key: Key, value: Value) {
        if let Some(existing) = self.attributes.iter_mut().find(|kv| kv.key == key) {
            existing.value = value;
            return;
        }
        self.add_user_attr(key, value);
    }

    /// Adds a user-chosen attribute whose key the span does not have yet (the caller knows:
    /// the `tracing` layer tracks which fields it added); bounded as
    /// [`set_user_attr`](Self::set_user_attr) is.
    pub(crate) fn add_user_attr(&mut self, key: Key, value: Value) {
        if self.user_attributes >= MAX_USER_ATTRIBUTES {
            self.dropped_attributes = self.dropped_attributes.saturating_add(1);
            return;
        }
        self.user_attributes += 1;
        self.attributes.push(KeyValue::new(key, value));
    }

    pub(crate) fn add_event(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        attributes: Vec<KeyValue>,
    ) {
        if self.events.len() >= MAX_EVENTS {
            self.dropped_events = self.dropped_events.saturating_add(1);
            return;
        }
        self.events
            .push(Event::new(name, SystemTime::now(), attributes, 0));
    }

    /// Status Error, `error.type` (the first error of the span wins), and an `exception`
    /// event with the type's full name and the message.
    pub(crate) fn record_error(
        &mut self,
        error_type: Cow<'static, str>,
        exception_type: &str,
        message: Option<String>,
    ) {
        let message = message.map(|m| truncate_utf8(&m, MAX_EXCEPTION_MESSAGE_BYTES).to_owned());
        let mut event_attrs = vec![KeyValue::new(sc::EXCEPTION_TYPE, exception_type.to_owned())];
        if let Some(m) = &message {
            event_attrs.push(KeyValue::new(sc::EXCEPTION_MESSAGE, m.clone()));
        }
        self.add_event(sc::EXCEPTION_EVENT, event_attrs);
        if self.error_type.is_none() {
            // The description says what happened; `error.type` already says which kind.
            self.status = Status::error(message.unwrap_or_default());
            self.error_type = Some(error_type);
        }
    }

    #[cfg(feature = "tracing")]
    /// Sets the status the application chose: an error is kept once set, Ok replaces
    /// Unset. A span with an error status counts as failed for the outcome rules.
    pub(crate) fn set_status(&mut self, status: Status) {
        match (&self.status, &status) {
            (Status::Error { .. }, _) => {}
            (_, Status::Unset) => {}
            _ => self.status = status,
        }
    }

    pub(crate) fn record_panic(&mut self, payload: Option<&(dyn Any + Send)>) {
        let message = payload.and_then(|p| {
            p.downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| p.downcast_ref::<String>().cloned())
        });
        self.record_error(Cow::Borrowed(sc::error_type::PANIC), "panic", message);
    }

    pub(crate) fn record_cancelled(&mut self) {
        if self.response.stream.is_some() {
            // A stream cut short never got its finish reasons: every choice still open
            // (at least one) ended in error.
            let reasons = &mut self.response.finish_reasons;
            if reasons.is_empty() {
                reasons.push(opentelemetry::StringValue::from(""));
            }
            for reason in reasons.iter_mut().filter(|r| r.as_str().is_empty()) {
                *reason = opentelemetry::StringValue::from("error");
            }
        }
        if self.error_type.is_none() {
            self.status = Status::error("");
            self.error_type = Some(Cow::Borrowed(sc::error_type::CANCELLED));
        }
    }

    /// What this span itself adds to the totals: for a model call with usage, one call with
    /// its tokens and, when its model has a known price at `now`, its cost (pico-dollars, so
    /// sums are exact).
    fn own_subtotal(&self, now: SystemTime) -> Subtotal {
        let usage = &self.response.usage;
        if !self.operation.is_inference() || usage.is_empty() {
            return Subtotal::default();
        }
        let cost = super::local::with_cache(|local| {
            self.core.settings.prices.cost(
                self.provider.as_deref(),
                self.response.model.as_ref(),
                self.request_model.as_ref(),
                usage,
                now,
                local.map(|l| &l.prices),
            )
        });
        Subtotal {
            input_tokens: usage.input_tokens.unwrap_or(0),
            output_tokens: usage.output_tokens.unwrap_or(0),
            inference_calls: 1,
            cost_pico_usd: cost.map_or(0, |c| (c * PICO_PER_USD).round() as u64),
            priced_calls: u64::from(cost.is_some()),
        }
    }

    /// The budget event on the span whose cost crossed the request's budget; the budget
    /// flag on the scope's root (which ends after the spans below it).
    fn check_budget(&mut self, budget: u64, before: u64, own: u64) {
        let after = before.saturating_add(own);
        let to_usd = |pico: u64| pico as f64 / super::tally::PICO_PER_USD;
        if own > 0 && before <= budget && after > budget {
            self.add_event(
                sc::TRACE_LLM_BUDGET_EXCEEDED_EVENT,
                vec![
                    KeyValue::new(sc::TRACE_LLM_BUDGET_USD, to_usd(budget)),
                    KeyValue::new(sc::TRACE_LLM_USAGE_TOTAL_COST, to_usd(after)),
                ],
            );
        }
        if self.scope_root && after > budget {
            self.push_attr(sc::TRACE_LLM_BUDGET_EXCEEDED, true);
        }
    }

    /// Ends the span: response attributes, roll-up to the ancestors and the request, export.
    /// `frame` is the span's own frame (its context, its tally, the request context). The
    /// box and the tally stay on this thread for the next spans.
    pub(crate) fn finish(mut self: Box<Self>, mut frame: Box<Frame>) {
        self.end(&mut frame);
        if let Some(tally) = frame.tally.take() {
            super::reuse::release_tally(tally);
        }
        super::reuse::release_state(self);
        super::reuse::release_frame(frame);
    }

    fn end(&mut self, frame: &mut Frame) {
        let end = SystemTime::now();
        let failed = self.error_type.is_some() || matches!(self.status, Status::Error { .. });
        if let Some(metrics) = &self.core.settings.metrics {
            let duration = end.duration_since(self.start).unwrap_or_default();
            metrics.record_end(&self.call_facts(), duration.as_secs_f64());
        }
        let own = self.own_subtotal(end);
        let descendants = frame
            .tally
            .as_ref()
            .map(|t| t.snapshot())
            .unwrap_or_default();
        let mut total = own;
        total.add(descendants);
        // Released now, so the parent's tally can be reused as soon as the parent ends.
        if let Some(parent) = self.parent_tally.take() {
            parent.add(total);
        }
        if let Some(request) = &frame.request {
            let before = request.totals.add(own);
            if let Some(budget) = request.budget_pico() {
                self.check_budget(budget, before, own.cost_pico_usd);
            }
        }
        if !self.sampled && !self.held {
            return;
        }

        #[cfg(feature = "json")]
        if let Some(streamed) = self.response.streamed.take() {
            if !self.response.output_recorded {
                let messages = streamed.to_messages(&self.response.finish_reasons);
                self.set_content(sc::GEN_AI_OUTPUT_MESSAGES, messages);
            }
        }
        // Read before the response's values move into the attributes.
        let truncated = self.response.truncated_by_length();
        let mut attributes = std::mem::take(&mut self.attributes);
        let model_call = self.operation.is_inference();
        // An agent or tool reports usage only when no model call below it does (a remote
        // agent): a backend summing `gen_ai.usage.*` over the trace counts each token once.
        let own_usage = model_call || total.inference_calls == own.inference_calls;
        let latest = self.core.settings.latest_conventions;
        self.response
            .write_attributes(&mut attributes, model_call, own_usage, latest);
        if let Some(error_type) = self.error_type.take() {
            attributes.push(KeyValue::new(sc::ERROR_TYPE, error_type));
        }
        if own.priced_calls > 0 {
            // The pico-dollar value, so that an ancestor's total is the sum of its leaves.
            attributes.push(KeyValue::new(sc::TRACE_LLM_USAGE_COST, own.cost_usd()));
        }
        if !descendants.is_empty() {
            if total.priced_calls > 0 {
                attributes.push(KeyValue::new(
                    sc::TRACE_LLM_USAGE_TOTAL_COST,
                    total.cost_usd(),
                ));
            }
            let unpriced = total.inference_calls.saturating_sub(total.priced_calls);
            if unpriced > 0 {
                attributes.push(KeyValue::new(
                    sc::TRACE_LLM_USAGE_UNPRICED_CALLS,
                    i64::try_from(unpriced).unwrap_or(i64::MAX),
                ));
            }
            attributes.push(KeyValue::new(
                sc::TRACE_LLM_USAGE_TOTAL_INPUT_TOKENS,
                total.input_tokens,
            ));
            attributes.push(KeyValue::new(
                sc::TRACE_LLM_USAGE_TOTAL_OUTPUT_TOKENS,
                total.output_tokens,
            ));
            attributes.push(KeyValue::new(
                sc::TRACE_LLM_USAGE_INFERENCE_CALLS,
                total.inference_calls as i64,
            ));
        }
        if truncated {
            self.add_event(sc::TRACE_LLM_RESPONSE_TRUNCATED_EVENT, Vec::new());
        }
        // `openai.*` keys belong to OpenAI and Azure OpenAI spans only. An OpenAI-shaped
        // request read before the response named another provider (Ollama, Groq, ...) may
        // have set them; the provider is known for sure only now.
        if self
            .provider
            .as_deref()
            .is_some_and(|p| !matches!(p, "openai" | "azure.ai.openai"))
        {
            attributes.retain(|kv| !kv.key.as_str().starts_with("openai."));
        }

        super::buffers::note_attributes(attributes.len());
        let Some(span_context) = frame.span.take() else {
            return;
        };
        let mut events = SpanEvents::default();
        events.events = std::mem::take(&mut self.events);
        events.dropped_count = self.dropped_events;
        let core = self.core;
        let data = SpanData {
            span_context,
            parent_span_id: self.parent_span_id,
            parent_span_is_remote: self.parent_is_remote,
            span_kind: self.kind.clone(),
            name: std::mem::take(&mut self.name),
            start_time: self.start,
            end_time: end.max(self.start),
            attributes,
            dropped_attributes_count: self.dropped_attributes,
            events,
            links: SpanLinks::default(),
            // Success stays Unset: OpenTelemetry reserves Ok for the application's own
            // override, and the GenAI conventions leave a successful call's status unset.
            status: std::mem::replace(&mut self.status, Status::Unset),
            instrumentation_scope: core.settings.scope.clone(),
        };
        if self.held {
            core.sink.hold(
                data,
                super::Outcome {
                    failed,
                    duration: end.duration_since(self.start).unwrap_or_default(),
                    cost_usd: total.cost_usd(),
                },
            );
        } else {
            core.sink.submit(data);
        }
    }
}
