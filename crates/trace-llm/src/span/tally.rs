//! Running token and cost totals: per span (rolled up from its descendants) and per request.
//!
//! Cost is kept as an integer number of pico-dollars so that sums are exact and independent
//! of the order in which concurrent children finish.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Pico-dollars per dollar.
pub(crate) const PICO_PER_USD: f64 = 1e12;

/// Totals accumulated by the spans that add to it, possibly from several threads.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    input_tokens: AtomicI64,
    output_tokens: AtomicI64,
    inference_calls: AtomicU64,
    cost_pico_usd: AtomicU64,
    /// Calls whose cost is known; a total with unknown parts is still reported.
    priced_calls: AtomicU64,
}

/// A snapshot of a [`Tally`], or the contribution of one span to its ancestors.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Subtotal {
    pub(crate) input_tokens: i64,
    pub(crate) output_tokens: i64,
    pub(crate) inference_calls: u64,
    pub(crate) cost_pico_usd: u64,
    pub(crate) priced_calls: u64,
}

impl Subtotal {
    pub(crate) fn is_empty(&self) -> bool {
        self.inference_calls == 0 && self.input_tokens == 0 && self.output_tokens == 0
    }

    pub(crate) fn cost_usd(&self) -> f64 {
        self.cost_pico_usd as f64 / PICO_PER_USD
    }

    pub(crate) fn add(&mut self, other: Subtotal) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.inference_calls = self.inference_calls.saturating_add(other.inference_calls);
        self.cost_pico_usd = self.cost_pico_usd.saturating_add(other.cost_pico_usd);
        self.priced_calls = self.priced_calls.saturating_add(other.priced_calls);
    }
}

impl Tally {
    /// Adds `s`; returns the cost (pico-dollars) the tally held before.
    pub(crate) fn add(&self, s: Subtotal) -> u64 {
        if s.is_empty() {
            return self.cost_pico_usd.load(Ordering::Relaxed);
        }
        self.input_tokens
            .fetch_add(s.input_tokens, Ordering::Relaxed);
        self.output_tokens
            .fetch_add(s.output_tokens, Ordering::Relaxed);
        self.inference_calls
            .fetch_add(s.inference_calls, Ordering::Relaxed);
        let before = self
            .cost_pico_usd
            .fetch_add(s.cost_pico_usd, Ordering::Relaxed);
        self.priced_calls
            .fetch_add(s.priced_calls, Ordering::Relaxed);
        before
    }

    pub(crate) fn snapshot(&self) -> Subtotal {
        Subtotal {
            input_tokens: self.input_tokens.load(Ordering::Relaxed),
            output_tokens: self.output_tokens.load(Ordering::Relaxed),
            inference_calls: self.inference_calls.load(Ordering::Relaxed),
            cost_pico_usd: self.cost_pico_usd.load(Ordering::Relaxed),
            priced_calls: self.priced_calls.load(Ordering::Relaxed),
        }
    }
}

/// Running totals of the current request; see
/// [`RequestContext::totals`](crate::RequestContext::totals).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Totals {
    /// Cost in USD of the model calls with a known price.
    pub cost_usd: f64,
    /// Input tokens (cached ones included).
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Inference and embeddings calls that reported usage.
    pub inference_calls: u64,
}

impl From<Subtotal> for Totals {
    fn from(s: Subtotal) -> Self {
        Totals {
            cost_usd: s.cost_usd(),
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            inference_calls: s.inference_calls,
        }
    }
}
