//! Lifecycle adapters for futures: the span is current on every poll (and only during it),
//! ends when the future completes, and ends as cancelled when the future is dropped first.

use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::span::LiveSpan;
use crate::span::frame::{self, OwnedFrame};

/// What an [`Instrumented`] future does with its span and output when it completes.
pub trait Finish<T> {
    /// What the instrumented future yields.
    type Output;
    /// Records `value` on `span` (or hands the span on), and returns the output.
    #[doc(hidden)]
    fn finish(self, span: LiveSpan, value: T) -> Self::Output;
}

impl<T, O, F: FnOnce(LiveSpan, T) -> O> Finish<T> for F {
    type Output = O;
    fn finish(self, span: LiveSpan, value: T) -> O {
        self(span, value)
    }
}

/// Ends the span when the future completes, leaving the output untouched (the manual API's
/// [`SpanBuilder::instrument`](crate::SpanBuilder::instrument)).
#[derive(Clone, Copy, Debug, Default)]
pub struct EndSpan;

impl<T> Finish<T> for EndSpan {
    type Output = T;
    fn finish(self, mut span: LiveSpan, value: T) -> T {
        span.end();
        value
    }
}

pin_project! {
    /// A future whose span is current while it is polled, and which ends (or hands on) the
    /// span when it completes. Built by `#[trace_llm]` on functions returning `impl Future`
    /// and by the manual API's `instrument`.
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<Fut, C> {
        #[pin]
        future: Fut,
        span: LiveSpan,
        finish: Option<C>,
    }
}

/// Wraps `future` so that `span` is current on every poll; on completion `finish` gets the
/// span and the output (to record it, end the span, or hand the span on to a stream).
///
/// The `FnOnce` bound (rather than `Finish`) lets the generated closure's argument types be
/// inferred from the future's output, so the probes inside it see concrete types.
#[doc(hidden)]
pub fn instrument<Fut, F, O>(span: LiveSpan, future: Fut, finish: F) -> Instrumented<Fut, F>
where
    Fut: Future,
    F: FnOnce(LiveSpan, Fut::Output) -> O,
{
    Instrumented::new(span, future, finish)
}

impl<Fut, C> Instrumented<Fut, C> {
    pub(crate) fn new(span: LiveSpan, future: Fut, finish: C) -> Self {
        Instrumented {
            future,
            span,
            finish: Some(finish),
        }
    }
}

impl<Fut, C> Future for Instrumented<Fut, C>
where
    Fut: Future,
    C: Finish<Fut::Output>,
{
    type Output = C::Output;

    // Inline with the off case first: a future made while tracing was off polls straight
    // through (no frame swap, no unwinding guard), so it costs what the bare future costs.
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let this = self.project();
        if this.span.is_off() {
            return match this.future.poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(output) => {
                    Poll::Ready(take_finish(this.finish).finish(LiveSpan::OFF, output))
                }
            };
        }
        poll_active(this.future, this.span, this.finish, cx)
    }
}

/// The span is live: it is current during the poll, and ends (through `finish`) on completion.
#[inline(never)]
fn poll_active<Fut: Future, C: Finish<Fut::Output>>(
    mut future: Pin<&mut Fut>,
    span: &mut LiveSpan,
    finish: &mut Option<C>,
    cx: &mut Context<'_>,
) -> Poll<C::Output> {
    match span.call(|| future.as_mut().poll(cx)) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(output) => {
            let span = mem::replace(span, LiveSpan::OFF);
            Poll::Ready(take_finish(finish).finish(span, output))
        }
    }
}

/// The finisher, which is there until the future completes.
#[inline]
fn take_finish<C>(finish: &mut Option<C>) -> C {
    match finish.take() {
        Some(finish) => finish,
        // The inner future completed twice: polling after completion is a bug of the caller,
        // reported as std's own futures do.
        None => panic!("`Instrumented` future polled after completion"),
    }
}

pin_project! {
    /// A future polled with a span it borrows current; the span outlives it. `#[trace_llm]`
    /// on an `async fn` awaits its body in one and finishes the span after the `.await`, so
    /// that with tracing off the function's future holds no finisher and polls the body
    /// straight through.
    #[doc(hidden)]
    #[must_use = "futures do nothing unless polled"]
    pub struct InSpan<'a, Fut> {
        #[pin]
        future: Fut,
        span: &'a mut LiveSpan,
    }
}

impl<'a, Fut> InSpan<'a, Fut> {
    #[doc(hidden)]
    #[inline]
    pub fn new(span: &'a mut LiveSpan, future: Fut) -> Self {
        InSpan { future, span }
    }
}

impl<Fut: Future> Future for InSpan<'_, Fut> {
    type Output = Fut::Output;

    // Inline with the off case first, as for `Instrumented`.
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Fut::Output> {
        let this = self.project();
        if this.span.is_off() {
            return this.future.poll(cx);
        }
        poll_in_span(this.future, this.span, cx)
    }
}

/// The span is live: it is current during the poll (a panic ends it, recorded).
#[inline(never)]
fn poll_in_span<Fut: Future>(
    mut future: Pin<&mut Fut>,
    span: &mut LiveSpan,
    cx: &mut Context<'_>,
) -> Poll<Fut::Output> {
    span.call(|| future.as_mut().poll(cx))
}

pin_project! {
    /// A future that runs with the span and request context that were current when it was
    /// created; see [`FutureExt::in_current_context`].
    #[must_use = "futures do nothing unless polled"]
    pub struct WithContext<F> {
        #[pin]
        future: F,
        frame: OwnedFrame,
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut future = this.future;
        frame::in_frame(this.frame, || future.as_mut().poll(cx))
    }
}

/// Carries the current span and [`RequestContext`](crate::RequestContext) into futures that
/// run elsewhere.
///
/// A plain `tokio::spawn` inside a traced function starts from an empty context: its spans
/// become new traces without the request's values. Wrap the future (or use
/// [`trace_llm::spawn`](crate::spawn)):
///
/// ```
/// use trace_llm::FutureExt;
///
/// # async fn work() {}
/// # async fn demo() {
/// let handle = tokio::spawn(work().in_current_context());
/// # handle.await.unwrap();
/// # }
/// ```
pub trait FutureExt: Future + Sized {
    /// Runs this future with the span and request context current now.
    fn in_current_context(self) -> WithContext<Self> {
        WithContext {
            future: self,
            frame: frame::capture(),
        }
    }
}

impl<F: Future> FutureExt for F {}
