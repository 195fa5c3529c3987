//! Warnings about the library's own operation (bad settings, dropped spans, export
//! failures) and the fence around user code (hooks, extractors, exporters). Warnings go to
//! stderr, each prefixed, and callers rate-limit them: a warning per event class or failure
//! streak, never per span. Anything quoted from user data is bounded ([`Quoted`]).

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub(crate) fn warn(message: fmt::Arguments<'_>) {
    eprintln!("trace-llm: warning: {message}");
}

/// Most characters of user data a warning quotes.
const QUOTE_MAX_CHARS: usize = 64;

/// User data in a warning: `Debug`-escaped (control characters cannot forge lines) and cut
/// to [`QUOTE_MAX_CHARS`] characters with the full length noted, so a hostile value cannot
/// flood stderr.
///
/// `format!("{}", Quoted("abc"))` is `"abc"`, quotes included.
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        match s.char_indices().nth(QUOTE_MAX_CHARS) {
            None => write!(f, "{s:?}"),
            Some((cut, _)) => write!(f, "{:?}… ({} bytes)", &s[..cut], s.len()),
        }
    }
}

/// User code the library calls, each fenced by [`isolate`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Hook {
    /// `TracingConfig::redact` (content capture needs the `json` feature).
    #[cfg_attr(not(feature = "json"), allow(dead_code))]
    Redact,
    /// `ErrorType::error_type`, and an error's `Display` / `Debug`.
    ErrorType,
    /// A `GenAiRequest` / `GenAiResponse` / `GenAiChunk` impl.
    Extractor,
    /// A span or metric exporter.
    Exporter,
    /// The `Debug` / `Display` of a `tracing` field or event value (the `tracing` layer).
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    Field,
}

impl Hook {
    const COUNT: usize = 5;

    fn name(self) -> &'static str {
        match self {
            Hook::Redact => "the redact hook",
            Hook::ErrorType => "an ErrorType / Display / Debug impl",
            Hook::Extractor => "a GenAiRequest / GenAiResponse / GenAiChunk impl",
            Hook::Exporter => "the span exporter",
            Hook::Field => "the Debug / Display of a tracing field",
        }
    }

    fn consequence(self) -> &'static str {
        match self {
            Hook::Redact => "the content attribute was not recorded",
            Hook::ErrorType => "the error type's name was used instead",
            Hook::Extractor => "what it recorded before the panic was kept",
            Hook::Exporter => "its batch was dropped and counted; exporting continues",
            Hook::Field => "the fields after it were not recorded",
        }
    }
}

/// Panics caught in user code since the process started.
static HOOK_PANICS: AtomicU64 = AtomicU64::new(0);
/// Whether each hook's first panic was reported.
static WARNED: [AtomicBool; Hook::COUNT] = [const { AtomicBool::new(false) }; Hook::COUNT];

/// Panics caught in user code since the process started.
pub(crate) fn hook_panics() -> u64 {
    HOOK_PANICS.load(Ordering::Relaxed)
}

/// Counts a panic caught in `hook` and warns the first time that hook panics.
pub(crate) fn hook_panicked(hook: Hook, payload: &(dyn std::any::Any + Send)) {
    HOOK_PANICS.fetch_add(1, Ordering::Relaxed);
    if !WARNED[hook as usize].swap(true, Ordering::Relaxed) {
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        warn(format_args!(
            "{} panicked: {}; {} (further panics are counted in TracingGuard::stats())",
            hook.name(),
            Quoted(message),
            hook.consequence()
        ));
    }
}

/// Runs user code so that its panic never reaches the application: the panic is caught,
/// counted and reported once per hook, and `None` is returned.
///
/// The closure is treated as unwind-safe: after a panic the library only drops or replaces
/// what the closure was writing, and never reads a half-written value as valid.
#[inline]
pub(crate) fn isolate<R>(hook: Hook, f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Some(value),
        Err(payload) => {
            hook_panicked(hook, &*payload);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_is_bounded_and_escaped() {
        assert_eq!(Quoted("gpt-4o").to_string(), "\"gpt-4o\"");
        assert_eq!(Quoted("a\nb").to_string(), "\"a\\nb\"");
        let long = "é".repeat(10_000);
        let shown = Quoted(&long).to_string();
        assert!(shown.len() < 200, "{}", shown.len());
        assert!(shown.ends_with("(20000 bytes)"), "{shown}");
    }

    #[test]
    fn isolate_catches_and_counts() {
        let before = hook_panics();
        assert_eq!(isolate(Hook::Extractor, || 7), Some(7));
        let caught: Option<()> = isolate(Hook::Extractor, || panic!("boom"));
        assert_eq!(caught, None);
        assert!(hook_panics() > before);
    }
}
