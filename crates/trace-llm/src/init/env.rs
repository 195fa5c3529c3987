//! Reading `OTEL_*` variables: a bad value is a warning and the default, never an error.

use std::time::Duration;

use crate::diag;

/// The variable's value, trimmed; unset and empty are the same.
pub(crate) fn var(name: &str) -> Option<String> {
    let value = std::env::var(name).ok()?;
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

pub(crate) fn bool_var(name: &str) -> Option<bool> {
    let value = var(name)?;
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => {
            diag::warn(format_args!(
                "{name}={value} is not a boolean (true/false); using the default",
                value = crate::diag::Quoted(&value)
            ));
            None
        }
    }
}

pub(crate) fn usize_var(name: &str) -> Option<usize> {
    let value = var(name)?;
    match value.parse::<usize>() {
        // Past this, a count is a typo or hostile (and would make allocations fail).
        Ok(n) if n > 0 && n <= 1 << 30 => Some(n),
        _ => {
            diag::warn(format_args!(
                "{name}={value} is not a positive integer; using the default",
                value = crate::diag::Quoted(&value)
            ));
            None
        }
    }
}

/// Longest duration a variable may set (a day): longer values are typos or hostile, and
/// would overflow deadline arithmetic.
const MAX_MILLIS: u64 = 86_400_000;

/// A duration in milliseconds, from 1 ms to a day; anything else warns and gives `None`.
pub(crate) fn millis_var(name: &str) -> Option<Duration> {
    let value = var(name)?;
    match value.parse::<u64>() {
        Ok(ms) if (1..=MAX_MILLIS).contains(&ms) => Some(Duration::from_millis(ms)),
        _ => {
            diag::warn(format_args!(
                "{name}={value} is not a number of milliseconds between 1 and {MAX_MILLIS}; \
                 using the default",
                value = crate::diag::Quoted(&value)
            ));
            None
        }
    }
}

pub(crate) fn ratio_var(name: &str) -> Option<f64> {
    let value = var(name)?;
    match value.parse::<f64>() {
        // `contains` is false for NaN.
        Ok(r) if (0.0..=1.0).contains(&r) => Some(r),
        _ => {
            diag::warn(format_args!(
                "{name}={value} is not a ratio between 0 and 1; using 1.0",
                value = crate::diag::Quoted(&value)
            ));
            None
        }
    }
}

/// An amount of US dollars, zero or more.
pub(crate) fn usd_var(name: &str) -> Option<f64> {
    let value = var(name)?;
    match value.parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd >= 0.0 => Some(usd),
        _ => {
            diag::warn(format_args!(
                "{name}={} is not an amount of US dollars (zero or more); the rule is off",
                crate::diag::Quoted(&value)
            ));
            None
        }
    }
}
