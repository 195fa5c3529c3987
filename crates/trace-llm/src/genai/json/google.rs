//! Google Gemini API and Vertex AI `generateContent` / `streamGenerateContent`: requests
//! (`contents`, `generationConfig`, `systemInstruction`, `tools`), responses and stream
//! chunks (each chunk is a whole `GenerateContentResponse`). The model is only in the URL:
//! the user gives it with `model = expr`. Field names are accepted in the REST API's
//! camelCase and in the protobuf snake_case both.

use serde_json::{Map, Value, json};

use super::messages::{finish_reason_or_error, text_part, tool_call_part, tool_response_part};
use super::{as_int, as_num, as_text, strings};
use super::{at, entry};
use crate::genai::{RequestRecorder, ResponseRecorder, Usage};

/// `gen_ai.provider.name` when the payload alone cannot tell the Gemini API from Vertex AI.
pub(super) const PROVIDER: &str = "gcp.gen_ai";

/// `v[camel]`, else `v[snake]`.
fn get<'a>(v: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    entry(v, camel).or_else(|| entry(v, snake))
}

pub(super) fn record_request(v: &Value, rec: &mut RequestRecorder<'_>) {
    rec.infer_provider(PROVIDER);
    if let Some(config) = get(v, "generationConfig", "generation_config") {
        if let Some(t) = as_num(entry(config, "temperature")) {
            rec.temperature(t);
        }
        if let Some(n) = as_int(get(config, "maxOutputTokens", "max_output_tokens")) {
            rec.max_tokens(n);
        }
        if let Some(p) = as_num(get(config, "topP", "top_p")) {
            rec.top_p(p);
        }
        if let Some(k) = as_num(get(config, "topK", "top_k")) {
            rec.top_k(k);
        }
        if let Some(p) = as_num(get(config, "frequencyPenalty", "frequency_penalty")) {
            rec.frequency_penalty(p);
        }
        if let Some(p) = as_num(get(config, "presencePenalty", "presence_penalty")) {
            rec.presence_penalty(p);
        }
        if let Some(stop) = get(config, "stopSequences", "stop_sequences") {
            let stop = strings(stop);
            if !stop.is_empty() {
                rec.stop_sequences(stop);
            }
        }
        if let Some(seed) = as_int(entry(config, "seed")) {
            rec.seed(seed);
        }
        if let Some(n) = as_int(get(config, "candidateCount", "candidate_count")) {
            rec.choice_count(n);
        }
        let schema = get(config, "responseSchema", "response_schema")
            .or_else(|| get(config, "responseJsonSchema", "response_json_schema"));
        match as_text(get(config, "responseMimeType", "response_mime_type")) {
            Some("application/json") => rec.output_type("json"),
            Some(mime) if mime.starts_with("text/") => rec.output_type("text"),
            _ if schema.is_some() => rec.output_type("json"),
            _ => {}
        }
    }
    if !rec.capture_content() {
        return;
    }
    if let Some(Value::Array(contents)) = entry(v, "contents") {
        rec.input_messages(|| Value::Array(contents.iter().map(content_message).collect()));
    }
    if let Some(system) = get(v, "systemInstruction", "system_instruction") {
        rec.system_instructions(|| match system {
            Value::String(s) => json!([text_part(s)]),
            content => Value::Array(parts(entry(content, "parts"))),
        });
    }
    if let Some(Value::Array(tools)) = entry(v, "tools") {
        let definitions: Vec<Value> = tools
            .iter()
            .filter_map(|t| get(t, "functionDeclarations", "function_declarations"))
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(|f| as_text(entry(f, "name")))
            .map(|name| json!({"type": "function", "name": name}))
            .collect();
        if !definitions.is_empty() {
            rec.tool_definitions(|| Value::Array(definitions));
        }
    }
}

/// A `Content` (`{"role", "parts"}`) as a semconv message: `model` is the assistant, and a
/// content made of function responses is the tool's.
fn content_message(content: &Value) -> Value {
    let parts = parts(entry(content, "parts"));
    let role = match as_text(entry(content, "role")) {
        Some("model") => "assistant",
        Some("function" | "tool") => "tool",
        _ if !parts.is_empty()
            && parts
                .iter()
                .all(|p| entry(p, "type") == Some(&json!("tool_call_response"))) =>
        {
            "tool"
        }
        Some(other) => other,
        None => "user",
    };
    json!({"role": role, "parts": parts})
}

fn parts(parts: Option<&Value>) -> Vec<Value> {
    parts
        .and_then(Value::as_array)
        .map(|ps| ps.iter().filter_map(part).collect())
        .unwrap_or_default()
}

/// One `Part` as a semconv message part.
fn part(p: &Value) -> Option<Value> {
    if let Some(text) = as_text(entry(p, "text")) {
        return Some(
            if entry(p, "thought").and_then(Value::as_bool) == Some(true) {
                json!({"type": "reasoning", "content": text})
            } else {
                text_part(text)
            },
        );
    }
    if let Some(call) = get(p, "functionCall", "function_call") {
        return Some(tool_call_part(
            entry(call, "id"),
            entry(call, "name"),
            entry(call, "args"),
        ));
    }
    if let Some(response) = get(p, "functionResponse", "function_response") {
        let mut value = entry(response, "response").cloned().unwrap_or(Value::Null);
        if let (Value::Object(map), Some(name)) = (&mut value, entry(response, "name")) {
            map.entry("name").or_insert_with(|| name.clone());
        }
        return Some(tool_response_part(entry(response, "id"), value));
    }
    if let Some(data) = get(p, "inlineData", "inline_data") {
        let mime = get(data, "mimeType", "mime_type");
        return Some(json!({
            "type": "blob",
            "modality": modality(as_text(mime)),
            "mime_type": mime.cloned().unwrap_or(Value::Null),
            "content": entry(data, "data").cloned().unwrap_or(Value::Null),
        }));
    }
    if let Some(file) = get(p, "fileData", "file_data") {
        let mime = get(file, "mimeType", "mime_type");
        return Some(json!({
            "type": "uri",
            "modality": modality(as_text(mime)),
            "mime_type": mime.cloned().unwrap_or(Value::Null),
            "uri": get(file, "fileUri", "file_uri").cloned().unwrap_or(Value::Null),
        }));
    }
    if let Some(code) = get(p, "executableCode", "executable_code") {
        return Some(json!({
            "type": "executable_code",
            "language": entry(code, "language").cloned().unwrap_or(Value::Null),
            "code": entry(code, "code").cloned().unwrap_or(Value::Null),
        }));
    }
    if let Some(result) = get(p, "codeExecutionResult", "code_execution_result") {
        return Some(json!({
            "type": "code_execution_result",
            "outcome": entry(result, "outcome").cloned().unwrap_or(Value::Null),
            "output": entry(result, "output").cloned().unwrap_or(Value::Null),
        }));
    }
    None
}

fn modality(mime: Option<&str>) -> &'static str {
    match mime.and_then(|m| m.split('/').next()) {
        Some("image") => "image",
        Some("audio") => "audio",
        Some("video") => "video",
        _ => "document",
    }
}

/// Gemini usage: `promptTokenCount` includes cached content; tool-use prompt tokens are
/// input too; thoughts are output the model spent reasoning (`candidatesTokenCount`
/// excludes them), so output is candidates plus thoughts, as the total count adds up.
fn usage(meta: &Value) -> Usage {
    let prompt = as_int(get(meta, "promptTokenCount", "prompt_token_count"));
    let tool_prompt = as_int(get(
        meta,
        "toolUsePromptTokenCount",
        "tool_use_prompt_token_count",
    ));
    let candidates = as_int(get(meta, "candidatesTokenCount", "candidates_token_count"));
    let thoughts = as_int(get(meta, "thoughtsTokenCount", "thoughts_token_count"));
    let sum = |a: Option<i64>, b: Option<i64>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    };
    Usage {
        input_tokens: sum(prompt, tool_prompt),
        output_tokens: sum(candidates, thoughts),
        cache_read_input_tokens: as_int(get(
            meta,
            "cachedContentTokenCount",
            "cached_content_token_count",
        )),
        cache_creation_input_tokens: None,
        reasoning_output_tokens: thoughts,
    }
}

/// A response (`stream` false) or one chunk of a stream (`stream` true).
pub(super) fn record_response(v: &Value, rec: &mut ResponseRecorder<'_>, stream: bool) {
    rec.infer_provider(PROVIDER);
    if let Some(id) = as_text(get(v, "responseId", "response_id")).filter(|s| !s.is_empty()) {
        rec.id(id);
    }
    if let Some(model) = as_text(get(v, "modelVersion", "model_version")).filter(|s| !s.is_empty())
    {
        rec.model(model);
    }
    if let Some(meta) = get(v, "usageMetadata", "usage_metadata") {
        rec.usage(usage(meta));
    }
    let candidates = entry(v, "candidates")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if stream {
        rec.chunk_has_output(candidates.iter().any(|c| {
            at(c, &["content", "parts"])
                .and_then(Value::as_array)
                .is_some_and(|ps| !ps.is_empty())
        }));
    }
    for (position, candidate) in candidates.iter().enumerate() {
        let index = entry(candidate, "index")
            .and_then(Value::as_u64)
            .map_or(position, |n| n as usize);
        if let Some(reason) = finish_reason(candidate) {
            rec.finish_reason(index, reason);
        }
        if stream && rec.capture_content() {
            record_deltas(index, candidate, rec);
        }
    }
    if !stream && rec.capture_content() && !candidates.is_empty() {
        rec.output_messages(|| {
            Value::Array(
                candidates
                    .iter()
                    .map(|c| {
                        let mut message = Map::new();
                        message.insert("role".into(), "assistant".into());
                        message.insert(
                            "parts".into(),
                            Value::Array(parts(
                                entry(c, "content").and_then(|c| entry(c, "parts")),
                            )),
                        );
                        let reason = finish_reason(c);
                        message.insert("finish_reason".into(), finish_reason_or_error(reason));
                        Value::Object(message)
                    })
                    .collect(),
            )
        });
    }
}

/// A candidate's finish reason by name; the integer encoding (`enum-encoding=int`, which
/// Vertex AI's SDK asks for) is turned into the name it stands for.
fn finish_reason(candidate: &Value) -> Option<&str> {
    const NAMES: [&str; 12] = [
        "FINISH_REASON_UNSPECIFIED",
        "STOP",
        "MAX_TOKENS",
        "SAFETY",
        "RECITATION",
        "OTHER",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "MALFORMED_FUNCTION_CALL",
        "MODEL_ARMOR",
        "IMAGE_PROHIBITED_CONTENT",
    ];
    let reason = get(candidate, "finishReason", "finish_reason")?;
    match reason {
        Value::String(s) => Some(s),
        Value::Number(n) => NAMES.get(usize::try_from(n.as_u64()?).ok()?).copied(),
        _ => None,
    }
}

/// A stream chunk's text, thoughts and function calls, added to the streamed output.
fn record_deltas(index: usize, candidate: &Value, rec: &mut ResponseRecorder<'_>) {
    let Some(Value::Array(ps)) = entry(candidate, "content").and_then(|c| entry(c, "parts")) else {
        return;
    };
    for p in ps {
        if let Some(text) = as_text(entry(p, "text")) {
            if entry(p, "thought").and_then(Value::as_bool) == Some(true) {
                rec.reasoning_delta(index, text);
            } else {
                rec.output_text_delta(index, text);
            }
        } else if let Some(call) = get(p, "functionCall", "function_call") {
            let args = entry(call, "args")
                .map(Value::to_string)
                .unwrap_or_default();
            rec.streamed_tool_call(
                index,
                as_text(entry(call, "id")),
                as_text(entry(call, "name")),
                &args,
            );
        }
    }
}
