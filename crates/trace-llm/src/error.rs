//! The crate's error type: what `init_tracing`, `force_flush` and `shutdown` can report.

use std::fmt;

/// Why setting up, flushing or shutting down tracing failed.
///
/// Telemetry never fails the traced calls themselves; this error only comes back from the
/// few calls that manage the pipeline.
///
/// ```
/// let err = trace_llm::TracingConfig::default()
///     .otlp_endpoint("not a url")
///     .init()
///     .unwrap_err();
/// assert!(err.to_string().contains("not a url"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `init_tracing()` was called while an earlier pipeline is still running.
    AlreadyInitialized,
    /// A setting has a value that cannot work (bad endpoint URL, header, ...).
    InvalidConfig(String),
    /// The exporter could not be built or reported a failure.
    Exporter(String),
    /// A flush or shutdown did not finish within its deadline.
    Timeout,
    /// The pipeline was already shut down.
    ShutDown,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AlreadyInitialized => f.write_str(
                "tracing is already initialised; drop or shut down the earlier TracingGuard first",
            ),
            Error::InvalidConfig(msg) => write!(f, "invalid tracing configuration: {msg}"),
            Error::Exporter(msg) => write!(f, "span exporter failed: {msg}"),
            Error::Timeout => f.write_str("the span pipeline did not finish within its deadline"),
            Error::ShutDown => f.write_str("the span pipeline is already shut down"),
        }
    }
}

impl std::error::Error for Error {}
