//! Extraction traits: how a request, a response, a stream chunk or an error describes itself
//! to a span. The macro calls them when the types involved implement them, and does nothing
//! when they do not (no trait bound is forced on the user).
//!
//! Implementations write through recorders ([`RequestRecorder`], [`ResponseRecorder`]) that
//! own the attribute keys, so an implementation never spells a semconv key and cannot
//! record content unless the user opted in.

#[cfg(feature = "async-openai")]
mod async_openai;
#[cfg(feature = "aws-bedrock")]
mod aws_bedrock;
mod errors;
#[cfg(feature = "json")]
pub(crate) mod json;
mod live;
mod url;

use std::borrow::Cow;

pub use crate::span::record::{Evaluation, RequestRecorder, ResponseRecorder};
pub use crate::usage::Usage;
pub use errors::provider_error_type;
pub use url::model_from_url;

/// A request to a model: its model name and settings, and (when content capture is on) its
/// messages.
///
/// ```
/// use trace_llm::{GenAiRequest, RequestRecorder};
///
/// struct Ask { model: String, temperature: f64 }
///
/// impl GenAiRequest for Ask {
///     fn model(&self) -> Option<&str> { Some(&self.model) }
///     fn record_request(&self, rec: &mut RequestRecorder<'_>) {
///         rec.temperature(self.temperature);
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not describe a model request",
    label = "`request = ...` needs a type implementing `trace_llm::GenAiRequest`",
    note = "implement `GenAiRequest` for it (or pass just the model with `model = ...`)"
)]
pub trait GenAiRequest {
    /// The model asked for: the span is named `"{operation} {model}"` and carries it as
    /// `gen_ai.request.model`.
    fn model(&self) -> Option<&str> {
        None
    }

    /// Records the request's settings (temperature, max tokens, ...).
    fn record_request(&self, rec: &mut RequestRecorder<'_>);
}

impl<T: GenAiRequest + ?Sized> GenAiRequest for &T {
    fn model(&self) -> Option<&str> {
        (**self).model()
    }
    fn record_request(&self, rec: &mut RequestRecorder<'_>) {
        (**self).record_request(rec);
    }
}

impl<T: GenAiRequest + ?Sized> GenAiRequest for &mut T {
    fn model(&self) -> Option<&str> {
        (**self).model()
    }
    fn record_request(&self, rec: &mut RequestRecorder<'_>) {
        (**self).record_request(rec);
    }
}

impl<T: GenAiRequest + ?Sized> GenAiRequest for Box<T> {
    fn model(&self) -> Option<&str> {
        (**self).model()
    }
    fn record_request(&self, rec: &mut RequestRecorder<'_>) {
        (**self).record_request(rec);
    }
}

/// A complete (non-streamed) response: id, model, finish reasons, token usage, and (when
/// content capture is on) the output messages.
///
/// When a decorated function returns a type implementing it (directly, or as the `Ok` of a
/// `Result`), the span records it.
///
/// ```
/// use trace_llm::{GenAiResponse, ResponseRecorder, Usage};
///
/// struct Answer { text: String, tokens_in: i64, tokens_out: i64 }
///
/// impl GenAiResponse for Answer {
///     fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
///         rec.finish_reason(0, "stop");
///         rec.usage(Usage::new(self.tokens_in, self.tokens_out));
///     }
/// }
/// ```
pub trait GenAiResponse {
    /// Records what the response says about the call.
    fn record_response(&self, rec: &mut ResponseRecorder<'_>);
}

impl<T: GenAiResponse + ?Sized> GenAiResponse for &T {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        (**self).record_response(rec);
    }
}

impl<T: GenAiResponse + ?Sized> GenAiResponse for Box<T> {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        (**self).record_response(rec);
    }
}

/// One item of a streamed response. Chunks are aggregated on the stream's span: the id and
/// model from whichever chunk carries them, finish reasons per choice, usage from the chunk
/// that reports it (later values replace earlier ones, field by field).
///
/// ```
/// use trace_llm::{GenAiChunk, ResponseRecorder, Usage};
///
/// enum Event { Delta(String), Done { input: i64, output: i64 } }
///
/// impl GenAiChunk for Event {
///     fn record_chunk(&self, rec: &mut ResponseRecorder<'_>) {
///         if let Event::Done { input, output } = self {
///             rec.finish_reason(0, "stop");
///             rec.usage(Usage::new(*input, *output));
///         }
///     }
/// }
/// ```
pub trait GenAiChunk {
    /// Records what this chunk adds to the response.
    fn record_chunk(&self, rec: &mut ResponseRecorder<'_>);
}

impl<T: GenAiChunk + ?Sized> GenAiChunk for &T {
    fn record_chunk(&self, rec: &mut ResponseRecorder<'_>) {
        (**self).record_chunk(rec);
    }
}

/// A document a retriever returned. A `#[trace_llm(kind = "retrieval")]` function returning
/// `Vec<T>` (or `Result<Vec<T>, E>`) of these records the document count
/// (`trace_llm.retrieval.documents`), the best score (`trace_llm.retrieval.top_score`) and,
/// with content capture on, `gen_ai.retrieval.documents` (ids and scores).
///
/// ```
/// use trace_llm::{trace_llm, ScoredDocument};
///
/// struct Hit { id: String, score: f32 }
///
/// impl ScoredDocument for Hit {
///     fn id(&self) -> Option<&str> { Some(&self.id) }
///     fn score(&self) -> Option<f64> { Some(f64::from(self.score)) }
/// }
///
/// #[trace_llm(kind = "retrieval", data_source = "kb")]
/// fn search(query: &str) -> Vec<Hit> {
///     vec![Hit { id: "doc-1".into(), score: 0.9 }]
/// }
/// # search("q");
/// ```
pub trait ScoredDocument {
    /// The document's identifier.
    fn id(&self) -> Option<&str> {
        None
    }
    /// The document's relevance score.
    fn score(&self) -> Option<f64> {
        None
    }
}

impl<T: ScoredDocument> GenAiResponse for [T] {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        let top = self
            .iter()
            .filter_map(ScoredDocument::score)
            .fold(None, |best: Option<f64>, s| {
                Some(best.map_or(s, |b| b.max(s)))
            });
        rec.retrieved_documents(self.len() as i64, top);
        #[cfg(feature = "json")]
        rec.retrieval_documents(|| {
            serde_json::Value::Array(
                self.iter()
                    .filter_map(|d| {
                        // The schema has no null id or score: a document without an id
                        // is left out, a score only when known.
                        let mut doc = serde_json::Map::new();
                        doc.insert("id".into(), d.id()?.into());
                        if let Some(score) = d.score().filter(|s| s.is_finite()) {
                            doc.insert("score".into(), score.into());
                        }
                        Some(serde_json::Value::Object(doc))
                    })
                    .collect(),
            )
        });
    }
}

impl<T: ScoredDocument> GenAiResponse for Vec<T> {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        self.as_slice().record_response(rec);
    }
}

impl GenAiResponse for Evaluation {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        rec.evaluation(self);
    }
}

/// Chooses the `error.type` recorded when a decorated function returns this error.
///
/// Without an implementation, `error.type` is the error type's short name (`OpenAIError`).
/// Values should be low-cardinality: an error class or code, never a message.
///
/// ```
/// use std::borrow::Cow;
/// use trace_llm::ErrorType;
///
/// enum ToolError { Timeout, BadInput(String) }
///
/// impl ErrorType for ToolError {
///     fn error_type(&self) -> Cow<'static, str> {
///         match self {
///             ToolError::Timeout => "timeout".into(),
///             ToolError::BadInput(_) => "invalid_request".into(),
///         }
///     }
/// }
/// ```
pub trait ErrorType {
    /// The `error.type` value for this error.
    fn error_type(&self) -> Cow<'static, str>;
}

impl<T: ErrorType + ?Sized> ErrorType for &T {
    fn error_type(&self) -> Cow<'static, str> {
        (**self).error_type()
    }
}

impl<T: ErrorType + ?Sized> ErrorType for Box<T> {
    fn error_type(&self) -> Cow<'static, str> {
        (**self).error_type()
    }
}

/// The last path segment of a type name, generics kept: `my_app::ToolError` →
/// `ToolError`, `alloc::boxed::Box<dyn core::error::Error>` → `Box<dyn Error>`. A bare
/// `Error`, which half the ecosystem's crates define, keeps the module that tells it apart:
/// `reqwest::error::Error` → `reqwest::Error`, `std::io::error::Error` → `io::Error`.
pub(crate) fn short_type_name(full: &'static str) -> Cow<'static, str> {
    if !full.contains("::") {
        return Cow::Borrowed(full);
    }
    if !full.contains('<') {
        let mut segments = full.rsplit("::");
        let last = segments.next().unwrap_or(full);
        if last == "Error" {
            if let Some(module) = segments.find(|s| !matches!(*s, "error" | "errors")) {
                return Cow::Owned(format!("{module}::Error"));
            }
        }
        return Cow::Borrowed(last);
    }
    // Shorten every path inside the generic arguments too.
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    for (i, c) in full.char_indices() {
        if matches!(c, '<' | '>' | ',' | ' ' | '(' | ')' | '[' | ']' | '&' | ';') {
            out.push_str(last_segment(&full[segment_start..i]));
            out.push(c);
            segment_start = i + c.len_utf8();
        }
    }
    out.push_str(last_segment(&full[segment_start..]));
    Cow::Owned(out)
}

fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn short_names() {
        assert_eq!(short_type_name("my_app::ToolError"), "ToolError");
        assert_eq!(short_type_name("u8"), "u8");
        assert_eq!(short_type_name("reqwest::error::Error"), "reqwest::Error");
        assert_eq!(short_type_name("std::io::error::Error"), "io::Error");
        assert_eq!(short_type_name("core::fmt::Error"), "fmt::Error");
        assert_eq!(short_type_name("anyhow::Error"), "anyhow::Error");
        assert_eq!(
            short_type_name("alloc::boxed::Box<dyn core::error::Error + core::marker::Send>"),
            "Box<dyn Error + Send>"
        );
    }
}
