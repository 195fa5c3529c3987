//! Buffers for the parts of a span that leave the application's thread (its attribute
//! vector, response id and finish reasons), allocated by the export thread and owned here,
//! by the span core that fills them.
//!
//! Invariant: memory the exporter frees on the export thread was allocated there, so frees
//! go to the export thread's own allocator arena and never contend with the application's
//! threads for theirs. The export thread allocates these buffers and hands them over in
//! chunks; spans fill them; the application's thread never waits on the allocator for them
//! (BENCHMARKS.md has the measurement that motivated it).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use opentelemetry::{KeyValue, StringValue};

/// Locks `m`; a panic while holding these locks cannot leave them inconsistent (plain
/// pushes and swaps), so a poisoned lock is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Attribute slots per span buffer to start with: a chat span with response and usage has
/// about twelve.
const ATTRIBUTES: usize = 16;
/// Most attribute slots a buffer is made with; spans with more grow their vector.
const MAX_ATTRIBUTES: usize = 64;
/// Attribute slots the export thread gives new buffers: the most a span has needed so far
/// (up to `MAX_ATTRIBUTES`), so that spans fill their buffer instead of doubling it (a
/// reallocation on the application's thread, and up to twice the memory in the queue).
static ATTRIBUTE_SLOTS: AtomicUsize = AtomicUsize::new(ATTRIBUTES);
/// Longest response id taken from the pool (OpenAI ids are 38 bytes, Anthropic's about 30).
const ID_BYTES: usize = 128;
/// The length of the last response id seen. The export thread makes id buffers exactly this
/// long, so an id (of the usual, fixed length per provider) fills one completely and becomes
/// the span's attribute without being reallocated to fit.
static ID_LEN: AtomicUsize = AtomicUsize::new(38);
/// Most buffers of each kind waiting in the shared pool.
const POOL_MAX: usize = 4096;
/// Buffers a thread takes from the shared pool at once.
const CHUNK: usize = 64;

/// Buffers of each kind: the shared pool, and each thread's chunk of it (in its cache,
/// `local`).
pub(crate) struct Buffers {
    attributes: Vec<Vec<KeyValue>>,
    ids: Vec<String>,
    reasons: Vec<Vec<StringValue>>,
}

impl Buffers {
    pub(crate) const fn new() -> Buffers {
        Buffers {
            attributes: Vec::new(),
            ids: Vec::new(),
            reasons: Vec::new(),
        }
    }
}

static SHARED: Mutex<Buffers> = Mutex::new(Buffers::new());

/// Takes a buffer from this thread's cache, refilled from the shared pool, or allocates one.
fn take<T>(pick: fn(&mut Buffers) -> &mut Vec<T>, fresh: impl FnOnce() -> T) -> T {
    let cached = super::local::with(|local| {
        let mut local = local.buffers.try_borrow_mut().ok()?;
        if pick(&mut local).is_empty() {
            let mut shared = lock(&SHARED);
            let pool = pick(&mut shared);
            let start = pool.len() - pool.len().min(CHUNK);
            pick(&mut local).extend(pool.drain(start..));
        }
        pick(&mut local).pop()
    })
    .ok()
    .flatten();
    cached.unwrap_or_else(fresh)
}

/// An empty attribute vector with room for a span's attributes.
pub(crate) fn attributes() -> Vec<KeyValue> {
    take(
        |b| &mut b.attributes,
        || Vec::with_capacity(ATTRIBUTE_SLOTS.load(Ordering::Relaxed)),
    )
}

/// Notes how many attributes an ended span has, so later buffers have room for as many.
#[inline]
pub(crate) fn note_attributes(count: usize) {
    // Almost always a load and a compare: the shared value changes only when it grows.
    if count > ATTRIBUTE_SLOTS.load(Ordering::Relaxed) {
        ATTRIBUTE_SLOTS.fetch_max(count.min(MAX_ATTRIBUTES), Ordering::Relaxed);
    }
}

/// `id` in a string buffer.
pub(crate) fn id(id: &str) -> String {
    if id.len() > ID_BYTES {
        return id.to_owned();
    }
    if ID_LEN.load(Ordering::Relaxed) != id.len() {
        ID_LEN.store(id.len(), Ordering::Relaxed);
    }
    let mut buffer = take(|b| &mut b.ids, || String::with_capacity(id.len()));
    if buffer.capacity() < id.len() {
        // Made for ids of another length: it would grow in place of being filled.
        return id.to_owned();
    }
    buffer.push_str(id);
    buffer
}

/// An empty finish-reasons vector with room for one choice.
pub(crate) fn reasons() -> Vec<StringValue> {
    take(|b| &mut b.reasons, || Vec::with_capacity(1))
}

/// Tops the shared pool up by about `spans` buffers of each kind (the export thread calls
/// this after each round, with the number of spans it just exported, so the pool follows
/// the application's rate and an idle application holds none).
pub(crate) fn refill(spans: usize) {
    if spans == 0 {
        return;
    }
    let want = (2 * spans).min(POOL_MAX);
    let missing = |len: usize| want.saturating_sub(len);
    let (a, i, r) = {
        let shared = lock(&SHARED);
        (
            missing(shared.attributes.len()),
            missing(shared.ids.len()),
            missing(shared.reasons.len()),
        )
    };
    if a + i + r == 0 {
        return;
    }
    // Allocate outside the lock.
    let slots = ATTRIBUTE_SLOTS.load(Ordering::Relaxed);
    let attributes: Vec<Vec<KeyValue>> = (0..a).map(|_| Vec::with_capacity(slots)).collect();
    let id_len = ID_LEN.load(Ordering::Relaxed);
    let ids: Vec<String> = (0..i).map(|_| String::with_capacity(id_len)).collect();
    let reasons: Vec<Vec<StringValue>> = (0..r).map(|_| Vec::with_capacity(1)).collect();
    let mut shared = lock(&SHARED);
    shared.attributes.extend(attributes);
    shared.ids.extend(ids);
    shared.reasons.extend(reasons);
}
