//! Carrying a trace and its request context across processes and queues: W3C `traceparent`
//! / `tracestate` for the parent span, W3C `baggage` for the request context.
//!
//! Encoding and parsing are the OpenTelemetry SDK propagators'; this module validates what
//! they would otherwise accept (a `traceparent` of the wrong length, `+`-prefixed hex, a
//! one-digit flags field; a half-malformed `baggage` list) and ignores such headers whole,
//! so a malformed header never yields a partial parent or context.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use opentelemetry::baggage::{BaggageExt, KeyValueMetadata};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use pin_project_lite::pin_project;

use super::request::RequestContext;
use crate::semconv as sc;
use crate::span::frame::{self, OwnedFrame};
use crate::span::parent;

/// Baggage entries the W3C format allows; beyond it propagators drop entries.
const MAX_BAGGAGE_ENTRIES: usize = 64;
/// Longest `baggage` header the SDK keeps (it drops a longer one whole).
const MAX_BAGGAGE_BYTES: usize = 8192;

/// Writes the current trace context (`traceparent`, `tracestate`) and request context
/// (`baggage`) into `carrier`: a `HashMap<String, String>`, message headers, or an HTTP
/// header map through [`HeaderInjector`].
///
/// The parent is the innermost current span: the current trace-llm span, unless a span was
/// made current in OpenTelemetry's context after it (or none is current). Request
/// context values go first in the baggage (prompt version, cohort, tenant, session, then
/// custom attributes as strings), so they survive the format's size limits.
///
/// ```
/// use std::collections::HashMap;
/// use trace_llm::{propagation, RequestContext};
///
/// let mut headers = HashMap::new();
/// RequestContext::new().tenant_id("acme").sync_scope(|| propagation::inject(&mut headers));
/// assert_eq!(headers.get("baggage").map(String::as_str), Some("trace_llm.tenant.id=acme"));
/// ```
pub fn inject<I: Injector>(carrier: &mut I) {
    let request = frame::with_current(|f| f.request.clone()).flatten();
    let mut cx = opentelemetry::Context::new();
    // The innermost current span: trace-llm's, or one made current in OpenTelemetry's
    // context after it (a `tracing` span under `tracing-opentelemetry`).
    let parent = parent::parent_context(&parent::peek_parent());
    if let Some(parent) = parent.filter(SpanContext::is_valid) {
        cx = cx.with_remote_span_context(parent);
    }
    if let Some(request) = request {
        cx = cx.with_baggage(baggage_entries(&request.values));
    }
    TraceContextPropagator::new().inject_context(&cx, carrier);
    BaggagePropagator::new().inject_context(&cx, carrier);
}

/// The request context as baggage entries, most important first, within the format's
/// limits.
fn baggage_entries(values: &RequestContext) -> Vec<KeyValueMetadata> {
    let mut entries: Vec<KeyValueMetadata> = Vec::new();
    let mut bytes = 0;
    let mut push = |key: &str, value: String| {
        // key=value, percent-encoding at most triples a byte, plus a separator.
        let cost = key.len() + 3 * value.len() + 2;
        if entries.len() < MAX_BAGGAGE_ENTRIES && bytes + cost <= MAX_BAGGAGE_BYTES {
            bytes += cost;
            entries.push(KeyValueMetadata::from(KeyValue::new(key.to_owned(), value)));
        }
    };
    for (key, value) in [
        (sc::TRACE_LLM_PROMPT_VERSION, values.get_prompt_version()),
        (sc::TRACE_LLM_PROMPT_NAME, values.get_prompt_name()),
        (sc::TRACE_LLM_USER_COHORT, values.get_user_cohort()),
        (sc::TRACE_LLM_TENANT_ID, values.get_tenant_id()),
        (sc::GEN_AI_CONVERSATION_ID, values.get_session_id()),
        (sc::USER_ID, values.get_user_id()),
    ] {
        if let Some(value) = value {
            push(key, value.to_owned());
        }
    }
    for kv in values.attributes() {
        if is_token(kv.key.as_str()) {
            push(kv.key.as_str(), value_text(&kv.value));
        }
    }
    entries
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.as_str().to_owned(),
        other => other.to_string(),
    }
}

/// RFC 7230 token characters, which W3C baggage keys are made of.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// What a carrier said: a remote parent span and a request context, either of which may be
/// absent (or ignored, when malformed). Run work with [`scope`](RequestScope::scope) or
/// [`sync_scope`](RequestScope::sync_scope).
#[derive(Clone, Debug, Default)]
pub struct RequestScope {
    parent: Option<SpanContext>,
    context: Option<RequestContext>,
}

impl RequestScope {
    /// The remote parent span, if the carrier had a valid `traceparent`.
    pub fn parent(&self) -> Option<&SpanContext> {
        self.parent.as_ref()
    }

    /// The request context from the carrier's `baggage`, if any.
    pub fn request_context(&self) -> Option<&RequestContext> {
        self.context.as_ref()
    }

    /// Runs `future` as a child of the remote parent, with the carried request context
    /// (merged over the current one, as an inner [`RequestContext::scope`] is).
    pub fn scope<F: Future>(self, future: F) -> RemoteScoped<F> {
        RemoteScoped {
            future,
            pending: Some(self),
            frame: OwnedFrame::Empty,
        }
    }

    /// Runs `f` as a child of the remote parent, with the carried request context.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        let mut frame = self.into_frame();
        frame::in_frame(&mut frame, f)
    }

    fn into_frame(self) -> OwnedFrame {
        let mut frame = frame::capture().into_boxed();
        if self.parent.is_some() {
            frame.span = self.parent;
            // A new remote parent starts a new roll-up.
            frame.tally = None;
        }
        if let Some(context) = self.context {
            frame.request = Some(Arc::new(context.resolve_over(frame.request.as_deref())));
        }
        OwnedFrame::Boxed(frame)
    }
}

pin_project! {
    /// A future running as a child of a remote parent; see [`RequestScope::scope`].
    #[must_use = "futures do nothing unless polled"]
    pub struct RemoteScoped<F> {
        #[pin]
        future: F,
        pending: Option<RequestScope>,
        frame: OwnedFrame,
    }
}

impl<F: Future> Future for RemoteScoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let Some(scope) = this.pending.take() {
            *this.frame = scope.into_frame();
        }
        let mut future = this.future;
        frame::in_frame(this.frame, || future.as_mut().poll(cx))
    }
}

/// Reads `traceparent`, `tracestate` and `baggage` from `carrier`. Malformed headers are
/// ignored whole: a `traceparent` that breaks the W3C grammar gives no parent, a `baggage`
/// list with a malformed member gives no request context.
///
/// ```
/// use std::collections::HashMap;
/// use trace_llm::propagation;
///
/// let mut headers = HashMap::new();
/// headers.insert("traceparent".to_string(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string());
/// headers.insert("baggage".to_string(), "trace_llm.tenant.id=acme".to_string());
/// let scope = propagation::extract(&headers);
/// assert!(scope.parent().is_some());
/// assert_eq!(scope.request_context().and_then(|c| c.get_tenant_id()), Some("acme"));
///
/// headers.insert("traceparent".to_string(), "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1".to_string());
/// assert!(propagation::extract(&headers).parent().is_none());
/// ```
pub fn extract<E: Extractor + ?Sized>(carrier: &E) -> RequestScope {
    let parent = carrier
        .get("traceparent")
        .filter(|tp| valid_traceparent(tp))
        .and_then(|_| {
            let cx = TraceContextPropagator::new().extract(&ExtractorRef(carrier));
            let sc = cx.span().span_context().clone();
            sc.is_valid().then_some(sc)
        });
    let context = carrier
        .get("baggage")
        .filter(|b| valid_baggage(b))
        .map(|_| {
            let cx = BaggagePropagator::new().extract(&ExtractorRef(carrier));
            context_from_baggage(cx.baggage())
        })
        .filter(|c| *c != RequestContext::default());
    RequestScope { parent, context }
}

struct ExtractorRef<'a, E: ?Sized>(&'a E);

impl<E: Extractor + ?Sized> Extractor for ExtractorRef<'_, E> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys()
    }
}

/// The request context a remote caller sent. Its own fields come from their `trace_llm.*`
/// keys; other entries become custom attributes, except keys the library writes itself
/// ([`sc::is_reserved`]): a remote caller is untrusted and may not set those.
fn context_from_baggage(baggage: &opentelemetry::baggage::Baggage) -> RequestContext {
    let mut ctx = RequestContext::new();
    for (key, (value, _)) in baggage {
        let value = value.as_str().to_owned();
        ctx = match key.as_str() {
            sc::TRACE_LLM_PROMPT_VERSION => ctx.prompt_version(value),
            sc::TRACE_LLM_PROMPT_NAME => ctx.prompt_name(value),
            sc::TRACE_LLM_USER_COHORT => ctx.user_cohort(value),
            sc::TRACE_LLM_TENANT_ID => ctx.tenant_id(value),
            sc::GEN_AI_CONVERSATION_ID => ctx.session_id(value),
            sc::USER_ID => ctx.user_id(value),
            reserved if sc::is_reserved(reserved) => ctx,
            other => ctx.attribute(other.to_owned(), value),
        };
    }
    ctx
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The W3C Trace Context grammar: `version-traceid-parentid-flags`, lowercase hex of exact
/// lengths, ids not all zero, version not `ff`; version 00 has exactly four fields, later
/// versions may add more.
pub(crate) fn valid_traceparent(value: &str) -> bool {
    let value = value.trim();
    let parts: Vec<&str> = value.split('-').collect();
    if parts.len() < 4 {
        return false;
    }
    let (version, trace_id, span_id, flags) = (parts[0], parts[1], parts[2], parts[3]);
    let lengths =
        version.len() == 2 && trace_id.len() == 32 && span_id.len() == 16 && flags.len() == 2;
    if !lengths
        || ![version, trace_id, span_id, flags]
            .iter()
            .all(|p| is_lower_hex(p))
    {
        return false;
    }
    if version == "ff" || (version == "00" && parts.len() != 4) {
        return false;
    }
    trace_id.bytes().any(|b| b != b'0') && span_id.bytes().any(|b| b != b'0')
}

/// Every list member is `key=value` with a token key and a value of baggage octets (after
/// optional properties are cut off), and the header fits the format's limits.
pub(crate) fn valid_baggage(value: &str) -> bool {
    if value.len() > MAX_BAGGAGE_BYTES {
        return false;
    }
    let members: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    if members.is_empty() || members.len() > MAX_BAGGAGE_ENTRIES {
        return false;
    }
    members.iter().all(|member| {
        let kv = member.split(';').next().unwrap_or("");
        let Some((key, val)) = kv.split_once('=') else {
            return false;
        };
        let val = val.trim();
        is_token(key.trim())
            && val
                .bytes()
                .all(|b| matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e))
            && percent_ok(val)
    })
}

/// Every `%` starts a two-digit hex escape.
fn percent_ok(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let ok = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// An [`Injector`] writing into an `http::HeaderMap` (invalid names or values are skipped).
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// An [`Extractor`] reading an `http::HeaderMap`.
#[derive(Debug)]
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_grammar() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(valid_traceparent(good));
        assert!(valid_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"
        ));
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
            "",
        ] {
            assert!(!valid_traceparent(bad), "{bad}");
        }
    }

    #[test]
    fn baggage_grammar() {
        assert!(valid_baggage("a=1, trace_llm.tenant.id=acme;prop=x"));
        assert!(valid_baggage("k=hello%20world"));
        assert!(!valid_baggage("a=1,novalue"));
        assert!(!valid_baggage("a b=1"));
        assert!(!valid_baggage("a=1%zz"));
        assert!(!valid_baggage(&"k=v,".repeat(100)));
    }
}
