//! Trace and span ids from a per-thread wyrand generator: no locks, no syscalls, no
//! allocation. Seeded once per thread from std's randomly keyed hasher.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::trace::{SpanId, TraceId};

#[cold]
fn seed() -> u64 {
    // Each RandomState::new() is keyed from process randomness plus a per-thread counter.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_usize(&hasher as *const _ as usize);
    hasher.finish()
}

/// The next `N` numbers of this thread's generator (one access to the thread's cache).
#[inline(always)]
fn next<const N: usize>() -> [u64; N] {
    // The state lives in the thread's cache (`local`), seeded on first use (0: not yet).
    super::local::with(|local| {
        let state = &local.ids;
        let mut x = state.get();
        if x == 0 {
            x = seed();
        }
        let out = std::array::from_fn(|_| {
            x = x.wrapping_add(0xa076_1d64_78bd_642f);
            let t = u128::from(x) * u128::from(x ^ 0xe703_7ed1_a0b4_28db);
            ((t >> 64) as u64) ^ (t as u64)
        });
        state.set(x);
        out
    })
    .unwrap_or_else(|_| std::array::from_fn(|_| teardown_u64()))
}

/// Ids for spans started after the thread's cache is gone (other thread-locals' destructors
/// during thread teardown): still random, from a fresh seed each.
#[cold]
fn teardown_u64() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    seed() ^ CALLS.fetch_add(1, Ordering::Relaxed).rotate_left(32)
}

/// A random, valid (non-zero) trace id.
#[inline]
pub(crate) fn new_trace_id() -> TraceId {
    loop {
        let [high, low] = next();
        let id = (u128::from(high) << 64) | u128::from(low);
        if id != 0 {
            return TraceId::from(id);
        }
    }
}

/// A random, valid (non-zero) span id.
#[inline]
pub(crate) fn new_span_id() -> SpanId {
    loop {
        let [id] = next();
        if id != 0 {
            return SpanId::from(id);
        }
    }
}
