//! Reading `OTEL_*` variables: a bad value is a warning and the default, never an error.

use std::time::Duration;

use crate::diag;

/// The variable's value, trimmed; unset and empty are the same.
pub(crate) fn var(name: &str) -> Option<String> {
    let value = std::env::var(name).ok()?;
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// The variable as `parse` reads it; a value `parse` rejects warns
/// `NAME="value" is not {expected}` and gives `None`, so every variable fails the same way.
fn parsed_var<T>(
    name: &str,
    parse: impl FnOnce(&str) -> Option<T>,
    expected: std::fmt::Arguments<'_>,
) -> Option<T> {
    let value = var(name)?;
    let parsed = parse(&value);
    if parsed.is_none() {
        diag::warn(format_args!(
            "{name}={} is not {expected}",
            diag::Quoted(&value)
        ));
    }
    parsed
}

pub(crate) fn bool_var(name: &str) -> Option<bool> {
    parsed_var(
        name,
        |value| match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => None,
        },
        format_args!("a boolean (true/false); using the default"),
    )
}

/// Largest count a variable may set: past this, a count is a typo or hostile (and would
/// make allocations fail).
const MAX_COUNT: usize = 1 << 30;

pub(crate) fn usize_var(name: &str) -> Option<usize> {
    parsed_var(
        name,
        |value| value.parse().ok().filter(|n| (1..=MAX_COUNT).contains(n)),
        format_args!("a positive integer; using the default"),
    )
}

/// Longest duration a variable may set (a day): longer values are typos or hostile, and
/// would overflow deadline arithmetic.
const MAX_MILLIS: u64 = 86_400_000;

/// A duration in milliseconds, from 1 ms to a day; anything else warns and gives `None`.
pub(crate) fn millis_var(name: &str) -> Option<Duration> {
    parsed_var(
        name,
        |value| {
            let ms = value
                .parse()
                .ok()
                .filter(|ms| (1..=MAX_MILLIS).contains(ms))?;
            Some(Duration::from_millis(ms))
        },
        format_args!("a number of milliseconds between 1 and {MAX_MILLIS}; using the default"),
    )
}

pub(crate) fn ratio_var(name: &str) -> Option<f64> {
    parsed_var(
        name,
        // `contains` is false for NaN.
        |value| value.parse().ok().filter(|r| (0.0..=1.0).contains(r)),
        format_args!("a ratio between 0 and 1; using 1.0"),
    )
}

/// An amount of US dollars, zero or more.
pub(crate) fn usd_var(name: &str) -> Option<f64> {
    parsed_var(
        name,
        |value| {
            value
                .parse()
                .ok()
                .filter(|usd: &f64| usd.is_finite() && *usd >= 0.0)
        },
        format_args!("an amount of US dollars (zero or more); the rule is off"),
    )
}
