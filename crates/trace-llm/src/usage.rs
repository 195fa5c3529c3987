//! Token counts, as the conventions define them.

/// Token counts of one call, as the conventions define them: `input_tokens` includes cached
/// input tokens; the cache and reasoning counts are the parts the provider broke out.
///
/// ```
/// use trace_llm::Usage;
/// let usage = Usage::new(1200, 300).cache_read(1000).reasoning(120);
/// assert_eq!(usage.input_tokens, Some(1200));
/// assert_eq!(usage.cache_read_input_tokens, Some(1000));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// All input tokens, cached ones included (`gen_ai.usage.input_tokens`).
    pub input_tokens: Option<i64>,
    /// Output tokens (`gen_ai.usage.output_tokens`).
    pub output_tokens: Option<i64>,
    /// Input tokens read from the provider's cache.
    pub cache_read_input_tokens: Option<i64>,
    /// Input tokens written to the provider's cache.
    pub cache_creation_input_tokens: Option<i64>,
    /// Output tokens spent on reasoning.
    pub reasoning_output_tokens: Option<i64>,
}

impl Usage {
    /// Input and output token counts.
    pub fn new(input_tokens: i64, output_tokens: i64) -> Self {
        Usage {
            input_tokens: Some(input_tokens),
            output_tokens: Some(output_tokens),
            ..Usage::default()
        }
    }

    /// Only an input count (embeddings, or the first event of a stream).
    pub fn input(input_tokens: i64) -> Self {
        Usage {
            input_tokens: Some(input_tokens),
            ..Usage::default()
        }
    }

    /// Only an output count (a later event of a stream).
    pub fn output(output_tokens: i64) -> Self {
        Usage {
            output_tokens: Some(output_tokens),
            ..Usage::default()
        }
    }

    /// Input tokens served from the provider's cache.
    pub fn cache_read(mut self, tokens: i64) -> Self {
        self.cache_read_input_tokens = Some(tokens);
        self
    }

    /// Input tokens written to the provider's cache.
    pub fn cache_creation(mut self, tokens: i64) -> Self {
        self.cache_creation_input_tokens = Some(tokens);
        self
    }

    /// Output tokens spent on reasoning.
    pub fn reasoning(mut self, tokens: i64) -> Self {
        self.reasoning_output_tokens = Some(tokens);
        self
    }

    /// Field by field, the values `newer` has replace these. A negative count is not a
    /// count: it is ignored, so no span, metric or total ever carries one.
    pub(crate) fn merge(&mut self, newer: Usage) {
        fn take(slot: &mut Option<i64>, newer: Option<i64>) {
            if let Some(n) = newer.filter(|n| *n >= 0) {
                *slot = Some(n);
            }
        }
        take(&mut self.input_tokens, newer.input_tokens);
        take(&mut self.output_tokens, newer.output_tokens);
        take(
            &mut self.cache_read_input_tokens,
            newer.cache_read_input_tokens,
        );
        take(
            &mut self.cache_creation_input_tokens,
            newer.cache_creation_input_tokens,
        );
        take(
            &mut self.reasoning_output_tokens,
            newer.reasoning_output_tokens,
        );
    }

    pub(crate) fn is_empty(&self) -> bool {
        *self == Usage::default()
    }
}
