//! Interned strings for the few, repeated names spans carry (model names, span names, finish
//! reasons): leaked once, then shared as `&'static str`, so a span holding them allocates
//! nothing and the export thread frees nothing. Bounded: past the budget, callers get an
//! owned copy, as without interning.
//!
//! Each thread puts a [`Recent`] cache in front of the shared table; the span core owns it
//! (in its one per-thread cache) and hands it in. `None` (thread teardown) goes straight to
//! the shared table.

use std::borrow::Cow;
use std::cell::Cell;
#[cfg(feature = "tracing")]
use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::{PoisonError, RwLock};

/// At most this many strings, of at most `MAX_LEN` bytes each, are leaked per process.
const MAX_STRINGS: usize = 4096;
const MAX_LEN: usize = 128;

static INTERNED: RwLock<Option<HashSet<&'static str>>> = RwLock::new(None);

/// Entries in each thread's cache of recent hits (a power of two).
const RECENT: usize = 16;

/// One thread's caches in front of the shared table.
pub(crate) struct Recent {
    /// The strings this thread interned last, each in the slot its contents pick: a span
    /// looks up the same few model names again and again, and one comparison is cheaper than
    /// hashing with SipHash and taking the shared lock.
    hits: [Cell<&'static str>; RECENT],
    /// The span names this thread built last, by the addresses of their parts (both parts
    /// are `&'static`: a decorated function's operation and an interned model name), and
    /// the slot the next one replaces.
    joined: [Cell<(usize, usize, &'static str)>; RECENT],
    next_joined: Cell<usize>,
    /// The last value each field (by its `&'static` name) had on this thread, in the slot its
    /// name's address picks: values that repeat per field (a method, a route, a model, a
    /// provider) are shared instead of copied, and the export thread only drops a reference.
    /// At most `RECENT_VALUES` values of at most `MAX_LEN` bytes are kept per thread.
    #[cfg(feature = "tracing")]
    field_values: RefCell<[FieldValue; RECENT_VALUES]>,
}

impl Recent {
    pub(crate) const fn new() -> Recent {
        Recent {
            hits: [const { Cell::new("") }; RECENT],
            joined: [const { Cell::new((0, 0, "")) }; RECENT],
            next_joined: Cell::new(0),
            #[cfg(feature = "tracing")]
            field_values: RefCell::new([const { None }; RECENT_VALUES]),
        }
    }
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
pub(crate) fn intern_reason(recent: Option<&Recent>, s: &str) -> Cow<'static, str> {
    match KNOWN.iter().find(|k| **k == s) {
        Some(known) => Cow::Borrowed(known),
        None => intern(recent, s),
    }
}

/// `s` as a `&'static str` when it is (or can still be) interned, else an owned copy.
pub(crate) fn intern(recent: Option<&Recent>, s: &str) -> Cow<'static, str> {
    if s.len() > MAX_LEN || s.is_empty() {
        return Cow::Owned(s.to_owned());
    }
    let Some(recent) = recent else {
        return intern_shared(s);
    };
    let cell = &recent.hits[slot(s)];
    let hit = cell.get();
    // Already interned (a model name read back from a span): the same pointer.
    let same = std::ptr::eq(hit.as_ptr(), s.as_ptr()) && hit.len() == s.len();
    if same || hit == s {
        return Cow::Borrowed(hit);
    }
    let interned = intern_shared(s);
    if let Cow::Borrowed(found) = interned {
        cell.set(found);
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

/// `prefix` + " " + `s`, interned (span names such as `chat gpt-4o`); when both parts are
/// `&'static` and were joined recently on this thread, without building the string again.
pub(crate) fn intern_joined_static(
    recent: Option<&Recent>,
    prefix: &'static str,
    s: &'static str,
) -> Cow<'static, str> {
    let Some(recent) = recent else {
        return intern_joined(None, prefix, s);
    };
    let key = (prefix.as_ptr() as usize, s.as_ptr() as usize);
    let known = recent
        .joined
        .iter()
        .map(Cell::get)
        .find_map(|(p, m, joined)| {
            (p == key.0 && m == key.1 && joined.len() == prefix.len() + 1 + s.len())
                .then_some(joined)
        });
    if let Some(joined) = known {
        return Cow::Borrowed(joined);
    }
    let joined = intern_joined(Some(recent), prefix, s);
    if let Cow::Borrowed(found) = joined {
        let slot = recent.next_joined.get() % RECENT;
        recent.joined[slot].set((key.0, key.1, found));
        recent.next_joined.set(slot + 1);
    }
    joined
}

/// `prefix` + " " + `s`, interned the same way (span names such as `chat gpt-4o`).
pub(crate) fn intern_joined(recent: Option<&Recent>, prefix: &str, s: &str) -> Cow<'static, str> {
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
        Ok(joined) => intern(recent, joined),
        Err(_) => Cow::Owned(format!("{prefix} {s}")),
    }
}

/// Slots of each thread's cache of recent field values (a power of two).
#[cfg(feature = "tracing")]
const RECENT_VALUES: usize = 64;

/// A field's name and the last value it had.
#[cfg(feature = "tracing")]
type FieldValue = Option<(&'static str, std::sync::Arc<str>)>;

#[cfg(feature = "tracing")]
/// `text`, the value of field `field`, shared with the field's previous value on this thread
/// when it is the same text; a new shared copy otherwise (long texts are copied plainly).
pub(crate) fn field_value(
    recent: Option<&Recent>,
    field: &'static str,
    text: &str,
) -> opentelemetry::StringValue {
    if text.len() > MAX_LEN {
        return opentelemetry::StringValue::from(text.to_owned());
    }
    let slot = ((field.as_ptr() as usize) >> 3).wrapping_mul(0x9e37_79b9) % RECENT_VALUES;
    recent
        .and_then(|recent| {
            let mut slots = recent.field_values.try_borrow_mut().ok()?;
            let entry = &mut slots[slot];
            if let Some((name, value)) = entry {
                if std::ptr::eq(*name, field) && **value == *text {
                    return Some(value.clone());
                }
            }
            let value: std::sync::Arc<str> = std::sync::Arc::from(text);
            *entry = Some((field, value.clone()));
            Some(value)
        })
        .map_or_else(
            || opentelemetry::StringValue::from(text.to_owned()),
            opentelemetry::StringValue::from,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_string_same_pointer_and_long_strings_are_owned() {
        let cache = Recent::new();
        for recent in [Some(&cache), Some(&cache), None] {
            let a = intern(recent, "gpt-4o-mini");
            let b = intern(recent, &String::from("gpt-4o-mini"));
            assert!(
                matches!((&a, &b), (Cow::Borrowed(x), Cow::Borrowed(y)) if std::ptr::eq(*x, *y))
            );
            assert!(matches!(
                intern(recent, &"x".repeat(MAX_LEN + 1)),
                Cow::Owned(_)
            ));
            assert_eq!(intern_joined(recent, "chat", "gpt-4o"), "chat gpt-4o");
            assert!(matches!(
                intern_joined(recent, "chat", "gpt-4o"),
                Cow::Borrowed(_)
            ));
            assert_eq!(
                intern_joined_static(recent, "chat", "gpt-4o"),
                "chat gpt-4o"
            );
            assert_eq!(
                intern_joined_static(recent, "chat", "gpt-4o"),
                "chat gpt-4o"
            );
            assert_eq!(
                intern_joined_static(recent, "embeddings", "gpt-4o"),
                "embeddings gpt-4o"
            );
            assert_eq!(intern_reason(recent, "stop"), "stop");
            assert_eq!(intern_reason(recent, "custom_reason"), "custom_reason");
        }
    }

    #[cfg(feature = "tracing")]
    #[test]
    fn repeated_field_values_are_shared_and_others_copied() {
        static FIELD: &str = "http.route";
        let cache = Recent::new();
        let field_value = |field, text| field_value(Some(&cache), field, text);
        let first = field_value(FIELD, "/chat");
        let again = field_value(FIELD, "/chat");
        assert_eq!(first.as_str(), "/chat");
        assert_eq!(again.as_str(), "/chat");
        assert!(
            std::ptr::eq(first.as_str().as_ptr(), again.as_str().as_ptr()),
            "the same value of the same field is shared"
        );
        let other = field_value(FIELD, "/embed");
        assert_eq!(other.as_str(), "/embed");
        assert!(!std::ptr::eq(
            first.as_str().as_ptr(),
            other.as_str().as_ptr()
        ));
        let long = "x".repeat(MAX_LEN + 1);
        assert_eq!(field_value(FIELD, &long).as_str(), long);
        let uncached = super::field_value(None, FIELD, "/chat");
        assert_eq!(uncached.as_str(), "/chat");
    }
}
