//! OpenTelemetry tracing for LLM applications.
//!
//! `#[trace_llm]` wraps a function — a model call, a tool, a retriever, an agent, sync,
//! async or streaming — in an OpenTelemetry span carrying the
//! [GenAI semantic-convention](https://opentelemetry.io/docs/specs/semconv/gen-ai/)
//! attributes (v1.41.0), nested under whatever span is current, and exported over OTLP by
//! one [`init_tracing`] call. Request context (prompt version, cohort, tenant, session)
//! rides on every span of a request without being passed down ([`RequestContext`]).
//!
//! ```no_run
//! use trace_llm::{trace_llm, RequestContext};
//!
//! #[trace_llm(kind = "retrieval", data_source = "docs-index")]
//! async fn retrieve(query: &str) -> Vec<String> {
//!     vec![format!("doc about {query}")]
//! }
//!
//! #[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o-mini")]
//! async fn answer(question: &str) -> Result<String, std::io::Error> {
//!     let docs = retrieve(question).await;
//!     Ok(format!("{} docs", docs.len()))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), trace_llm::Error> {
//!     let _guard = trace_llm::init_tracing()?; // OTLP, configured by OTEL_* variables
//!     RequestContext::new()
//!         .prompt_version("answer_v3")
//!         .tenant_id("acme")
//!         .scope(answer("what is OTLP?"))
//!         .await
//!         .ok();
//!     Ok(())
//! }
//! ```
//!
//! Design rules the crate keeps: telemetry never breaks the app (no panics, no blocking on
//! export, bounded memory); with tracing off a decorated function costs one relaxed atomic
//! load; prompts and completions are never recorded unless the user opts in; span names are
//! low-cardinality.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod semconv;

#[cfg(feature = "json")]
mod content;
mod context;
mod cost;
mod diag;
mod error;
mod future;
mod genai;
mod init;
mod intern;
mod manual;
pub mod metrics;
mod operation;
mod span;
mod stream;
#[cfg(feature = "tower")]
pub mod tower;
#[cfg(feature = "tracing")]
pub mod tracing;
mod usage;
mod util;

#[doc(hidden)]
pub mod __private;

/// Traces a function as an OpenTelemetry span with the GenAI semantic-convention
/// attributes.
///
/// Works on `fn`, `async fn`, methods (`&self`, `&mut self`, `self`), generic functions,
/// `impl Trait` returns, `unsafe fn`, methods of `#[async_trait]` impls, functions returning
/// a future (the returned future is instrumented), and functions returning streams or
/// iterators (the span follows the consumption).
///
/// ```
/// use trace_llm::trace_llm;
///
/// #[trace_llm(kind = "execute_tool", tool_call_id = call_id)]
/// fn get_weather(call_id: &str, city: &str) -> Result<String, std::fmt::Error> {
///     Ok(format!("sunny in {city}"))
/// }
///
/// assert_eq!(get_weather("call_1", "Paris").unwrap(), "sunny in Paris");
/// ```
///
/// # The span
///
/// * **Name** (low-cardinality, per the conventions): `"{operation} {model}"` for `chat`,
///   `text_completion`, `generate_content` and `embeddings` (just the operation when no
///   model is known); `"execute_tool {tool}"`, `"invoke_agent {agent}"`,
///   `"create_agent {agent}"`, `"invoke_workflow {workflow}"`, `"retrieval {data_source}"`;
///   the function name for tasks.
/// * **Kind**: CLIENT for model calls, embeddings, retrieval and agent creation; INTERNAL for
///   tools, in-process agents, workflows and tasks.
/// * **Start**: at the call for sync functions and functions returning a future; at the
///   first poll for `async fn` (a future never polled records nothing).
/// * **Current** while the body runs (children nest under it), in async code on every poll
///   and never between polls.
/// * **End**, exactly once: when the function returns (or its future completes, or its
///   stream yields `None`); `Err` sets status Error, `error.type` (from
///   [`ErrorType`], else the error type's short name) and an `exception` event; a panic
///   ends it with `error.type = "panic"` and the panic continues; a future or stream
///   dropped unfinished ends it with `error.type = "cancelled"`. A successful span is Ok.
/// * **Return values**: if the function returns a type implementing [`GenAiResponse`]
///   (directly or as the `Ok` of a `Result`), usage, model, finish reasons and id are
///   recorded. Types without an impl are simply not inspected: no bound is forced.
///
/// # Options
///
/// **`kind = "..."`**: the GenAI operation: `chat`, `text_completion`, `generate_content`,
/// `embeddings`, `retrieval`, `execute_tool`, `create_agent`, `invoke_agent`,
/// `invoke_workflow`; aliases `tool`, `agent`, `workflow`, `retriever`; `task` (or no kind)
/// for a plain span named after the function. Anything else is a compile error.
///
/// **`name = "literal"`**: overrides the span name. Only a string literal, so names stay
/// low-cardinality; put per-call values in `attributes(...)`.
///
/// **`provider = "openai"`**: `gen_ai.provider.name` (`openai`, `anthropic`,
/// `aws.bedrock`, `gcp.gemini`, ...).
///
/// **`model = "gpt-4o"` or `model = expr`**: `gen_ai.request.model`, and the span name.
///
/// **`request = expr`**: a value whose type implements [`GenAiRequest`]: model, temperature,
/// max tokens, top-p, stop sequences, seed, stream flag, and (with content capture on) the
/// input messages.
///
/// ```
/// use trace_llm::{trace_llm, GenAiRequest, RequestRecorder};
///
/// struct Ask { model: String, temperature: f64 }
/// impl GenAiRequest for Ask {
///     fn model(&self) -> Option<&str> { Some(&self.model) }
///     fn record_request(&self, rec: &mut RequestRecorder<'_>) { rec.temperature(self.temperature) }
/// }
///
/// #[trace_llm(kind = "chat", provider = "openai", request = req)]
/// fn chat(req: &Ask) -> String {
///     format!("answered by {}", req.model) // span name: "chat gpt-4o"
/// }
/// # chat(&Ask { model: "gpt-4o".into(), temperature: 0.1 });
/// ```
///
/// **`base_url = expr`**: the provider's base URL (anything `AsRef<str>`) sets
/// `server.address` and `server.port` (the scheme's default port when the URL has none), on
/// the span and on the GenAI metrics.
///
/// ```
/// use trace_llm::trace_llm;
///
/// #[trace_llm(kind = "chat", model = "llama3", base_url = base)]
/// fn chat(base: &str) -> String { "hi".into() }
/// # chat("http://localhost:11434");
/// ```
///
/// **`tool = "name"`** (default: the function name) and **`tool_call_id = expr`** for
/// `execute_tool` spans; `gen_ai.tool.type` is `function`.
///
/// **`agent = "name"`** for `invoke_agent` / `create_agent` (default: the function name);
/// **`workflow = "name"`** for `invoke_workflow` (default: the function name);
/// **`data_source = "id"`** for `retrieval` (and `invoke_agent`).
///
/// **`attributes(key = expr, "dotted.key" = expr, ...)`**: custom attributes with literal
/// keys; values are strings, numbers, bools, `Duration`s, slices of those, or `Option`s
/// (`None` records nothing), see [`AttributeValue`]. At most 32 user attributes per span.
///
/// ```
/// use trace_llm::trace_llm;
///
/// #[trace_llm(kind = "task", attributes("app.step" = "rerank", candidates = docs.len()))]
/// fn rerank(docs: &[&str]) -> usize {
///     docs.len()
/// }
/// # rerank(&["a", "b"]);
/// ```
///
/// **`stream`**: the returned value (or the `Ok` of a returned `Result`, after `.await`) is
/// a stream or iterator; the span ends when it ends or is dropped, with time to first chunk,
/// chunk count and what the chunks say ([`GenAiChunk`]). `impl Stream`, `impl Iterator` and
/// boxed streams are detected without the flag; named stream types (a client's stream
/// alias) need it.
///
/// ```
/// use trace_llm::trace_llm;
///
/// #[trace_llm(kind = "chat", model = "gpt-4o")]
/// fn tokens() -> impl Iterator<Item = &'static str> {
///     ["Hel", "lo"].into_iter()
/// }
///
/// assert_eq!(tokens().collect::<String>(), "Hello");
/// ```
///
/// Expressions in options are evaluated by reference when the span starts, before the body
/// runs, and never move an argument; when tracing is off or the span is not sampled they are
/// not evaluated at all.
///
/// Wrong options are compile errors pointing at the option:
///
/// ```compile_fail
/// #[trace_llm::trace_llm(kind = "chatt")] // unknown kind "chatt"; expected one of ...
/// fn f() {}
/// ```
pub use trace_llm_macros::trace_llm;

#[cfg(feature = "json")]
pub use content::{TRUNCATION_MARKER, mask_secrets};
pub use context::propagation;
pub use context::{
    MAX_CONTEXT_ATTRIBUTES, MAX_CONTEXT_KEY_BYTES, MAX_CONTEXT_VALUE_BYTES, RequestContext, Scoped,
    spawn, spawn_blocking,
};
pub use cost::Price;
pub use error::Error;
pub use future::{EndSpan, Finish, FutureExt, Instrumented, WithContext};
pub use genai::{
    ErrorType, Evaluation, GenAiChunk, GenAiRequest, GenAiResponse, RequestRecorder,
    ResponseRecorder, ScoredDocument, Usage, model_from_url, provider_error_type,
};
pub use init::{
    DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENT_EXPORTS, DEFAULT_CONTENT_MAX_BYTES, DEFAULT_QUEUE_SIZE,
    Protocol, Stats, TracingConfig, TracingGuard, init_tracing,
};
pub use manual::{SpanBuilder, SpanGuard, SpanHandle, current_span, span};
pub use span::tally::Totals;
pub use span::{AttributeValue, Operation};
pub use stream::{StreamItem, TracedIter, TracedStream};
