//! The span pipeline: a bounded queue that ended spans go into without blocking, and one
//! export thread with its own single-threaded Tokio runtime that drains it in batches.
//!
//! Unlike the SDK batch processor it exports as soon as a batch is full, counts what it drops,
//! and never needs the application's runtime (so `init` works inside, outside, or on a
//! current-thread runtime, and shutdown cannot deadlock on the caller's executor).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry_sdk::trace::SpanData;

use crate::diag;
use crate::error::Error;

/// A content redaction hook: sees every content value (with its attribute key) before it is
/// set on a span.
pub(crate) use crate::util::Redactor;

/// Batching limits (`OTEL_BSP_*`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_queue: usize,
    pub(crate) max_batch: usize,
    pub(crate) schedule_delay: Duration,
    /// Upper bound of one `export` call, retries included.
    pub(crate) export_budget: Duration,
    /// Batches in flight at once when more than one is waiting.
    pub(crate) max_concurrent: usize,
}

impl Limits {
    /// Room a new batch vector is made with: a whole batch, unless batches are configured
    /// very large (then it grows as it fills, rather than reserving megabytes up front).
    fn batch_capacity(&self) -> usize {
        const MOST: usize = 1024;
        self.max_batch.min(self.max_queue).min(MOST)
    }
}

#[derive(Default)]
struct Queue {
    /// Ended spans in export batches of at most `max_batch` each, oldest first: the queue
    /// never moves spans to grow, and the exporter takes the batches as they are, one at a
    /// time as it sends them, so that the queue bound also bounds the spans in memory.
    batches: VecDeque<Vec<SpanData>>,
    /// Empty batch vectors the export thread allocated (in its own allocator arena, where
    /// the exporter frees them), for the next batches.
    empty: Vec<Vec<SpanData>>,
    flush_requested: u64,
    shutdown: bool,
}

impl Queue {
    /// Spans queued: every batch but the last is full (a new one starts only then, and
    /// `max_batch` is at least 1).
    fn len(&self, max_batch: usize) -> usize {
        match self.batches.back() {
            Some(last) => (self.batches.len() - 1) * max_batch + last.len(),
            None => 0,
        }
    }
}

#[derive(Default)]
pub(super) struct Progress {
    pub(super) flushed: u64,
    pub(super) flush_error: Option<String>,
    pub(super) exited: bool,
}

#[derive(Default)]
pub(crate) struct Counters {
    /// Added to by every thread that starts spans: striped, so they do not contend.
    pub(crate) started: StripedCounter,
    pub(crate) exported: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) export_errors: AtomicU64,
    /// [`diag::hook_panics`] when the pipeline started (it counts for the whole process).
    pub(crate) hook_panics_at_start: u64,
    /// Traces the head sampler dropped that an outcome rule kept.
    pub(crate) tail_kept: AtomicU64,
    /// Held spans dropped by a decision or by the bound on held spans.
    pub(crate) tail_dropped: AtomicU64,
}

/// Stripes of a [`StripedCounter`].
const STRIPES: usize = 8;

/// One counter's stripe on its own cache line (two, for the adjacent-line prefetcher).
#[derive(Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

/// A counter that many threads add to at high rates: each thread adds to its own stripe, so
/// concurrent additions do not bounce one cache line between cores; reading sums them.
#[derive(Default)]
pub(crate) struct StripedCounter {
    stripes: [Stripe; STRIPES],
}

impl StripedCounter {
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.stripes[stripe()].0.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn sum(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

/// This thread's stripe: threads take stripes in turn as they first add.
#[inline]
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    // Kept in the thread's cache as its sink slot.
    crate::span::local::with(|local| {
        let s = &local.sink_slot;
        if s.get() == usize::MAX {
            s.set(NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
        }
        s.get()
    })
    .unwrap_or(0)
}

pub(crate) struct Pipeline {
    /// Wake the exporter as soon as a root span ends (console output appears at once).
    export_on_root_end: bool,
    /// Outcome rules for the spans held (`hold`).
    tail: Option<crate::span::TailRules>,
    pub(crate) counters: Counters,
    /// Spans held for the outcome rules.
    held: Mutex<super::tail::Held>,
    pub(super) limits: Limits,
    queue: Mutex<Queue>,
    work: Condvar,
    pub(super) progress: Mutex<Progress>,
    pub(super) progress_changed: Condvar,
    warned_full: AtomicBool,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them inconsistent (plain pushes and
    // swaps), so a poisoned lock is still usable: telemetry must not start panicking.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Pipeline {
    pub(crate) fn new(
        limits: Limits,
        export_on_root_end: bool,
        tail: Option<crate::span::TailRules>,
    ) -> Self {
        Pipeline {
            export_on_root_end,
            tail,
            counters: Counters {
                hook_panics_at_start: diag::hook_panics(),
                ..Counters::default()
            },
            limits,
            held: Mutex::new(super::tail::Held::default()),
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            progress: Mutex::new(Progress::default()),
            progress_changed: Condvar::new(),
            warned_full: AtomicBool::new(false),
        }
    }

    fn is_shut_down(&self) -> bool {
        lock(&self.queue).shutdown
    }

    /// Hands an ended span to the exporter without blocking on it: drops (and counts) it
    /// when the queue is full or the pipeline is shut down.
    pub(crate) fn submit(&self, span: SpanData) {
        let is_root = span.parent_span_id == opentelemetry::trace::SpanId::INVALID
            || span.parent_span_is_remote;
        let mut queue = lock(&self.queue);
        if queue.shutdown {
            drop(queue);
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if queue.len(self.limits.max_batch) >= self.limits.max_queue {
            drop(queue);
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            if !self.warned_full.swap(true, Ordering::Relaxed) {
                diag::warn(format_args!(
                    "span queue full ({} spans): dropping spans until the exporter catches up; \
                     TracingGuard::stats() counts them",
                    self.limits.max_queue
                ));
            }
            return;
        }
        let max_batch = self.limits.max_batch;
        let wake = {
            let Queue { batches, empty, .. } = &mut *queue;
            if batches.back().is_none_or(|b| b.len() >= max_batch) {
                let fresh = empty
                    .pop()
                    .unwrap_or_else(|| Vec::with_capacity(self.limits.batch_capacity()));
                batches.push_back(fresh);
            }
            match batches.back_mut() {
                Some(batch) => {
                    batch.push(span);
                    batch.len() == max_batch
                }
                None => false,
            }
        } || (is_root && self.export_on_root_end);
        drop(queue);
        if wake {
            self.work.notify_one();
        }
    }

    /// Holds an ended span the head sampler dropped until its local trace is decided; the
    /// spans a decision keeps are exported (and counted as started then).
    pub(crate) fn hold(&self, span: SpanData, outcome: super::tail::Outcome) {
        let Some(rules) = &self.tail else {
            return;
        };
        let released = lock(&self.held).hold(rules, span, outcome);
        self.counters
            .tail_kept
            .fetch_add(released.kept_traces, Ordering::Relaxed);
        self.counters
            .tail_dropped
            .fetch_add(released.dropped_spans, Ordering::Relaxed);
        if !released.export.is_empty() {
            self.counters.started.add(released.export.len() as u64);
        }
        for span in released.export {
            self.submit(span);
        }
    }

    /// Exports everything queued now; waits until done or `timeout`.
    pub(crate) fn force_flush(&self, timeout: Duration) -> Result<(), Error> {
        let target = {
            let mut queue = lock(&self.queue);
            if queue.shutdown {
                return Err(Error::ShutDown);
            }
            queue.flush_requested += 1;
            queue.flush_requested
        };
        self.work.notify_one();
        let deadline = deadline_after(timeout);
        let mut progress = lock(&self.progress);
        while progress.flushed < target && !progress.exited {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout);
            }
            progress = self
                .progress_changed
                .wait_timeout(progress, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        match progress.flush_error.take() {
            Some(err) => Err(Error::Exporter(err)),
            None => Ok(()),
        }
    }

    /// Stops accepting spans, exports what is queued, shuts the exporter down; waits until
    /// done or `timeout`. Only the first call does anything.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), Error> {
        {
            let mut queue = lock(&self.queue);
            if queue.shutdown {
                return Err(Error::ShutDown);
            }
            queue.shutdown = true;
        }
        crate::span::core::stop(self);
        self.work.notify_one();
        let deadline = deadline_after(timeout);
        let mut progress = lock(&self.progress);
        while !progress.exited {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout);
            }
            progress = self
                .progress_changed
                .wait_timeout(progress, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        match progress.flush_error.take() {
            Some(err) => Err(Error::Exporter(err)),
            None => Ok(()),
        }
    }

    /// Waits for work: a full batch, a flush request, shutdown, or the schedule delay. Returns
    /// how many batches are queued then (the round: what [`take_batch`](Self::take_batch)
    /// hands out until the next call), the flush requested so far, and whether to shut down.
    pub(super) fn next_round(
        &self,
        handled_flush: u64,
        until: Option<Instant>,
    ) -> (usize, u64, bool) {
        let deadline = deadline_after(self.limits.schedule_delay);
        // Metrics may be due before the next span batch.
        let deadline = until.map_or(deadline, |u| u.min(deadline));
        let mut queue = lock(&self.queue);
        loop {
            if queue.shutdown
                || queue.flush_requested > handled_flush
                || queue.len(self.limits.max_batch) >= self.limits.max_batch
            {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            queue = self
                .work
                .wait_timeout(queue, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        (queue.batches.len(), queue.flush_requested, queue.shutdown)
    }

    /// The oldest queued batch. Taken when the exporter is ready to send it, not before: spans
    /// waiting for a busy or dead collector stay in the queue, where its bound counts them.
    pub(super) fn take_batch(&self) -> Option<Vec<SpanData>> {
        lock(&self.queue).batches.pop_front()
    }

    /// Tops up the empty batch vectors to `count` (the export thread, after a round of
    /// `count` batches, so producers find one ready and the pool follows their rate).
    pub(super) fn provide_empty_batches(&self, count: usize) {
        const MOST: usize = 4;
        let missing = count
            .min(MOST)
            .saturating_sub(lock(&self.queue).empty.len());
        if missing == 0 {
            return;
        }
        let capacity = self.limits.batch_capacity();
        // Allocated outside the lock.
        let fresh: Vec<Vec<SpanData>> =
            (0..missing).map(|_| Vec::with_capacity(capacity)).collect();
        lock(&self.queue).empty.extend(fresh);
    }
}

/// `now + d`, saturating: a huge duration set in code (`Duration::MAX`) means "a year",
/// never an overflow panic.
pub(crate) fn deadline_after(d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(365 * 24 * 3600);
    let now = Instant::now();
    now.checked_add(d.min(FAR)).unwrap_or(now)
}

impl crate::span::Sink for Pipeline {
    fn started(&self, spans: u64) {
        self.counters.started.add(spans);
    }

    fn submit(&self, span: SpanData) {
        Pipeline::submit(self, span);
    }

    fn hold(&self, span: SpanData, outcome: crate::span::Outcome) {
        Pipeline::hold(self, span, outcome);
    }

    fn accepts(&self) -> bool {
        !self.is_shut_down()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceFlags;

    fn span(id: u64) -> SpanData {
        crate::init::test_span(1, id, 99, TraceFlags::SAMPLED)
    }

    fn pipeline(max_queue: usize, max_batch: usize) -> Pipeline {
        Pipeline::new(
            Limits {
                max_queue,
                max_batch,
                schedule_delay: Duration::from_secs(5),
                export_budget: Duration::from_secs(1),
                max_concurrent: 1,
            },
            false,
            None,
        )
    }

    #[test]
    fn the_queue_batches_in_order_and_drops_past_its_bound() {
        let p = pipeline(5, 2);
        for id in 1..=7 {
            p.submit(span(id));
        }
        assert_eq!(p.counters.dropped.load(Ordering::Relaxed), 2);
        let ids = |batch: Vec<SpanData>| -> Vec<u64> {
            batch
                .iter()
                .map(|s| u64::from_be_bytes(s.span_context.span_id().to_bytes()))
                .collect()
        };
        assert_eq!(p.take_batch().map(ids), Some(vec![1, 2]));
        assert_eq!(p.take_batch().map(ids), Some(vec![3, 4]));
        assert_eq!(p.take_batch().map(ids), Some(vec![5]));
        assert!(p.take_batch().is_none());
    }

    #[test]
    fn after_shutdown_spans_are_dropped_and_counted() {
        let p = pipeline(10, 2);
        {
            let mut queue = lock(&p.queue);
            queue.shutdown = true;
        }
        p.submit(span(1));
        assert_eq!(p.counters.dropped.load(Ordering::Relaxed), 1);
        assert!(p.take_batch().is_none());
        assert!(!crate::span::Sink::accepts(&p));
    }

    #[test]
    fn deadlines_saturate() {
        assert!(deadline_after(Duration::MAX) > Instant::now());
    }
}
