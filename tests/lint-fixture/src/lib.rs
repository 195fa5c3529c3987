//! Every shape `#[trace_llm]` supports, compiled with the strictest common lint sets. CI runs
//! clippy over the workspace with `-D warnings`, so a lint in generated code fails the build.
#![deny(warnings, clippy::all, clippy::pedantic)]
#![allow(
    clippy::unused_async,
    clippy::missing_errors_doc,
    clippy::missing_panics_doc
)]

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use futures_core::Stream;
use trace_llm::{
    trace_llm, ErrorType, GenAiRequest, GenAiResponse, RequestRecorder, ResponseRecorder, Usage,
};

/// A request type.
pub struct Req {
    /// Model name.
    pub model: String,
}

impl GenAiRequest for Req {
    fn model(&self) -> Option<&str> {
        Some(&self.model)
    }
    fn record_request(&self, rec: &mut RequestRecorder<'_>) {
        rec.temperature(0.0);
    }
}

/// A response type.
pub struct Resp;

impl GenAiResponse for Resp {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        rec.usage(Usage::new(1, 1));
    }
}

/// An error type.
#[derive(Debug)]
pub struct Failure;

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("failure")
    }
}

impl std::error::Error for Failure {}

impl ErrorType for Failure {
    fn error_type(&self) -> Cow<'static, str> {
        Cow::Borrowed("failure")
    }
}

/// Unit return.
#[trace_llm]
pub fn unit() {}

/// Unit return with an early `return`.
#[trace_llm(kind = "task")]
pub fn early(flag: bool) {
    if flag {
        return;
    }
    unit();
}

/// Plain value.
#[trace_llm(kind = "execute_tool", tool = "add", tool_call_id = id)]
#[must_use]
pub fn add(id: &str, a: u32, b: u32) -> u32 {
    let _ = id;
    a + b
}

/// `Result` with `?`.
#[trace_llm(kind = "chat", provider = "openai", request = req)]
pub fn chat(req: &Req, fail: bool) -> Result<Resp, Failure> {
    if fail {
        Err(Failure)?;
    }
    Ok(Resp)
}

/// Async with `?`.
#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o", attributes("app.step" = 1, label = "x"))]
pub async fn chat_async(fail: bool) -> Result<Resp, Failure> {
    if fail {
        return Err(Failure);
    }
    Ok(Resp)
}

/// Async unit.
#[trace_llm(kind = "workflow")]
pub async fn workflow() {
    unit();
}

/// Generic with a where clause.
#[trace_llm]
pub fn generic<T>(value: &T) -> String
where
    T: fmt::Display + ?Sized,
{
    value.to_string()
}

/// `impl Trait` return.
#[trace_llm]
pub fn display(n: u8) -> impl fmt::Display {
    n
}

/// `unsafe fn`.
///
/// # Safety
/// `p` must be valid for reads.
#[trace_llm]
pub unsafe fn read(p: *const u8) -> u8 {
    // SAFETY: guaranteed by the caller.
    unsafe { *p }
}

/// `fn -> impl Future`.
#[trace_llm(kind = "embeddings", model = "text-embedding-3-small")]
pub fn future(n: u32) -> impl Future<Output = u32> {
    async move { n }
}

/// `fn -> Pin<Box<dyn Future>>`.
#[trace_llm]
#[must_use]
pub fn boxed_future(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move { n })
}

/// `impl Stream` return.
#[trace_llm(kind = "chat", model = "gpt-4o")]
pub fn stream() -> impl Stream<Item = u32> {
    futures_util::stream::iter([1, 2, 3])
}

/// `impl Iterator` return.
#[trace_llm(kind = "retrieval", data_source = "docs")]
pub fn iter() -> impl Iterator<Item = u32> {
    [1, 2].into_iter()
}

/// A provider client's stream alias.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<u32, Failure>> + Send>>;

/// Async `Result` of a boxed stream named by an alias.
#[trace_llm(kind = "chat", model = "gpt-4o", stream)]
pub async fn stream_result(fail: bool) -> Result<ChunkStream, Failure> {
    if fail {
        return Err(Failure);
    }
    Ok(Box::pin(futures_util::stream::iter([Ok(1), Err(Failure)])))
}

/// A type with methods.
pub struct Agent {
    /// State.
    pub n: u32,
}

impl Agent {
    /// `&self`.
    #[trace_llm(kind = "agent", agent = "reader")]
    #[must_use]
    pub fn get(&self) -> u32 {
        self.n
    }

    /// `&mut self`.
    #[trace_llm]
    pub fn bump(&mut self) {
        self.n += 1;
    }

    /// `self`.
    #[trace_llm]
    #[must_use]
    pub fn into_n(self) -> u32 {
        self.n
    }

    /// Async `&self`.
    #[trace_llm]
    pub async fn get_async(&self) -> u32 {
        self.n
    }
}

/// An async trait.
#[async_trait::async_trait]
pub trait Runner {
    /// Runs.
    async fn run(&self, input: u32) -> Result<u32, Failure>;
}

#[async_trait::async_trait]
impl Runner for Agent {
    #[trace_llm(kind = "invoke_agent", agent = "runner")]
    async fn run(&self, input: u32) -> Result<u32, Failure> {
        Ok(self.n + input)
    }
}
