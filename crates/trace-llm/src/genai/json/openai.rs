//! OpenAI's response shapes (chat completions, legacy completions, embeddings, the
//! Responses API) and the OpenAI-compatible servers that reuse them.

use serde_json::Value;

use super::messages;
use super::{Entries, as_int, as_text, at, entry, openai_flavoured, text};
use crate::genai::{ResponseRecorder, Usage};
use crate::semconv as sc;
use crate::span::local::intern;

/// A choice's index (its position when it does not say) and finish reason.
pub(super) fn choice_index_and_reason(position: usize, choice: &Value) -> (usize, Option<&str>) {
    fields!(choice; index = "index", reason = "finish_reason");
    let index = index
        .and_then(Value::as_u64)
        .map_or(position, |n| n as usize);
    (index, as_text(reason))
}

/// OpenAI usage (chat, completions, embeddings, Responses): input includes cached tokens.
pub(super) fn openai_usage(usage: &Value) -> Option<Usage> {
    fields!(usage;
        prompt_tokens = "prompt_tokens",
        input_tokens = "input_tokens",
        completion_tokens = "completion_tokens",
        output_tokens = "output_tokens",
        prompt_details = "prompt_tokens_details",
        input_details = "input_tokens_details",
        completion_details = "completion_tokens_details",
        output_details = "output_tokens_details",
        cache_hits = "prompt_cache_hit_tokens",
    );
    let detail = |first: Option<&Value>, second: Option<&Value>, key: &str| {
        first
            .and_then(|d| entry(d, key))
            .or_else(|| second.and_then(|d| entry(d, key)))
            .and_then(Value::as_i64)
            .filter(|n| *n >= 0)
    };
    let input = as_int(prompt_tokens).or_else(|| as_int(input_tokens))?;
    let mut u = Usage::input(input);
    u.output_tokens = as_int(completion_tokens).or_else(|| as_int(output_tokens));
    // DeepSeek reports cache hits beside the total.
    u.cache_read_input_tokens =
        detail(prompt_details, input_details, "cached_tokens").or_else(|| as_int(cache_hits));
    u.reasoning_output_tokens = detail(completion_details, output_details, "reasoning_tokens");
    Some(u)
}

/// Fingerprints and service tiers take few values: interned, they cost no allocation (and no
/// free on the export thread).
pub(super) fn record_openai_extras(e: &Entries<'_>, rec: &mut ResponseRecorder<'_>) {
    if let Some(fp) = as_text(e.system_fingerprint) {
        rec.attr(sc::OPENAI_RESPONSE_SYSTEM_FINGERPRINT, intern(fp));
    }
    if let Some(tier) = as_text(e.service_tier) {
        rec.attr(sc::OPENAI_RESPONSE_SERVICE_TIER, intern(tier));
    }
}

pub(super) fn record_chat_completion(e: &Entries<'_>, rec: &mut ResponseRecorder<'_>) {
    e.record_compatible_provider(rec);
    let choices = e.choices();
    for (i, choice) in choices.iter().enumerate() {
        if let (index, Some(reason)) = choice_index_and_reason(i, choice) {
            rec.finish_reason(index, reason);
        }
    }
    if let Some(usage) = e.usage.and_then(openai_usage) {
        rec.usage(usage);
    }
    if openai_flavoured(rec.provider()) {
        record_openai_extras(e, rec);
    }
    if rec.capture_content() {
        rec.output_messages(|| {
            Value::Array(
                choices
                    .iter()
                    .map(|c| match entry(c, "message") {
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

pub(super) fn record_embeddings(e: &Entries<'_>, rec: &mut ResponseRecorder<'_>) {
    if let Some(input) = as_int(e.usage.and_then(|u| entry(u, "prompt_tokens"))) {
        rec.usage(Usage::input(input));
    }
    let first = e.data.and_then(|data| at(data, &["0", "embedding"]));
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
/// per output message item (`stop` when completed, other terminal statuses verbatim); a
/// response without message items that stopped early reports why.
pub(super) fn record_responses_response(e: &Entries<'_>, rec: &mut ResponseRecorder<'_>) {
    let output = e
        .output
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut reasons: Vec<&str> = output
        .iter()
        .filter(|item| text(item, "type") == Some("message"))
        .filter_map(|item| messages::responses_status_reason(text(item, "status")))
        .collect();
    if reasons.is_empty() {
        if let Some(reason) = as_text(e.incomplete_details.and_then(|d| entry(d, "reason"))) {
            reasons.push(reason);
        }
    }
    for (i, reason) in reasons.iter().enumerate() {
        rec.finish_reason(i, reason);
    }
    if let Some(usage) = e.usage.and_then(openai_usage) {
        rec.usage(usage);
    }
    if let Some(tier) = as_text(e.service_tier) {
        rec.attr(sc::OPENAI_RESPONSE_SERVICE_TIER, intern(tier));
    }
    if as_text(e.status) == Some("failed") {
        // Classified as an HTTP error body's code is (`rate_limit_exceeded` → `rate_limit`).
        let code = as_text(e.error.and_then(|err| entry(err, "code")));
        let message = as_text(e.error.and_then(|err| entry(err, "message"))).unwrap_or("");
        let error_type = match code {
            Some(code) => crate::genai::errors::classify(None, Some(code), Some(code)),
            None => std::borrow::Cow::Borrowed(sc::error_type::OTHER),
        };
        rec.error(&error_type, message);
    }
    if rec.capture_content() {
        rec.output_messages(|| messages::responses_output(output));
    }
}
