//! Configuration: code beats env, bad env values are warnings and defaults (never a
//! failure), sampling, queue bounds and the stats API.

use trace_llm::{TracingConfig, trace_llm};
use trace_llm_tests::collector::wait_until;
use trace_llm_tests::*;

#[trace_llm(kind = "execute_tool")]
fn tool(n: u32) -> u32 {
    n
}

#[trace_llm(kind = "invoke_agent")]
fn agent(children: u32) {
    for n in 0..children {
        tool(n);
    }
}

/// The environment is process-wide: everything that sets variables runs in this one test.
#[test]
fn environment_settings() {
    let _serial = serial();
    // SAFETY: the test holds the binary's serial lock; no other test thread touches env now.
    let set = |k: &str, v: &str| unsafe { std::env::set_var(k, v) };
    // SAFETY: as above.
    let unset = |k: &str| unsafe { std::env::remove_var(k) };

    // Bad values: init still succeeds with defaults.
    for (k, v) in [
        ("OTEL_TRACES_SAMPLER", "bogus_sampler"),
        ("OTEL_TRACES_SAMPLER_ARG", "two"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "-5"),
        ("OTEL_BSP_SCHEDULE_DELAY", "soon"),
        (
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
            "perhaps",
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "::not a url::"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
        ("OTEL_TRACES_EXPORTER", "zipkin,console"),
    ] {
        set(k, v);
    }
    {
        let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
        let guard = TracingConfig::default()
            .with_span_exporter(exporter.clone())
            .init()
            .expect("bad env values never fail init");
        agent(2);
        guard.force_flush().expect("flush");
        assert_eq!(exporter.get_finished_spans().expect("spans").len(), 3);
        guard.shutdown().expect("shutdown");
    }
    // And the OTLP path with a bad endpoint variable falls back to the default endpoint.
    {
        let guard = TracingConfig::default()
            .init()
            .expect("otlp init with bad env");
        guard.shutdown().ok();
    }
    for k in [
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "OTEL_BSP_SCHEDULE_DELAY",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_TRACES_EXPORTER",
    ] {
        unset(k);
    }

    // Tracing into memory, with the settings from env (and `configure` from code).
    let start = |configure: fn(TracingConfig) -> TracingConfig| {
        let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
        let guard = configure(TracingConfig::default().with_span_exporter(exporter.clone()))
            .init()
            .expect("init");
        (exporter, guard)
    };

    // The sampler from env...
    set("OTEL_TRACES_SAMPLER", "always_off");
    {
        let (exporter, guard) = start(|c| c);
        agent(2);
        assert_eq!(tool(7), 7, "unsampled calls still run");
        guard.force_flush().expect("flush");
        assert!(exporter.get_finished_spans().expect("spans").is_empty());
        assert_eq!(guard.stats().started, 0);
        guard.shutdown().expect("shutdown");
    }
    // ...loses to code.
    {
        let (exporter, guard) = start(|c| c.sample_ratio(1.0));
        agent(1);
        guard.force_flush().expect("flush");
        assert_eq!(exporter.get_finished_spans().expect("spans").len(), 2);
        guard.shutdown().expect("shutdown");
    }
    unset("OTEL_TRACES_SAMPLER");

    // A sampler that is not parent-based: a span it leaves unsampled below a sampled remote
    // parent passes on that parent's trace id and trace state, with its own span id.
    set("OTEL_TRACES_SAMPLER", "traceidratio");
    set("OTEL_TRACES_SAMPLER_ARG", "0");
    {
        let (exporter, guard) = start(|c| c);
        let remote_parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut incoming = std::collections::HashMap::new();
        incoming.insert("traceparent".to_owned(), remote_parent.to_owned());
        incoming.insert("tracestate".to_owned(), "vendor=opaque".to_owned());
        let outgoing = trace_llm::propagation::extract(&incoming).sync_scope(traced_headers);
        let traceparent = outgoing.get("traceparent").expect("traceparent");
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(
            parts[1], "4bf92f3577b34da6a3ce929d0e0e4736",
            "{traceparent}"
        );
        assert_ne!(
            parts[2], "00f067aa0ba902b7",
            "the span's own id: {traceparent}"
        );
        assert_eq!(parts[3], "00", "{traceparent}");
        assert_eq!(
            outgoing.get("tracestate").map(String::as_str),
            Some("vendor=opaque")
        );
        guard.force_flush().expect("flush");
        assert!(exporter.get_finished_spans().expect("spans").is_empty());
        guard.shutdown().expect("shutdown");
    }
    unset("OTEL_TRACES_SAMPLER");
    unset("OTEL_TRACES_SAMPLER_ARG");

    // A bad value set in code is an error, pointing at the setting.
    let err = TracingConfig::default()
        .otlp_endpoint("localhost 4317")
        .init()
        .expect_err("bad endpoint in code");
    assert!(err.to_string().contains("localhost 4317"), "{err}");
    let err = TracingConfig::default()
        .with_span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default())
        .sample_ratio(1.5)
        .init()
        .expect_err("bad ratio in code");
    assert!(err.to_string().contains("1.5"), "{err}");
}

#[test]
fn ratio_sampling_keeps_whole_traces() {
    let h = Harness::with(|c| c.sample_ratio(0.5));
    for _ in 0..200 {
        agent(2);
    }
    let spans = h.spans();
    let roots = spans
        .iter()
        .filter(|s| s.name == "invoke_agent agent")
        .count();
    assert!((60..140).contains(&roots), "kept {roots} of 200 traces");
    // Children follow their parent: every kept trace is whole.
    assert_eq!(spans.len(), roots * 3);
    let stats = h.guard().stats();
    assert_eq!(stats.started, spans.len() as u64);
    assert_eq!(stats.exported, spans.len() as u64);
}

/// The `traceparent` an outgoing request would carry here.
fn outgoing_traceparent() -> String {
    let mut headers = std::collections::HashMap::new();
    trace_llm::propagation::inject(&mut headers);
    headers.remove("traceparent").unwrap_or_default()
}

#[trace_llm(kind = "execute_tool")]
fn inner_call() -> String {
    outgoing_traceparent()
}

#[trace_llm(kind = "invoke_agent")]
fn outer_call() -> (String, String) {
    (outgoing_traceparent(), inner_call())
}

#[trace_llm(kind = "execute_tool")]
fn traced_headers() -> std::collections::HashMap<String, String> {
    let mut headers = std::collections::HashMap::new();
    trace_llm::propagation::inject(&mut headers);
    headers
}

/// What an unsampled span passes on: to outgoing requests, inside a request context scope,
/// after it, to a task made in it and below a span started by hand; and the totals of a
/// call in that scope.
#[trace_llm(kind = "invoke_agent")]
fn unsampled_root() -> (Vec<String>, Option<opentelemetry::trace::SpanContext>, u64) {
    use trace_llm::FutureExt as _;
    let own = outgoing_traceparent();
    let (in_scope, calls) = trace_llm::RequestContext::new()
        .tenant_id("acme")
        .sync_scope(|| {
            agent_with_a_model_call();
            (
                outgoing_traceparent(),
                trace_llm::RequestContext::totals().inference_calls,
            )
        });
    let after_scope = outgoing_traceparent();
    let in_task = futures_executor::block_on(async { outgoing_traceparent() }.in_current_context());
    let in_manual_child = {
        let _child = trace_llm::span(trace_llm::Operation::Task, "step").start();
        outgoing_traceparent()
    };
    let context = trace_llm::current_span().span_context();
    (
        vec![own, in_scope, after_scope, in_task, in_manual_child],
        context,
        calls,
    )
}

/// An unsampled span that records nothing keeps its ids and nothing else; they are the
/// same wherever its context goes.
#[test]
fn an_unsampled_span_passes_its_ids_on_through_scopes_and_tasks() {
    let h = Harness::with(|c| c.sample_ratio(0.0));
    let (seen, context, calls) = unsampled_root();
    let parts: Vec<&str> = seen[0].split('-').collect();
    assert_eq!(parts.len(), 4, "{seen:?}");
    assert_eq!(parts[3], "00", "{seen:?}");
    for other in &seen[1..] {
        assert_eq!(
            other, &seen[0],
            "the span's own context everywhere: {seen:?}"
        );
    }
    let context = context.expect("the current span's context");
    assert_eq!(context.trace_id().to_string(), parts[1]);
    assert_eq!(context.span_id().to_string(), parts[2]);
    assert!(!context.is_sampled());
    assert_eq!(calls, 1, "a request context still adds up unsampled calls");
    let (again, _, _) = unsampled_root();
    assert_ne!(
        again[0].split('-').nth(1),
        Some(parts[1]),
        "a new trace per root"
    );
    assert_eq!(
        outgoing_traceparent(),
        "",
        "nothing is current after the span"
    );
    // A span started by hand is a root of its own, current until its guard drops.
    let by_hand = {
        let _root = trace_llm::span(trace_llm::Operation::Task, "by hand").start();
        outgoing_traceparent()
    };
    let by_hand: Vec<&str> = by_hand.split('-').collect();
    assert_eq!(by_hand.len(), 4, "{by_hand:?}");
    assert_eq!(by_hand[3], "00");
    assert_ne!(by_hand[1], parts[1]);
    assert_eq!(
        outgoing_traceparent(),
        "",
        "nothing is current after the guard"
    );
    assert!(h.spans().is_empty(), "nothing sampled, nothing exported");
}

#[trace_llm(kind = "chat", provider = "vllm", model = "in-house-llm")]
fn priced_nowhere_chat() {
    trace_llm::current_span().record_usage(100, 20);
}

#[trace_llm(kind = "invoke_agent")]
fn agent_with_a_model_call() {
    priced_nowhere_chat();
}

/// Below an unsampled span, spans are unsampled in the same trace (whatever they skip to
/// get there), and outgoing requests say so; a request context in scope still gets its
/// totals from unsampled calls.
#[test]
fn unsampled_traces_stay_one_unsampled_trace_all_the_way_down() {
    let h = Harness::with(|c| c.sample_ratio(0.0));
    let (outer, inner) = outer_call();
    let parts = |tp: &str| tp.split('-').map(str::to_owned).collect::<Vec<_>>();
    let (outer, inner) = (parts(&outer), parts(&inner));
    assert_eq!(outer.len(), 4, "{outer:?}");
    assert_eq!(inner.len(), 4, "{inner:?}");
    assert_eq!(outer[1], inner[1], "one trace id all the way down");
    assert_eq!((outer[3].as_str(), inner[3].as_str()), ("00", "00"));
    let totals = trace_llm::RequestContext::new().sync_scope(|| {
        agent_with_a_model_call();
        trace_llm::RequestContext::totals()
    });
    assert_eq!(totals.inference_calls, 1);
    assert_eq!((totals.input_tokens, totals.output_tokens), (100, 20));
    assert!(h.spans().is_empty(), "nothing sampled, nothing exported");
    assert_eq!(h.guard().stats().started, 0);
}

#[test]
fn second_init_while_running_is_an_error() {
    let h = Harness::new();
    let err = TracingConfig::default()
        .with_span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default())
        .init()
        .expect_err("already running");
    assert_eq!(err, trace_llm::Error::AlreadyInitialized);
    // The first pipeline is unaffected.
    tool(1);
    assert_eq!(h.spans().len(), 1);
}

/// A burst larger than the queue while the collector is stuck: the spans the queue cannot
/// hold are dropped and counted, and every span is either exported or counted as dropped.
/// (The exporter is held, not merely slow, so the overflow does not depend on how fast the
/// export thread drains the queue on this machine.)
#[test]
fn full_queue_drops_and_counts() {
    use std::sync::atomic::Ordering::SeqCst;
    const QUEUE: u64 = 8;
    let _serial = serial();
    let gated = Gated::default();
    let guard = gated.init(QUEUE as usize);
    for n in 0..200 {
        tool(n);
    }
    let stats = guard.stats();
    assert_eq!(stats.started, 200);
    // Kept: what the queue holds plus the batches the exporter sits on (a batch is at most
    // the queue size).
    let in_flight = trace_llm::DEFAULT_CONCURRENT_EXPORTS as u64;
    assert!(
        stats.dropped >= 200 - QUEUE - in_flight * QUEUE,
        "an 8-span queue behind a stuck exporter kept {} of 200 spans: {stats:?}",
        200 - stats.dropped
    );
    gated.permits.add_permits(1000);
    guard.force_flush().expect("force_flush");
    let stats = guard.stats();
    assert_eq!(stats.exported, gated.spans.load(SeqCst) as u64, "{stats:?}");
    assert_eq!(stats.exported + stats.dropped, stats.started, "{stats:?}");
    assert!(
        stats.exported > 0,
        "the spans the queue held are exported: {stats:?}"
    );
    guard.shutdown().expect("shutdown");
}

#[test]
fn shutdown_exports_everything_ended_before_it() {
    let _serial = serial();
    let exporter = Collecting::default();
    let guard = TracingConfig::default()
        .with_span_exporter(exporter.clone())
        .init()
        .expect("init");
    for n in 0..1000 {
        tool(n);
    }
    guard.shutdown().expect("shutdown");
    assert_eq!(exporter.spans().len(), 1000);
    // After shutdown, decorated functions run untraced.
    assert_eq!(tool(3), 3);
}

#[test]
fn https_endpoints_are_accepted_over_both_protocols() {
    let _serial = serial();
    for protocol in [trace_llm::Protocol::Grpc, trace_llm::Protocol::HttpProtobuf] {
        let guard = TracingConfig::default()
            .otlp_endpoint("https://127.0.0.1:9")
            .protocol(protocol)
            .shutdown_timeout(std::time::Duration::from_millis(200))
            .init()
            .unwrap_or_else(|e| panic!("{protocol:?}: {e}"));
        let _ = guard.shutdown();
    }
}

/// An exporter whose exports wait until the test lets them finish, one permit each.
#[derive(Clone, Debug)]
struct Gated {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// Exports started.
    entered: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Spans in exports that finished.
    spans: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Default for Gated {
    /// No permit: every export waits.
    fn default() -> Gated {
        Gated {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(0)),
            entered: Default::default(),
            spans: Default::default(),
        }
    }
}

impl Gated {
    /// Starts tracing into this exporter with a `queue`-span queue (no metrics).
    fn init(&self, queue: usize) -> trace_llm::TracingGuard {
        TracingConfig::default()
            .with_span_exporter(self.clone())
            .batch_queue_size(queue)
            .metrics(false)
            .init()
            .expect("init")
    }
}

impl opentelemetry_sdk::trace::SpanExporter for Gated {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        use std::sync::atomic::Ordering::SeqCst;
        self.entered.fetch_add(1, SeqCst);
        if let Ok(permit) = self.permits.acquire().await {
            permit.forget();
        }
        self.spans.fetch_add(batch.len(), SeqCst);
        Ok(())
    }
}

/// The queue bound holds while the collector is slow: spans wait in the queue, where the bound
/// counts them, and only the batches being sent (`OTEL_BSP_MAX_CONCURRENT_EXPORTS`) are
/// outside it. (Taking a whole round out of the queue at once let a slow collector double
/// the spans held in memory.)
#[test]
fn slow_exports_keep_spans_within_the_queue_bound() {
    use std::sync::atomic::Ordering::SeqCst;
    use std::time::Duration;
    let _serial = serial();
    const QUEUE: u64 = 64;
    const BATCH: u64 = 8;
    const IN_FLIGHT: u64 = 4;
    let gated = Gated::default();
    // SAFETY: the test holds the binary's serial lock; no other test thread touches env now.
    unsafe {
        std::env::set_var("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", BATCH.to_string());
        std::env::set_var("OTEL_BSP_MAX_CONCURRENT_EXPORTS", IN_FLIGHT.to_string());
    }
    let guard = gated.init(QUEUE as usize);
    // SAFETY: as above; the settings were read by `init`.
    unsafe {
        std::env::remove_var("OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
        std::env::remove_var("OTEL_BSP_MAX_CONCURRENT_EXPORTS");
    }
    let entered = |n: usize| {
        let reached = wait_until(Duration::from_secs(10), || gated.entered.load(SeqCst) >= n);
        assert!(
            reached,
            "{} exports started, expected {n}",
            gated.entered.load(SeqCst)
        );
    };
    // A full batch starts the first export, which waits.
    for n in 0..BATCH as u32 {
        tool(n);
    }
    entered(1);
    // Meanwhile the queue fills, then drops.
    for n in 0..200 {
        tool(n);
    }
    // The first export finishes: the next round has the whole queue to send, but takes each
    // batch only when it sends it, so the queue stays full of waiting spans.
    gated.permits.add_permits(1);
    entered(1 + IN_FLIGHT as usize);
    for n in 0..200 {
        tool(n);
    }
    let stats = guard.stats();
    let held = stats.started - stats.exported - stats.dropped;
    assert!(
        held <= QUEUE + IN_FLIGHT * BATCH,
        "{held} spans held in memory, over the queue bound {QUEUE} plus {IN_FLIGHT} batches of \
         {BATCH} in flight: {stats:?}"
    );
    gated.permits.add_permits(1000);
    guard.shutdown().expect("shutdown");
}
