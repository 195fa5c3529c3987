//! Recorders: the only way extraction code writes to a span. They own the semconv keys and
//! the content opt-in.

use std::borrow::Cow;

use opentelemetry::{KeyValue, StringValue, Value};

#[cfg(feature = "json")]
use super::streamed::StreamedOutput;
use super::{Operation, SpanState};
use crate::semconv as sc;
use crate::usage::Usage;

/// What a traced stream or iterator saw.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StreamStats {
    pub(crate) chunks: u64,
    pub(crate) time_to_first_chunk: Option<f64>,
}

/// Response-side values, gathered from a response or from chunks and turned into
/// attributes once, when the span ends (so chunks can update them freely).
#[derive(Debug, Default)]
pub(crate) struct ResponseData {
    pub(crate) id: Option<String>,
    /// Interned: response models repeat.
    pub(crate) model: Option<Cow<'static, str>>,
    /// One slot per choice index, interned; a choice without a reason yet is empty. Kept
    /// as the attribute's own element type, so the span takes the vector as it is.
    pub(crate) finish_reasons: Vec<StringValue>,
    pub(crate) usage: Usage,
    pub(crate) dimension_count: Option<i64>,
    pub(crate) documents: Option<(i64, Option<f64>)>,
    pub(crate) stream: Option<StreamStats>,
    /// Provider-specific response attributes (`openai.response.service_tier`, ...).
    pub(crate) extra: Vec<KeyValue>,
    /// Whether the stream item being recorded carried output (text, reasoning, a tool
    /// call) or was a lifecycle or keep-alive event; `None` when its extractor did not say
    /// (it then counts as output).
    pub(crate) chunk_output: Option<bool>,
    /// Streamed output, accumulated from deltas (content capture on only).
    #[cfg(feature = "json")]
    pub(crate) streamed: Option<StreamedOutput>,
    /// Output messages were recorded whole (so deltas are not needed).
    #[cfg(feature = "json")]
    pub(crate) output_recorded: bool,
}

impl ResponseData {
    /// Moves the response attributes into `attributes`.
    /// `model_call`: the span is an inference or embeddings call, the only kind that carries
    /// `gen_ai.response.time_to_first_chunk`. `own_usage`: the span reports `gen_ai.usage.*`
    /// itself; a span whose model calls are traced below it does not, so that a backend
    /// summing usage over a trace counts each token once (its roll-up is
    /// `trace_llm.usage.total_*`).
    pub(crate) fn write_attributes(
        &mut self,
        attributes: &mut Vec<KeyValue>,
        model_call: bool,
        own_usage: bool,
        latest: bool,
    ) {
        if let Some(id) = self.id.take() {
            attributes.push(KeyValue::new(sc::GEN_AI_RESPONSE_ID, id));
        }
        if let Some(model) = self.model.take() {
            attributes.push(KeyValue::new(sc::GEN_AI_RESPONSE_MODEL, model));
        }
        if !self.finish_reasons.is_empty() {
            let reasons = std::mem::take(&mut self.finish_reasons);
            attributes.push(KeyValue::new(
                sc::GEN_AI_RESPONSE_FINISH_REASONS,
                Value::Array(reasons.into()),
            ));
        }
        let u = if own_usage {
            self.usage
        } else {
            Usage::default()
        };
        for (key, value) in [
            (sc::GEN_AI_USAGE_INPUT_TOKENS, u.input_tokens),
            (sc::GEN_AI_USAGE_OUTPUT_TOKENS, u.output_tokens),
            (
                sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                u.cache_read_input_tokens,
            ),
            (
                if latest {
                    sc::latest::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS
                } else {
                    sc::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
                },
                u.cache_creation_input_tokens,
            ),
            (
                sc::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
                u.reasoning_output_tokens,
            ),
        ] {
            if let Some(v) = value {
                attributes.push(KeyValue::new(key, v));
            }
        }
        if let Some(n) = self.dimension_count {
            attributes.push(KeyValue::new(sc::GEN_AI_EMBEDDINGS_DIMENSION_COUNT, n));
        }
        if let Some((count, top)) = self.documents {
            attributes.push(KeyValue::new(sc::TRACE_LLM_RETRIEVAL_DOCUMENTS, count));
            if let Some(top) = top {
                attributes.push(KeyValue::new(sc::TRACE_LLM_RETRIEVAL_TOP_SCORE, top));
            }
        }
        if let Some(stream) = &self.stream {
            attributes.push(KeyValue::new(
                sc::TRACE_LLM_STREAM_CHUNKS,
                stream.chunks as i64,
            ));
            if let Some(ttfc) = stream.time_to_first_chunk.filter(|_| model_call) {
                attributes.push(KeyValue::new(sc::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, ttfc));
            }
        }
        attributes.append(&mut self.extra);
    }

    /// Finish reasons that mean the output was cut by a length limit.
    pub(crate) fn truncated_by_length(&self) -> bool {
        self.finish_reasons
            .iter()
            .any(|r| matches!(r.as_str(), "length" | "max_tokens" | "max_output_tokens"))
    }
}

/// Records a request's settings on the span; handed to
/// [`GenAiRequest::record_request`](crate::GenAiRequest::record_request).
pub struct RequestRecorder<'a> {
    pub(crate) state: &'a mut SpanState,
}

impl RequestRecorder<'_> {
    /// `gen_ai.request.model` (ignored when the model was already given).
    pub fn model(&mut self, model: &str) {
        self.state.set_request_model(model);
    }

    /// `gen_ai.request.temperature`.
    pub fn temperature(&mut self, value: f64) {
        self.state.push_attr(sc::GEN_AI_REQUEST_TEMPERATURE, value);
    }

    /// `gen_ai.request.max_tokens`.
    pub fn max_tokens(&mut self, value: i64) {
        self.state.push_attr(sc::GEN_AI_REQUEST_MAX_TOKENS, value);
    }

    /// `gen_ai.request.top_p`.
    pub fn top_p(&mut self, value: f64) {
        self.state.push_attr(sc::GEN_AI_REQUEST_TOP_P, value);
    }

    /// `gen_ai.request.top_k`: sampling top-k, or the number of documents a retrieval asks
    /// for.
    pub fn top_k(&mut self, value: f64) {
        self.state.push_attr(sc::GEN_AI_REQUEST_TOP_K, value);
    }

    /// `gen_ai.request.frequency_penalty`.
    pub fn frequency_penalty(&mut self, value: f64) {
        self.state
            .push_attr(sc::GEN_AI_REQUEST_FREQUENCY_PENALTY, value);
    }

    /// `gen_ai.request.presence_penalty`.
    pub fn presence_penalty(&mut self, value: f64) {
        self.state
            .push_attr(sc::GEN_AI_REQUEST_PRESENCE_PENALTY, value);
    }

    /// `gen_ai.request.stop_sequences` (string array).
    pub fn stop_sequences<I, S>(&mut self, sequences: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.state
            .push_attr(sc::GEN_AI_REQUEST_STOP_SEQUENCES, string_array(sequences));
    }

    /// `gen_ai.request.seed`.
    pub fn seed(&mut self, value: i64) {
        self.state.push_attr(sc::GEN_AI_REQUEST_SEED, value);
    }

    /// `gen_ai.request.stream`.
    pub fn stream(&mut self, value: bool) {
        self.state.set_stream_flag(value);
    }

    /// `gen_ai.request.choice.count`, recorded only when it is not 1 (as the conventions ask).
    pub fn choice_count(&mut self, n: i64) {
        if n != 1 {
            self.state.push_attr(sc::GEN_AI_REQUEST_CHOICE_COUNT, n);
        }
    }

    /// `gen_ai.request.encoding_formats` (string array).
    pub fn encoding_formats<I, S>(&mut self, formats: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.state
            .push_attr(sc::GEN_AI_REQUEST_ENCODING_FORMATS, string_array(formats));
    }

    /// `gen_ai.output.type`: `text`, `json`, `image` or `speech`.
    pub fn output_type(&mut self, output_type: &str) {
        self.state
            .push_attr(sc::GEN_AI_OUTPUT_TYPE, output_type.to_owned());
    }

    /// `server.address` and `server.port` of the model endpoint.
    pub fn server(&mut self, address: &str, port: Option<u16>) {
        self.state.push_attr(sc::SERVER_ADDRESS, address.to_owned());
        if let Some(port) = port {
            self.state.push_attr(sc::SERVER_PORT, i64::from(port));
        }
    }

    /// `gen_ai.conversation.id`, when the request itself names its conversation.
    pub fn conversation_id(&mut self, id: &str) {
        self.state.set_conversation_id(id);
    }

    /// Whether the user opted in to content capture. Content setters are no-ops when off,
    /// so checking first only saves building the value.
    pub fn capture_content(&self) -> bool {
        self.state.capture_content()
    }

    /// A provider-specific attribute from [`semconv`](crate::semconv).
    #[cfg(feature = "json")]
    pub(crate) fn attr(&mut self, key: &'static str, value: impl Into<Value>) {
        self.state.push_attr(key, value);
    }
}

/// Content setters: they run `build` only when content capture is on; the value passes the
/// secret masking, the user's redaction hook and the size limit before it is set.
#[cfg(feature = "json")]
impl RequestRecorder<'_> {
    /// `gen_ai.input.messages`, in the semconv input-messages schema.
    pub fn input_messages(&mut self, build: impl FnOnce() -> serde_json::Value) {
        if self.capture_content() {
            self.state.set_content(sc::GEN_AI_INPUT_MESSAGES, build());
        }
    }

    /// `gen_ai.system_instructions`, in the semconv system-instructions schema.
    pub fn system_instructions(&mut self, build: impl FnOnce() -> serde_json::Value) {
        if self.capture_content() {
            self.state
                .set_content(sc::GEN_AI_SYSTEM_INSTRUCTIONS, build());
        }
    }

    /// `gen_ai.tool.definitions`, in the semconv tool-definitions schema.
    pub fn tool_definitions(&mut self, build: impl FnOnce() -> serde_json::Value) {
        if self.capture_content() {
            self.state.set_content(sc::GEN_AI_TOOL_DEFINITIONS, build());
        }
    }
}

/// Records a response or a stream chunk on the span; handed to
/// [`GenAiResponse::record_response`](crate::GenAiResponse::record_response) and
/// [`GenAiChunk::record_chunk`](crate::GenAiChunk::record_chunk).
pub struct ResponseRecorder<'a> {
    pub(crate) state: &'a mut SpanState,
}

impl ResponseRecorder<'_> {
    /// `gen_ai.response.id` (the first one seen is kept).
    pub fn id(&mut self, id: &str) {
        let data = &mut self.state.response;
        if data.id.is_none() && !id.is_empty() {
            data.id = Some(crate::span::buffers::id(id));
        }
    }

    /// `gen_ai.response.model` (the first one seen is kept).
    pub fn model(&mut self, model: &str) {
        let data = &mut self.state.response;
        if data.model.is_none() && !model.is_empty() {
            data.model = Some(super::local::intern(model));
        }
    }

    /// The provider's finish reason of choice `choice_index`; the span gets one entry of
    /// `gen_ai.response.finish_reasons` per choice.
    pub fn finish_reason(&mut self, choice_index: usize, reason: &str) {
        // Bound the vector: a hostile index must not allocate gigabytes.
        const MAX_CHOICES: usize = 128;
        if choice_index >= MAX_CHOICES {
            return;
        }
        let reasons = &mut self.state.response.finish_reasons;
        if reasons.len() <= choice_index {
            if reasons.capacity() == 0 {
                *reasons = crate::span::buffers::reasons();
            }
            // Exact: almost every response has one choice.
            reasons.reserve_exact(choice_index + 1 - reasons.len());
            reasons.resize(choice_index + 1, StringValue::from(""));
        }
        reasons[choice_index] = StringValue::from(super::local::intern_reason(reason));
    }

    /// Token usage; fields set here replace earlier values (streams report running totals).
    pub fn usage(&mut self, usage: Usage) {
        self.state.response.usage.merge(usage);
    }

    /// `gen_ai.embeddings.dimension.count`.
    pub fn embeddings_dimension_count(&mut self, n: i64) {
        self.state.response.dimension_count = Some(n);
    }

    /// Number of documents a retrieval returned and the best score among them
    /// (`trace_llm.retrieval.documents`, `trace_llm.retrieval.top_score`).
    pub fn retrieved_documents(&mut self, count: i64, top_score: Option<f64>) {
        self.state.response.documents = Some((count, top_score));
    }

    /// Whether the user opted in to content capture.
    pub fn capture_content(&self) -> bool {
        self.state.capture_content()
    }

    /// An error the provider reported inside a successful response or stream (an `error`
    /// event, a `failed` response): status Error, `error.type`, an `exception` event.
    pub fn error(&mut self, error_type: &str, message: &str) {
        let message = (!message.is_empty()).then(|| message.to_owned());
        self.state
            .record_error(error_type.to_owned().into(), "provider_error", message);
    }

    /// A `gen_ai.evaluation.result` event.
    pub fn evaluation(&mut self, evaluation: &Evaluation) {
        let mut attributes = vec![KeyValue::new(
            sc::GEN_AI_EVALUATION_NAME,
            evaluation.name.clone(),
        )];
        if let Some(score) = evaluation.score {
            attributes.push(KeyValue::new(sc::GEN_AI_EVALUATION_SCORE_VALUE, score));
        }
        if let Some(label) = &evaluation.label {
            attributes.push(KeyValue::new(
                sc::GEN_AI_EVALUATION_SCORE_LABEL,
                label.clone(),
            ));
        }
        if let Some(id) = &evaluation.response_id {
            attributes.push(KeyValue::new(sc::GEN_AI_RESPONSE_ID, id.clone()));
        }
        if let Some(explanation) = &evaluation.explanation {
            let explanation = crate::util::truncate_utf8(explanation, 1024).to_owned();
            attributes.push(KeyValue::new(
                sc::GEN_AI_EVALUATION_EXPLANATION,
                explanation,
            ));
        }
        self.state
            .add_event(sc::GEN_AI_EVALUATION_RESULT_EVENT, attributes);
    }

    /// An error with its `error.type` and `exception.type`.
    pub(crate) fn error_of_type(
        &mut self,
        error_type: std::borrow::Cow<'static, str>,
        exception_type: &str,
        message: String,
    ) {
        self.state
            .record_error(error_type, exception_type, Some(message));
    }

    /// Says whether the stream chunk being recorded carries output (text, reasoning, tool
    /// call pieces) or is a lifecycle or keep-alive event. Only output chunks count in the
    /// time-per-output-chunk metric; a chunk nobody classified counts as output.
    pub fn chunk_has_output(&mut self, has_output: bool) {
        let seen = self.state.response.chunk_output.unwrap_or(false);
        self.state.response.chunk_output = Some(seen || has_output);
    }

    /// Usage recorded so far on this span (streams report it in pieces).
    pub fn usage_so_far(&self) -> Usage {
        self.state.response.usage
    }

    /// A provider-specific response attribute from [`semconv`](crate::semconv).
    #[cfg(feature = "json")]
    pub(crate) fn attr(&mut self, key: &'static str, value: impl Into<Value>) {
        let kv = KeyValue::new(key, value);
        let extra = &mut self.state.response.extra;
        if let Some(existing) = extra.iter_mut().find(|e| e.key == kv.key) {
            *existing = kv;
        } else {
            extra.push(kv);
        }
    }
}

/// Content setters (content capture on only; see [`RequestRecorder::input_messages`]).
#[cfg(feature = "json")]
impl ResponseRecorder<'_> {
    /// `gen_ai.output.messages`, in the semconv output-messages schema.
    pub fn output_messages(&mut self, build: impl FnOnce() -> serde_json::Value) {
        if self.capture_content() {
            self.state.response.output_recorded = true;
            self.state.set_content(sc::GEN_AI_OUTPUT_MESSAGES, build());
        }
    }

    /// `gen_ai.retrieval.documents` (`[{"id", "score"}]`).
    pub fn retrieval_documents(&mut self, build: impl FnOnce() -> serde_json::Value) {
        if self.capture_content() {
            self.state
                .set_content(sc::GEN_AI_RETRIEVAL_DOCUMENTS, build());
        }
    }
}

/// What both recorders tell extraction code about the span they write into.
macro_rules! span_facts {
    ($recorder:ident) => {
        impl $recorder<'_> {
            /// The span's operation (from the macro's `kind`), for payloads whose shape alone
            /// is ambiguous (an embeddings `input` versus a Responses API `input`).
            pub fn operation(&self) -> Operation {
                self.state.operation
            }

            /// The span's `gen_ai.provider.name`, if set.
            pub fn provider(&self) -> Option<&str> {
                self.state.provider.as_deref()
            }

            /// Sets `gen_ai.provider.name` from the payload's shape, unless the span has one.
            #[cfg(feature = "json")]
            pub(crate) fn infer_provider(&mut self, provider: &'static str) {
                self.state.set_provider(Cow::Borrowed(provider));
            }
        }
    };
}

span_facts!(RequestRecorder);
span_facts!(ResponseRecorder);

/// The result of an evaluator (LLM-as-judge, heuristic check): returned from a decorated
/// function, it is recorded as a `gen_ai.evaluation.result` event.
///
/// ```
/// use trace_llm::{trace_llm, Evaluation};
///
/// #[trace_llm(name = "evaluate relevance")]
/// fn judge(answer: &str) -> Evaluation {
///     Evaluation::new("Relevance").score(0.8).label("relevant")
/// }
/// # judge("x");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// `gen_ai.evaluation.name`: the metric (`Relevance`, `IntentResolution`).
    pub name: Cow<'static, str>,
    /// `gen_ai.evaluation.score.value`.
    pub score: Option<f64>,
    /// `gen_ai.evaluation.score.label` (low-cardinality: `pass`, `fail`, `relevant`).
    pub label: Option<String>,
    /// `gen_ai.evaluation.explanation`.
    pub explanation: Option<String>,
    /// `gen_ai.response.id` of the response evaluated, which ties the result to its call.
    pub response_id: Option<String>,
}

impl Evaluation {
    /// An evaluation of the metric `name`.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Evaluation {
            name: name.into(),
            score: None,
            label: None,
            explanation: None,
            response_id: None,
        }
    }

    /// The score.
    pub fn score(mut self, score: f64) -> Self {
        self.score = Some(score);
        self
    }

    /// The label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The explanation.
    pub fn explanation(mut self, explanation: impl Into<String>) -> Self {
        self.explanation = Some(explanation.into());
        self
    }

    /// The id of the response evaluated (its `gen_ai.response.id`).
    ///
    /// ```
    /// let result = trace_llm::Evaluation::new("Relevance").score(0.9).response_id("chatcmpl-123");
    /// assert_eq!(result.response_id.as_deref(), Some("chatcmpl-123"));
    /// ```
    pub fn response_id(mut self, id: impl Into<String>) -> Self {
        self.response_id = Some(id.into());
        self
    }
}

/// A string-array attribute value.
fn string_array<I, S>(items: I) -> Value
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let values: Vec<StringValue> = items
        .into_iter()
        .map(|s| StringValue::from(s.into()))
        .collect();
    Value::Array(values.into())
}
