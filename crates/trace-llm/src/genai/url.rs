//! The model a provider URL names, for providers that put it only there.

use std::borrow::Cow;

/// The model (or Azure deployment) named in a provider's request URL or path, for the
/// providers whose request body does not say it; `None` for any other URL.
///
/// | provider | URL path | gives |
/// |---|---|---|
/// | Gemini API | `/v1beta/models/{model}:generateContent` | `{model}` |
/// | Vertex AI | `…/publishers/google/models/{model}:streamGenerateContent` | `{model}` |
/// | Bedrock | `/model/{id}/converse`, `…/converse-stream`, `…/invoke`, `…/invoke-with-response-stream` | `{id}`, percent-decoded |
/// | Azure OpenAI | `/openai/deployments/{deployment}/chat/completions` | `{deployment}` |
///
/// ```
/// use trace_llm::model_from_url;
/// assert_eq!(
///     model_from_url("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent").as_deref(),
///     Some("gemini-2.5-flash"),
/// );
/// assert_eq!(
///     model_from_url("/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse").as_deref(),
///     Some("anthropic.claude-3-haiku-20240307-v1:0"),
/// );
/// assert_eq!(
///     model_from_url("/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-02-01").as_deref(),
///     Some("gpt-4o-prod"),
/// );
/// assert_eq!(model_from_url("https://api.openai.com/v1/chat/completions"), None);
/// ```
pub fn model_from_url(url: &str) -> Option<Cow<'_, str>> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    while let Some(segment) = segments.next() {
        match segment {
            "models" => {
                let next = segments.next()?;
                let model = next.split(':').next().unwrap_or(next);
                return (!model.is_empty()).then_some(Cow::Borrowed(model));
            }
            "model" => {
                let id = segments.next()?;
                let action = segments.next()?;
                if matches!(
                    action,
                    "converse" | "converse-stream" | "invoke" | "invoke-with-response-stream"
                ) {
                    return percent_decoded(id);
                }
                return None;
            }
            "deployments" => {
                let name = segments.next()?;
                return percent_decoded(name);
            }
            _ => {}
        }
    }
    None
}

fn percent_decoded(s: &str) -> Option<Cow<'_, str>> {
    if s.is_empty() {
        return None;
    }
    if !s.contains('%') {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}
