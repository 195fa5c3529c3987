//! Extraction for `async-openai` types (feature `async-openai`): chat completions (request,
//! response, stream chunk), embeddings, the Responses API (request, response, stream
//! events), and `error.type` for `OpenAIError`.
//!
//! Settings, usage, ids and finish reasons are read field by field. Content is serialised
//! (and converted to the semconv message schema) only when content capture is on.

use std::borrow::Cow;

use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    CompletionUsage, CreateChatCompletionRequest, CreateChatCompletionResponse,
    CreateChatCompletionStreamResponse, FinishReason, ResponseFormat, StopConfiguration,
};
use async_openai::types::embeddings::{
    CreateBase64EmbeddingResponse, CreateEmbeddingRequest, CreateEmbeddingResponse,
};
use async_openai::types::responses::{
    CreateResponse, InputParam, OutputItem, OutputStatus, Response, ResponseStreamEvent, Status,
};
use serde::Serialize;
use serde_json::Value;

use super::json::messages;
use super::{
    ErrorType, GenAiChunk, GenAiRequest, GenAiResponse, RequestRecorder, ResponseRecorder, Usage,
};
use crate::semconv as sc;

/// `f32` settings as the decimal the user wrote (`0.7`, not `0.699999988079071`).
fn widen(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}

/// The serde name of a unit enum value (`FinishReason::ToolCalls` → `tool_calls`).
fn serde_name<T: Serialize>(value: &T) -> Option<String> {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn to_value<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::FunctionCall => "function_call",
    }
}

fn chat_usage(usage: &CompletionUsage) -> Usage {
    let mut u = Usage::new(
        i64::from(usage.prompt_tokens),
        i64::from(usage.completion_tokens),
    );
    u.cache_read_input_tokens = usage
        .prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cached_tokens)
        .map(i64::from);
    u.reasoning_output_tokens = usage
        .completion_tokens_details
        .as_ref()
        .and_then(|d| d.reasoning_tokens)
        .map(i64::from);
    u
}

impl GenAiRequest for CreateChatCompletionRequest {
    fn model(&self) -> Option<&str> {
        Some(&self.model)
    }

    fn record_request(&self, rec: &mut RequestRecorder<'_>) {
        if let Some(t) = self.temperature {
            rec.temperature(widen(t));
        }
        #[allow(deprecated)] // still accepted by the API and by OpenAI-compatible servers
        if let Some(n) = self.max_completion_tokens.or(self.max_tokens) {
            rec.max_tokens(i64::from(n));
        }
        if let Some(p) = self.top_p {
            rec.top_p(widen(p));
        }
        if let Some(p) = self.frequency_penalty {
            rec.frequency_penalty(widen(p));
        }
        if let Some(p) = self.presence_penalty {
            rec.presence_penalty(widen(p));
        }
        match &self.stop {
            Some(StopConfiguration::String(s)) => rec.stop_sequences([s.clone()]),
            Some(StopConfiguration::StringArray(v)) if !v.is_empty() => {
                rec.stop_sequences(v.iter().cloned())
            }
            _ => {}
        }
        #[allow(deprecated)] // still accepted by the API
        if let Some(seed) = self.seed {
            rec.seed(seed);
        }
        if self.stream == Some(true) {
            rec.stream(true);
        }
        if let Some(n) = self.n {
            rec.choice_count(i64::from(n));
        }
        match &self.response_format {
            Some(ResponseFormat::Text) => rec.output_type("text"),
            Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. }) => {
                rec.output_type("json")
            }
            _ => {}
        }
        if let Some(tier) = self
            .service_tier
            .as_ref()
            .and_then(serde_name)
            .filter(|t| t != "auto")
        {
            rec.attr(sc::OPENAI_REQUEST_SERVICE_TIER, tier);
        }
        rec.attr(sc::OPENAI_API_TYPE, "chat_completions");
        if rec.capture_content() {
            rec.input_messages(|| match to_value(&self.messages) {
                Value::Array(msgs) => messages::input_messages(&msgs),
                _ => Value::Array(Vec::new()),
            });
            if let Some(tools) = &self.tools {
                if let Value::Array(tools) = to_value(tools) {
                    rec.tool_definitions(|| messages::tool_definitions(&tools));
                }
            }
        }
    }
}

impl GenAiResponse for CreateChatCompletionResponse {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        rec.id(&self.id);
        rec.model(&self.model);
        for choice in &self.choices {
            if let Some(reason) = choice.finish_reason {
                rec.finish_reason(choice.index as usize, finish_reason(reason));
            }
        }
        if let Some(usage) = &self.usage {
            rec.usage(chat_usage(usage));
        }
        #[allow(deprecated)] // still sent by the API, and a recommended attribute
        if let Some(fp) = &self.system_fingerprint {
            rec.attr(sc::OPENAI_RESPONSE_SYSTEM_FINGERPRINT, fp.clone());
        }
        if let Some(tier) = self.service_tier.as_ref().and_then(serde_name) {
            rec.attr(sc::OPENAI_RESPONSE_SERVICE_TIER, tier);
        }
        if rec.capture_content() {
            rec.output_messages(|| {
                Value::Array(
                    self.choices
                        .iter()
                        .map(|c| {
                            messages::output_message(
                                &to_value(&c.message),
                                c.finish_reason.map(finish_reason),
                            )
                        })
                        .collect(),
                )
            });
        }
    }
}

impl GenAiChunk for CreateChatCompletionStreamResponse {
    fn record_chunk(&self, rec: &mut ResponseRecorder<'_>) {
        rec.id(&self.id);
        rec.model(&self.model);
        let capture = rec.capture_content();
        rec.chunk_has_output(self.choices.iter().any(|c| {
            c.delta.content.as_deref().is_some_and(|t| !t.is_empty())
                || c.delta.tool_calls.as_ref().is_some_and(|t| !t.is_empty())
        }));
        for choice in &self.choices {
            let index = choice.index as usize;
            if let Some(reason) = choice.finish_reason {
                rec.finish_reason(index, finish_reason(reason));
            }
            if !capture {
                continue;
            }
            if let Some(text) = &choice.delta.content {
                rec.output_text_delta(index, text);
            }
            for call in choice.delta.tool_calls.iter().flatten() {
                let function = call.function.as_ref();
                rec.tool_call_delta(
                    index,
                    call.index as usize,
                    call.id.as_deref(),
                    function.and_then(|f| f.name.as_deref()),
                    function.and_then(|f| f.arguments.as_deref()).unwrap_or(""),
                );
            }
        }
        if let Some(usage) = &self.usage {
            rec.usage(chat_usage(usage));
        }
        #[allow(deprecated)] // still sent by the API, and a recommended attribute
        if let Some(fp) = &self.system_fingerprint {
            rec.attr(sc::OPENAI_RESPONSE_SYSTEM_FINGERPRINT, fp.clone());
        }
        if let Some(tier) = self.service_tier.as_ref().and_then(serde_name) {
            rec.attr(sc::OPENAI_RESPONSE_SERVICE_TIER, tier);
        }
    }
}

impl GenAiRequest for CreateEmbeddingRequest {
    fn model(&self) -> Option<&str> {
        Some(&self.model)
    }

    fn record_request(&self, rec: &mut RequestRecorder<'_>) {
        if let Some(format) = self.encoding_format.as_ref().and_then(serde_name) {
            rec.encoding_formats([format]);
        }
    }
}

impl GenAiResponse for CreateEmbeddingResponse {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        rec.model(&self.model);
        rec.usage(Usage::input(i64::from(self.usage.prompt_tokens)));
        if let Some(first) = self.data.first() {
            rec.embeddings_dimension_count(first.embedding.len() as i64);
        }
    }
}

impl GenAiResponse for CreateBase64EmbeddingResponse {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        rec.model(&self.model);
        rec.usage(Usage::input(i64::from(self.usage.prompt_tokens)));
        if let Some(first) = self.data.first() {
            // Little-endian f32 values, base64-encoded.
            let decoded = super::json::base64_decoded_len(&first.embedding.0);
            rec.embeddings_dimension_count(decoded as i64 / 4);
        }
    }
}

impl GenAiRequest for CreateResponse {
    fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    fn record_request(&self, rec: &mut RequestRecorder<'_>) {
        if let Some(t) = self.temperature {
            rec.temperature(widen(t));
        }
        if let Some(n) = self.max_output_tokens {
            rec.max_tokens(i64::from(n));
        }
        if let Some(p) = self.top_p {
            rec.top_p(widen(p));
        }
        if self.stream == Some(true) {
            rec.stream(true);
        }
        if let Some(format) = self.text.as_ref().and_then(|t| {
            super::json::entry(&to_value(&t.format), "type")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }) {
            rec.output_type(if format == "text" { "text" } else { "json" });
        }
        if let Some(tier) = self
            .service_tier
            .as_ref()
            .and_then(serde_name)
            .filter(|t| t != "auto")
        {
            rec.attr(sc::OPENAI_REQUEST_SERVICE_TIER, tier);
        }
        rec.attr(sc::OPENAI_API_TYPE, "responses");
        if rec.capture_content() {
            rec.input_messages(|| match &self.input {
                InputParam::Text(text) => messages::responses_input(&Value::String(text.clone())),
                items => messages::responses_input(&to_value(items)),
            });
            if let Some(instructions) = &self.instructions {
                rec.system_instructions(|| {
                    messages::system_instructions(&Value::String(instructions.clone()))
                });
            }
            if let Some(tools) = &self.tools {
                if let Value::Array(tools) = to_value(tools) {
                    rec.tool_definitions(|| messages::tool_definitions(&tools));
                }
            }
        }
    }
}

/// Finish reasons as the official OpenAI instrumentation derives them for the Responses
/// API (see the JSON extractor).
fn responses_finish_reasons(response: &Response) -> Vec<String> {
    let incomplete = response
        .incomplete_details
        .as_ref()
        .map(|d| d.reason.clone());
    let mut reasons: Vec<String> = Vec::new();
    for item in &response.output {
        let reason = match item {
            OutputItem::FunctionCall(call) => match call.status {
                Some(OutputStatus::Completed | OutputStatus::Incomplete) => {
                    Some("tool_calls".to_owned())
                }
                _ => None,
            },
            OutputItem::Message(message) => match message.status {
                OutputStatus::Completed => Some("stop".to_owned()),
                OutputStatus::Incomplete => {
                    Some(incomplete.clone().unwrap_or_else(|| "incomplete".into()))
                }
                OutputStatus::InProgress => None,
            },
            _ => None,
        };
        if let Some(reason) = reason.filter(|r| !reasons.contains(r)) {
            reasons.push(reason);
        }
    }
    if reasons.is_empty() {
        reasons.extend(incomplete);
    }
    reasons
}

impl GenAiResponse for Response {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        rec.id(&self.id);
        rec.model(&self.model);
        for (i, reason) in responses_finish_reasons(self).iter().enumerate() {
            rec.finish_reason(i, reason);
        }
        if let Some(usage) = &self.usage {
            let mut u = Usage::new(
                i64::from(usage.input_tokens),
                i64::from(usage.output_tokens),
            );
            u.cache_read_input_tokens = Some(i64::from(usage.input_tokens_details.cached_tokens));
            u.reasoning_output_tokens =
                Some(i64::from(usage.output_tokens_details.reasoning_tokens));
            rec.usage(u);
        }
        if let Some(tier) = self.service_tier.as_ref().and_then(serde_name) {
            rec.attr(sc::OPENAI_RESPONSE_SERVICE_TIER, tier);
        }
        if self.status == Status::Failed {
            let error = self.error.as_ref();
            let code = error
                .and_then(|e| serde_name(&e.code))
                .unwrap_or_else(|| "failed".into());
            rec.error(&code, error.map_or("", |e| e.message.as_str()));
        }
        if rec.capture_content() {
            rec.output_messages(|| match to_value(&self.output) {
                Value::Array(items) => messages::responses_output(&items),
                _ => Value::Array(Vec::new()),
            });
        }
    }
}

impl GenAiChunk for ResponseStreamEvent {
    fn record_chunk(&self, rec: &mut ResponseRecorder<'_>) {
        rec.chunk_has_output(matches!(
            self,
            ResponseStreamEvent::ResponseOutputTextDelta(_)
                | ResponseStreamEvent::ResponseFunctionCallArgumentsDelta(_)
                | ResponseStreamEvent::ResponseRefusalDelta(_)
                | ResponseStreamEvent::ResponseReasoningSummaryTextDelta(_)
        ));
        match self {
            ResponseStreamEvent::ResponseCreated(e) => {
                rec.id(&e.response.id);
                rec.model(&e.response.model);
            }
            ResponseStreamEvent::ResponseInProgress(e) => {
                rec.id(&e.response.id);
                rec.model(&e.response.model);
            }
            ResponseStreamEvent::ResponseCompleted(e) => e.response.record_response(rec),
            ResponseStreamEvent::ResponseIncomplete(e) => e.response.record_response(rec),
            ResponseStreamEvent::ResponseFailed(e) => e.response.record_response(rec),
            ResponseStreamEvent::ResponseError(e) => {
                let error_type = super::errors::classify(None, None, e.code.as_deref());
                rec.error(&error_type, &e.message);
            }
            _ => {}
        }
    }
}

impl ErrorType for OpenAIError {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            OpenAIError::ApiError(response) => super::errors::classify(
                Some(response.status_code.as_u16()),
                response.api_error.r#type.as_deref(),
                response.api_error.code.as_deref(),
            ),
            OpenAIError::Reqwest(e) if e.is_timeout() => Cow::Borrowed("timeout"),
            OpenAIError::Reqwest(e) if e.is_connect() => Cow::Borrowed("connection_error"),
            OpenAIError::Reqwest(e) => match e.status() {
                Some(status) => super::errors::classify(Some(status.as_u16()), None, None),
                None => Cow::Borrowed("http_error"),
            },
            OpenAIError::JSONDeserialize(..) => Cow::Borrowed("invalid_response"),
            OpenAIError::StreamError(_) => Cow::Borrowed("stream_error"),
            OpenAIError::InvalidArgument(_) => Cow::Borrowed("invalid_argument"),
            _ => Cow::Borrowed(crate::semconv::error_type::OTHER),
        }
    }
}
