//! `trace_llm::tracing::layer()`: `tracing` spans exported through trace-llm's pipeline, one
//! tree with `#[trace_llm]` spans in both directions, typed fields, events, status, filters.

use opentelemetry::Value;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use trace_llm::trace_llm;
use trace_llm_tests::{
    Harness, assert_child_of, attr, attr_bool, attr_f64, attr_i64, attr_str, multi_thread_runtime,
};
use tracing::Instrument;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;

fn subscriber() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(trace_llm::tracing::layer())
}

#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o")]
fn chat() -> u32 {
    let _http = tracing::info_span!("http.call", http.request.method = "POST").entered();
    tool()
}

#[trace_llm(kind = "tool")]
fn tool() -> u32 {
    tracing::info!(rows = 3_i64, "tool ran");
    3
}

#[test]
fn one_tree_in_both_directions() {
    let h = Harness::new();
    tracing::subscriber::with_default(subscriber(), || {
        let _request = tracing::info_span!("request", http.route = "/chat").entered();
        assert_eq!(chat(), 3);
    });
    h.guard().force_flush().expect("flush");
    let request = h.span("request");
    let chat = h.span("chat gpt-4o");
    let http = h.span("http.call");
    let tool = h.span("execute_tool tool");
    assert_eq!(
        request.parent_span_id,
        opentelemetry::trace::SpanId::INVALID
    );
    assert_child_of(&chat, &request);
    assert_child_of(&http, &chat);
    assert_child_of(&tool, &http);
    for span in [&request, &http] {
        assert_eq!(span.span_kind, SpanKind::Internal);
        assert_eq!(span.status, Status::Unset);
        assert!(span.end_time >= span.start_time);
        assert!(attr_str(span, "code.file.path").is_some_and(|f| f.ends_with("tracing_layer.rs")));
        assert!(attr_i64(span, "code.line.number").is_some());
    }
    assert_eq!(attr_str(&request, "http.route"), Some("/chat"));
    assert_eq!(attr_str(&http, "http.request.method"), Some("POST"));
    // The event inside the trace-llm tool span is on that span.
    let event = tool
        .events
        .iter()
        .find(|e| e.name == "tool ran")
        .expect("event on the tool span");
    assert_eq!(
        trace_llm_tests::attr_in(&event.attributes, "rows"),
        Some(&Value::I64(3))
    );
    assert!(http.events.is_empty());
}

#[derive(Debug)]
struct Shape {
    #[allow(dead_code)]
    sides: u8,
}

#[test]
fn fields_are_typed_attributes_also_when_recorded_later() {
    let h = Harness::new();
    tracing::subscriber::with_default(subscriber(), || {
        let span = tracing::info_span!(
            "typed",
            count = 7_i64,
            unsigned = 9_u64,
            huge = u64::MAX,
            ratio = 0.5_f64,
            flag = true,
            text = "plain",
            shape = ?Shape { sides: 3 },
            shown = %"display",
            later = tracing::field::Empty,
            replaced = 1_i64,
        );
        span.record("later", 42_i64);
        span.record("replaced", 2_i64);
        span.in_scope(|| {});
        let renamed =
            tracing::info_span!("generic", otel.name = "GET /items", otel.kind = "client");
        drop(renamed);
    });
    h.guard().force_flush().expect("flush");
    let typed = h.span("typed");
    assert_eq!(attr_i64(&typed, "count"), Some(7));
    assert_eq!(attr_i64(&typed, "unsigned"), Some(9));
    assert_eq!(
        attr_str(&typed, "huge"),
        Some(u64::MAX.to_string().as_str())
    );
    assert_eq!(attr_f64(&typed, "ratio"), Some(0.5));
    assert_eq!(attr_bool(&typed, "flag"), Some(true));
    assert_eq!(attr_str(&typed, "text"), Some("plain"));
    assert_eq!(attr_str(&typed, "shape"), Some("Shape { sides: 3 }"));
    assert_eq!(attr_str(&typed, "shown"), Some("display"));
    assert_eq!(attr_i64(&typed, "later"), Some(42));
    assert_eq!(attr_i64(&typed, "replaced"), Some(2));
    let renamed = h.span("GET /items");
    assert_eq!(renamed.span_kind, SpanKind::Client);
    assert!(attr(&renamed, "otel.name").is_none());
}

#[test]
fn a_later_field_replaces_a_request_context_attribute_of_its_name() {
    let h = Harness::new();
    tracing::subscriber::with_default(subscriber(), || {
        trace_llm::RequestContext::new()
            .attribute("tier", "gold")
            .sync_scope(|| {
                let span = tracing::info_span!(
                    "scoped",
                    tier = tracing::field::Empty,
                    other = tracing::field::Empty
                );
                span.record("tier", "platinum");
                span.record("other", 1_i64);
                span.record("other", 2_i64);
            });
    });
    h.guard().force_flush().expect("flush");
    let span = h.span("scoped");
    let count = |key: &str| {
        span.attributes
            .iter()
            .filter(|kv| kv.key.as_str() == key)
            .count()
    };
    assert_eq!(attr_str(&span, "tier"), Some("platinum"));
    assert_eq!(
        count("tier"),
        1,
        "one attribute per key: {:?}",
        span.attributes
    );
    assert_eq!(attr_i64(&span, "other"), Some(2));
    assert_eq!(
        count("other"),
        1,
        "one attribute per key: {:?}",
        span.attributes
    );
}

#[test]
fn events_become_span_events_and_errors_set_the_status() {
    let h = Harness::new();
    tracing::subscriber::with_default(subscriber(), || {
        tracing::info_span!("quiet").in_scope(|| {
            tracing::info!(attempt = 2_i64, ok = true, "retrying");
        });
        tracing::info_span!("logged error").in_scope(|| {
            tracing::error!("upstream returned 503");
        });
        tracing::info_span!("error field").in_scope(|| {
            tracing::warn!(error = %"connection reset", "request failed");
        });
        let span = tracing::info_span!("recorded error", error = tracing::field::Empty);
        span.record("error", "timed out");
        drop(span);
        // An event outside any span goes nowhere.
        tracing::info!("no span");
    });
    h.guard().force_flush().expect("flush");
    let quiet = h.span("quiet");
    assert_eq!(quiet.status, Status::Unset);
    let event = &quiet.events.events[0];
    assert_eq!(event.name, "retrying");
    assert_eq!(
        trace_llm_tests::attr_in(&event.attributes, "attempt"),
        Some(&Value::I64(2))
    );
    assert_eq!(
        trace_llm_tests::attr_in(&event.attributes, "ok"),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        trace_llm_tests::attr_in(&event.attributes, "level"),
        Some(&Value::from("INFO"))
    );
    assert_eq!(
        h.span("logged error").status,
        Status::error("upstream returned 503")
    );
    let field = h.span("error field");
    assert_eq!(field.status, Status::error("connection reset"));
    let exception = &field.events.events[0];
    assert_eq!(exception.name, "exception");
    assert_eq!(
        trace_llm_tests::attr_in(&exception.attributes, "exception.message"),
        Some(&Value::from("connection reset"))
    );
    let recorded = h.span("recorded error");
    assert_eq!(recorded.status, Status::error("timed out"));
    assert_eq!(h.spans().len(), 4);
}

#[test]
fn the_subscribers_filters_decide() {
    let h = Harness::new();
    let filtered = tracing_subscriber::registry().with(
        trace_llm::tracing::layer().with_filter(tracing_subscriber::filter::LevelFilter::INFO),
    );
    tracing::subscriber::with_default(filtered, || {
        let _outer = tracing::info_span!("kept").entered();
        let _inner = tracing::debug_span!("filtered").entered();
        tracing::debug!("filtered event");
        tracing::info!("kept event");
        let _leaf = tracing::info_span!("leaf").entered();
    });
    h.guard().force_flush().expect("flush");
    let names: Vec<String> = h.spans().iter().map(|s| s.name.to_string()).collect();
    assert!(!names.contains(&"filtered".to_string()), "{names:?}");
    let kept = h.span("kept");
    assert_child_of(&h.span("leaf"), &kept);
    let events: Vec<_> = kept.events.iter().map(|e| e.name.to_string()).collect();
    assert_eq!(events, ["kept event"]);
}

#[trace_llm(kind = "agent")]
async fn agent() -> u32 {
    let fetched = async {
        tokio::task::yield_now().await;
        trace_llm::spawn(inner_tool()).await.expect("join")
    }
    .instrument(tracing::info_span!("fetch"))
    .await;
    fetched + 1
}

#[trace_llm(kind = "tool")]
async fn inner_tool() -> u32 {
    tokio::task::yield_now().await;
    1
}

#[test]
fn async_and_spawned_work_nests_on_a_multi_thread_runtime() {
    let h = Harness::new();
    let dispatch = tracing::Dispatch::new(subscriber());
    let rt = multi_thread_runtime(2);
    let value = rt.block_on(tracing::instrument::WithSubscriber::with_subscriber(
        async {
            let request = tracing::info_span!("request");
            tokio::spawn(
                tracing::instrument::WithSubscriber::with_current_subscriber(
                    agent().instrument(request),
                ),
            )
            .await
            .expect("join")
        },
        dispatch,
    ));
    assert_eq!(value, 2);
    h.guard().force_flush().expect("flush");
    let request = h.span("request");
    let agent = h.span("invoke_agent agent");
    let fetch = h.span("fetch");
    assert_child_of(&agent, &request);
    assert_child_of(&fetch, &agent);
    assert_child_of(&h.span("execute_tool inner_tool"), &fetch);
}

#[test]
fn explicit_parents_and_roots() {
    let h = Harness::new();
    tracing::subscriber::with_default(subscriber(), || {
        let parent = tracing::info_span!("parent");
        let _current = tracing::info_span!("current").entered();
        let _child = tracing::info_span!(parent: &parent, "explicit child");
        let _root = tracing::info_span!(parent: None, "explicit root");
    });
    h.guard().force_flush().expect("flush");
    assert_child_of(&h.span("explicit child"), &h.span("parent"));
    let root: SpanData = h.span("explicit root");
    assert_eq!(root.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    assert_ne!(
        root.span_context.trace_id(),
        h.span("current").span_context.trace_id()
    );
}

#[test]
fn nothing_before_init_and_errors_count_for_the_outcome_rules() {
    tracing::subscriber::with_default(subscriber(), || {
        let _before = tracing::info_span!("before init").entered();
    });
    let h = Harness::with(|c| c.sample_ratio(0.0).keep_errors(true));
    tracing::subscriber::with_default(subscriber(), || {
        tracing::info_span!("fine").in_scope(|| {});
        tracing::info_span!("failing").in_scope(|| tracing::error!("broke"));
    });
    h.guard().force_flush().expect("flush");
    let names: Vec<String> = h.spans().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, ["failing"]);
}

/// A field value whose `Debug` panics.
struct Explodes;

impl std::fmt::Debug for Explodes {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("field Debug panicked");
    }
}

#[test]
fn a_panicking_field_stays_in_the_layer() {
    let h = Harness::new();
    tracing::subscriber::with_default(subscriber(), || {
        let span = tracing::info_span!("hostile", before = 1_i64, bad = ?Explodes);
        span.record("before", 2_i64);
        span.in_scope(|| tracing::info!(bad = ?Explodes, "event with a bad field"));
    });
    h.guard().force_flush().expect("flush");
    let span = h.span("hostile");
    assert_eq!(attr_i64(&span, "before"), Some(2));
    assert!(attr(&span, "bad").is_none());
    assert_eq!(
        span.events.len(),
        1,
        "the event is kept without the bad field"
    );
    assert!(h.guard().stats().hook_panics >= 2);
}

/// A field value whose `Debug` logs a `tracing` event itself.
struct Logs;

impl std::fmt::Debug for Logs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        tracing::info!("logged from Debug");
        f.write_str("logs")
    }
}

#[test]
fn a_field_that_logs_while_recorded_does_not_deadlock() {
    let h = Harness::new();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        tracing::subscriber::with_default(subscriber(), || {
            let span = tracing::info_span!("reentrant", value = tracing::field::Empty);
            span.in_scope(|| {
                span.record("value", tracing::field::debug(Logs));
                tracing::info!(again = ?Logs, "event with a logging field");
            });
        });
        let _ = done.send(());
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("recording a field that logs deadlocked");
    h.guard().force_flush().expect("flush");
    let span = h.span("reentrant");
    assert_eq!(attr_str(&span, "value"), Some("logs"));
    let names: Vec<_> = span.events.iter().map(|e| e.name.to_string()).collect();
    assert!(
        names.contains(&"logged from Debug".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"event with a logging field".to_string()),
        "{names:?}"
    );
}

#[trace_llm(kind = "tool")]
fn logs_an_error_but_succeeds() -> u32 {
    tracing::error!(attempt = 1_i64, "first attempt failed, retrying");
    7
}

#[test]
fn an_error_event_in_a_trace_llm_span_is_recorded_without_failing_it() {
    let h = Harness::new();
    tracing::subscriber::with_default(subscriber(), || {
        assert_eq!(logs_an_error_but_succeeds(), 7);
    });
    h.guard().force_flush().expect("flush");
    let tool = h.span("execute_tool logs_an_error_but_succeeds");
    assert_eq!(tool.status, Status::Unset, "the call succeeded");
    assert!(
        tool.events
            .iter()
            .any(|e| e.name == "first attempt failed, retrying")
    );
}
