//! The one per-thread cache: everything trace-llm keeps per thread lives in [`Local`], in a
//! single thread-local.
//!
//! Invariants every user keeps:
//! - Access goes through [`with`], which returns an error once the thread's destructor
//!   started (or finished): callers then take their uncached path (allocate, look up the
//!   shared table, leave the caller's frame where it is). Nothing here is needed for
//!   correctness, only for speed, except the current frame, whose absence during teardown
//!   means "no current span".
//! - Each field is borrowed on its own (`Cell`s, or a `RefCell` taken with `try_borrow*`):
//!   code running while one is borrowed (a drop, a user's `Debug`) may use the others, and a
//!   borrow that fails is treated as an uncached access, never a panic.
//! - While this thread's cache is alive, OpenTelemetry's context thread-local is too: the
//!   cache's initialiser touches it first, so that its destructor is registered earlier
//!   and runs later (thread-local destructors run in reverse order of registration). Code
//!   that reads OpenTelemetry's context does so only while the cache is alive, since that
//!   context's own access panics once it is destroyed. On a thread whose first trace-llm
//!   call comes from another thread-local's destructor after OpenTelemetry's context was
//!   destroyed, that first touch panics (caught); the cache then records that
//!   OpenTelemetry's context is not to be read ([`Local::otel`]).
//! - An access is a thread-local load and a state check.
//!
//! The caches of lower layers (interning, recent price lookups) are owned here and handed
//! to them as plain values, so that they stay free of the span core.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::thread::AccessError;

use super::SpanState;
use super::buffers::Buffers;
use super::frame::{Frame, OwnedFrame};
#[cfg(feature = "tracing")]
use super::keyed::EnteredByKey;
use super::tally::Tally;

/// What one thread keeps.
// Boxes on purpose in the spares: the point is to keep the allocations themselves.
#[allow(clippy::vec_box)]
pub(crate) struct Local {
    /// The current frame: the span (and request context) code on this thread runs under.
    pub(super) frame: RefCell<OwnedFrame>,
    /// Frames entered by one `tracing` callback and left by another, innermost last.
    #[cfg(feature = "tracing")]
    pub(super) entered: RefCell<Vec<EnteredByKey>>,
    /// The id generator's state (0: not seeded yet).
    pub(super) ids: Cell<u64>,
    /// Emptied boxes and tallies kept for the next spans (see `reuse`).
    pub(super) spare_states: RefCell<Vec<Box<SpanState>>>,
    pub(super) spare_tallies: RefCell<Vec<Arc<Tally>>>,
    pub(super) spare_frames: RefCell<Vec<Box<Frame>>>,
    /// Buffers from the export thread, taken from the shared pool a chunk at a time.
    pub(super) buffers: RefCell<Buffers>,
    /// Interning's recent hits.
    pub(crate) interned: crate::intern::Recent,
    /// The price table's recent lookups.
    pub(crate) prices: crate::cost::RecentPrices,
    /// A number the sink gives each thread once (the pipeline's queue stripe); `usize::MAX`
    /// until then.
    pub(crate) sink_slot: Cell<usize>,
    /// OpenTelemetry's context thread-local was alive when the cache was made, and so
    /// outlives it: it may be read while the cache is alive.
    pub(super) otel: bool,
}

impl Local {
    const fn new(otel: bool) -> Local {
        Local {
            otel,
            frame: RefCell::new(OwnedFrame::Empty),
            #[cfg(feature = "tracing")]
            entered: RefCell::new(Vec::new()),
            ids: Cell::new(0),
            spare_states: RefCell::new(Vec::new()),
            spare_tallies: RefCell::new(Vec::new()),
            spare_frames: RefCell::new(Vec::new()),
            buffers: RefCell::new(Buffers::new()),
            interned: crate::intern::Recent::new(),
            prices: crate::cost::RecentPrices::new(),
            sink_slot: Cell::new(usize::MAX),
        }
    }
}

thread_local! {
    static LOCAL: Local = {
        // Registers OpenTelemetry's context destructor before this one (see the module docs).
        let touch = || opentelemetry::Context::map_current(|_| ());
        Local::new(std::panic::catch_unwind(touch).is_ok())
    };
}

/// Runs `f` with this thread's cache; an error during thread teardown (see the module docs).
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&Local) -> R) -> Result<R, AccessError> {
    LOCAL.try_with(f)
}

/// Runs `f` with this thread's cache, or with none during thread teardown (its uncached
/// path): for the lower layers' functions that take their cache as an `Option`.
#[inline]
pub(crate) fn with_cache<R>(f: impl Fn(Option<&Local>) -> R) -> R {
    with(|local| f(Some(local))).unwrap_or_else(|_| f(None))
}

/// This thread's interning cache, when there is one.
#[inline]
fn interned(local: Option<&Local>) -> Option<&crate::intern::Recent> {
    local.map(|local| &local.interned)
}

/// `s` interned (see [`crate::intern::intern`]), through this thread's recent hits.
#[inline]
pub(crate) fn intern(s: &str) -> std::borrow::Cow<'static, str> {
    with_cache(|l| crate::intern::intern(interned(l), s))
}

/// A finish reason interned (see [`crate::intern::intern_reason`]).
#[inline]
pub(crate) fn intern_reason(s: &str) -> std::borrow::Cow<'static, str> {
    with_cache(|l| crate::intern::intern_reason(interned(l), s))
}

/// A span name joined and interned (see [`crate::intern::intern_joined_static`]).
#[inline]
pub(crate) fn intern_joined_static(
    prefix: &'static str,
    s: &'static str,
) -> std::borrow::Cow<'static, str> {
    with_cache(|l| crate::intern::intern_joined_static(interned(l), prefix, s))
}

/// A span name joined and interned (see [`crate::intern::intern_joined`]).
#[inline]
pub(crate) fn intern_joined(prefix: &str, s: &str) -> std::borrow::Cow<'static, str> {
    with_cache(|l| crate::intern::intern_joined(interned(l), prefix, s))
}

/// A `tracing` field's text value, shared with its previous value on this thread (see
/// [`crate::intern::field_value`]).
#[cfg(feature = "tracing")]
#[inline]
pub(crate) fn field_value(field: &'static str, text: &str) -> opentelemetry::StringValue {
    with_cache(|l| crate::intern::field_value(interned(l), field, text))
}
