//! Lifecycle adapters for streams and iterators: the span stays open while the caller
//! consumes the items, is current while each item is produced, records time to first chunk,
//! the chunk count and what the chunks say, and ends when the stream ends or is dropped,
//! exactly once.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::genai::{ErrorType, GenAiChunk, ResponseRecorder};
use crate::span::LiveSpan;
use crate::span::record::StreamStats;

/// Records one item on the span (chunk usage, errors); chosen where the item type is known.
pub(crate) type OnItem<T> = fn(&T, &mut LiveSpan);

/// An item of a stream traced by hand ([`SpanBuilder::stream`](crate::SpanBuilder::stream),
/// [`SpanBuilder::iter`](crate::SpanBuilder::iter)): what it says is recorded on the span.
///
/// Implemented for every [`GenAiChunk`] type, for `Result`s of them (an `Err` item sets
/// status Error and its [`ErrorType`] as `error.type`), and for plain text chunks
/// (`String`, `&str`), which are only counted.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a stream item trace-llm can record",
    note = "implement `GenAiChunk` for it, or map the stream to `String` chunks"
)]
pub trait StreamItem {
    /// Records the item.
    fn record_item(&self, rec: &mut ResponseRecorder<'_>);
}

impl<T: GenAiChunk> StreamItem for T {
    fn record_item(&self, rec: &mut ResponseRecorder<'_>) {
        self.record_chunk(rec);
    }
}

impl<T: GenAiChunk, E: ErrorType + std::fmt::Display> StreamItem for Result<T, E> {
    fn record_item(&self, rec: &mut ResponseRecorder<'_>) {
        match self {
            Ok(chunk) => chunk.record_chunk(rec),
            Err(e) => rec.error_of_type(e.error_type(), std::any::type_name::<E>(), e.to_string()),
        }
    }
}

impl StreamItem for String {
    fn record_item(&self, _rec: &mut ResponseRecorder<'_>) {}
}

impl StreamItem for &str {
    fn record_item(&self, _rec: &mut ResponseRecorder<'_>) {}
}

/// The item recorder of streams traced by hand.
pub(crate) fn record_stream_item<T: StreamItem>(item: &T, span: &mut LiveSpan) {
    if let Some(state) = span.state_mut() {
        crate::diag::isolate(crate::diag::Hook::Extractor, || {
            item.record_item(&mut ResponseRecorder { state });
        });
    }
}

/// What both adapters track per item.
struct Progress {
    chunks: u64,
    done: bool,
    /// When the previous output item arrived (for the time-per-output-chunk metric).
    last_item: Option<SystemTime>,
    /// The time-per-chunk metric's attributes, built once (at the second chunk, when the
    /// first has told the response model).
    gap_attributes: Option<Vec<opentelemetry::KeyValue>>,
}

impl Progress {
    #[inline]
    fn new(span: &mut LiveSpan) -> Self {
        if let Some(state) = span.state_mut() {
            state.response.stream = Some(StreamStats::default());
        }
        Progress {
            chunks: 0,
            done: false,
            last_item: None,
            gap_attributes: None,
        }
    }

    /// Counts the item (time to first chunk on the first) and records it; the gap since the
    /// previous output chunk goes to the time-per-output-chunk metric when this one carries
    /// output (its extractor says so, or does not say).
    fn item<T>(&mut self, span: &mut LiveSpan, item: &T, on_item: OnItem<T>) {
        self.chunks += 1;
        let now = SystemTime::now();
        if let Some(state) = span.state_mut() {
            state.response.chunk_output = None;
            let start = state.start;
            let stats = state
                .response
                .stream
                .get_or_insert_with(StreamStats::default);
            stats.chunks = self.chunks;
            if self.chunks == 1 {
                let elapsed = now.duration_since(start).unwrap_or_default();
                stats.time_to_first_chunk = Some(elapsed.as_secs_f64());
            }
        }
        on_item(item, span);
        if let Some(state) = span.state_mut() {
            if state.response.chunk_output == Some(false) {
                return;
            }
            if let (Some(previous), Some(metrics)) = (self.last_item, &state.core.settings.metrics)
            {
                let gap = now.duration_since(previous).unwrap_or_default();
                let attributes = self
                    .gap_attributes
                    .get_or_insert_with(|| metrics.chunk_attributes(&state.call_facts()));
                metrics.record_chunk_gap(state.operation, attributes, gap.as_secs_f64());
            }
            self.last_item = Some(now);
        }
    }

    /// The stream ended on its own: the span ends now, not when the adapter is dropped.
    fn end(&mut self, span: &mut LiveSpan) {
        self.done = true;
        span.end();
    }
}

pin_project! {
    /// A stream whose span covers its consumption. Made by `#[trace_llm]` for functions
    /// returning streams (and by the manual API).
    #[must_use = "streams do nothing unless polled"]
    pub struct TracedStream<S: Stream> {
        #[pin]
        inner: S,
        span: LiveSpan,
        on_item: OnItem<S::Item>,
        progress: Progress,
    }
}

impl<S: Stream> TracedStream<S> {
    pub(crate) fn new(inner: S, mut span: LiveSpan, on_item: OnItem<S::Item>) -> Self {
        let progress = Progress::new(&mut span);
        TracedStream {
            inner,
            span,
            on_item,
            progress,
        }
    }
}

impl<S: Stream> Stream for TracedStream<S> {
    type Item = S::Item;

    // Inline with the off case first: a stream made while tracing was off is a fused
    // pass-through, a flag and a compare per item.
    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        if this.progress.done {
            return Poll::Ready(None);
        }
        if this.span.is_off() {
            let polled = this.inner.poll_next(cx);
            this.progress.done = matches!(polled, Poll::Ready(None));
            return polled;
        }
        poll_active(this.inner, this.span, this.progress, *this.on_item, cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.progress.done {
            (0, Some(0))
        } else {
            self.inner.size_hint()
        }
    }
}

/// The span is live: it is current while the item is produced, which is then recorded.
#[inline(never)]
fn poll_active<S: Stream>(
    mut inner: Pin<&mut S>,
    span: &mut LiveSpan,
    progress: &mut Progress,
    on_item: OnItem<S::Item>,
    cx: &mut Context<'_>,
) -> Poll<Option<S::Item>> {
    match span.call(|| inner.as_mut().poll_next(cx)) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(Some(item)) => {
            progress.item(span, &item, on_item);
            Poll::Ready(Some(item))
        }
        Poll::Ready(None) => {
            progress.end(span);
            Poll::Ready(None)
        }
    }
}

/// An iterator whose span covers its consumption; see [`TracedStream`].
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct TracedIter<I: Iterator> {
    inner: I,
    span: LiveSpan,
    on_item: OnItem<I::Item>,
    progress: Progress,
}

impl<I: Iterator> TracedIter<I> {
    pub(crate) fn new(inner: I, mut span: LiveSpan, on_item: OnItem<I::Item>) -> Self {
        let progress = Progress::new(&mut span);
        TracedIter {
            inner,
            span,
            on_item,
            progress,
        }
    }
}

impl<I: Iterator> Iterator for TracedIter<I> {
    type Item = I::Item;

    #[inline]
    fn next(&mut self) -> Option<I::Item> {
        if self.progress.done {
            return None;
        }
        if self.span.is_off() {
            let next = self.inner.next();
            self.progress.done = next.is_none();
            return next;
        }
        next_active(
            &mut self.inner,
            &mut self.span,
            &mut self.progress,
            self.on_item,
        )
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.progress.done {
            (0, Some(0))
        } else {
            self.inner.size_hint()
        }
    }
}

/// The span is live: it is current while the item is produced, which is then recorded.
#[inline(never)]
fn next_active<I: Iterator>(
    inner: &mut I,
    span: &mut LiveSpan,
    progress: &mut Progress,
    on_item: OnItem<I::Item>,
) -> Option<I::Item> {
    match span.call(|| inner.next()) {
        Some(item) => {
            progress.item(span, &item, on_item);
            Some(item)
        }
        None => {
            progress.end(span);
            None
        }
    }
}

impl<I: Iterator> std::fmt::Debug for TracedIter<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedIter")
            .field("chunks", &self.progress.chunks)
            .finish_non_exhaustive()
    }
}

impl<S: Stream> std::fmt::Debug for TracedStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedStream")
            .field("chunks", &self.progress.chunks)
            .finish_non_exhaustive()
    }
}
