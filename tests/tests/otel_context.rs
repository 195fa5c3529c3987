//! OpenTelemetry's `Context::current()` carries the current trace-llm span in every
//! lifecycle path, and is exactly what it was before and after (panics, dropped futures,
//! interleaved tasks); W3C injection from it writes the trace-llm span's ids.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use trace_llm::{Operation, trace_llm};
use trace_llm_tests::{Harness, multi_thread_runtime};

/// The span context `Context::current()` carries, if it carries a span.
fn current_span() -> Option<SpanContext> {
    Context::map_current(|cx| {
        cx.has_active_span()
            .then(|| cx.span().span_context().clone())
    })
}

/// A value the caller's context carries, to check it is kept inside and restored after.
#[derive(Debug, PartialEq)]
struct Marker(&'static str);

fn marker() -> Option<&'static str> {
    Context::map_current(|cx| cx.get::<Marker>().map(|m| m.0))
}

type Seen = Arc<Mutex<Vec<SpanContext>>>;

fn seen() -> Seen {
    Arc::new(Mutex::new(Vec::new()))
}

fn record(seen: &Seen) {
    let span = current_span().expect("Context::current() carries a span");
    seen.lock().expect("lock").push(span);
}

fn assert_all_are(seen: &Seen, exported: &opentelemetry_sdk::trace::SpanData, at_least: usize) {
    let seen = seen.lock().expect("lock");
    assert!(seen.len() >= at_least, "seen {} times", seen.len());
    for span in seen.iter() {
        assert_eq!(span.trace_id(), exported.span_context.trace_id());
        assert_eq!(span.span_id(), exported.span_context.span_id());
        assert_eq!(span.trace_flags(), TraceFlags::SAMPLED);
        assert!(!span.is_remote());
    }
}

#[trace_llm(kind = "tool")]
fn sync_tool(seen: &Seen) -> u32 {
    record(seen);
    assert_eq!(marker(), Some("outer"), "the caller's context values stay");
    1
}

#[test]
fn sync_body() {
    let h = Harness::new();
    let seen = seen();
    let _outer = Context::current_with_value(Marker("outer")).attach();
    assert_eq!(sync_tool(&seen), 1);
    assert_eq!(current_span(), None, "restored after the body");
    assert_eq!(marker(), Some("outer"));
    h.guard().force_flush().expect("flush");
    assert_all_are(&seen, &h.span("execute_tool sync_tool"), 1);
}

#[trace_llm(kind = "agent")]
async fn async_agent(seen: Seen) -> u32 {
    record(&seen);
    for _ in 0..5 {
        tokio::task::yield_now().await;
        record(&seen);
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        record(&seen);
    }
    2
}

#[test]
fn async_body_across_awaits_on_a_multi_thread_runtime() {
    let h = Harness::new();
    let seen = seen();
    let rt = multi_thread_runtime(2);
    let value = rt.block_on(async {
        let task = tokio::spawn(async_agent(seen.clone()));
        let value = task.await.expect("join");
        assert_eq!(current_span(), None);
        value
    });
    assert_eq!(value, 2);
    h.guard().force_flush().expect("flush");
    assert_all_are(&seen, &h.span("invoke_agent async_agent"), 11);
}

#[test]
fn manual_in_scope_instrument_and_guard() {
    let h = Harness::new();
    let (a, b, c) = (seen(), seen(), seen());
    trace_llm::span(Operation::Task, "in_scope").in_scope(|| record(&a));
    assert_eq!(current_span(), None);
    {
        let _guard = trace_llm::span(Operation::Task, "guard").start();
        record(&c);
    }
    assert_eq!(current_span(), None);
    let rt = multi_thread_runtime(2);
    rt.block_on(async {
        let b = b.clone();
        trace_llm::span(Operation::Task, "instrument")
            .instrument(async move {
                record(&b);
                tokio::task::yield_now().await;
                record(&b);
            })
            .await;
        assert_eq!(current_span(), None);
    });
    h.guard().force_flush().expect("flush");
    assert_all_are(&a, &h.span("in_scope"), 1);
    assert_all_are(&b, &h.span("instrument"), 2);
    assert_all_are(&c, &h.span("guard"), 1);
}

#[test]
fn stream_items_are_produced_under_the_span() {
    let h = Harness::new();
    let seen = seen();
    let rt = multi_thread_runtime(2);
    rt.block_on(async {
        let inner = seen.clone();
        let items = futures_util::stream::iter(0..3).then(move |n| {
            let inner = inner.clone();
            async move {
                record(&inner);
                tokio::task::yield_now().await;
                record(&inner);
                n
            }
        });
        let traced = trace_llm::span(Operation::Task, "stream").stream(items.map(Value));
        let collected: Vec<Value> = traced.collect().await;
        assert_eq!(collected.len(), 3);
        assert_eq!(current_span(), None, "nothing leaks between items");
    });
    let seen_iter = self::seen();
    let inner = seen_iter.clone();
    let iter = (0..2).map(move |n| {
        record(&inner);
        Value(n)
    });
    let count = trace_llm::span(Operation::Task, "iter").iter(iter).count();
    assert_eq!(count, 2);
    assert_eq!(current_span(), None);
    h.guard().force_flush().expect("flush");
    assert_all_are(&seen, &h.span("stream"), 6);
    assert_all_are(&seen_iter, &h.span("iter"), 2);
}

/// A stream item that records nothing.
struct Value(#[allow(dead_code)] i32);

impl trace_llm::StreamItem for Value {
    fn record_item(&self, _: &mut trace_llm::ResponseRecorder<'_>) {}
}

#[trace_llm]
fn panics(seen: &Seen) {
    record(seen);
    panic!("boom");
}

#[test]
fn restored_after_a_caught_panic() {
    let h = Harness::new();
    let _outer = Context::current_with_value(Marker("outer")).attach();
    let seen = seen();
    let caught = std::panic::catch_unwind(|| panics(&seen));
    assert!(caught.is_err());
    assert_eq!(current_span(), None);
    assert_eq!(marker(), Some("outer"));
    h.guard().force_flush().expect("flush");
    assert_all_are(&seen, &h.span("panics"), 1);
}

#[test]
fn restored_after_a_dropped_future_and_between_interleaved_tasks() {
    let h = Harness::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (a, b) = (seen(), seen());
    rt.block_on(async {
        // Dropped after one poll: nothing stays current.
        let mut pending = Box::pin(async_agent(seen()));
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(pending.as_mut().poll(&mut cx).is_pending());
        assert_eq!(current_span(), None);
        drop(pending);
        assert_eq!(current_span(), None);

        // Two tasks taking turns on one thread each see their own span only.
        let ta = tokio::spawn(async_agent(a.clone()));
        let tb = tokio::spawn(async_agent(b.clone()));
        ta.await.expect("join");
        tb.await.expect("join");
        assert_eq!(current_span(), None);
    });
    h.guard().force_flush().expect("flush");
    let agents: Vec<_> = h
        .spans()
        .into_iter()
        .filter(|s| s.name == "invoke_agent async_agent")
        .collect();
    assert_eq!(agents.len(), 3, "the dropped one ends as cancelled");
    let ids = |seen: &Seen| {
        let seen = seen.lock().expect("lock");
        let first = seen[0].span_id();
        assert!(
            seen.iter().all(|s| s.span_id() == first),
            "one span per task"
        );
        first
    };
    let (ia, ib) = (ids(&a), ids(&b));
    assert_ne!(ia, ib);
    for id in [ia, ib] {
        assert!(agents.iter().any(|s| s.span_context.span_id() == id));
    }
}

#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o")]
fn inject_outgoing() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    TraceContextPropagator::new().inject_context(&Context::current(), &mut headers);
    headers
}

#[test]
fn w3c_injection_from_the_current_context() {
    let h = Harness::new();
    let headers = inject_outgoing();
    h.guard().force_flush().expect("flush");
    let chat = h.span("chat gpt-4o");
    let expected = format!(
        "00-{}-{}-01",
        chat.span_context.trace_id(),
        chat.span_context.span_id()
    );
    assert_eq!(headers.get("traceparent"), Some(&expected));

    // A remote parent's trace state is passed on.
    let state = TraceState::from_key_value([("vendor", "v1")]).expect("state");
    let remote = SpanContext::new(
        opentelemetry::trace::TraceId::from(7u128),
        opentelemetry::trace::SpanId::from(9u64),
        TraceFlags::SAMPLED,
        true,
        state,
    );
    let headers = {
        let _remote = Context::new().with_remote_span_context(remote).attach();
        inject_outgoing()
    };
    assert_eq!(
        headers.get("tracestate").map(String::as_str),
        Some("vendor=v1")
    );
    assert!(
        headers["traceparent"].starts_with("00-00000000000000000000000000000007-"),
        "{headers:?}"
    );
    assert!(!headers["traceparent"].contains("0000000000000009"));
    let _ = KeyValue::new("unused", 0);
}
