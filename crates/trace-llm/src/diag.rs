//! Warnings about the library's own operation (bad settings, dropped spans, export
//! failures). They go to stderr, each prefixed, and callers rate-limit them: a warning per
//! event class or failure streak, never per span.

use std::fmt;

pub(crate) fn warn(message: fmt::Arguments<'_>) {
    eprintln!("trace-llm: warning: {message}");
}
