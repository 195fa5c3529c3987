//! Trace and span ids from a per-thread wyrand generator: no locks, no syscalls, no
//! allocation. Seeded once per thread from std's randomly keyed hasher.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use opentelemetry::trace::{SpanId, TraceId};

thread_local! {
    // Const-initialised (seeded on first use): an access is a plain thread-local load, with
    // no lazy-initialisation check.
    static STATE: Cell<u64> = const { Cell::new(0) };
}

#[cold]
fn seed() -> u64 {
    // Each RandomState::new() is keyed from process randomness plus a per-thread counter.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_usize(&hasher as *const _ as usize);
    hasher.finish()
}

#[inline]
fn next_u64() -> u64 {
    STATE
        .try_with(|s| {
            let mut x = s.get();
            if x == 0 {
                x = seed();
            }
            let x = x.wrapping_add(0xa076_1d64_78bd_642f);
            s.set(x);
            let t = u128::from(x) * u128::from(x ^ 0xe703_7ed1_a0b4_28db);
            ((t >> 64) as u64) ^ (t as u64)
        })
        // Thread-local storage is gone only during thread teardown; any non-zero id will do.
        .unwrap_or(0x9e37_79b9_7f4a_7c15)
}

/// A random, valid (non-zero) trace id.
#[inline]
pub(crate) fn new_trace_id() -> TraceId {
    loop {
        let id = (u128::from(next_u64()) << 64) | u128::from(next_u64());
        if id != 0 {
            return TraceId::from(id);
        }
    }
}

/// A random, valid (non-zero) span id.
#[inline]
pub(crate) fn new_span_id() -> SpanId {
    loop {
        let id = next_u64();
        if id != 0 {
            return SpanId::from(id);
        }
    }
}
