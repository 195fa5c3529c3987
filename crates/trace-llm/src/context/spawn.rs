//! `spawn` / `spawn_blocking` that keep the span parent and the request context.

use std::future::Future;

use crate::future::FutureExt;
use crate::span::frame;

/// `tokio::spawn`, keeping the current span as the parent of the task's spans and the
/// current [`RequestContext`](crate::RequestContext). Must be called inside a Tokio
/// runtime, like `tokio::spawn`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let answer = trace_llm::spawn(async { 40 + 2 }).await.unwrap();
/// assert_eq!(answer, 42);
/// # }
/// ```
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_current_context())
}

/// `tokio::task::spawn_blocking`, keeping the current span and request context for the
/// closure.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let n = trace_llm::spawn_blocking(|| 6 * 7).await.unwrap();
/// assert_eq!(n, 42);
/// # }
/// ```
pub fn spawn_blocking<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let mut captured = frame::capture();
    tokio::task::spawn_blocking(move || frame::in_frame(&mut captured, f))
}
