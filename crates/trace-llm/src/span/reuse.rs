//! Per-thread reuse of the allocations a span makes on the thread that runs it: its
//! frame's box (every started span), its state's box (a recording span), and the tally its
//! children add up into (a span with children). All are allocated and released on the
//! same thread in the common synchronous case, so a small per-thread stack saves an
//! allocator round trip per span without any locking.

use std::cell::RefCell;
use std::sync::Arc;

use super::SpanState;
use super::local::Local;
use super::tally::Tally;
use crate::span::frame::Frame;

/// Boxes (and tallies) a thread keeps for reuse: enough for deep nesting in a loop.
const KEEP: usize = 16;

/// Picks one of the thread's stacks of spares from its cache (`local`).
type Spares<T> = fn(&Local) -> &RefCell<Vec<T>>;

const STATES: Spares<Box<SpanState>> = |local| &local.spare_states;
const TALLIES: Spares<Arc<Tally>> = |local| &local.spare_tallies;
const FRAMES: Spares<Box<Frame>> = |local| &local.spare_frames;

/// A spare from this thread's stack, if it has one.
#[inline]
fn take<T>(spares: Spares<T>) -> Option<T> {
    super::local::with(|local| spares(local).try_borrow_mut().ok()?.pop())
        .ok()
        .flatten()
}

/// Keeps `item` on this thread's stack, unless it is full (then `item` is dropped).
#[inline]
fn keep<T>(spares: Spares<T>, item: T) {
    // During thread teardown `item` is dropped with the closure.
    let _ = super::local::with(|local| {
        if let Ok(mut spare) = spares(local).try_borrow_mut() {
            if spare.len() < KEEP {
                spare.push(item);
            }
        }
    });
}

/// `frame` in a box, reusing an emptied one from this thread.
#[inline]
pub(crate) fn boxed_frame(frame: Frame) -> Box<Frame> {
    match take(FRAMES) {
        Some(mut boxed) => {
            // Spare boxes hold `Frame::EMPTY` (see `release_frame`): nothing to drop, so
            // forgetting the old value leaks nothing.
            debug_assert!(
                boxed.span.is_none()
                    && boxed.tally.is_none()
                    && boxed.request.is_none()
                    && boxed.state.is_none(),
                "a spare frame box must be empty"
            );
            std::mem::forget(std::mem::replace(&mut *boxed, frame));
            boxed
        }
        None => Box::new(frame),
    }
}

/// Empties a frame that is done with and keeps its box for the next one on this thread.
#[inline]
pub(crate) fn release_frame(mut frame: Box<Frame>) {
    *frame = Frame::EMPTY;
    keep(FRAMES, frame);
}

/// `state` in a box, reusing one a finished span left on this thread.
pub(crate) fn boxed(state: SpanState) -> Box<SpanState> {
    match take(STATES) {
        Some(mut boxed) => {
            // The response's scratch vector stays on this thread (its entries were moved
            // into the exported attributes): keeping it saves an allocation per span.
            let mut extra = std::mem::take(&mut boxed.response.extra);
            // Drops what the finished span left (its vectors were moved out on export).
            *boxed = state;
            extra.clear();
            boxed.response.extra = extra;
            boxed
        }
        None => Box::new(state),
    }
}

/// Keeps a finished span's box for the next span on this thread.
pub(crate) fn release_state(state: Box<SpanState>) {
    keep(STATES, state);
}

/// A zeroed tally, reusing one whose span ended on this thread.
pub(crate) fn tally() -> Arc<Tally> {
    take(TALLIES).unwrap_or_default()
}

/// Keeps a finished span's tally for reuse, if nothing else holds it any more (a child
/// still running elsewhere keeps it alive, and it is simply dropped later).
pub(crate) fn release_tally(mut tally: Arc<Tally>) {
    let Some(inner) = Arc::get_mut(&mut tally) else {
        return;
    };
    *inner = Tally::default();
    keep(TALLIES, tally);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::tally::Subtotal;

    #[test]
    fn a_released_frame_box_is_reused_empty_then_filled() {
        let frame = boxed_frame(Frame {
            span: Some(opentelemetry::trace::SpanContext::empty_context()),
            ..Frame::EMPTY
        });
        let address = std::ptr::from_ref(&*frame);
        release_frame(frame);
        let again = boxed_frame(Frame::EMPTY);
        assert_eq!(std::ptr::from_ref(&*again), address, "the box came back");
        assert!(again.span.is_none(), "and holds the new frame");
        release_frame(again);
    }

    #[test]
    fn tallies_come_back_zeroed_and_shared_ones_are_not_kept() {
        let tally = tally();
        tally.add(Subtotal {
            input_tokens: 5,
            inference_calls: 1,
            ..Subtotal::default()
        });
        let shared = Arc::clone(&tally);
        release_tally(tally);
        assert_eq!(shared.snapshot().input_tokens, 5, "still in use: not reset");
        release_tally(shared);
        assert_eq!(self::tally().snapshot(), Subtotal::default());
    }
}
