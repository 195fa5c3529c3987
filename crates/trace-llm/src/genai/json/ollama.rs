//! Ollama's native API: `/api/chat` and `/api/generate` requests (`options`, `format`),
//! responses and NDJSON stream chunks (`done`, `done_reason`, `prompt_eval_count`,
//! `eval_count`, `thinking`).

use serde_json::{Value, json};

use super::messages::{self, text_part};
use super::{as_int, as_num, as_text, strings};
use super::{at, entry};
use crate::genai::{RequestRecorder, ResponseRecorder, Usage};

pub(super) const PROVIDER: &str = "ollama";

pub(super) fn record_request(v: &Value, rec: &mut RequestRecorder<'_>) {
    rec.infer_provider(PROVIDER);
    let options = entry(v, "options").unwrap_or(&Value::Null);
    if let Some(t) = as_num(entry(options, "temperature")) {
        rec.temperature(t);
    }
    if let Some(n) = as_int(entry(options, "num_predict")) {
        rec.max_tokens(n);
    }
    if let Some(p) = as_num(entry(options, "top_p")) {
        rec.top_p(p);
    }
    if let Some(k) = as_num(entry(options, "top_k")) {
        rec.top_k(k);
    }
    if let Some(p) = as_num(entry(options, "frequency_penalty")) {
        rec.frequency_penalty(p);
    }
    if let Some(p) = as_num(entry(options, "presence_penalty")) {
        rec.presence_penalty(p);
    }
    if let Some(seed) = as_int(entry(options, "seed")) {
        rec.seed(seed);
    }
    if let Some(stop) = entry(options, "stop") {
        let stop = strings(stop);
        if !stop.is_empty() {
            rec.stop_sequences(stop);
        }
    }
    if entry(v, "stream").and_then(Value::as_bool) == Some(true) {
        rec.stream(true);
    }
    match entry(v, "format") {
        Some(Value::String(f)) if f == "json" => rec.output_type("json"),
        Some(Value::Object(_)) => rec.output_type("json"),
        _ => {}
    }
    if !rec.capture_content() {
        return;
    }
    if let Some(Value::Array(msgs)) = entry(v, "messages") {
        rec.input_messages(|| messages::input_messages(msgs));
    } else if let Some(prompt) = as_text(entry(v, "prompt")) {
        rec.input_messages(|| json!([{"role": "user", "parts": [text_part(prompt)]}]));
    }
    if let Some(system) = as_text(entry(v, "system")).filter(|s| !s.is_empty()) {
        rec.system_instructions(|| json!([text_part(system)]));
    }
    if let Some(Value::Array(tools)) = entry(v, "tools") {
        if !tools.is_empty() {
            rec.tool_definitions(|| messages::tool_definitions(tools));
        }
    }
}

/// A response (`stream` false) or one NDJSON chunk (`stream` true).
pub(super) fn record_response(v: &Value, rec: &mut ResponseRecorder<'_>, stream: bool) {
    rec.infer_provider(PROVIDER);
    if let Some(model) = as_text(entry(v, "model")).filter(|m| !m.is_empty()) {
        rec.model(model);
    }
    let reason = as_text(entry(v, "done_reason"));
    if let Some(reason) = reason {
        rec.finish_reason(0, reason);
    }
    let usage = Usage {
        input_tokens: as_int(entry(v, "prompt_eval_count")),
        output_tokens: as_int(entry(v, "eval_count")),
        ..Usage::default()
    };
    if !usage.is_empty() {
        rec.usage(usage);
    }
    let message = entry(v, "message");
    let text = as_text(
        message
            .and_then(|m| entry(m, "content"))
            .or_else(|| entry(v, "response")),
    );
    let thinking = as_text(
        message
            .and_then(|m| entry(m, "thinking"))
            .or_else(|| entry(v, "thinking")),
    );
    let calls = message
        .and_then(|m| entry(m, "tool_calls"))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if stream {
        let has_text = |t: Option<&str>| t.is_some_and(|t| !t.is_empty());
        rec.chunk_has_output(has_text(text) || has_text(thinking) || !calls.is_empty());
        if let Some(thinking) = thinking {
            rec.reasoning_delta(0, thinking);
        }
        if let Some(text) = text {
            rec.output_text_delta(0, text);
        }
        for call in calls {
            let args = at(call, &["function", "arguments"])
                .map(Value::to_string)
                .unwrap_or_default();
            rec.streamed_tool_call(
                0,
                as_text(entry(call, "id")),
                as_text(at(call, &["function", "name"])),
                &args,
            );
        }
        return;
    }
    if !rec.capture_content() {
        return;
    }
    rec.output_messages(|| {
        let mut out = match message {
            Some(m) => messages::output_message(m, reason),
            None => messages::text_output_message(text.unwrap_or(""), reason),
        };
        if let (Some(thinking), Some(Value::Array(parts))) = (thinking, out.get_mut("parts")) {
            parts.insert(0, json!({"type": "reasoning", "content": thinking}));
        }
        json!([out])
    });
}
