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
        Ok(n) if n > 0 => Some(n),
        _ => {
            diag::warn(format_args!(
                "{name}={value} is not a positive integer; using the default",
                value = crate::diag::Quoted(&value)
            ));
            None
        }
    }
}

pub(crate) fn millis_var(name: &str) -> Option<Duration> {
    let value = var(name)?;
    match value.parse::<u64>() {
        Ok(ms) => Some(Duration::from_millis(ms)),
        Err(_) => {
            diag::warn(format_args!(
                "{name}={value} is not a number of milliseconds; using the default",
                value = crate::diag::Quoted(&value)
            ));
            None
        }
    }
}

pub(crate) fn ratio_var(name: &str) -> Option<f64> {
    let value = var(name)?;
    match value.parse::<f64>() {
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
