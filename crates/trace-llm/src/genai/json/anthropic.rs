//! Anthropic's response shapes (Messages, legacy completions), also as Bedrock's
//! `InvokeModel` returns them.

use serde_json::Value;

use super::messages;
use super::{Entries, as_int, as_text, bedrock};
use crate::genai::{ResponseRecorder, Usage};

/// Anthropic usage: `input_tokens` excludes cached tokens, so the conventions' input count
/// is `input_tokens + cache_read + cache_creation`. Cache counts missing from this event
/// are taken from what earlier events of the stream said.
pub(super) fn anthropic_usage(usage: &Value, so_far: Usage) -> Usage {
    fields!(usage;
        input_tokens = "input_tokens",
        output_tokens = "output_tokens",
        cache_read = "cache_read_input_tokens",
        cache_creation = "cache_creation_input_tokens",
    );
    let (cache_read, cache_creation) = (as_int(cache_read), as_int(cache_creation));
    let input = as_int(input_tokens).map(|input| {
        let read = cache_read.or(so_far.cache_read_input_tokens).unwrap_or(0);
        let created = cache_creation
            .or(so_far.cache_creation_input_tokens)
            .unwrap_or(0);
        input.saturating_add(read).saturating_add(created)
    });
    Usage {
        input_tokens: input,
        output_tokens: as_int(output_tokens),
        cache_read_input_tokens: cache_read,
        cache_creation_input_tokens: cache_creation,
        reasoning_output_tokens: None,
    }
}

pub(super) fn record_anthropic_message(e: &Entries<'_>, rec: &mut ResponseRecorder<'_>) {
    if let Some(reason) = as_text(e.stop_reason) {
        rec.finish_reason(0, reason);
    }
    if let Some(usage) = e.usage {
        let so_far = rec.usage_so_far();
        rec.usage(anthropic_usage(usage, so_far));
    }
    if rec.capture_content() {
        rec.output_messages(|| {
            let mut message = serde_json::Map::new();
            message.insert(
                "role".into(),
                e.role.cloned().unwrap_or_else(|| "assistant".into()),
            );
            message.insert("content".into(), e.content.cloned().unwrap_or(Value::Null));
            Value::Array(vec![messages::output_message(
                &Value::Object(message),
                as_text(e.stop_reason),
            )])
        });
    }
}

pub(super) fn record_anthropic_completion(e: &Entries<'_>, rec: &mut ResponseRecorder<'_>) {
    if let Some(reason) = as_text(e.stop_reason) {
        rec.finish_reason(0, reason);
    }
    if rec.capture_content() {
        rec.output_messages(|| {
            Value::Array(vec![messages::text_output_message(
                as_text(e.completion).unwrap_or_default(),
                as_text(e.stop_reason),
            )])
        });
    }
}

/// Anthropic's message shape, from Anthropic or through Bedrock (`msg_bdrk_` ids).
pub(super) fn anthropic_or_bedrock(id: Option<&str>) -> &'static str {
    if id.is_some_and(|id| id.starts_with("msg_bdrk_")) {
        bedrock::PROVIDER
    } else {
        "anthropic"
    }
}
