//! Interned strings for the few, repeated names spans carry (model names, span names, finish
//! reasons): leaked once, then shared as `&'static str`, so a span holding them allocates
//! nothing and the export thread frees nothing. Bounded: past the budget, callers get an
//! owned copy, as without interning.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;
use std::sync::{PoisonError, RwLock};

/// At most this many strings, of at most `MAX_LEN` bytes each, are leaked per process.
const MAX_STRINGS: usize = 4096;
const MAX_LEN: usize = 128;

static INTERNED: RwLock<Option<HashSet<&'static str>>> = RwLock::new(None);

/// Entries in each thread's cache of recent hits (a power of two).
const RECENT: usize = 16;

thread_local! {
    /// The strings this thread interned last, each in the slot its contents pick: a span
    /// looks up the same few model names again and again, and one comparison is cheaper than
    /// hashing with SipHash and taking the shared lock.
    static RECENT_HITS: [Cell<&'static str>; RECENT] = const { [const { Cell::new("") }; RECENT] };
}

/// The cache slot of `s`: its length and its first and last eight bytes, mixed.
#[inline]
fn slot(s: &str) -> usize {
    let bytes = s.as_bytes();
    // Fixed-size reads of the first and last eight bytes: two loads for names of eight
    // bytes or more (nearly all).
    let (head, tail) = match (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        (Some(head), Some(tail)) => (u64::from_le_bytes(*head), u64::from_le_bytes(*tail)),
        _ => {
            let short = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            (short, short)
        }
    };
    let mixed =
        (bytes.len() as u64 ^ head ^ tail.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 32) as usize % RECENT
}

/// Finish reasons the providers send, to skip even the lookup.
const KNOWN: [&str; 12] = [
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "end_turn",
    "max_tokens",
    "tool_use",
    "stop_sequence",
    "error",
    "completed",
    "incomplete",
    "pause_turn",
];

/// A finish reason as a `&'static str`: the known ones without any lookup.
pub(crate) fn intern_reason(s: &str) -> Cow<'static, str> {
    match KNOWN.iter().find(|k| **k == s) {
        Some(known) => Cow::Borrowed(known),
        None => intern(s),
    }
}

/// `s` as a `&'static str` when it is (or can still be) interned, else an owned copy.
pub(crate) fn intern(s: &str) -> Cow<'static, str> {
    if s.len() > MAX_LEN || s.is_empty() {
        return Cow::Owned(s.to_owned());
    }
    let at = slot(s);
    let recent = RECENT_HITS
        .try_with(|hits| {
            let hit = hits[at].get();
            // Already interned (a model name read back from a span): the same pointer.
            let same = std::ptr::eq(hit.as_ptr(), s.as_ptr()) && hit.len() == s.len();
            (same || hit == s).then_some(hit)
        })
        .ok()
        .flatten();
    if let Some(hit) = recent {
        return Cow::Borrowed(hit);
    }
    let interned = intern_shared(s);
    if let Cow::Borrowed(found) = interned {
        let _ = RECENT_HITS.try_with(|hits| hits[at].set(found));
    }
    interned
}

/// The shared table behind [`intern`].
fn intern_shared(s: &str) -> Cow<'static, str> {
    {
        let set = INTERNED.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = set.as_ref().and_then(|set| set.get(s)) {
            return Cow::Borrowed(found);
        }
    }
    let mut set = INTERNED.write().unwrap_or_else(PoisonError::into_inner);
    let set = set.get_or_insert_with(HashSet::new);
    if let Some(found) = set.get(s) {
        return Cow::Borrowed(found);
    }
    if set.len() >= MAX_STRINGS {
        return Cow::Owned(s.to_owned());
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    set.insert(leaked);
    Cow::Borrowed(leaked)
}

thread_local! {
    /// The span names this thread built last, by the addresses of their parts (both parts
    /// are `&'static`: a decorated function's operation and an interned model name).
    static RECENT_JOINED: [Cell<(usize, usize, &'static str)>; RECENT] =
        const { [const { Cell::new((0, 0, "")) }; RECENT] };
    static NEXT_JOINED: Cell<usize> = const { Cell::new(0) };
}

/// `prefix` + " " + `s`, interned (span names such as `chat gpt-4o`); when both parts are
/// `&'static` and were joined recently on this thread, without building the string again.
pub(crate) fn intern_joined_static(prefix: &'static str, s: &'static str) -> Cow<'static, str> {
    let key = (prefix.as_ptr() as usize, s.as_ptr() as usize);
    let known = RECENT_JOINED
        .try_with(|recent| {
            recent.iter().map(Cell::get).find_map(|(p, m, joined)| {
                (p == key.0 && m == key.1 && joined.len() == prefix.len() + 1 + s.len())
                    .then_some(joined)
            })
        })
        .ok()
        .flatten();
    if let Some(joined) = known {
        return Cow::Borrowed(joined);
    }
    let joined = intern_joined(prefix, s);
    if let Cow::Borrowed(found) = joined {
        let _ = RECENT_JOINED.try_with(|recent| {
            let _ = NEXT_JOINED.try_with(|next| {
                let slot = next.get() % RECENT;
                recent[slot].set((key.0, key.1, found));
                next.set(slot + 1);
            });
        });
    }
    joined
}

/// `prefix` + " " + `s`, interned the same way (span names such as `chat gpt-4o`).
pub(crate) fn intern_joined(prefix: &str, s: &str) -> Cow<'static, str> {
    const STACK: usize = 160;
    let len = prefix.len() + 1 + s.len();
    if len > STACK {
        return Cow::Owned(format!("{prefix} {s}"));
    }
    let mut buf = [0u8; STACK];
    buf[..prefix.len()].copy_from_slice(prefix.as_bytes());
    buf[prefix.len()] = b' ';
    buf[prefix.len() + 1..len].copy_from_slice(s.as_bytes());
    match std::str::from_utf8(&buf[..len]) {
        Ok(joined) => intern(joined),
        Err(_) => Cow::Owned(format!("{prefix} {s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_string_same_pointer_and_long_strings_are_owned() {
        let a = intern("gpt-4o-mini");
        let b = intern(&String::from("gpt-4o-mini"));
        assert!(matches!((&a, &b), (Cow::Borrowed(x), Cow::Borrowed(y)) if std::ptr::eq(*x, *y)));
        assert!(matches!(intern(&"x".repeat(MAX_LEN + 1)), Cow::Owned(_)));
        assert_eq!(intern_joined("chat", "gpt-4o"), "chat gpt-4o");
        assert!(matches!(intern_joined("chat", "gpt-4o"), Cow::Borrowed(_)));
        assert_eq!(intern_joined_static("chat", "gpt-4o"), "chat gpt-4o");
        assert_eq!(intern_joined_static("chat", "gpt-4o"), "chat gpt-4o");
        assert_eq!(
            intern_joined_static("embeddings", "gpt-4o"),
            "embeddings gpt-4o"
        );
        assert_eq!(intern_reason("stop"), "stop");
        assert_eq!(intern_reason("custom_reason"), "custom_reason");
    }
}
