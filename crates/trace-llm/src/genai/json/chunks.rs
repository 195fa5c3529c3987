//! `GenAiChunk` for `serde_json::Value`: OpenAI chat and completion chunks, Responses API
//! events and Anthropic message events, each recorded as it streams by.

use serde_json::Value;

use super::entry;
use super::{
    Entries, anthropic_or_bedrock, anthropic_usage, as_text, at, bedrock, cohere, google, int,
    ollama, openai_flavoured, openai_usage, record_error_body, record_openai_extras, text,
};
use crate::genai::{GenAiChunk, GenAiResponse, ResponseRecorder};

/// Whether a chat chunk's choice deltas carry output (not only a role, a finish reason or
/// usage).
fn chat_chunk_has_output(choices: &[Value]) -> bool {
    choices.iter().any(|c| {
        let Some(delta) = entry(c, "delta").or_else(|| entry(c, "text").map(|_| c)) else {
            return false;
        };
        [
            "content",
            "text",
            "reasoning_content",
            "reasoning",
            "refusal",
        ]
        .iter()
        .any(|k| {
            entry(delta, k)
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
        }) || entry(delta, "tool_calls")
            .and_then(Value::as_array)
            .is_some_and(|calls| !calls.is_empty())
    })
}

fn record_chat_chunk(e: &Entries<'_>, rec: &mut ResponseRecorder<'_>) {
    e.record_compatible_provider(rec);
    rec.chunk_has_output(chat_chunk_has_output(e.choices()));
    for (i, choice) in e.choices().iter().enumerate() {
        fields!(choice;
            index = "index",
            finish_reason = "finish_reason",
            delta = "delta",
            choice_text = "text",
        );
        let index = index.and_then(Value::as_u64).map_or(i, |n| n as usize);
        if let Some(reason) = as_text(finish_reason) {
            rec.finish_reason(index, reason);
        }
        if !rec.capture_content() {
            continue;
        }
        let Some(delta) = delta else {
            continue;
        };
        if let Some(content) = text(delta, "content") {
            rec.output_text_delta(index, content);
        }
        if let Some(t) = as_text(choice_text) {
            rec.output_text_delta(index, t);
        }
        for call in entry(delta, "tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let tool_index = entry(call, "index").and_then(Value::as_u64).unwrap_or(0) as usize;
            rec.tool_call_delta(
                index,
                tool_index,
                text(call, "id"),
                at(call, &["function", "name"]).and_then(Value::as_str),
                at(call, &["function", "arguments"])
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            );
        }
    }
    // Groq sends a stream's usage only in the last chunk's `x_groq`.
    let usage = e.usage.or_else(|| e.x_groq.and_then(|x| entry(x, "usage")));
    if let Some(usage) = usage.and_then(openai_usage) {
        rec.usage(usage);
    }
    if openai_flavoured(rec.provider()) {
        record_openai_extras(e, rec);
    }
}

fn record_anthropic_event(kind: &str, v: &Value, rec: &mut ResponseRecorder<'_>) {
    rec.chunk_has_output(kind == "content_block_delta");
    match kind {
        "message_start" => {
            if let Some(message) = entry(v, "message") {
                let id = text(message, "id");
                rec.infer_provider(anthropic_or_bedrock(id));
                if let Some(id) = id {
                    rec.id(id);
                }
                if let Some(model) = text(message, "model") {
                    rec.model(model);
                }
                if let Some(usage) = entry(message, "usage") {
                    let so_far = rec.usage_so_far();
                    rec.usage(anthropic_usage(usage, so_far));
                }
            }
        }
        "message_delta" => {
            if let Some(reason) = at(v, &["delta", "stop_reason"]).and_then(Value::as_str) {
                rec.finish_reason(0, reason);
            }
            if let Some(usage) = entry(v, "usage") {
                let so_far = rec.usage_so_far();
                rec.usage(anthropic_usage(usage, so_far));
            }
        }
        "content_block_start" if rec.capture_content() => {
            let block = entry(v, "content_block").unwrap_or(&Value::Null);
            if text(block, "type") == Some("tool_use") {
                let index = int(v, "index").unwrap_or(0) as usize;
                rec.tool_call_delta(0, index, text(block, "id"), text(block, "name"), "");
            }
        }
        "content_block_delta" if rec.capture_content() => {
            let delta = entry(v, "delta").unwrap_or(&Value::Null);
            match text(delta, "type") {
                Some("text_delta") => rec.output_text_delta(0, text(delta, "text").unwrap_or("")),
                Some("thinking_delta") => {
                    rec.reasoning_delta(0, text(delta, "thinking").unwrap_or(""));
                }
                Some("input_json_delta") => {
                    let index = int(v, "index").unwrap_or(0) as usize;
                    rec.tool_call_delta(
                        0,
                        index,
                        None,
                        None,
                        text(delta, "partial_json").unwrap_or(""),
                    );
                }
                _ => {}
            }
        }
        "error" => {
            let error = entry(v, "error").unwrap_or(&Value::Null);
            record_error_body(error, rec);
        }
        _ => {}
    }
}

fn record_responses_event(kind: &str, v: &Value, rec: &mut ResponseRecorder<'_>) {
    rec.chunk_has_output(kind.ends_with(".delta"));
    match kind {
        "response.created" | "response.in_progress" => {
            if let Some(response) = entry(v, "response") {
                if let Some(id) = text(response, "id") {
                    rec.id(id);
                }
                if let Some(model) = text(response, "model") {
                    rec.model(model);
                }
            }
        }
        "response.completed" | "response.incomplete" | "response.failed" => {
            if let Some(response) = entry(v, "response") {
                response.record_response(rec);
            }
        }
        "error" => record_error_body(v, rec),
        _ => {}
    }
}

impl GenAiChunk for Value {
    fn record_chunk(&self, rec: &mut ResponseRecorder<'_>) {
        let e = Entries::of(self);
        if matches!(
            as_text(e.object),
            Some("chat.completion.chunk" | "text_completion")
        ) {
            e.record_id_and_model(rec);
            record_chat_chunk(&e, rec);
            return;
        }
        match as_text(e.kind) {
            Some(kind)
                if kind.starts_with("response.") || (kind == "error" && e.error.is_none()) =>
            {
                record_responses_event(kind, self, rec);
            }
            Some(kind) if cohere::is_event(kind) => cohere::record_event(kind, self, rec),
            Some(kind) => record_anthropic_event(kind, self, rec),
            // OpenAI-compatible servers do not always send `object`.
            None if e.choices.is_some() => {
                e.record_id_and_model(rec);
                record_chat_chunk(&e, rec);
            }
            None if e.candidates.is_some() || e.usage_metadata.is_some() => {
                google::record_response(self, rec, true);
            }
            None if e.done.is_some_and(Value::is_boolean) => {
                ollama::record_response(self, rec, true);
            }
            None if bedrock::is_chunk(self) => bedrock::record_chunk(self, rec),
            None if e.error.is_some_and(Value::is_object) => {
                if let Some(error) = e.error {
                    record_error_body(error, rec);
                }
            }
            None => {}
        }
    }
}
