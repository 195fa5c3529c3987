//! Frames entered by one callback and left by another: a `tracing` span's enter and exit,
//! which may come out of order (an outer span left before an inner one) and only by key.

use std::cell::RefCell;
use std::mem;
use std::thread::AccessError;

use super::frame::{Attached, OwnedFrame, enter, leave};

/// A frame entered by one callback and left by another (a `tracing` span's enter and
/// exit), with what it replaced.
pub(crate) struct EnteredByKey {
    key: u64,
    previous: OwnedFrame,
    attached: Attached,
}

/// Runs `f` with this thread's stack of keyed entries (an error during thread teardown).
fn entered<R>(f: impl FnOnce(&RefCell<Vec<EnteredByKey>>) -> R) -> Result<R, AccessError> {
    super::local::with(|local| f(&local.entered))
}

/// Makes `frame` current (as [`enter`] does) until [`leave_keyed`] is called with `key` on
/// this thread.
pub(crate) fn enter_keyed(key: u64, mut frame: OwnedFrame) {
    let attached = enter(&mut frame);
    let entry = EnteredByKey {
        key,
        previous: frame,
        attached,
    };
    let mut pending = Some(entry);
    let _ = entered(|stack| {
        if let Ok(mut stack) = stack.try_borrow_mut() {
            stack.extend(pending.take());
        }
    });
    if let Some(mut entry) = pending {
        // No stack to remember it on (thread teardown): undo at once.
        leave(&mut entry.previous, entry.attached);
        entry.previous.release();
    }
}

/// Undoes the latest [`enter_keyed`] of `key` on this thread. Left in order, the frame
/// before it is current again; left out of order (an outer span left before an inner
/// one), the inner one's exit will restore the frame before the outer one.
pub(crate) fn leave_keyed(key: u64) {
    let removed = entered(|stack| {
        let mut stack = stack.try_borrow_mut().ok()?;
        let index = stack.iter().rposition(|e| e.key == key)?;
        let mut entry = stack.remove(index);
        if let Some(above) = stack.get_mut(index) {
            // `above` replaced this key's frame; it restores what this key replaced.
            mem::swap(&mut above.previous, &mut entry.previous);
            Some((entry, false))
        } else {
            Some((entry, true))
        }
    })
    .ok()
    .flatten();
    match removed {
        Some((mut entry, true)) => {
            leave(&mut entry.previous, entry.attached);
            entry.previous.release();
        }
        Some((entry, false)) => {
            drop(entry.attached);
            entry.previous.release();
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::SpanId;

    use super::*;
    use crate::span::frame::tests::{current_span_id, ids};

    #[test]
    fn keyed_entries_restore_in_and_out_of_order() {
        enter_keyed(1, ids(1));
        enter_keyed(2, ids(2));
        assert_eq!(current_span_id(), Some(SpanId::from(2)));
        leave_keyed(2);
        assert_eq!(current_span_id(), Some(SpanId::from(1)));
        leave_keyed(1);
        assert_eq!(current_span_id(), None);

        // The outer one left first: the inner stays current until it is left, then what
        // was current before both comes back.
        enter_keyed(1, ids(1));
        enter_keyed(2, ids(2));
        leave_keyed(1);
        assert_eq!(current_span_id(), Some(SpanId::from(2)));
        leave_keyed(2);
        assert_eq!(current_span_id(), None);
        // Leaving a key never entered changes nothing.
        leave_keyed(3);
        assert_eq!(current_span_id(), None);
    }
}
