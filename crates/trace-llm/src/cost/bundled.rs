//! Prices from pydantic's `genai-prices` database, with a per-model cache.
//!
//! A database lookup matches the model name against every entry of the provider (a few
//! microseconds), which is too slow to run at the end of every span. Most models are priced
//! linearly in their token counts, so the first call for a model probes the database with
//! unit usages at two magnitudes, and when the rates agree (no tiers between them) keeps them:
//! later calls cost a hash lookup and four multiplications. Models whose prices are tiered
//! are priced by the database every time. Entries expire, since prices change on dates.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use crate::usage::Usage;

/// How long a probed price is trusted (the database holds dated price changes).
const TTL: Duration = Duration::from_secs(3600);
/// Bound on cached models, so a flood of model names cannot grow memory.
const MAX_MODELS: usize = 1024;
/// Longest model name cached (no real model name is near it), so the cache's memory is
/// bounded by `MAX_MODELS * MAX_MODEL_LEN` whatever names arrive.
const MAX_MODEL_LEN: usize = 256;
/// Two probe sizes: a tier boundary between them shows up as different rates.
const PROBES: [f64; 2] = [1_000.0, 1_000_000.0];

/// `gen_ai.provider.name` to the provider ids of the `genai-prices` database.
fn price_provider(provider: &str) -> Option<&'static str> {
    Some(match provider {
        "openai" => "openai",
        "anthropic" => "anthropic",
        "gcp.gemini" | "gcp.vertex_ai" | "gcp.gen_ai" => "google",
        "aws.bedrock" => "aws",
        "azure.ai.openai" | "azure.ai.inference" => "azure",
        "mistral_ai" => "mistral",
        "x_ai" => "x-ai",
        "groq" => "groq",
        "deepseek" => "deepseek",
        "cohere" => "cohere",
        "perplexity" => "perplexity",
        _ => return None,
    })
}

/// USD = `fixed` + the rates times input (all of it), cache-read, cache-write and output
/// tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rates {
    fixed: f64,
    input: f64,
    cache_read: f64,
    cache_write: f64,
    output: f64,
}

impl Rates {
    fn cost(&self, usage: &Usage) -> f64 {
        let n = |v: Option<i64>| v.unwrap_or(0) as f64;
        self.fixed
            + self.input * n(usage.input_tokens)
            + self.cache_read * n(usage.cache_read_input_tokens)
            + self.cache_write * n(usage.cache_creation_input_tokens)
            + self.output * n(usage.output_tokens)
    }

    fn agrees_with(&self, other: &Rates) -> bool {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12);
        close(self.fixed, other.fixed)
            && close(self.input, other.input)
            && close(self.cache_read, other.cache_read)
            && close(self.cache_write, other.cache_write)
            && close(self.output, other.output)
    }
}

#[derive(Clone, Copy, Debug)]
enum Entry {
    /// Not in the database.
    Unknown,
    /// Linear between the probes: priced from the rates.
    Linear(Rates),
    /// Tiered or otherwise not linear: priced by the database each time.
    Tiered,
}

/// What the cache knows of one model name under one provider.
#[derive(Clone, Copy, Debug)]
struct Cached {
    provider: Option<&'static str>,
    entry: Entry,
    probed: SystemTime,
    /// `probed + TTL`, kept so that checking freshness is two comparisons, not a subtraction.
    expires: SystemTime,
}

impl Cached {
    fn new(provider: Option<&'static str>, entry: Entry, probed: SystemTime) -> Self {
        Cached {
            provider,
            entry,
            probed,
            expires: probed.checked_add(TTL).unwrap_or(probed),
        }
    }

    /// Probed under `provider` within the last `TTL` (a clock that went back is not fresh).
    fn fresh(&self, provider: Option<&'static str>, now: SystemTime) -> bool {
        self.provider == provider && self.probed <= now && now < self.expires
    }
}

/// Entries in each thread's cache of recent lookups.
const RECENT: usize = 4;

/// A recent lookup: interned model name (compared by address) and what is known of it under
/// one provider.
type Recent = Option<(&'static str, Cached)>;

/// A thread's recent lookups (compared in place, never copied out), and the slot the next
/// one replaces.
pub(super) struct Recents {
    entries: [Recent; RECENT],
    next: usize,
}

impl Recents {
    pub(super) const fn new() -> Recents {
        Recents {
            entries: [None; RECENT],
            next: 0,
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct BundledPrices {
    /// Model name → what is known of it, per provider (almost always one).
    cache: RwLock<HashMap<String, Vec<Cached>>>,
}

impl BundledPrices {
    /// Decodes the database (tens of milliseconds).
    pub(super) fn warm_up() {
        let _ = genai_prices::Calculator::bundled();
    }

    /// The cost of `usage` on `model` at `now`, or `None` if the database does not know it.
    /// `recent`: the model's `&'static` name, when it has one, and the thread's recent
    /// lookups, which remember it by its address.
    pub(super) fn cost(
        &self,
        provider: Option<&str>,
        model: &str,
        usage: &Usage,
        now: SystemTime,
        recent: Option<(&'static str, &RefCell<Recents>)>,
    ) -> Option<f64> {
        let provider = provider.and_then(price_provider);
        match self.entry(provider, model, recent, now) {
            Entry::Unknown => None,
            Entry::Linear(rates) => Some(rates.cost(usage)).filter(|c| c.is_finite() && *c >= 0.0),
            Entry::Tiered => lookup(provider, model, usage),
        }
    }

    /// What is known of `model` (whose `&'static` name, when it has one, keys `recent`).
    fn entry(
        &self,
        provider: Option<&'static str>,
        model: &str,
        recent: Option<(&'static str, &RefCell<Recents>)>,
        now: SystemTime,
    ) -> Entry {
        let fresh = |c: &Cached| c.fresh(provider, now);
        if let Some((name, recents)) = recent {
            let known = recents.try_borrow().ok().and_then(|recents| {
                recents.entries.iter().find_map(|e| match e {
                    Some((m, cached)) if std::ptr::eq(*m, name) && fresh(cached) => {
                        Some(cached.entry)
                    }
                    _ => None,
                })
            });
            if let Some(entry) = known {
                return entry;
            }
        }
        let remember = |cached: Cached| {
            if let Some((name, recents)) = recent {
                if let Ok(mut recents) = recents.try_borrow_mut() {
                    let slot = recents.next % RECENT;
                    recents.entries[slot] = Some((name, cached));
                    recents.next = slot + 1;
                }
            }
        };
        {
            let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(cached) = cache
                .get(model)
                .and_then(|all| all.iter().find(|c| fresh(c)))
            {
                remember(*cached);
                return cached.entry;
            }
        }
        let entry = probe(provider, model);
        remember(Cached::new(provider, entry, now));
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        if model.len() <= MAX_MODEL_LEN && (cache.len() < MAX_MODELS || cache.contains_key(model)) {
            let all = cache.entry(model.to_owned()).or_default();
            all.retain(|c| c.provider != provider);
            all.push(Cached::new(provider, entry, now));
        }
        entry
    }
}

/// Prices `usage` with the database.
fn lookup(provider: Option<&str>, model: &str, usage: &Usage) -> Option<f64> {
    let counts = [
        ("input_tokens", usage.input_tokens),
        ("output_tokens", usage.output_tokens),
        ("cache_read_tokens", usage.cache_read_input_tokens),
        ("cache_write_tokens", usage.cache_creation_input_tokens),
    ];
    let mut prices = genai_prices::Usage::new();
    for (key, value) in counts {
        if let Some(v) = value {
            prices.insert(key, v as f64);
        }
    }
    price(provider, model, &prices)
}

fn price(provider: Option<&str>, model: &str, usage: &genai_prices::Usage) -> Option<f64> {
    let request = genai_prices::PriceRequest::new(model, usage);
    let request = match provider {
        Some(id) => request.with_provider_id(id),
        None => request,
    };
    genai_prices::calculate(&request)
        .ok()
        .map(|p| p.total_price)
        .filter(|p| p.is_finite() && *p >= 0.0)
}

/// Works out whether `model` is known and priced linearly.
fn probe(provider: Option<&str>, model: &str) -> Entry {
    let Some(first) = rates_at(provider, model, PROBES[0]) else {
        return Entry::Unknown;
    };
    match rates_at(provider, model, PROBES[1]) {
        Some(second) if first.agrees_with(&second) => Entry::Linear(first),
        _ => Entry::Tiered,
    }
}

/// The per-token rates the database gives at `n` tokens of each kind.
fn rates_at(provider: Option<&str>, model: &str, n: f64) -> Option<Rates> {
    let at = |pairs: &[(&str, f64)]| {
        let mut usage = genai_prices::Usage::new();
        for (key, value) in pairs {
            usage.insert(*key, *value);
        }
        price(provider, model, &usage)
    };
    let fixed = at(&[("input_tokens", 0.0), ("output_tokens", 0.0)])?;
    let input = at(&[("input_tokens", n)])?;
    let read = at(&[("input_tokens", n), ("cache_read_tokens", n)])?;
    let write = at(&[("input_tokens", n), ("cache_write_tokens", n)])?;
    let output = at(&[("output_tokens", n)])?;
    Some(Rates {
        fixed,
        input: (input - fixed) / n,
        cache_read: (read - input) / n,
        cache_write: (write - input) / n,
        output: (output - fixed) / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached rates give what the database gives, for linear models.
    #[test]
    fn cached_rates_match_the_database() {
        let prices = BundledPrices::default();
        let recent = RefCell::new(Recents::new());
        let cases = [
            (
                "openai",
                "gpt-4o-mini",
                Usage::new(1_234, 567).cache_read(1_000),
            ),
            ("openai", "gpt-4o-2024-08-06", Usage::new(50_000, 2_000)),
            (
                "anthropic",
                "claude-3-5-sonnet-20240620",
                Usage::new(9_000, 300)
                    .cache_read(4_000)
                    .cache_creation(2_000),
            ),
            ("openai", "text-embedding-3-small", Usage::input(77)),
        ];
        for (provider, model, usage) in cases {
            let direct = lookup(price_provider(provider), model, &usage).expect("known model");
            let now = SystemTime::now();
            let first = prices
                .cost(Some(provider), model, &usage, now, Some((model, &recent)))
                .expect("priced");
            let cached = prices
                .cost(Some(provider), model, &usage, now, Some((model, &recent)))
                .expect("priced");
            let uncached = prices
                .cost(Some(provider), model, &usage, now, None)
                .expect("priced");
            assert!(
                matches!(
                    prices.entry(price_provider(provider), model, None, now),
                    Entry::Linear(_)
                ),
                "{model} is linear"
            );
            for got in [first, cached, uncached] {
                assert!(
                    (got - direct).abs() <= 1e-12 + 1e-9 * direct,
                    "{model}: {got} vs {direct}"
                );
            }
        }
        let now = SystemTime::now();
        let unknown = "no-such-model-xyz";
        let cost = prices.cost(
            Some("openai"),
            unknown,
            &Usage::new(1, 1),
            now,
            Some((unknown, &recent)),
        );
        assert_eq!(cost, None);
        assert!(matches!(
            prices.entry(Some("openai"), "no-such-model-xyz", None, now),
            Entry::Unknown
        ));
    }
}
