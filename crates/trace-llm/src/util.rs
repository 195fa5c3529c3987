//! Leaf helpers shared by every layer.

/// The longest prefix of `s` that fits in `max` bytes without splitting a character.
pub(crate) fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The user's redaction hook (`TracingConfig::redact`): sees every content value, by its
/// attribute key, before it is recorded.
pub(crate) type Redactor = std::sync::Arc<dyn Fn(&str, String) -> String + Send + Sync>;
