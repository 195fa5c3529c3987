//! Opt-in capture of content (prompts, completions, tool arguments and results, retrieved
//! text): built-in secret masking, the user's redaction hook, then a size limit that keeps
//! the JSON valid. Nothing here runs unless the user turned capture on.

use serde_json::Value;

/// Appended to a string that was cut to fit the size limit.
pub const TRUNCATION_MARKER: &str = "…[truncated]";

/// Replaces secrets that commonly leak into prompts and tool arguments (API keys, bearer
/// tokens) with `[REDACTED]`.
///
/// Recognised: OpenAI (`sk-…`, `sk-proj-…`) and Anthropic (`sk-ant-…`) keys, `Bearer`
/// tokens, AWS access key ids (`AKIA…`), GitHub tokens (`ghp_…`, `github_pat_…`), Google
/// API keys (`AIza…`), Slack tokens (`xox?-…`).
///
/// ```
/// let masked = trace_llm::mask_secrets("key sk-proj-abcdefghijklmnopqrstuvwx, Authorization: Bearer eyJhbGciOi.J9x");
/// assert_eq!(masked, "key [REDACTED], Authorization: Bearer [REDACTED]");
/// ```
pub fn mask_secrets(text: &str) -> String {
    /// Characters a secret's body is made of.
    #[derive(Clone, Copy)]
    enum Body {
        /// Key-like: letters, digits, `-`, `_`.
        Key,
        /// Token-like (bearer tokens, JWTs): also `.`, `~`, `+`, `/`, `=`.
        Token,
    }
    /// (prefix, body, shortest body, keep the prefix visible)
    const PATTERNS: &[(&str, Body, usize, bool)] = &[
        ("sk-", Body::Key, 20, false),
        ("AKIA", Body::Key, 16, false),
        ("ghp_", Body::Key, 30, false),
        ("gho_", Body::Key, 30, false),
        ("github_pat_", Body::Key, 30, false),
        ("AIza", Body::Key, 30, false),
        ("xoxb-", Body::Key, 10, false),
        ("xoxp-", Body::Key, 10, false),
        ("xoxa-", Body::Key, 10, false),
        ("Bearer ", Body::Token, 8, true),
        ("bearer ", Body::Token, 8, true),
    ];
    let in_body = |body: Body, c: char| match body {
        Body::Key => c.is_ascii_alphanumeric() || matches!(c, '-' | '_'),
        Body::Token => {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=')
        }
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for &(prefix, body, min_len, keep_prefix) in PATTERNS {
            let Some(after) = rest.strip_prefix(prefix) else {
                continue;
            };
            // A secret starts at a word boundary.
            let boundary = out
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_ascii_alphanumeric());
            let body_len: usize = after
                .chars()
                .take_while(|&c| in_body(body, c))
                .map(char::len_utf8)
                .sum();
            if boundary && body_len >= min_len {
                if keep_prefix {
                    out.push_str(prefix);
                }
                out.push_str("[REDACTED]");
                rest = &after[body_len..];
                continue 'scan;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// A value to record as content: serialised; a string holding a JSON object or array (tool
/// arguments often arrive that way) is recorded as that JSON.
pub(crate) fn to_content_value<T: serde::Serialize + ?Sized>(value: &T) -> Value {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(parsed @ (Value::Object(_) | Value::Array(_))) => parsed,
            _ => Value::String(s),
        },
        Ok(other) => other,
        Err(e) => Value::String(format!("<not serialisable: {e}>")),
    }
}

fn mask_value(value: &mut Value) {
    match value {
        Value::String(s) => {
            let masked = mask_secrets(s);
            if masked != *s {
                *s = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_value),
        Value::Object(map) => map.values_mut().for_each(mask_value),
        _ => {}
    }
}

/// Cuts every string leaf longer than `cap` bytes (at a character boundary) and marks it.
fn cap_strings(value: &mut Value, cap: usize) -> bool {
    match value {
        Value::String(s) if s.len() > cap => {
            let cut = crate::span::truncate_utf8(s, cap).len();
            s.truncate(cut);
            s.push_str(TRUNCATION_MARKER);
            true
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |acc, v| cap_strings(v, cap) | acc),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |acc, v| cap_strings(v, cap) | acc),
        _ => false,
    }
}

fn longest_string(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(longest_string).max().unwrap_or(0),
        Value::Object(map) => map.values().map(longest_string).max().unwrap_or(0),
        _ => 0,
    }
}

fn to_json(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Serialises `value` within `max` bytes, keeping valid JSON: long strings are shortened
/// (binary search on a per-string cap), then trailing array items dropped. Returns the text
/// and whether anything was cut.
pub(crate) fn fit_json(value: Value, max: usize) -> (String, bool) {
    let text = to_json(&value);
    if text.len() <= max {
        return (text, false);
    }
    let (mut lo, mut hi) = (0usize, longest_string(&value));
    let mut best: Option<String> = None;
    while lo <= hi {
        let cap = lo + (hi - lo) / 2;
        let mut candidate = value.clone();
        cap_strings(&mut candidate, cap);
        let text = to_json(&candidate);
        if text.len() <= max {
            best = Some(text);
            lo = cap + 1;
        } else if cap == 0 {
            break;
        } else {
            hi = cap - 1;
        }
    }
    if let Some(text) = best {
        return (text, true);
    }
    // Even empty strings do not fit: drop items from the end of the outermost array.
    let mut value = value;
    cap_strings(&mut value, 0);
    if let Value::Array(mut items) = value {
        while items.pop().is_some() {
            let text = serde_json::to_string(&items).unwrap_or_default();
            if text.len() <= max {
                return (text, true);
            }
        }
    }
    ("[]".to_owned(), true)
}

/// Fits plain (non-JSON) text within `max` bytes.
pub(crate) fn fit_text(text: String, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let room = max.saturating_sub(TRUNCATION_MARKER.len());
    let mut cut = crate::span::truncate_utf8(&text, room).to_owned();
    cut.push_str(TRUNCATION_MARKER);
    (cut, true)
}

/// Plain-text content (a retrieval query): masked, redacted, size-limited.
pub(crate) fn prepare_text(
    key: &str,
    text: &str,
    max: usize,
    redact: Option<&crate::init::pipeline::Redactor>,
) -> (String, bool) {
    let masked = mask_secrets(text);
    let redacted = match redact {
        Some(hook) => hook(key, masked),
        None => masked,
    };
    fit_text(redacted, max)
}

/// The text to record for content attribute `key`: masked, passed through the user's hook,
/// then size-limited. Returns the text and whether it was truncated.
pub(crate) fn prepare(
    key: &str,
    mut value: Value,
    max: usize,
    redact: Option<&crate::init::pipeline::Redactor>,
) -> (String, bool) {
    mask_value(&mut value);
    let Some(hook) = redact else {
        return fit_json(value, max);
    };
    let redacted = hook(key, to_json(&value));
    // The hook may have returned something that is no longer JSON: limit it as text then.
    match serde_json::from_str::<Value>(&redacted) {
        Ok(parsed) => fit_json(parsed, max),
        Err(_) => fit_text(redacted, max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_keys_and_tokens_but_not_words() {
        assert_eq!(
            mask_secrets("use sk-ant-api03-aaaaaaaaaaaaaaaaaaaaaaaa now"),
            "use [REDACTED] now"
        );
        assert_eq!(
            mask_secrets("task-list and desk-top"),
            "task-list and desk-top"
        );
        assert_eq!(mask_secrets("AKIAIOSFODNN7EXAMPLE."), "[REDACTED].");
        assert_eq!(mask_secrets("héllo wörld"), "héllo wörld");
    }

    #[test]
    fn fit_keeps_valid_json_and_marks_truncation() {
        let value =
            json!([{"role": "user", "parts": [{"type": "text", "content": "x".repeat(5000)}]}]);
        let (text, cut) = fit_json(value, 300);
        assert!(cut);
        assert!(text.len() <= 300, "{}", text.len());
        let parsed: Value = serde_json::from_str(&text).expect("valid JSON");
        let content = parsed[0]["parts"][0]["content"].as_str().expect("content");
        assert!(content.ends_with(TRUNCATION_MARKER));
        assert_eq!(parsed[0]["role"], "user");
    }

    #[test]
    fn fit_drops_items_when_strings_alone_do_not_fit() {
        let value = Value::Array((0..100).map(|i| json!({"id": i})).collect());
        let (text, cut) = fit_json(value, 50);
        assert!(cut && text.len() <= 50);
        assert!(serde_json::from_str::<Value>(&text).is_ok());
    }

    #[test]
    fn small_values_are_untouched() {
        let (text, cut) = fit_json(json!({"a": "b"}), 100);
        assert_eq!((text.as_str(), cut), (r#"{"a":"b"}"#, false));
    }
}
