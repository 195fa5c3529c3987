//! The span handle the macro drives: start with the sampling-relevant attributes, run the
//! body as the current span, record the result, record error / panic / cancellation, end
//! exactly once.

pub(crate) mod buffers;
pub(crate) mod core;
pub(crate) mod frame;
pub(crate) mod ids;
#[cfg(feature = "tracing")]
pub(crate) mod keyed;
mod live;
#[cfg(test)]
mod live_tests;
pub(crate) mod local;
pub(crate) mod parent;
pub(crate) mod record;
pub(crate) mod request;
pub(crate) mod reuse;
pub(crate) mod sampler;
mod state;
#[cfg(feature = "json")]
pub(crate) mod streamed;
pub(crate) mod tally;
mod value;

pub(crate) use core::{Core, Settings, Sink, TailRules, enabled};
pub use live::{LiveSpan, Meta, SpanInit};
#[cfg(feature = "tracing")]
pub(crate) use live::{ParentFrom, begin_under};
pub(crate) use live::{begin, start};
pub(crate) use state::SpanState;
pub use value::AttributeValue;
pub use value::StrValue;

pub use crate::operation::Operation;
pub(crate) use crate::util::truncate_utf8;

/// What a span held for the outcome rules says about its trace when it ends (the pipeline
/// decides the trace from it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    /// Ended in error (an `Err`, a panic, cancelled).
    pub(crate) failed: bool,
    pub(crate) duration: std::time::Duration,
    /// The span's own cost and its descendants' (for a local root: the trace's).
    pub(crate) cost_usd: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate_utf8("héllo", 2), "h");
        assert_eq!(truncate_utf8("héllo", 3), "hé");
        assert_eq!(truncate_utf8("abc", 10), "abc");
    }

    #[test]
    fn kinds_round_trip() {
        for op in [
            Operation::Chat,
            Operation::TextCompletion,
            Operation::GenerateContent,
            Operation::Embeddings,
            Operation::Retrieval,
            Operation::ExecuteTool,
            Operation::CreateAgent,
            Operation::InvokeAgent,
            Operation::InvokeWorkflow,
        ] {
            let name = op.as_str().unwrap();
            assert_eq!(Operation::from_kind(name), Some(op));
        }
    }
}
