//! Outcome-based (tail) sampling inside the process: spans the head sampler drops are held
//! per local trace (this process's spans of one trace id) until its local root ends, then
//! exported whole if a rule matches (an error anywhere, a slow root, a costly trace) or
//! dropped. Held spans are bounded in total: past the bound the oldest undecided trace is
//! dropped. Decisions are remembered (bounded) so that spans ending after their root, in
//! spawned tasks, follow them.

use std::collections::{HashMap, VecDeque};

use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::SpanData;

use crate::semconv as sc;
pub(crate) use crate::span::Outcome;
use crate::span::TailRules;

/// Most spans held by default, over all undecided traces.
pub const DEFAULT_TAIL_MAX_SPANS: usize = 10_000;

/// Decisions remembered for spans that end after their local root.
const REMEMBERED_DECISIONS: usize = 4_096;

/// Why a trace was kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kept {
    Error,
    Slow,
    Cost,
}

impl Kept {
    fn as_str(self) -> &'static str {
        match self {
            Kept::Error => "error",
            Kept::Slow => "slow",
            Kept::Cost => "cost",
        }
    }
}

impl TailRules {
    fn decide(&self, failed: bool, root: Outcome) -> Option<Kept> {
        if self.keep_errors && failed {
            return Some(Kept::Error);
        }
        if self.slower_than.is_some_and(|t| root.duration > t) {
            return Some(Kept::Slow);
        }
        if self.costlier_than.is_some_and(|c| root.cost_usd > c) {
            return Some(Kept::Cost);
        }
        None
    }
}

#[derive(Default)]
struct HeldTrace {
    spans: Vec<SpanData>,
    failed: bool,
}

/// The held traces and the decisions taken.
#[derive(Default)]
pub(crate) struct Held {
    traces: HashMap<TraceId, HeldTrace>,
    /// Trace ids in the order they were first held (may name traces already decided).
    order: VecDeque<TraceId>,
    spans: usize,
    decided: HashMap<TraceId, bool>,
    decided_order: VecDeque<TraceId>,
}

/// What holding one span led to: spans to export now, and the counts for `Stats`.
#[derive(Default)]
pub(crate) struct Released {
    pub(crate) export: Vec<SpanData>,
    pub(crate) kept_traces: u64,
    pub(crate) dropped_spans: u64,
}

impl Held {
    /// Holds `span`; when it is its trace's local root, decides the trace.
    pub(crate) fn hold(&mut self, rules: &TailRules, span: SpanData, outcome: Outcome) -> Released {
        let mut released = Released::default();
        let trace_id = span.span_context.trace_id();
        let local_root = span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote;
        if let Some(&keep) = self.decided.get(&trace_id) {
            // Its root was decided already: the span follows.
            if keep {
                released.export.push(span);
            } else {
                released.dropped_spans += 1;
            }
            return released;
        }
        let trace = self.traces.entry(trace_id).or_insert_with(|| {
            self.order.push_back(trace_id);
            HeldTrace::default()
        });
        trace.failed |= outcome.failed;
        trace.spans.push(span);
        self.spans += 1;
        if local_root {
            self.decide(rules, trace_id, outcome, &mut released);
        }
        self.enforce_bound(rules.max_spans, &mut released);
        released
    }

    fn decide(&mut self, rules: &TailRules, trace_id: TraceId, root: Outcome, out: &mut Released) {
        let Some(mut trace) = self.traces.remove(&trace_id) else {
            return;
        };
        self.spans -= trace.spans.len();
        let kept = rules.decide(trace.failed, root);
        self.remember(trace_id, kept.is_some());
        match kept {
            Some(rule) => {
                // The root (the last span held) says which rule kept its trace.
                if let Some(root) = trace.spans.last_mut() {
                    root.attributes
                        .push(KeyValue::new(sc::TRACE_LLM_SAMPLING_KEPT_BY, rule.as_str()));
                }
                out.kept_traces += 1;
                out.export.append(&mut trace.spans);
            }
            None => out.dropped_spans += trace.spans.len() as u64,
        }
    }

    /// Drops the oldest undecided traces until at most `max` spans are held.
    fn enforce_bound(&mut self, max: usize, out: &mut Released) {
        while self.spans > max {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(trace) = self.traces.remove(&oldest) {
                self.spans -= trace.spans.len();
                out.dropped_spans += trace.spans.len() as u64;
                self.remember(oldest, false);
            }
        }
        // Ids of decided traces left in `order` are skipped above; keep it from growing
        // past what is held.
        if self.order.len() > 2 * self.traces.len() + 64 {
            let traces = &self.traces;
            self.order.retain(|id| traces.contains_key(id));
        }
    }

    fn remember(&mut self, trace_id: TraceId, keep: bool) {
        if self.decided.insert(trace_id, keep).is_none() {
            self.decided_order.push_back(trace_id);
        }
        while self.decided_order.len() > REMEMBERED_DECISIONS {
            if let Some(old) = self.decided_order.pop_front() {
                self.decided.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceFlags;
    use std::time::Duration;

    fn span(trace: u128, id: u64, parent: u64) -> SpanData {
        crate::init::test_span(trace, id, parent, TraceFlags::default())
    }

    fn outcome(failed: bool) -> Outcome {
        Outcome {
            failed,
            duration: Duration::from_millis(1),
            cost_usd: 0.0,
        }
    }

    const RULES: TailRules = TailRules {
        keep_errors: true,
        slower_than: None,
        costlier_than: None,
        max_spans: 3,
    };

    #[test]
    fn a_failed_child_keeps_its_trace_and_late_spans_follow() {
        let mut held = Held::default();
        assert!(
            held.hold(&RULES, span(1, 2, 1), outcome(true))
                .export
                .is_empty()
        );
        let released = held.hold(&RULES, span(1, 1, 0), outcome(false));
        assert_eq!(released.export.len(), 2);
        assert_eq!(released.kept_traces, 1);
        let late = held.hold(&RULES, span(1, 3, 1), outcome(false));
        assert_eq!(late.export.len(), 1);
        assert_eq!(held.spans, 0);
    }

    #[test]
    fn a_clean_trace_is_dropped_and_the_bound_drops_the_oldest() {
        let mut held = Held::default();
        let released = held.hold(&RULES, span(1, 1, 0), outcome(false));
        assert_eq!((released.export.len(), released.dropped_spans), (0, 1));
        for id in 2..=4 {
            held.hold(&RULES, span(2, id, 1), outcome(false));
        }
        let released = held.hold(&RULES, span(3, 9, 8), outcome(false));
        assert_eq!(released.dropped_spans, 3, "trace 2 was the oldest");
        assert_eq!(held.spans, 1);
        debug_assert!(held.traces.values().map(|t| t.spans.len()).sum::<usize>() == held.spans);
    }
}
