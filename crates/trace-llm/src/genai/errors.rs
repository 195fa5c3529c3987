//! Provider errors to a low-cardinality `error.type`: specific provider codes first, then the
//! HTTP status, then the provider's error type, then `_OTHER`. The README lists the values.

use std::borrow::Cow;

/// Classes recognised from a provider's error `code` (OpenAI) regardless of status.
fn from_code(code: &str) -> Option<&'static str> {
    Some(match code {
        "rate_limit_exceeded" => "rate_limit",
        "insufficient_quota" => "insufficient_quota",
        "context_length_exceeded" | "string_above_max_length" => "context_length_exceeded",
        "content_filter" | "content_policy_violation" => "content_filter",
        "invalid_api_key" => "authentication",
        _ => return None,
    })
}

fn from_status(status: u16) -> Cow<'static, str> {
    Cow::Borrowed(match status {
        400 | 422 => "invalid_request",
        401 => "authentication",
        403 => "permission_denied",
        408 | 504 => "timeout",
        413 => "request_too_large",
        429 => "rate_limit",
        529 => "overloaded",
        other => return Cow::Owned(other.to_string()),
    })
}

/// Classes from a provider's error `type` (OpenAI `invalid_request_error`, Anthropic
/// `overloaded_error`, ...).
fn from_type(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "invalid_request_error" => "invalid_request",
        "rate_limit_error" | "tokens" | "requests" => "rate_limit",
        "authentication_error" => "authentication",
        "permission_error" => "permission_denied",
        "not_found_error" => "404",
        "request_too_large" => "request_too_large",
        "overloaded_error" => "overloaded",
        "api_error" | "server_error" => "server_error",
        "timeout_error" => "timeout",
        _ => return None,
    })
}

pub(crate) fn classify(
    status: Option<u16>,
    kind: Option<&str>,
    code: Option<&str>,
) -> Cow<'static, str> {
    if let Some(class) = code.and_then(from_code) {
        return Cow::Borrowed(class);
    }
    if let Some(status) = status.filter(|s| *s >= 400) {
        return from_status(status);
    }
    if let Some(class) = kind.and_then(from_type) {
        return Cow::Borrowed(class);
    }
    Cow::Borrowed(crate::semconv::error_type::OTHER)
}

/// The `error.type` for a provider error, from what the HTTP response said: its status, and
/// the error body's `type` and `code` fields. Use it to implement
/// [`ErrorType`](crate::ErrorType) for your client's error type.
///
/// | condition | `error.type` |
/// |---|---|
/// | code `rate_limit_exceeded`, status 429, type `rate_limit_error` | `rate_limit` |
/// | code `insufficient_quota` | `insufficient_quota` |
/// | code `context_length_exceeded` | `context_length_exceeded` |
/// | code `content_filter` / `content_policy_violation` | `content_filter` |
/// | status 400 / 422, type `invalid_request_error` | `invalid_request` |
/// | status 401, type `authentication_error`, code `invalid_api_key` | `authentication` |
/// | status 403, type `permission_error` | `permission_denied` |
/// | status 408 / 504, type `timeout_error` | `timeout` |
/// | status 413 | `request_too_large` |
/// | status 529, type `overloaded_error` | `overloaded` |
/// | any other status ≥ 400 | the status, e.g. `404`, `500`, `503` |
/// | type `api_error` / `server_error` (no status) | `server_error` |
/// | nothing recognisable | `_OTHER` |
///
/// ```
/// use trace_llm::provider_error_type;
/// assert_eq!(provider_error_type(Some(429), None, None), "rate_limit");
/// assert_eq!(provider_error_type(Some(404), Some("invalid_request_error"), Some("model_not_found")), "404");
/// assert_eq!(provider_error_type(Some(400), Some("invalid_request_error"), Some("context_length_exceeded")), "context_length_exceeded");
/// assert_eq!(provider_error_type(None, Some("overloaded_error"), None), "overloaded");
/// assert_eq!(provider_error_type(None, None, None), "_OTHER");
/// ```
pub fn provider_error_type(
    status: Option<u16>,
    kind: Option<&str>,
    code: Option<&str>,
) -> Cow<'static, str> {
    classify(status, kind, code)
}
