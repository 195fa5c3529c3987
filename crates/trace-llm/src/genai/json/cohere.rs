//! Cohere v2 `/v2/chat`: responses (`message`, `finish_reason`, `usage.tokens`,
//! `usage.billed_units`, `cached_tokens`) and the stream's events (`message-start`,
//! `content-delta`, `tool-call-start`, `tool-call-delta`, `message-end`, …). Requests are
//! OpenAI-shaped (read by the common code) except `p` and `k`.

use serde_json::Value;

use super::messages;
use super::{as_int, as_text};
use super::{at, entry};
use crate::genai::{ResponseRecorder, Usage};

pub(super) const PROVIDER: &str = "cohere";

/// Whether a stream event is Cohere's (hyphenated `type`).
pub(super) fn is_event(kind: &str) -> bool {
    matches!(
        kind,
        "message-start"
            | "content-start"
            | "content-delta"
            | "content-end"
            | "tool-plan-delta"
            | "tool-call-start"
            | "tool-call-delta"
            | "tool-call-end"
            | "citation-start"
            | "citation-end"
            | "message-end"
            | "debug"
    )
}

/// Cohere usage: `tokens` counts what the model processed (cached tokens included),
/// `billed_units` what was billed; the conventions want the former.
fn usage(u: &Value) -> Usage {
    let counts = entry(u, "tokens").or_else(|| entry(u, "billed_units"));
    let count = |key: &str| as_int(counts.and_then(|c| entry(c, key)));
    Usage {
        input_tokens: count("input_tokens"),
        output_tokens: count("output_tokens"),
        cache_read_input_tokens: as_int(entry(u, "cached_tokens")),
        ..Usage::default()
    }
}

pub(super) fn record_response(v: &Value, rec: &mut ResponseRecorder<'_>) {
    rec.infer_provider(PROVIDER);
    if let Some(id) = as_text(entry(v, "id")).filter(|s| !s.is_empty()) {
        rec.id(id);
    }
    let reason = as_text(entry(v, "finish_reason"));
    if let Some(reason) = reason {
        rec.finish_reason(0, reason);
    }
    if let Some(u) = entry(v, "usage") {
        rec.usage(usage(u));
    }
    if let Some(message) = entry(v, "message") {
        if rec.capture_content() {
            rec.output_messages(|| Value::Array(vec![messages::output_message(message, reason)]));
        }
    }
}

pub(super) fn record_event(kind: &str, v: &Value, rec: &mut ResponseRecorder<'_>) {
    rec.infer_provider(PROVIDER);
    let index = || {
        entry(v, "index")
            .and_then(Value::as_u64)
            .map_or(0, |n| n.min(1 << 16) as usize)
    };
    let message = at(v, &["delta", "message"]);
    rec.chunk_has_output(matches!(
        kind,
        "content-delta" | "tool-plan-delta" | "tool-call-start" | "tool-call-delta"
    ));
    match kind {
        "message-start" => {
            if let Some(id) = as_text(entry(v, "id")).filter(|s| !s.is_empty()) {
                rec.id(id);
            }
        }
        "content-delta" => {
            if let Some(text) = as_text(message.and_then(|m| at(m, &["content", "text"]))) {
                rec.output_text_delta(0, text);
            }
        }
        "tool-call-start" => {
            let call = message.and_then(|m| entry(m, "tool_calls"));
            rec.tool_call_delta(
                0,
                index(),
                as_text(call.and_then(|c| entry(c, "id"))),
                as_text(call.and_then(|c| at(c, &["function", "name"]))),
                as_text(call.and_then(|c| at(c, &["function", "arguments"]))).unwrap_or(""),
            );
        }
        "tool-call-delta" => {
            let piece = message.and_then(|m| at(m, &["tool_calls", "function", "arguments"]));
            if let Some(piece) = as_text(piece) {
                rec.tool_call_delta(0, index(), None, None, piece);
            }
        }
        "message-end" => {
            let delta = entry(v, "delta").unwrap_or(&Value::Null);
            if let Some(reason) = as_text(entry(delta, "finish_reason")) {
                rec.finish_reason(0, reason);
            }
            if let Some(u) = entry(delta, "usage") {
                rec.usage(usage(u));
            }
        }
        _ => {}
    }
}
