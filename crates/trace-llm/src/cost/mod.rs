//! Cost of model calls in USD: the user's own prices first (self-hosted models, negotiated
//! rates), then pydantic's `genai-prices` database (feature `cost`). An unknown model leaves
//! the cost out and logs once; it never fails the call.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use crate::diag;
use crate::usage::Usage;

#[cfg(feature = "cost")]
mod bundled;

/// A model's price, set with [`TracingConfig::model_price`](crate::TracingConfig::model_price).
///
/// ```
/// use trace_llm::Price;
///
/// // $0.15 per million input tokens, $0.60 per million output tokens, cached input at $0.075.
/// let price = Price::per_million_tokens(0.15, 0.60).cache_read(0.075);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    input: f64,
    output: f64,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
}

impl Price {
    /// USD per million input and output tokens.
    pub fn per_million_tokens(input_usd: f64, output_usd: f64) -> Self {
        Price {
            input: input_usd,
            output: output_usd,
            cache_read: None,
            cache_write: None,
        }
    }

    /// USD per million input tokens read from the provider's cache (default: the input
    /// price).
    pub fn cache_read(mut self, usd_per_million: f64) -> Self {
        self.cache_read = Some(usd_per_million);
        self
    }

    /// USD per million input tokens written to the provider's cache (default: the input
    /// price).
    pub fn cache_write(mut self, usd_per_million: f64) -> Self {
        self.cache_write = Some(usd_per_million);
        self
    }

    /// The cost of `usage`: cache reads and writes at their own rates, the rest of the input
    /// at the input rate, output (reasoning included) at the output rate.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let input = usage.input_tokens.unwrap_or(0) as f64;
        let read = usage.cache_read_input_tokens.unwrap_or(0) as f64;
        let written = usage.cache_creation_input_tokens.unwrap_or(0) as f64;
        let output = usage.output_tokens.unwrap_or(0) as f64;
        let uncached = (input - read - written).max(0.0);
        (uncached * self.input
            + read * self.cache_read.unwrap_or(self.input)
            + written * self.cache_write.unwrap_or(self.input)
            + output * self.output)
            / 1_000_000.0
    }
}

/// One thread's recent price lookups: a thread prices the same few models again and again,
/// and a comparison of the model name's address saves hashing it and taking the shared lock.
/// The span core owns one per thread and hands it in.
pub(crate) struct RecentPrices {
    #[cfg(feature = "cost")]
    lookups: std::cell::RefCell<bundled::Recents>,
}

impl RecentPrices {
    pub(crate) const fn new() -> RecentPrices {
        RecentPrices {
            #[cfg(feature = "cost")]
            lookups: std::cell::RefCell::new(bundled::Recents::new()),
        }
    }
}

/// Prices the pipeline uses: the user's, then the bundled database.
#[derive(Debug, Default)]
pub(crate) struct PriceTable {
    user: HashMap<String, Price>,
    #[cfg(feature = "cost")]
    bundled: bundled::BundledPrices,
    /// Models already reported as unknown (bounded, so a flood of model names cannot grow it).
    warned: Mutex<HashSet<String>>,
}

impl PriceTable {
    pub(crate) fn new(user: HashMap<String, Price>) -> Self {
        PriceTable {
            user,
            #[cfg(feature = "cost")]
            bundled: bundled::BundledPrices::default(),
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// Decodes the bundled database now (tens of milliseconds), off the application's path.
    pub(crate) fn warm_up() {
        #[cfg(feature = "cost")]
        bundled::BundledPrices::warm_up();
    }

    /// The cost of a call, or `None` when the model has no known price. Model names that
    /// are `&'static` (interned) are remembered in `recent` by address.
    pub(crate) fn cost(
        &self,
        provider: Option<&str>,
        response_model: Option<&Cow<'static, str>>,
        request_model: Option<&Cow<'static, str>>,
        usage: &Usage,
        now: std::time::SystemTime,
        recent: Option<&RecentPrices>,
    ) -> Option<f64> {
        let models = [response_model, request_model];
        // Most configurations set no prices of their own: skip hashing the names then.
        if !self.user.is_empty() {
            for model in models.into_iter().flatten() {
                if let Some(price) = self.user.get(model.as_ref()) {
                    return Some(price.cost(usage));
                }
            }
        }
        #[cfg(feature = "cost")]
        for model in models.into_iter().flatten() {
            let name = match model {
                Cow::Borrowed(name) => Some(*name),
                Cow::Owned(_) => None,
            };
            let recent = name.zip(recent.map(|r| &r.lookups));
            if let Some(cost) = self.bundled.cost(provider, model, usage, now, recent) {
                return Some(cost);
            }
        }
        #[cfg(not(feature = "cost"))]
        let _ = (now, recent);
        let model = response_model.or(request_model)?;
        self.warn_unknown(provider, model);
        None
    }

    fn warn_unknown(&self, provider: Option<&str>, model: &str) {
        // Local models cost nothing per token: nothing to warn about.
        if provider == Some("ollama") {
            return;
        }
        const MAX_WARNED: usize = 64;
        // Names longer than this are remembered by their prefix: the set's memory is bounded
        // whatever the model names are.
        const MAX_REMEMBERED: usize = 128;
        let mut end = model.len().min(MAX_REMEMBERED);
        while !model.is_char_boundary(end) {
            end -= 1;
        }
        let remembered = &model[..end];
        let mut warned = self.warned.lock().unwrap_or_else(PoisonError::into_inner);
        if warned.len() < MAX_WARNED && warned.insert(remembered.to_owned()) {
            diag::warn(format_args!(
                "no price known for model {} (provider {}): its spans carry no \
                 trace_llm.usage.cost; add one with TracingConfig::model_price",
                diag::Quoted(model),
                diag::Quoted(provider.unwrap_or("unknown"))
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    #[test]
    fn user_price_arithmetic() {
        let price = Price::per_million_tokens(2.0, 8.0)
            .cache_read(0.5)
            .cache_write(2.5);
        let usage = Usage::new(1_000, 500).cache_read(400).cache_creation(100);
        // 500 uncached * 2 + 400 * 0.5 + 100 * 2.5 + 500 * 8, per million.
        let expected = (500.0 * 2.0 + 400.0 * 0.5 + 100.0 * 2.5 + 500.0 * 8.0) / 1e6;
        assert!((price.cost(&usage) - expected).abs() < 1e-15);
    }

    #[test]
    fn user_prices_win_over_the_database() {
        let table = PriceTable::new(HashMap::from([(
            "gpt-4o-mini".to_owned(),
            Price::per_million_tokens(1.0, 1.0),
        )]));
        let usage = Usage::new(1_000_000, 0);
        assert_eq!(
            table.cost(
                Some("openai"),
                None,
                Some(&Cow::Borrowed("gpt-4o-mini")),
                &usage,
                SystemTime::now(),
                None,
            ),
            Some(1.0)
        );
    }

    #[cfg(feature = "cost")]
    #[test]
    fn bundled_prices_and_unknown_models() {
        let table = PriceTable::default();
        let usage = Usage::new(1_000_000, 1_000_000);
        let recent = RecentPrices::new();
        let cost = table
            .cost(
                Some("openai"),
                Some(&Cow::Borrowed("gpt-4o-mini-2024-07-18")),
                Some(&Cow::Borrowed("gpt-4o-mini")),
                &usage,
                SystemTime::now(),
                Some(&recent),
            )
            .expect("gpt-4o-mini is in the database");
        assert!(cost > 0.05 && cost < 5.0, "{cost}");
        assert_eq!(
            table.cost(
                Some("openai"),
                None,
                Some(&Cow::Owned("my-fine-tune-xyz".to_owned())),
                &usage,
                SystemTime::now(),
                Some(&recent),
            ),
            None
        );
    }
}
