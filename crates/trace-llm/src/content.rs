//! Opt-in capture of content (prompts, completions, tool arguments and results, retrieved
//! text): built-in secret masking, the user's redaction hook, then a size limit that keeps
//! the JSON valid. Nothing here runs unless the user turned capture on.

use serde_json::Value;

use crate::util::Redactor;

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
            // A secret starts at a word boundary; checked before the body is measured, so
            // each byte of the text is scanned a bounded number of times (linear time).
            let boundary = out
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_ascii_alphanumeric());
            if !boundary {
                continue;
            }
            let body_len: usize = after
                .chars()
                .take_while(|&c| in_body(body, c))
                .map(char::len_utf8)
                .sum();
            if body_len >= min_len {
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
            let cut = crate::util::truncate_utf8(s, cap).len();
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

/// Deepest nesting recorded. Deeper arrays and objects are replaced by the truncation
/// marker, so that content serialises and re-parses within serde_json's recursion limit
/// (128) and recursive walks over it stay shallow.
const MAX_DEPTH: usize = 64;

/// Replaces containers nested deeper than [`MAX_DEPTH`] with the truncation marker; returns
/// whether any was.
fn limit_depth(value: &mut Value, depth: usize) -> bool {
    if !matches!(value, Value::Array(_) | Value::Object(_)) {
        return false;
    }
    if depth >= MAX_DEPTH {
        *value = Value::String(TRUNCATION_MARKER.to_owned());
        return true;
    }
    match value {
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |acc, v| limit_depth(v, depth + 1) | acc),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |acc, v| limit_depth(v, depth + 1) | acc),
        _ => false,
    }
}

/// The shortest valid JSON of the same kind as `value` (what is left when nothing fits).
fn empty_like(value: &Value) -> String {
    match value {
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
        Value::String(_) => "\"\"".to_owned(),
        _ => "null".to_owned(),
    }
}

/// Serialises `value` within `max` bytes, keeping valid JSON: long strings are shortened
/// (binary search on a per-string cap: O(n log L) for n bytes and a longest string of L),
/// then trailing items of the outermost array are dropped (each item serialised once:
/// O(n)). Returns the text and whether anything was cut. The result is never longer than
/// `max` unless even the empty value of its kind (`[]`, `{}`) is.
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
    // Even empty strings do not fit: keep the longest prefix of the outermost array that
    // does, measuring each item once.
    let mut value = value;
    cap_strings(&mut value, 0);
    let Value::Array(items) = value else {
        return (empty_like(&value), true);
    };
    let mut text = String::from("[");
    for item in &items {
        let item = to_json(item);
        // The separator (if any), the item, and the closing bracket must fit.
        let sep = usize::from(text.len() > 1);
        if text.len() + sep + item.len() + 1 > max {
            break;
        }
        if sep == 1 {
            text.push(',');
        }
        text.push_str(&item);
    }
    text.push(']');
    (text, true)
}

/// Fits plain (non-JSON) text within `max` bytes.
pub(crate) fn fit_text(text: String, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let room = max.saturating_sub(TRUNCATION_MARKER.len());
    let mut cut = crate::util::truncate_utf8(&text, room).to_owned();
    cut.push_str(TRUNCATION_MARKER);
    (cut, true)
}

/// Plain-text content (a retrieval query): masked, redacted, size-limited. `None` when the
/// redact hook panicked: unredacted content is never recorded.
pub(crate) fn prepare_text(
    key: &str,
    text: &str,
    max: usize,
    redact: Option<&Redactor>,
) -> Option<(String, bool)> {
    let masked = mask_secrets(text);
    let redacted = match redact {
        Some(hook) => crate::diag::isolate(crate::diag::Hook::Redact, || hook(key, masked))?,
        None => masked,
    };
    Some(fit_text(redacted, max))
}

/// The text to record for content attribute `key`: depth-limited, masked, passed through
/// the user's hook, then size-limited; always valid JSON (a hook that returns something
/// else has it recorded as a JSON string). Returns the text and whether it was truncated;
/// `None` when the redact hook panicked: unredacted content is never recorded.
pub(crate) fn prepare(
    key: &str,
    mut value: Value,
    max: usize,
    redact: Option<&Redactor>,
) -> Option<(String, bool)> {
    let too_deep = limit_depth(&mut value, 0);
    mask_value(&mut value);
    let Some(hook) = redact else {
        let (text, cut) = fit_json(value, max);
        return Some((text, cut || too_deep));
    };
    let json = to_json(&value);
    drop(value);
    let redacted = crate::diag::isolate(crate::diag::Hook::Redact, || hook(key, json))?;
    let (text, cut) = match serde_json::from_str::<Value>(&redacted) {
        Ok(parsed) => fit_json(parsed, max),
        Err(_) => fit_json(Value::String(redacted), max),
    };
    Some((text, cut || too_deep))
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

    /// Any JSON value: nesting, long and non-ASCII strings, odd numbers.
    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,40}".prop_map(Value::String),
            (1usize..5000).prop_map(|n| Value::String("é".repeat(n))),
            Just(Value::String("sk-proj-abcdefghijklmnopqrstuvwx".into())),
        ];
        leaf.prop_recursive(12, 400, 24, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..24).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..12)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(256))]

        #[test]
        fn prepared_content_is_valid_json_within_the_limit(
            value in any_json(),
            depth in 0usize..200,
            max in 2usize..3000,
        ) {
            // Wrapped `depth` times, past serde_json's parse limit for the larger depths.
            let value = (0..depth).fold(value, |v, _| Value::Array(vec![v]));
            let hook: Redactor = std::sync::Arc::new(|_k, v| v);
            for redact in [None, Some(&hook)] {
                let (text, _) = prepare("k", value.clone(), max, redact).expect("no hook panic");
                proptest::prop_assert!(text.len() <= max, "{} > {max}", text.len());
                let parsed: Result<Value, _> = serde_json::from_str(&text);
                proptest::prop_assert!(parsed.is_ok(), "not JSON: {text:.200}");
                proptest::prop_assert!(!text.contains("sk-proj-abcdefghijklmnopqrstuvwx"));
            }
        }

        #[test]
        fn masking_never_panics_and_removes_keys(text in ".{0,200}", key in "[A-Za-z0-9]{20,40}") {
            let masked = mask_secrets(&format!("{text} sk-{key} {text}"));
            let secret = format!("sk-{key}");
            proptest::prop_assert!(!masked.contains(&secret));
        }
    }
}
