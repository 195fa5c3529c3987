//! Streamed output, accumulated from the deltas of a stream's chunks (content capture on
//! only) and turned into `gen_ai.output.messages` when the stream ends. Bounded: past twice
//! the content size limit, deltas are no longer kept.

use opentelemetry::StringValue;

use serde_json::Value;

use super::record::ResponseRecorder;

/// Output text and tool calls of each choice, as stream deltas arrive.
#[derive(Debug, Default)]
pub(crate) struct StreamedOutput {
    pub(crate) choices: Vec<StreamedChoice>,
    /// Bytes accumulated: past the content size limit, deltas are no longer kept.
    bytes: usize,
}

#[derive(Debug, Default)]
pub(crate) struct StreamedChoice {
    pub(crate) reasoning: String,
    pub(crate) text: String,
    pub(crate) tool_calls: Vec<StreamedToolCall>,
}

#[derive(Debug, Default)]
pub(crate) struct StreamedToolCall {
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) arguments: String,
}

impl StreamedOutput {
    /// Most choices and tool calls kept per stream.
    const MAX_SLOTS: usize = 128;

    fn choice(&mut self, index: usize) -> Option<&mut StreamedChoice> {
        if index >= Self::MAX_SLOTS {
            return None;
        }
        if self.choices.len() <= index {
            self.choices.resize_with(index + 1, StreamedChoice::default);
        }
        self.choices.get_mut(index)
    }

    /// Whether `more` bytes still fit in `limit` (twice the attribute limit: the rest would
    /// be cut anyway).
    fn room(&mut self, more: usize, limit: usize) -> bool {
        if self.bytes.saturating_add(more) > limit.saturating_mul(2) {
            return false;
        }
        self.bytes += more;
        true
    }

    /// The accumulated output as semconv output messages, with the span's finish reasons.
    pub(crate) fn to_messages(&self, finish_reasons: &[StringValue]) -> serde_json::Value {
        use serde_json::json;
        let messages = self
            .choices
            .iter()
            .enumerate()
            .map(|(i, choice)| {
                let mut parts = Vec::new();
                if !choice.reasoning.is_empty() {
                    parts.push(json!({"type": "reasoning", "content": choice.reasoning}));
                }
                if !choice.text.is_empty() {
                    parts.push(json!({"type": "text", "content": choice.text}));
                }
                // Slots are indexed by the provider's content-block index: a slot no tool call
                // arrived in stays empty and is not a call.
                for call in choice
                    .tool_calls
                    .iter()
                    .filter(|c| c.name.is_some() || c.id.is_some() || !c.arguments.is_empty())
                {
                    let arguments = serde_json::from_str::<serde_json::Value>(&call.arguments)
                        .unwrap_or_else(|_| serde_json::Value::String(call.arguments.clone()));
                    parts.push(json!({"type": "tool_call", "id": call.id, "name": call.name.as_deref().unwrap_or(""), "arguments": arguments}));
                }
                let reason = finish_reasons
                    .get(i)
                    .map(StringValue::as_str)
                    .filter(|r| !r.is_empty());
                json!({
                    "role": "assistant",
                    "parts": parts,
                    "finish_reason": finish_reason_or_error(reason),
                })
            })
            .collect();
        serde_json::Value::Array(messages)
    }
}

impl ResponseRecorder<'_> {
    /// The stream's accumulated output, and the content size limit it must fit in.
    fn streamed_output(&mut self) -> (&mut StreamedOutput, usize) {
        let limit = self.state.core.settings.content_max_bytes;
        let streamed = self
            .state
            .response
            .streamed
            .get_or_insert_with(Default::default);
        (streamed, limit)
    }

    /// A piece of streamed output text of choice `choice_index`; the pieces become
    /// `gen_ai.output.messages` when the stream ends.
    pub fn output_text_delta(&mut self, choice_index: usize, text: &str) {
        if !self.capture_content() || text.is_empty() {
            return;
        }
        let (streamed, limit) = self.streamed_output();
        if streamed.room(text.len(), limit) {
            if let Some(choice) = streamed.choice(choice_index) {
                choice.text.push_str(text);
            }
        }
    }

    /// A piece of streamed reasoning (thinking) text of choice `choice_index`.
    pub fn reasoning_delta(&mut self, choice_index: usize, text: &str) {
        if !self.capture_content() || text.is_empty() {
            return;
        }
        let (streamed, limit) = self.streamed_output();
        if streamed.room(text.len(), limit) {
            if let Some(choice) = streamed.choice(choice_index) {
                choice.reasoning.push_str(text);
            }
        }
    }

    /// A whole tool call that arrived in one streamed event (Gemini, Ollama), after the
    /// calls of the same choice seen so far.
    pub(crate) fn streamed_tool_call(
        &mut self,
        choice_index: usize,
        id: Option<&str>,
        name: Option<&str>,
        arguments: &str,
    ) {
        if !self.capture_content() {
            return;
        }
        let next = self
            .state
            .response
            .streamed
            .as_ref()
            .and_then(|s| s.choices.get(choice_index))
            .map_or(0, |c| c.tool_calls.len());
        self.tool_call_delta(choice_index, next, id, name, arguments);
    }

    /// A piece of a streamed tool call: its id and name when they first appear, then pieces
    /// of its JSON arguments.
    pub fn tool_call_delta(
        &mut self,
        choice_index: usize,
        tool_index: usize,
        id: Option<&str>,
        name: Option<&str>,
        arguments: &str,
    ) {
        if !self.capture_content() {
            return;
        }
        let (streamed, limit) = self.streamed_output();
        let more = arguments.len() + id.map_or(0, str::len) + name.map_or(0, str::len);
        if !streamed.room(more, limit) || tool_index >= StreamedOutput::MAX_SLOTS {
            return;
        }
        let Some(choice) = streamed.choice(choice_index) else {
            return;
        };
        if choice.tool_calls.len() <= tool_index {
            choice
                .tool_calls
                .resize_with(tool_index + 1, Default::default);
        }
        let call = &mut choice.tool_calls[tool_index];
        if let Some(id) = id {
            call.id.get_or_insert_with(|| id.to_owned());
        }
        if let Some(name) = name {
            call.name.get_or_insert_with(|| name.to_owned());
        }
        call.arguments.push_str(arguments);
    }
}

/// Maps a provider finish reason to the output-message schema's enum (`stop`, `length`,
/// `content_filter`, `tool_call`, `error`); unknown values pass through.
pub(crate) fn schema_finish_reason(reason: &str) -> String {
    let lower;
    let reason = if reason.bytes().any(|b| b.is_ascii_uppercase()) {
        lower = reason.to_ascii_lowercase();
        lower.as_str()
    } else {
        reason
    };
    match reason {
        "stop" | "end_turn" | "stop_sequence" | "completed" | "pause_turn" | "complete"
        | "finish" | "end" => "stop",
        "length"
        | "max_tokens"
        | "max_output_tokens"
        | "model_context_window_exceeded"
        | "model_length" => "length",
        "content_filter"
        | "refusal"
        | "safety"
        | "recitation"
        | "blocklist"
        | "prohibited_content"
        | "spii"
        | "image_safety"
        | "content_filtered"
        | "guardrail_intervened"
        | "error_toxic" => "content_filter",
        "tool_calls" | "function_call" | "tool_use" | "tool_call" | "unexpected_tool_call" => {
            "tool_call"
        }
        "error"
        | "failed"
        | "cancelled"
        | "malformed_function_call"
        | "other"
        | "finish_reason_unspecified"
        | "language"
        | "error_limit" => "error",
        other => other,
    }
    .to_owned()
}

/// The schema's finish reason; a message whose reason the provider did not give (a cut
/// stream) reads `error`, as the official instrumentations record it, never `null`.
pub(crate) fn finish_reason_or_error(reason: Option<&str>) -> Value {
    reason.map_or_else(|| "error".into(), |r| schema_finish_reason(r).into())
}
