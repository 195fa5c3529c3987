//! AWS Bedrock Runtime: `Converse` / `ConverseStream` (requests, responses, the stream's
//! events as the AWS SDKs hand them out: `{"messageStart": ...}`, `{"metadata": ...}`, …)
//! and the `InvokeModel` bodies of the Amazon Titan, Amazon Nova and Meta Llama families
//! (Anthropic bodies are Anthropic's own shape, read by the Anthropic code). The model id
//! is only in the URL: the user gives it with `model = expr`.

use serde_json::{Value, json};

use super::messages::{finish_reason_or_error, text_part, tool_call_part, tool_response_part};
use super::{as_int, as_num, as_text, strings};
use super::{at, entry};
use crate::genai::{RequestRecorder, ResponseRecorder, Usage};

pub(super) const PROVIDER: &str = "aws.bedrock";

/// The `ConverseStream` event members (and `InvokeModelWithResponseStream` for Nova).
const STREAM_EVENTS: [&str; 6] = [
    "messageStart",
    "contentBlockStart",
    "contentBlockDelta",
    "contentBlockStop",
    "messageStop",
    "metadata",
];

/// Whether the first message's content is Converse blocks (`{"text": ...}`, no `type`).
pub(super) fn converse_blocks(messages: Option<&Value>) -> bool {
    messages
        .and_then(|m| at(m, &["0", "content", "0"]))
        .is_some_and(|b| b.is_object() && entry(b, "type").is_none())
}

pub(super) fn record_request(v: &Value, rec: &mut RequestRecorder<'_>) {
    rec.infer_provider(PROVIDER);
    let config = entry(v, "inferenceConfig")
        .or_else(|| entry(v, "textGenerationConfig"))
        .unwrap_or(v);
    let max_tokens = [
        "maxTokens",
        "max_new_tokens",
        "maxTokenCount",
        "max_gen_len",
    ]
    .iter()
    .find_map(|k| as_int(entry(config, k)));
    if let Some(n) = max_tokens {
        rec.max_tokens(n);
    }
    if let Some(t) = as_num(entry(config, "temperature")) {
        rec.temperature(t);
    }
    if let Some(p) = as_num(entry(config, "topP").or_else(|| entry(config, "top_p"))) {
        rec.top_p(p);
    }
    let top_k = entry(config, "topK")
        .or_else(|| entry(config, "top_k"))
        .or_else(|| at(v, &["additionalModelRequestFields", "top_k"]));
    if let Some(k) = as_num(top_k) {
        rec.top_k(k);
    }
    if let Some(stop) = entry(config, "stopSequences") {
        let stop = strings(stop);
        if !stop.is_empty() {
            rec.stop_sequences(stop);
        }
    }
    if !rec.capture_content() {
        return;
    }
    if let Some(Value::Array(messages)) = entry(v, "messages") {
        rec.input_messages(|| Value::Array(messages.iter().map(message).collect()));
    } else if let Some(prompt) = as_text(entry(v, "inputText").or_else(|| entry(v, "prompt"))) {
        rec.input_messages(|| json!([{"role": "user", "parts": [text_part(prompt)]}]));
    }
    if let Some(Value::Array(system)) = entry(v, "system") {
        rec.system_instructions(|| Value::Array(system.iter().filter_map(block).collect()));
    }
    if let Some(Value::Array(tools)) = at(v, &["toolConfig", "tools"]) {
        let definitions: Vec<Value> = tools
            .iter()
            .filter_map(|t| as_text(at(t, &["toolSpec", "name"])))
            .map(|name| json!({"type": "function", "name": name}))
            .collect();
        if !definitions.is_empty() {
            rec.tool_definitions(|| Value::Array(definitions));
        }
    }
}

/// A Converse message (`{"role", "content": [blocks]}`) as a semconv message; a user
/// message made of tool results is the tool's.
pub(crate) fn message(m: &Value) -> Value {
    let parts: Vec<Value> = entry(m, "content")
        .and_then(Value::as_array)
        .map(|blocks| blocks.iter().filter_map(block).collect())
        .unwrap_or_default();
    let tool_results = !parts.is_empty()
        && parts
            .iter()
            .all(|p| entry(p, "type") == Some(&json!("tool_call_response")));
    let role = if tool_results {
        "tool"
    } else {
        as_text(entry(m, "role")).unwrap_or("user")
    };
    json!({"role": role, "parts": parts})
}

/// One Converse content block as a semconv part.
fn block(b: &Value) -> Option<Value> {
    if let Some(text) = as_text(entry(b, "text")) {
        return Some(text_part(text));
    }
    if let Some(tool) = entry(b, "toolUse") {
        return Some(tool_call_part(
            entry(tool, "toolUseId"),
            entry(tool, "name"),
            entry(tool, "input"),
        ));
    }
    if let Some(result) = entry(b, "toolResult") {
        let response = match entry(result, "content") {
            Some(Value::Array(items)) => {
                let texts: Vec<&str> = items
                    .iter()
                    .filter_map(|i| as_text(entry(i, "text")))
                    .collect();
                match items.iter().find_map(|i| entry(i, "json")) {
                    Some(json) if texts.is_empty() => json.clone(),
                    _ => Value::String(texts.join("")),
                }
            }
            Some(other) => other.clone(),
            None => Value::Null,
        };
        return Some(tool_response_part(entry(result, "toolUseId"), response));
    }
    if let Some(reasoning) = entry(b, "reasoningContent") {
        let text = at(reasoning, &["reasoningText", "text"]).or_else(|| entry(reasoning, "text"));
        return as_text(text).map(|t| json!({"type": "reasoning", "content": t}));
    }
    for (key, modality) in [
        ("image", "image"),
        ("document", "document"),
        ("video", "video"),
    ] {
        if let Some(media) = entry(b, key) {
            let format = entry(media, "format").cloned().unwrap_or(Value::Null);
            return Some(match at(media, &["source", "bytes"]) {
                Some(bytes) => {
                    json!({"type": "blob", "modality": modality, "mime_type": format, "content": bytes})
                }
                None => json!({"type": "uri", "modality": modality, "mime_type": format,
                               "uri": at(media, &["source", "s3Location", "uri"]).cloned().unwrap_or(Value::Null)}),
            });
        }
    }
    None
}

/// Bedrock usage: its input count excludes cache reads and writes (Anthropic's rule), so
/// the conventions' input count adds them.
pub(crate) fn cached_usage(
    input: Option<i64>,
    output: Option<i64>,
    read: Option<i64>,
    write: Option<i64>,
) -> Usage {
    Usage {
        input_tokens: input.map(|n| {
            n.saturating_add(read.unwrap_or(0))
                .saturating_add(write.unwrap_or(0))
        }),
        output_tokens: output,
        cache_read_input_tokens: read,
        cache_creation_input_tokens: write,
        reasoning_output_tokens: None,
    }
}

/// Converse usage (`inputTokens`, `cacheReadInputTokens`, ...).
fn converse_usage(u: &Value) -> Usage {
    let get = |key: &str| as_int(entry(u, key));
    cached_usage(
        get("inputTokens"),
        get("outputTokens"),
        get("cacheReadInputTokens"),
        get("cacheWriteInputTokens"),
    )
}

/// Usage from `amazon-bedrock-invocationMetrics` (the last event of an `InvokeModel`
/// stream, whatever the model family).
fn invocation_metrics_usage(m: &Value) -> Usage {
    let get = |key: &str| as_int(entry(m, key));
    cached_usage(
        get("inputTokenCount"),
        get("outputTokenCount"),
        get("cacheReadInputTokenCount"),
        get("cacheWriteInputTokenCount"),
    )
}

pub(super) fn record_response(v: &Value, rec: &mut ResponseRecorder<'_>) {
    rec.infer_provider(PROVIDER);
    if let Some(results) = entry(v, "results").and_then(Value::as_array) {
        return record_titan(v, results, rec);
    }
    if let Some(generation) = entry(v, "generation") {
        return record_llama(v, generation, rec);
    }
    let reason = as_text(entry(v, "stopReason"));
    if let Some(reason) = reason {
        rec.finish_reason(0, reason);
    }
    if let Some(usage) = entry(v, "usage") {
        rec.usage(converse_usage(usage));
    }
    if let Some(message) = at(v, &["output", "message"]) {
        if rec.capture_content() {
            rec.output_messages(|| {
                let mut out = self::message(message);
                out["role"] = "assistant".into();
                out["finish_reason"] = finish_reason_or_error(reason);
                json!([out])
            });
        }
    }
}

/// Titan: `{"inputTextTokenCount", "results": [{"tokenCount", "outputText", "completionReason"}]}`.
fn record_titan(v: &Value, results: &[Value], rec: &mut ResponseRecorder<'_>) {
    let output: i64 = results
        .iter()
        .filter_map(|r| as_int(entry(r, "tokenCount")))
        .fold(0, i64::saturating_add);
    rec.usage(Usage {
        input_tokens: as_int(entry(v, "inputTextTokenCount")),
        output_tokens: Some(output),
        ..Usage::default()
    });
    for (i, r) in results.iter().enumerate() {
        if let Some(reason) = as_text(entry(r, "completionReason")) {
            rec.finish_reason(i, reason);
        }
    }
    if rec.capture_content() {
        rec.output_messages(|| {
            Value::Array(
                results
                    .iter()
                    .map(|r| {
                        super::messages::text_output_message(
                            as_text(entry(r, "outputText")).unwrap_or(""),
                            as_text(entry(r, "completionReason")),
                        )
                    })
                    .collect(),
            )
        });
    }
}

/// Llama: `{"generation", "prompt_token_count", "generation_token_count", "stop_reason"}`.
fn record_llama(v: &Value, generation: &Value, rec: &mut ResponseRecorder<'_>) {
    rec.usage(Usage {
        input_tokens: as_int(entry(v, "prompt_token_count")),
        output_tokens: as_int(entry(v, "generation_token_count")),
        ..Usage::default()
    });
    let reason = as_text(entry(v, "stop_reason"));
    if let Some(reason) = reason {
        rec.finish_reason(0, reason);
    }
    if rec.capture_content() {
        if let Some(text) = as_text(Some(generation)) {
            rec.output_messages(|| json!([super::messages::text_output_message(text, reason)]));
        }
    }
}

/// Whether a stream chunk is a Converse stream event, a Titan or Llama `InvokeModel` stream
/// chunk, or a stream exception (`{"throttlingException": {"message"}}`, …).
pub(super) fn is_chunk(v: &Value) -> bool {
    let Value::Object(map) = v else {
        return false;
    };
    map.keys().any(|k| {
        STREAM_EVENTS.contains(&k.as_str())
            || k == "outputText"
            || k == "generation"
            || k == "amazon-bedrock-invocationMetrics"
            || (k.ends_with("Exception") && map.len() == 1)
    })
}

pub(super) fn record_chunk(v: &Value, rec: &mut ResponseRecorder<'_>) {
    rec.infer_provider(PROVIDER);
    let Value::Object(map) = v else {
        return;
    };
    rec.chunk_has_output(
        ["contentBlockDelta", "outputText", "generation"]
            .iter()
            .any(|k| map.contains_key(*k)),
    );
    for (key, event) in map {
        match key.as_str() {
            "contentBlockStart" => {
                let index = block_index(event);
                if let Some(tool) = at(event, &["start", "toolUse"]) {
                    rec.tool_call_delta(
                        0,
                        index,
                        as_text(entry(tool, "toolUseId")),
                        as_text(entry(tool, "name")),
                        "",
                    );
                }
            }
            "contentBlockDelta" => {
                let index = block_index(event);
                let delta = entry(event, "delta").unwrap_or(&Value::Null);
                if let Some(text) = as_text(entry(delta, "text")) {
                    rec.output_text_delta(0, text);
                } else if let Some(input) = as_text(at(delta, &["toolUse", "input"])) {
                    rec.tool_call_delta(0, index, None, None, input);
                } else if let Some(reasoning) = entry(delta, "reasoningContent") {
                    if let Some(text) = as_text(entry(reasoning, "text")) {
                        rec.reasoning_delta(0, text);
                    }
                }
            }
            "messageStop" => {
                if let Some(reason) = as_text(entry(event, "stopReason")) {
                    rec.finish_reason(0, reason);
                }
            }
            "metadata" => {
                if let Some(usage) = entry(event, "usage") {
                    rec.usage(converse_usage(usage));
                }
            }
            "amazon-bedrock-invocationMetrics" => rec.usage(invocation_metrics_usage(event)),
            // Titan stream chunk.
            "outputText" => {
                if let Some(text) = as_text(Some(event)) {
                    rec.output_text_delta(0, text);
                }
                if let Some(reason) = as_text(entry(v, "completionReason")) {
                    rec.finish_reason(0, reason);
                }
            }
            // Llama stream chunk.
            "generation" => {
                if let Some(text) = as_text(Some(event)) {
                    rec.output_text_delta(0, text);
                }
                if let Some(reason) = as_text(entry(v, "stop_reason")) {
                    rec.finish_reason(0, reason);
                }
            }
            exception if exception.ends_with("Exception") => {
                let kind = exception_type(exception);
                let message = as_text(entry(event, "message")).unwrap_or("");
                rec.error(kind, message);
            }
            _ => {}
        }
    }
}

fn block_index(event: &Value) -> usize {
    entry(event, "contentBlockIndex")
        .and_then(Value::as_u64)
        .map_or(0, |n| n.min(1 << 16) as usize)
}

/// An AWS error name (`ThrottlingException`, `validationException`, with or without the
/// `:http://…` suffix of the `x-amzn-errortype` header) as a low-cardinality `error.type`.
pub(crate) fn exception_type(name: &str) -> &'static str {
    let name = name.split(':').next().unwrap_or(name);
    let lower = name.to_ascii_lowercase();
    match lower.trim_end_matches("exception") {
        "validation" => "invalid_request",
        "throttling" | "servicequotaexceeded" | "toomanyrequests" => "rate_limit",
        "accessdenied" | "unrecognizedclient" => "permission_denied",
        "expiredtoken" | "invalidsignature" => "authentication",
        "resourcenotfound" => "404",
        "modeltimeout" => "timeout",
        "serviceunavailable" | "modelnotready" => "503",
        "internalserver" | "modelerror" | "modelstreamerror" => "server_error",
        "conflict" => "409",
        _ => crate::semconv::error_type::OTHER,
    }
}
