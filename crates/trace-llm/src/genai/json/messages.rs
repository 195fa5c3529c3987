//! Provider message JSON (OpenAI chat / Responses, Anthropic messages) to the semconv
//! message schemas: `{"role", "parts": [{"type": "text" | "tool_call" | "tool_call_response"
//! | "uri" | "blob" | "reasoning", ...}], "finish_reason"}`. Only called with content
//! capture on.

use serde_json::{Map, Value, json};

use super::{at, entry};

pub(crate) use crate::span::streamed::finish_reason_or_error;

pub(super) fn text_part(text: &str) -> Value {
    json!({"type": "text", "content": text})
}

/// Tool-call arguments: parsed when they are a JSON string, as given otherwise.
fn arguments(raw: Option<&Value>) -> Value {
    match raw {
        Some(Value::String(s)) => {
            serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
        }
        Some(other) => other.clone(),
        None => Value::Null,
    }
}

pub(super) fn tool_call_part(
    id: Option<&Value>,
    name: Option<&Value>,
    args: Option<&Value>,
) -> Value {
    let mut part = Map::new();
    part.insert("type".into(), "tool_call".into());
    if let Some(id) = id.filter(|v| !v.is_null()) {
        part.insert("id".into(), id.clone());
    }
    // The schema requires a string name.
    let name = name.filter(|n| n.is_string()).cloned();
    part.insert("name".into(), name.unwrap_or_else(|| "".into()));
    part.insert("arguments".into(), arguments(args));
    Value::Object(part)
}

pub(super) fn tool_response_part(id: Option<&Value>, response: Value) -> Value {
    let mut part = Map::new();
    part.insert("type".into(), "tool_call_response".into());
    if let Some(id) = id.filter(|v| !v.is_null()) {
        part.insert("id".into(), id.clone());
    }
    part.insert("response".into(), response);
    Value::Object(part)
}

/// One content block of any supported provider as a message part.
fn block_part(block: &Value) -> Option<Value> {
    if let Some(text) = block.as_str() {
        return Some(text_part(text));
    }
    let kind = entry(block, "type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" | "input_text" | "output_text" => {
            entry(block, "text").and_then(Value::as_str).map(text_part)
        }
        "refusal" => entry(block, "refusal")
            .and_then(Value::as_str)
            .map(text_part),
        "image_url" => {
            let url = at(block, &["image_url", "url"]).and_then(Value::as_str)?;
            Some(uri_or_blob(url, "image"))
        }
        "input_image" => {
            let url = entry(block, "image_url").and_then(Value::as_str)?;
            Some(uri_or_blob(url, "image"))
        }
        "image" | "document" => {
            let source = entry(block, "source")?;
            let modality = if kind == "image" { "image" } else { "document" };
            match entry(source, "type").and_then(Value::as_str) {
                Some("base64") => Some(json!({
                    "type": "blob",
                    "modality": modality,
                    "mime_type": entry(source, "media_type").cloned().unwrap_or(Value::Null),
                    "content": entry(source, "data").cloned().unwrap_or(Value::Null),
                })),
                Some("url") => entry(source, "url")
                    .and_then(Value::as_str)
                    .map(|u| uri_or_blob(u, modality)),
                _ => None,
            }
        }
        "tool_use" => Some(tool_call_part(
            entry(block, "id"),
            entry(block, "name"),
            entry(block, "input"),
        )),
        "tool_result" => {
            let response = match entry(block, "content") {
                Some(Value::Array(items)) => {
                    let texts: Vec<&str> = items
                        .iter()
                        .filter_map(|i| entry(i, "text").and_then(Value::as_str))
                        .collect();
                    Value::String(texts.join(""))
                }
                Some(other) => other.clone(),
                None => Value::Null,
            };
            Some(tool_response_part(entry(block, "tool_use_id"), response))
        }
        "thinking" => entry(block, "thinking")
            .and_then(Value::as_str)
            .map(|t| json!({"type": "reasoning", "content": t})),
        "function_call" => Some(tool_call_part(
            entry(block, "call_id").or_else(|| entry(block, "id")),
            entry(block, "name"),
            entry(block, "arguments"),
        )),
        "function_call_output" => Some(tool_response_part(
            entry(block, "call_id"),
            entry(block, "output").cloned().unwrap_or(Value::Null),
        )),
        "" => None,
        other => Some(json!({"type": other})),
    }
}

/// A data URL becomes a blob part, anything else a URI part.
fn uri_or_blob(url: &str, modality: &str) -> Value {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((meta, data)) = rest.split_once(',') {
            let mime = meta.trim_end_matches(";base64");
            return json!({"type": "blob", "modality": modality, "mime_type": mime, "content": data});
        }
    }
    json!({"type": "uri", "modality": modality, "uri": url})
}

fn content_parts(content: Option<&Value>) -> Vec<Value> {
    match content {
        Some(Value::String(s)) => vec![text_part(s)],
        Some(Value::Array(blocks)) => blocks.iter().filter_map(block_part).collect(),
        _ => Vec::new(),
    }
}

/// One chat message (OpenAI or Anthropic) as a semconv chat message.
fn chat_message(message: &Value) -> Value {
    let role = entry(message, "role")
        .and_then(Value::as_str)
        .unwrap_or("user");
    let mut parts = Vec::new();
    if role == "tool" || role == "function" {
        let response = entry(message, "content").cloned().unwrap_or(Value::Null);
        parts.push(tool_response_part(entry(message, "tool_call_id"), response));
    } else {
        parts.extend(content_parts(entry(message, "content")));
    }
    if let Some(Value::Array(calls)) = entry(message, "tool_calls") {
        for call in calls {
            parts.push(tool_call_part(
                entry(call, "id"),
                at(call, &["function", "name"]),
                at(call, &["function", "arguments"]),
            ));
        }
    }
    if let Some(call) = entry(message, "function_call").filter(|v| v.is_object()) {
        parts.push(tool_call_part(
            None,
            entry(call, "name"),
            entry(call, "arguments"),
        ));
    }
    let mut out = Map::new();
    out.insert("role".into(), role.into());
    out.insert("parts".into(), Value::Array(parts));
    if let Some(name) = entry(message, "name").filter(|v| v.is_string()) {
        out.insert("name".into(), name.clone());
    }
    Value::Object(out)
}

/// `gen_ai.input.messages` from a chat request's `messages`.
pub(crate) fn input_messages(messages: &[Value]) -> Value {
    Value::Array(messages.iter().map(chat_message).collect())
}

/// `gen_ai.input.messages` from a Responses API `input` (a string or a list of items).
pub(crate) fn responses_input(input: &Value) -> Value {
    match input {
        Value::String(s) => json!([{"role": "user", "parts": [text_part(s)]}]),
        // Items that are not messages (reasoning, item references, built-in tool calls)
        // carry no conversation content of their own: left out, never empty messages.
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter_map(|item| match entry(item, "type").and_then(Value::as_str) {
                    Some("function_call") => {
                        Some(json!({"role": "assistant", "parts": [block_part(item)]}))
                    }
                    Some("function_call_output") => {
                        Some(json!({"role": "tool", "parts": [block_part(item)]}))
                    }
                    Some("message") | None if entry(item, "role").is_some() => {
                        let message = chat_message(item);
                        let empty = message["parts"].as_array().is_none_or(Vec::is_empty);
                        (!empty).then_some(message)
                    }
                    _ => None,
                })
                .collect(),
        ),
        _ => Value::Array(Vec::new()),
    }
}

/// `gen_ai.input.messages` from a legacy completion `prompt`.
pub(crate) fn prompt_input(prompt: &Value) -> Value {
    let text = match prompt {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    };
    json!([{"role": "user", "parts": [text_part(&text)]}])
}

/// `gen_ai.system_instructions` from a string or a list of blocks (Anthropic `system`,
/// Responses `instructions`).
pub(crate) fn system_instructions(system: &Value) -> Value {
    Value::Array(content_parts(Some(system)))
}

/// `gen_ai.tool.definitions`: only the required `type` and `name` of each tool (the
/// conventions advise against descriptions and schemas by default: they are large).
pub(crate) fn tool_definitions(tools: &[Value]) -> Value {
    Value::Array(
        tools
            .iter()
            .filter_map(|tool| {
                let name = at(tool, &["function", "name"])
                    .or_else(|| entry(tool, "name"))
                    .and_then(Value::as_str)?;
                let kind = entry(tool, "type")
                    .and_then(Value::as_str)
                    .unwrap_or("function");
                let kind = if kind == "custom" { "function" } else { kind };
                Some(json!({"type": kind, "name": name}))
            })
            .collect(),
    )
}

/// An output message from a chat choice's `message` (or a legacy completion's `text`).
pub(crate) fn output_message(message: &Value, finish_reason: Option<&str>) -> Value {
    let mut out = chat_message(message);
    if let Value::Object(map) = &mut out {
        map.insert(
            "role".into(),
            entry(message, "role")
                .cloned()
                .unwrap_or_else(|| "assistant".into()),
        );
        map.insert(
            "finish_reason".into(),
            finish_reason_or_error(finish_reason),
        );
    }
    out
}

/// An output message from text alone (legacy completions, accumulated stream text).
pub(crate) fn text_output_message(text: &str, finish_reason: Option<&str>) -> Value {
    json!({
        "role": "assistant",
        "parts": [text_part(text)],
        "finish_reason": finish_reason_or_error(finish_reason),
    })
}

/// A Responses API item status as the official OpenAI instrumentation reports it: the
/// normal terminal state is `stop`, the other terminal states verbatim, others none.
pub(crate) fn responses_status_reason(status: Option<&str>) -> Option<&'static str> {
    match status? {
        "completed" => Some("stop"),
        "failed" => Some("failed"),
        "cancelled" => Some("cancelled"),
        "incomplete" => Some("incomplete"),
        _ => None,
    }
}

/// The output of a Responses API response as one assistant message (the response is one
/// choice): its reasoning summaries, text and refusals, and tool calls, in order. Its finish
/// reason is `tool_call` when the model called tools, else that of its message items.
pub(crate) fn responses_output(output: &[Value]) -> Value {
    let mut parts = Vec::new();
    let mut reason: Option<&str> = None;
    let mut tool_calls = false;
    for item in output {
        match entry(item, "type").and_then(Value::as_str) {
            Some("message") => {
                parts.extend(content_parts(entry(item, "content")));
                let status = entry(item, "status").and_then(Value::as_str);
                reason = reason.or(responses_status_reason(status));
            }
            Some("function_call" | "custom_tool_call") => {
                tool_calls = true;
                parts.extend(block_part(item));
            }
            Some("reasoning") => parts.extend(
                entry(item, "summary")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| entry(s, "text").and_then(Value::as_str))
                    .map(|t| json!({"type": "reasoning", "content": t})),
            ),
            _ => {}
        }
    }
    if parts.is_empty() {
        return Value::Array(Vec::new());
    }
    let finish_reason = if tool_calls {
        "tool_call".into()
    } else {
        finish_reason_or_error(reason)
    };
    json!([{"role": "assistant", "parts": parts, "finish_reason": finish_reason}])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_tool_round_trip_messages() {
        let messages = vec![
            json!({"role": "system", "content": "be brief"}),
            json!({"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"location\": \"Paris\"}"}}]}),
            json!({"role": "tool", "content": "rainy", "tool_call_id": "call_1"}),
        ];
        let out = input_messages(&messages);
        assert_eq!(
            out[0],
            json!({"role": "system", "parts": [{"type": "text", "content": "be brief"}]})
        );
        assert_eq!(
            out[1]["parts"][0],
            json!({"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"location": "Paris"}})
        );
        assert_eq!(
            out[2],
            json!({"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy"}]})
        );
    }

    #[test]
    fn anthropic_blocks() {
        let msg = json!({"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "42"}]}
        ]});
        let out = input_messages(&[msg]);
        let parts = &out[0]["parts"];
        assert_eq!(parts[1]["type"], "blob");
        assert_eq!(parts[1]["mime_type"], "image/png");
        assert_eq!(
            parts[2],
            json!({"type": "tool_call_response", "id": "toolu_1", "response": "42"})
        );
    }
}
