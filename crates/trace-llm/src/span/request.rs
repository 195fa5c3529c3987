//! The values a request context carries and the per-request data the span core reads
//! (totals, budget): plain data, kept in the span core so that the current-span frame can
//! hold it. Scopes, `current()` and the running totals are in `context::request`.

use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry::{Key, KeyValue, Value};

use super::tally::Tally;
use crate::util::truncate_utf8;

/// Most custom attributes one request context carries; later ones are ignored.
pub const MAX_CONTEXT_ATTRIBUTES: usize = 16;
/// Longest string value (bytes) a request context keeps; longer ones are cut at a character
/// boundary.
pub const MAX_CONTEXT_VALUE_BYTES: usize = 256;
/// Longest custom attribute key (bytes); longer keys are ignored.
pub const MAX_CONTEXT_KEY_BYTES: usize = 128;

/// Request-scoped values that every span started inside [`scope`](RequestContext::scope) or
/// [`sync_scope`](RequestContext::sync_scope) carries:
///
/// | setter | span attribute |
/// |---|---|
/// | `prompt_name` | `trace_llm.prompt.name` (newest conventions: `gen_ai.prompt.name`) |
/// | `prompt_version` | `trace_llm.prompt.version` (newest conventions: `gen_ai.prompt.version`) |
/// | `user_cohort` | `trace_llm.user.cohort` |
/// | `tenant_id` | `trace_llm.tenant.id` |
/// | `session_id` | `gen_ai.conversation.id` and `session.id` |
/// | `user_id` | `user.id` |
/// | `attribute(key, value)` | `key`, as given |
///
/// The values live in the scope (task-local, never process-global), so concurrent requests
/// never see each other's values. An inner scope inherits the outer values it does not set.
/// Custom attributes are bounded: at most [`MAX_CONTEXT_ATTRIBUTES`], string values cut to
/// [`MAX_CONTEXT_VALUE_BYTES`], keys longer than [`MAX_CONTEXT_KEY_BYTES`] ignored.
///
/// ```
/// use trace_llm::RequestContext;
///
/// # async fn handle_request() {}
/// # async fn demo() {
/// RequestContext::new()
///     .prompt_version("summarize_v3")
///     .user_cohort("beta")
///     .tenant_id("acme")
///     .scope(handle_request())
///     .await;
/// # }
/// let inner = RequestContext::new().tenant_id("acme").sync_scope(|| {
///     RequestContext::new().user_cohort("beta").sync_scope(RequestContext::current)
/// });
/// let inner = inner.unwrap();
/// assert_eq!(inner.get_tenant_id(), Some("acme")); // inherited from the outer scope
/// assert_eq!(inner.get_user_cohort(), Some("beta"));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestContext {
    prompt_name: Option<Arc<str>>,
    prompt_version: Option<Arc<str>>,
    user_cohort: Option<Arc<str>>,
    tenant_id: Option<Arc<str>>,
    session_id: Option<Arc<str>>,
    user_id: Option<Arc<str>>,
    budget_usd: Option<f64>,
    attributes: Vec<KeyValue>,
}

/// What spans read from the current scope: the merged context and the request's totals.
#[derive(Debug)]
pub(crate) struct RequestData {
    pub(crate) values: RequestContext,
    pub(crate) totals: Arc<Tally>,
    /// Claimed by the first span started in the scope: its root, which is told at its end
    /// whether the request went over its budget.
    pub(crate) root_claimed: std::sync::atomic::AtomicBool,
}

impl RequestData {
    /// The budget in pico-dollars, if the request has one.
    pub(crate) fn budget_pico(&self) -> Option<u64> {
        self.values
            .budget_usd
            .map(|usd| (usd.max(0.0) * crate::span::tally::PICO_PER_USD).round() as u64)
    }
}

fn bounded(value: String) -> Arc<str> {
    Arc::from(truncate_utf8(&value, MAX_CONTEXT_VALUE_BYTES))
}

fn bounded_value(value: Value) -> Value {
    match value {
        Value::String(s) if s.as_str().len() > MAX_CONTEXT_VALUE_BYTES => Value::String(
            truncate_utf8(s.as_str(), MAX_CONTEXT_VALUE_BYTES)
                .to_owned()
                .into(),
        ),
        other => other,
    }
}

impl RequestContext {
    /// An empty context: inside a scope, it inherits every value of the outer scope.
    pub fn new() -> Self {
        Self::default()
    }

    /// The prompt (template) name (`trace_llm.prompt.name`), e.g. `"summarize"`.
    pub fn prompt_name(mut self, name: impl Into<String>) -> Self {
        self.prompt_name = Some(bounded(name.into()));
        self
    }

    /// The prompt version (`trace_llm.prompt.version`), e.g. `"summarize_v3"`.
    pub fn prompt_version(mut self, version: impl Into<String>) -> Self {
        self.prompt_version = Some(bounded(version.into()));
        self
    }

    /// The user cohort or experiment arm (`trace_llm.user.cohort`), e.g. `"beta"`.
    pub fn user_cohort(mut self, cohort: impl Into<String>) -> Self {
        self.user_cohort = Some(bounded(cohort.into()));
        self
    }

    /// The tenant (`trace_llm.tenant.id`).
    pub fn tenant_id(mut self, tenant: impl Into<String>) -> Self {
        self.tenant_id = Some(bounded(tenant.into()));
        self
    }

    /// The session or conversation: `gen_ai.conversation.id`, and `session.id`, which
    /// Phoenix and Langfuse group sessions by.
    pub fn session_id(mut self, session: impl Into<String>) -> Self {
        self.session_id = Some(bounded(session.into()));
        self
    }

    /// A spending limit for the request, in USD. The library never blocks a call: the span
    /// whose cost crosses the limit gets a `trace_llm.budget.exceeded` event, the scope's
    /// root span `trace_llm.budget.exceeded = true`, and the application reads
    /// [`remaining_usd`](Self::remaining_usd) to decide when to stop. An inner scope
    /// without a budget inherits the outer one; the request's totals are shared.
    ///
    /// ```
    /// use trace_llm::RequestContext;
    /// let left = RequestContext::new().budget_usd(0.50).sync_scope(RequestContext::remaining_usd);
    /// assert_eq!(left, Some(0.50));
    /// assert_eq!(RequestContext::remaining_usd(), None); // outside any request
    /// ```
    pub fn budget_usd(mut self, usd: f64) -> Self {
        self.budget_usd = Some(if usd.is_finite() {
            usd.max(0.0)
        } else {
            f64::MAX
        });
        self
    }

    /// The budget set on this context, if any.
    pub fn get_budget_usd(&self) -> Option<f64> {
        self.budget_usd
    }

    /// The end user (`user.id`), which Phoenix and Langfuse show per trace.
    ///
    /// ```
    /// let ctx = trace_llm::RequestContext::new().user_id("user-42");
    /// assert_eq!(ctx.get_user_id(), Some("user-42"));
    /// ```
    pub fn user_id(mut self, user: impl Into<String>) -> Self {
        self.user_id = Some(bounded(user.into()));
        self
    }

    /// A custom attribute set on every span under `key` as given (bounded: see the type's
    /// docs). Setting a key twice keeps the last value.
    ///
    /// ```
    /// let ctx = trace_llm::RequestContext::new().attribute("app.region", "eu-west-1");
    /// assert_eq!(ctx.attributes().len(), 1);
    /// ```
    pub fn attribute(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        let key = key.into();
        if key.is_empty() || key.len() > MAX_CONTEXT_KEY_BYTES {
            return self;
        }
        let kv = KeyValue::new(Key::new(key), bounded_value(value.into()));
        if let Some(existing) = self.attributes.iter_mut().find(|a| a.key == kv.key) {
            *existing = kv;
        } else if self.attributes.len() < MAX_CONTEXT_ATTRIBUTES {
            self.attributes.push(kv);
        }
        self
    }

    /// The prompt version, if set.
    pub fn get_prompt_version(&self) -> Option<&str> {
        self.prompt_version.as_deref()
    }

    /// The user cohort, if set.
    pub fn get_user_cohort(&self) -> Option<&str> {
        self.user_cohort.as_deref()
    }

    /// The tenant, if set.
    pub fn get_tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// The prompt name, if set.
    pub fn get_prompt_name(&self) -> Option<&str> {
        self.prompt_name.as_deref()
    }

    /// The session (conversation) id, if set.
    pub fn get_session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The end user's id, if set.
    pub fn get_user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// The custom attributes.
    pub fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }

    /// Merges this context over `outer` (see [`resolve`](Self::resolve)).
    pub(crate) fn resolve_over(self, outer: Option<&RequestData>) -> RequestData {
        match outer {
            None => RequestData {
                values: self,
                totals: Arc::default(),
                root_claimed: Default::default(),
            },
            Some(outer) => {
                let o = &outer.values;
                let mut attributes = o.attributes.clone();
                for kv in self.attributes {
                    if let Some(existing) = attributes.iter_mut().find(|a| a.key == kv.key) {
                        *existing = kv;
                    } else if attributes.len() < MAX_CONTEXT_ATTRIBUTES {
                        attributes.push(kv);
                    }
                }
                RequestData {
                    values: RequestContext {
                        prompt_name: self.prompt_name.or_else(|| o.prompt_name.clone()),
                        prompt_version: self.prompt_version.or_else(|| o.prompt_version.clone()),
                        user_cohort: self.user_cohort.or_else(|| o.user_cohort.clone()),
                        tenant_id: self.tenant_id.or_else(|| o.tenant_id.clone()),
                        session_id: self.session_id.or_else(|| o.session_id.clone()),
                        user_id: self.user_id.or_else(|| o.user_id.clone()),
                        budget_usd: self.budget_usd.or(o.budget_usd),
                        attributes,
                    },
                    totals: outer.totals.clone(),
                    root_claimed: Default::default(),
                }
            }
        }
    }
}
