//! `GenAiRequest` / `GenAiResponse` / `GenAiChunk` for `serde_json::Value`, so any HTTP
//! client works: OpenAI chat completions, legacy completions, embeddings and the Responses
//! API; Anthropic messages and legacy completions; OpenAI-compatible servers. The shape is
//! detected from the payload (`object` / `type` fields), and from the span's operation where
//! the payload alone is ambiguous.

pub(crate) mod messages;

use serde_json::Value;

use super::{GenAiChunk, GenAiRequest, GenAiResponse, RequestRecorder, ResponseRecorder, Usage};
use crate::semconv as sc;
use crate::span::Operation;

/// `Value::pointer` without its two string copies per segment (our paths have no `~`
/// escapes); a numeric segment indexes an array.
pub(crate) fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, key| match v {
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => v.get(*key),
    })
}

fn int(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// `openai.*` attributes apply when the span's provider is OpenAI (or not said).
fn openai_flavoured(provider: Option<&str>) -> bool {
    matches!(provider, None | Some("openai" | "azure.ai.openai"))
}

impl GenAiRequest for Value {
    fn model(&self) -> Option<&str> {
        text(self, "model")
    }

    fn record_request(&self, rec: &mut RequestRecorder<'_>) {
        let v = self;
        if let Some(t) = num(v, "temperature") {
            rec.temperature(t);
        }
        let max_tokens = [
            "max_tokens",
            "max_completion_tokens",
            "max_output_tokens",
            "max_tokens_to_sample",
        ]
        .iter()
        .find_map(|k| int(v, k));
        if let Some(n) = max_tokens {
            rec.max_tokens(n);
        }
        if let Some(p) = num(v, "top_p") {
            rec.top_p(p);
        }
        if let Some(k) = num(v, "top_k") {
            rec.top_k(k);
        }
        if let Some(p) = num(v, "frequency_penalty") {
            rec.frequency_penalty(p);
        }
        if let Some(p) = num(v, "presence_penalty") {
            rec.presence_penalty(p);
        }
        if let Some(stop) = v
            .get("stop")
            .or_else(|| v.get("stop_sequences"))
            .filter(|s| !s.is_null())
        {
            let stop = strings(stop);
            if !stop.is_empty() {
                rec.stop_sequences(stop);
            }
        }
        if let Some(seed) = int(v, "seed") {
            rec.seed(seed);
        }
        if v.get("stream").and_then(Value::as_bool) == Some(true) {
            rec.stream(true);
        }
        if let Some(n) = int(v, "n").or_else(|| int(v, "candidate_count")) {
            rec.choice_count(n);
        }
        let format = at(v, &["response_format", "type"])
            .or_else(|| at(v, &["text", "format", "type"]))
            .and_then(Value::as_str);
        if let Some(format) = format {
            rec.output_type(if format == "text" { "text" } else { "json" });
        }
        if rec.operation() == Operation::Embeddings {
            if let Some(format) = v.get("encoding_format").filter(|f| !f.is_null()) {
                rec.encoding_formats(strings(format));
            }
        }
        if openai_flavoured(rec.provider()) {
            if let Some(tier) = text(v, "service_tier").filter(|t| *t != "auto") {
                rec.attr(sc::OPENAI_REQUEST_SERVICE_TIER, tier.to_owned());
            }
            if rec.operation() == Operation::Chat {
                let api = if v.get("messages").is_some() {
                    Some("chat_completions")
                } else if v.get("input").is_some() {
                    Some("responses")
                } else {
                    None
                };
                if let Some(api) = api {
                    rec.attr(sc::OPENAI_API_TYPE, api);
                }
            }
        }
        if !rec.capture_content() {
            return;
        }
        if let Some(Value::Array(msgs)) = v.get("messages") {
            rec.input_messages(|| messages::input_messages(msgs));
        } else if let Some(prompt) = v.get("prompt") {
            rec.input_messages(|| messages::prompt_input(prompt));
        } else if let Some(input) = v
            .get("input")
            .filter(|_| rec.operation() != Operation::Embeddings)
        {
            rec.input_messages(|| messages::responses_input(input));
        }
        if let Some(system) = v
            .get("system")
            .or_else(|| v.get("instructions"))
            .filter(|s| !s.is_null())
        {
            rec.system_instructions(|| messages::system_instructions(system));
        }
        if let Some(Value::Array(tools)) = v.get("tools") {
            if !tools.is_empty() {
                rec.tool_definitions(|| messages::tool_definitions(tools));
            }
        }
    }
}

/// OpenAI usage (chat, completions, embeddings, Responses): input includes cached tokens.
fn openai_usage(usage: &Value) -> Option<Usage> {
    let input = int(usage, "prompt_tokens").or_else(|| int(usage, "input_tokens"))?;
    let mut u = Usage::input(input);
    u.output_tokens = int(usage, "completion_tokens").or_else(|| int(usage, "output_tokens"));
    u.cache_read_input_tokens = at(usage, &["prompt_tokens_details", "cached_tokens"])
        .or_else(|| at(usage, &["input_tokens_details", "cached_tokens"]))
        .and_then(Value::as_i64);
    u.reasoning_output_tokens = at(usage, &["completion_tokens_details", "reasoning_tokens"])
        .or_else(|| at(usage, &["output_tokens_details", "reasoning_tokens"]))
        .and_then(Value::as_i64);
    Some(u)
}

/// Anthropic usage: `input_tokens` excludes cached tokens, so the conventions' input count
/// is `input_tokens + cache_read + cache_creation`. Cache counts missing from this event
/// are taken from what earlier events of the stream said.
fn anthropic_usage(usage: &Value, so_far: Usage) -> Usage {
    let cache_read = int(usage, "cache_read_input_tokens");
    let cache_creation = int(usage, "cache_creation_input_tokens");
    let input = int(usage, "input_tokens").map(|input| {
        let read = cache_read.or(so_far.cache_read_input_tokens).unwrap_or(0);
        let created = cache_creation
            .or(so_far.cache_creation_input_tokens)
            .unwrap_or(0);
        input + read + created
    });
    Usage {
        input_tokens: input,
        output_tokens: int(usage, "output_tokens"),
        cache_read_input_tokens: cache_read,
        cache_creation_input_tokens: cache_creation,
        reasoning_output_tokens: None,
    }
}

fn record_openai_extras(v: &Value, rec: &mut ResponseRecorder<'_>) {
    if let Some(fp) = text(v, "system_fingerprint") {
        rec.attr(sc::OPENAI_RESPONSE_SYSTEM_FINGERPRINT, fp.to_owned());
    }
    if let Some(tier) = text(v, "service_tier") {
        rec.attr(sc::OPENAI_RESPONSE_SERVICE_TIER, tier.to_owned());
    }
}

fn record_chat_completion(v: &Value, rec: &mut ResponseRecorder<'_>) {
    let choices = v
        .get("choices")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, choice) in choices.iter().enumerate() {
        let index = choice
            .get("index")
            .and_then(Value::as_u64)
            .map_or(i, |n| n as usize);
        if let Some(reason) = text(choice, "finish_reason") {
            rec.finish_reason(index, reason);
        }
    }
    if let Some(usage) = v.get("usage").and_then(openai_usage) {
        rec.usage(usage);
    }
    record_openai_extras(v, rec);
    if rec.capture_content() {
        rec.output_messages(|| {
            Value::Array(
                choices
                    .iter()
                    .map(|c| match c.get("message") {
                        Some(message) => {
                            messages::output_message(message, text(c, "finish_reason"))
                        }
                        None => messages::text_output_message(
                            text(c, "text").unwrap_or_default(),
                            text(c, "finish_reason"),
                        ),
                    })
                    .collect(),
            )
        });
    }
}

fn record_embeddings(v: &Value, rec: &mut ResponseRecorder<'_>) {
    if let Some(input) = at(v, &["usage", "prompt_tokens"]).and_then(Value::as_i64) {
        rec.usage(Usage::input(input));
    }
    let first = at(v, &["data", "0", "embedding"]);
    let dimensions = match first {
        Some(Value::Array(values)) => Some(values.len() as i64),
        // base64: little-endian f32 values.
        Some(Value::String(b64)) => Some(base64_decoded_len(b64) as i64 / 4),
        _ => None,
    };
    if let Some(d) = dimensions {
        rec.embeddings_dimension_count(d);
    }
}

pub(crate) fn base64_decoded_len(b64: &str) -> usize {
    let padding = b64.bytes().rev().take_while(|&b| b == b'=').count();
    (b64.len() / 4) * 3 - padding.min(2)
}

/// Responses API finish reasons, as the official OpenAI instrumentation derives them: one
/// per output message (`stop` when completed), `tool_calls` for function calls,
/// duplicates removed; an incomplete response reports its reason.
fn record_responses_response(v: &Value, rec: &mut ResponseRecorder<'_>) {
    let output = v
        .get("output")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut reasons: Vec<String> = Vec::new();
    let incomplete = at(v, &["incomplete_details", "reason"]).and_then(Value::as_str);
    for item in output {
        let status = text(item, "status");
        let reason = match (text(item, "type"), status) {
            (Some("function_call"), Some("completed" | "incomplete")) => {
                Some("tool_calls".to_owned())
            }
            (Some("message"), Some("completed")) => Some("stop".to_owned()),
            (Some("message"), Some("incomplete")) => {
                Some(incomplete.unwrap_or("incomplete").to_owned())
            }
            (Some("message"), Some(other @ ("failed" | "cancelled"))) => Some(other.to_owned()),
            _ => None,
        };
        if let Some(reason) = reason {
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
    }
    if reasons.is_empty() {
        if let Some(reason) = incomplete {
            reasons.push(reason.to_owned());
        }
    }
    for (i, reason) in reasons.iter().enumerate() {
        rec.finish_reason(i, reason);
    }
    if let Some(usage) = v.get("usage").and_then(openai_usage) {
        rec.usage(usage);
    }
    if let Some(tier) = text(v, "service_tier") {
        rec.attr(sc::OPENAI_RESPONSE_SERVICE_TIER, tier.to_owned());
    }
    if v.get("status").and_then(Value::as_str) == Some("failed") {
        let code = at(v, &["error", "code"])
            .and_then(Value::as_str)
            .unwrap_or("failed");
        let message = at(v, &["error", "message"])
            .and_then(Value::as_str)
            .unwrap_or("");
        rec.error(code, message);
    }
    if rec.capture_content() {
        rec.output_messages(|| messages::responses_output(output));
    }
}

fn record_anthropic_message(v: &Value, rec: &mut ResponseRecorder<'_>) {
    if let Some(reason) = text(v, "stop_reason") {
        rec.finish_reason(0, reason);
    }
    if let Some(usage) = v.get("usage") {
        let so_far = rec.usage_so_far();
        rec.usage(anthropic_usage(usage, so_far));
    }
    if rec.capture_content() {
        rec.output_messages(|| {
            let mut message = serde_json::Map::new();
            message.insert(
                "role".into(),
                v.get("role").cloned().unwrap_or_else(|| "assistant".into()),
            );
            message.insert(
                "content".into(),
                v.get("content").cloned().unwrap_or(Value::Null),
            );
            Value::Array(vec![messages::output_message(
                &Value::Object(message),
                text(v, "stop_reason"),
            )])
        });
    }
}

fn record_anthropic_completion(v: &Value, rec: &mut ResponseRecorder<'_>) {
    if let Some(reason) = text(v, "stop_reason") {
        rec.finish_reason(0, reason);
    }
    if rec.capture_content() {
        rec.output_messages(|| {
            Value::Array(vec![messages::text_output_message(
                text(v, "completion").unwrap_or_default(),
                text(v, "stop_reason"),
            )])
        });
    }
}

/// An error body (`{"error": {...}}`) returned as a value: recorded as the call's error.
fn record_error_body(error: &Value, rec: &mut ResponseRecorder<'_>) {
    let kind = text(error, "type");
    let code = text(error, "code");
    let error_type = super::errors::classify(None, kind, code);
    rec.error(&error_type, text(error, "message").unwrap_or(""));
}

impl GenAiResponse for Value {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        let v = self;
        if let Some(id) = text(v, "id") {
            rec.id(id);
        }
        if let Some(model) = text(v, "model") {
            rec.model(model);
        }
        match (text(v, "object"), text(v, "type")) {
            (Some("chat.completion" | "text_completion"), _) => record_chat_completion(v, rec),
            (Some("response"), _) => record_responses_response(v, rec),
            (Some("list"), _) => record_embeddings(v, rec),
            (_, Some("message")) => record_anthropic_message(v, rec),
            (_, Some("completion")) => record_anthropic_completion(v, rec),
            (_, Some("error")) | (None, None) if v.get("error").is_some_and(Value::is_object) => {
                if let Some(error) = v.get("error") {
                    record_error_body(error, rec);
                }
            }
            // OpenAI-compatible servers do not always send `object`.
            _ if v.get("choices").is_some() => record_chat_completion(v, rec),
            _ if v.get("data").is_some() => record_embeddings(v, rec),
            _ => {}
        }
    }
}

fn record_chat_chunk(v: &Value, rec: &mut ResponseRecorder<'_>) {
    if let Some(Value::Array(choices)) = v.get("choices") {
        for (i, choice) in choices.iter().enumerate() {
            let index = choice
                .get("index")
                .and_then(Value::as_u64)
                .map_or(i, |n| n as usize);
            if let Some(reason) = text(choice, "finish_reason") {
                rec.finish_reason(index, reason);
            }
            if !rec.capture_content() {
                continue;
            }
            let Some(delta) = choice.get("delta") else {
                continue;
            };
            if let Some(content) = text(delta, "content") {
                rec.output_text_delta(index, content);
            }
            if let Some(t) = text(choice, "text") {
                rec.output_text_delta(index, t);
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let tool_index = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
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
    }
    if let Some(usage) = v.get("usage").and_then(openai_usage) {
        rec.usage(usage);
    }
    record_openai_extras(v, rec);
}

fn record_anthropic_event(kind: &str, v: &Value, rec: &mut ResponseRecorder<'_>) {
    match kind {
        "message_start" => {
            if let Some(message) = v.get("message") {
                if let Some(id) = text(message, "id") {
                    rec.id(id);
                }
                if let Some(model) = text(message, "model") {
                    rec.model(model);
                }
                if let Some(usage) = message.get("usage") {
                    let so_far = rec.usage_so_far();
                    rec.usage(anthropic_usage(usage, so_far));
                }
            }
        }
        "message_delta" => {
            if let Some(reason) = at(v, &["delta", "stop_reason"]).and_then(Value::as_str) {
                rec.finish_reason(0, reason);
            }
            if let Some(usage) = v.get("usage") {
                let so_far = rec.usage_so_far();
                rec.usage(anthropic_usage(usage, so_far));
            }
        }
        "content_block_start" if rec.capture_content() => {
            let block = v.get("content_block").unwrap_or(&Value::Null);
            if text(block, "type") == Some("tool_use") {
                let index = int(v, "index").unwrap_or(0) as usize;
                rec.tool_call_delta(0, index, text(block, "id"), text(block, "name"), "");
            }
        }
        "content_block_delta" if rec.capture_content() => {
            let delta = v.get("delta").unwrap_or(&Value::Null);
            match text(delta, "type") {
                Some("text_delta") => rec.output_text_delta(0, text(delta, "text").unwrap_or("")),
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
            let error = v.get("error").unwrap_or(&Value::Null);
            record_error_body(error, rec);
        }
        _ => {}
    }
}

fn record_responses_event(kind: &str, v: &Value, rec: &mut ResponseRecorder<'_>) {
    match kind {
        "response.created" | "response.in_progress" => {
            if let Some(response) = v.get("response") {
                if let Some(id) = text(response, "id") {
                    rec.id(id);
                }
                if let Some(model) = text(response, "model") {
                    rec.model(model);
                }
            }
        }
        "response.completed" | "response.incomplete" | "response.failed" => {
            if let Some(response) = v.get("response") {
                response.record_response(rec);
            }
        }
        "error" => record_error_body(v, rec),
        _ => {}
    }
}

impl GenAiChunk for Value {
    fn record_chunk(&self, rec: &mut ResponseRecorder<'_>) {
        let v = self;
        if text(v, "object") == Some("chat.completion.chunk")
            || text(v, "object") == Some("text_completion")
        {
            if let Some(id) = text(v, "id") {
                rec.id(id);
            }
            if let Some(model) = text(v, "model") {
                rec.model(model);
            }
            record_chat_chunk(v, rec);
            return;
        }
        match text(v, "type") {
            Some(kind)
                if kind.starts_with("response.")
                    || (kind == "error" && v.get("error").is_none()) =>
            {
                record_responses_event(kind, v, rec);
            }
            Some(kind) => record_anthropic_event(kind, v, rec),
            // OpenAI-compatible servers do not always send `object`.
            None if v.get("choices").is_some() => {
                if let Some(id) = text(v, "id") {
                    rec.id(id);
                }
                if let Some(model) = text(v, "model") {
                    rec.model(model);
                }
                record_chat_chunk(v, rec);
            }
            None => {}
        }
    }
}
