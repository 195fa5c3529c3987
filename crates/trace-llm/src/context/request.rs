//! `RequestContext`: request-scoped values (prompt version, cohort, tenant, session, custom
//! attributes) that every span started inside the scope carries, without being passed down.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::span::frame;
use crate::span::request::RequestData;
pub use crate::span::request::{
    MAX_CONTEXT_ATTRIBUTES, MAX_CONTEXT_KEY_BYTES, MAX_CONTEXT_VALUE_BYTES, RequestContext,
};

impl RequestContext {
    /// What is left of the current request's budget in USD (never below zero), or `None`
    /// without a budget or outside a request.
    pub fn remaining_usd() -> Option<f64> {
        frame::with_current(|f| {
            let request = f.request.as_ref()?;
            let budget = request.values.get_budget_usd()?;
            Some((budget - request.totals.snapshot().cost_usd()).max(0.0))
        })
        .flatten()
    }

    /// The context of the current scope, with inherited values merged in, or `None`
    /// outside any scope.
    pub fn current() -> Option<RequestContext> {
        frame::with_current(|f| f.request.as_ref().map(|r| r.values.clone())).flatten()
    }

    /// The running totals of the current request: tokens, model calls and cost of every
    /// model call that ended inside its scope so far (sampled or not, on spawned tasks and
    /// streams too). Zero outside any scope.
    ///
    /// ```
    /// use trace_llm::RequestContext;
    /// let totals = RequestContext::new().sync_scope(RequestContext::totals);
    /// assert_eq!(totals.inference_calls, 0);
    /// ```
    pub fn totals() -> crate::Totals {
        frame::with_current(|f| f.request.as_ref().map(|r| r.totals.snapshot()))
            .flatten()
            .map(crate::Totals::from)
            .unwrap_or_default()
    }

    /// Runs `future` with this context current on every poll; spans started inside carry
    /// its values. Values the context does not set are inherited from the scope the future
    /// is first polled in.
    pub fn scope<F: Future>(self, future: F) -> Scoped<F> {
        Scoped {
            future,
            pending: Some(self),
            request: None,
        }
    }

    /// Runs `f` with this context current.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        let mut request = Some(self.resolve());
        let _entered = EnteredRequest::new(&mut request);
        f()
    }

    /// Merges this context over the current scope's: what this one leaves unset is
    /// inherited; the request totals are shared with the outer scope.
    fn resolve(self) -> Arc<RequestData> {
        let outer = frame::with_current(|f| f.request.clone()).flatten();
        Arc::new(self.resolve_over(outer.as_deref()))
    }
}

/// Makes a request context current until dropped.
struct EnteredRequest<'a> {
    slot: &'a mut Option<Arc<RequestData>>,
}

impl<'a> EnteredRequest<'a> {
    fn new(slot: &'a mut Option<Arc<RequestData>>) -> Self {
        frame::swap_request(slot);
        EnteredRequest { slot }
    }
}

impl Drop for EnteredRequest<'_> {
    fn drop(&mut self) {
        frame::swap_request(self.slot);
    }
}

pin_project! {
    /// A future running inside a [`RequestContext`] scope; see [`RequestContext::scope`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F> {
        #[pin]
        future: F,
        pending: Option<RequestContext>,
        request: Option<Arc<RequestData>>,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let Some(ctx) = this.pending.take() {
            *this.request = Some(ctx.resolve());
        }
        let _entered = EnteredRequest::new(this.request);
        this.future.poll(cx)
    }
}
