//! Request context that follows the work: nested scopes, concurrent requests that never see
//! each other's values, spawned tasks and blocking threads, a queue hop through
//! inject / extract, HTTP through the tower layer, and `tracing` spans as parents.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId};
use trace_llm::{FutureExt, RequestContext, propagation, trace_llm};
use trace_llm_tests::*;

#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o")]
async fn model_call(step: u32) -> u32 {
    tokio::task::yield_now().await;
    step
}

#[trace_llm(kind = "execute_tool")]
fn tool_call() -> u32 {
    7
}

#[trace_llm(kind = "invoke_agent", agent = "worker")]
async fn handle(request: u32) -> u32 {
    let a = model_call(request).await;
    tokio::time::sleep(Duration::from_micros(50)).await;
    let b = model_call(request + 1).await;
    a + b + tool_call()
}

fn multi_thread() -> tokio::runtime::Runtime {
    multi_thread_runtime(4)
}

#[test]
fn nested_scopes_inherit_override_and_restore() {
    let h = Harness::new();
    let outer = RequestContext::new()
        .prompt_version("v1")
        .user_cohort("beta")
        .tenant_id("acme")
        .attribute("app.region", "eu");
    outer.sync_scope(|| {
        tool_call();
        RequestContext::new()
            .prompt_version("v2")
            .attribute("app.region", "us")
            .sync_scope(|| {
                tool_call();
                let current = RequestContext::current().expect("in scope");
                assert_eq!(current.get_prompt_version(), Some("v2"));
                assert_eq!(current.get_tenant_id(), Some("acme"));
            });
        // Restored after the inner scope.
        assert_eq!(
            RequestContext::current().and_then(|c| c.get_prompt_version().map(str::to_owned)),
            Some("v1".to_owned())
        );
        tool_call();
    });
    assert!(RequestContext::current().is_none());
    tool_call();
    let mut spans = h.spans();
    spans.sort_by_key(|s| s.start_time);
    let versions: Vec<Option<&str>> = spans
        .iter()
        .map(|s| attr_str(s, "trace_llm.prompt.version"))
        .collect();
    assert_eq!(versions, vec![Some("v1"), Some("v2"), Some("v1"), None]);
    assert_eq!(
        attr_str(&spans[1], "trace_llm.tenant.id"),
        Some("acme"),
        "inherited"
    );
    assert_eq!(
        attr_str(&spans[1], "trace_llm.user.cohort"),
        Some("beta"),
        "inherited"
    );
    assert_eq!(attr_str(&spans[1], "app.region"), Some("us"), "overridden");
    assert_eq!(attr_str(&spans[2], "app.region"), Some("eu"), "restored");
    assert!(attr(&spans[3], "trace_llm.tenant.id").is_none());
}

#[test]
fn async_scope_applies_to_the_decorated_functions_own_span() {
    let h = Harness::new();
    let rt = multi_thread();
    rt.block_on(RequestContext::new().session_id("conv-1").scope(handle(1)));
    let spans = h.spans();
    assert_eq!(spans.len(), 4);
    for span in &spans {
        assert_eq!(
            attr_str(span, "gen_ai.conversation.id"),
            Some("conv-1"),
            "{}",
            span.name
        );
    }
}

#[test]
fn a_thousand_concurrent_requests_never_mix_their_values() {
    let h = Harness::new();
    let rt = multi_thread();
    rt.block_on(async {
        let tasks: Vec<_> = (0..1000u32)
            .map(|i| {
                let ctx = RequestContext::new()
                    .tenant_id(format!("tenant-{i}"))
                    .prompt_version(format!("v{}", i % 7))
                    .attribute("app.request", i64::from(i));
                tokio::spawn(ctx.scope(handle(i)))
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
    });
    let spans = h.spans();
    assert_eq!(spans.len(), 4000);
    // Group by trace: one trace per request, and every span of it carries its request's values.
    let mut traces: HashMap<TraceId, Vec<&opentelemetry_sdk::trace::SpanData>> = HashMap::new();
    for span in &spans {
        traces
            .entry(span.span_context.trace_id())
            .or_default()
            .push(span);
    }
    assert_eq!(traces.len(), 1000, "one trace per request");
    for spans in traces.values() {
        assert_eq!(spans.len(), 4);
        let request = attr_i64(spans[0], "app.request").expect("request id");
        for span in spans {
            assert_eq!(attr_i64(span, "app.request"), Some(request));
            assert_eq!(
                attr_str(span, "trace_llm.tenant.id"),
                Some(format!("tenant-{request}").as_str())
            );
            assert_eq!(
                attr_str(span, "trace_llm.prompt.version"),
                Some(format!("v{}", request % 7).as_str())
            );
        }
    }
}

#[trace_llm(kind = "invoke_workflow", workflow = "fan_out")]
async fn fan_out() -> u32 {
    let spawned = trace_llm::spawn(model_call(1));
    let blocking = trace_llm::spawn_blocking(tool_call);
    let wrapped = tokio::spawn(model_call(2).in_current_context());
    let plain = tokio::spawn(model_call(3)); // loses parent and context (documented)
    spawned.await.expect("spawned")
        + blocking.await.expect("blocking")
        + wrapped.await.expect("wrapped")
        + plain.await.expect("plain")
}

#[test]
fn spawned_work_keeps_parent_and_context_unless_plain_tokio_spawn() {
    let h = Harness::new();
    let rt = multi_thread();
    rt.block_on(RequestContext::new().tenant_id("acme").scope(fan_out()));
    let spans = h.spans();
    let root = h.span("invoke_workflow fan_out");
    let children: Vec<_> = spans
        .iter()
        .filter(|s| s.parent_span_id == root.span_context.span_id())
        .collect();
    assert_eq!(
        children.len(),
        3,
        "spawn, spawn_blocking, in_current_context"
    );
    for child in &children {
        assert_eq!(
            attr_str(child, "trace_llm.tenant.id"),
            Some("acme"),
            "{}",
            child.name
        );
    }
    let orphan = spans
        .iter()
        .find(|s| s.parent_span_id == SpanId::INVALID && s.name == "chat gpt-4o")
        .expect("the plain tokio::spawn starts a new trace");
    assert!(attr(orphan, "trace_llm.tenant.id").is_none());
}

#[trace_llm(kind = "invoke_agent", agent = "producer")]
async fn produce(queue: tokio::sync::mpsc::Sender<HashMap<String, String>>) {
    let mut headers = HashMap::new();
    propagation::inject(&mut headers);
    queue.send(headers).await.expect("send");
}

#[trace_llm(kind = "invoke_agent", agent = "consumer")]
async fn consume() -> u32 {
    model_call(5).await
}

#[test]
fn inject_message_extract_continues_the_trace() {
    let h = Harness::new();
    let rt = multi_thread();
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let consumer = tokio::spawn(async move {
            let headers: HashMap<String, String> = rx.recv().await.expect("message");
            assert!(headers.contains_key("traceparent"));
            propagation::extract(&headers).scope(consume()).await
        });
        RequestContext::new()
            .tenant_id("acme")
            .prompt_version("queue_v2")
            .attribute("app.channel", "email")
            .scope(produce(tx))
            .await;
        consumer.await.expect("consumer")
    });
    let producer = h.span("invoke_agent producer");
    let consumer = h.span("invoke_agent consumer");
    assert_child_of(&consumer, &producer);
    assert!(consumer.parent_span_is_remote);
    assert_eq!(attr_str(&consumer, "trace_llm.tenant.id"), Some("acme"));
    assert_eq!(
        attr_str(&consumer, "trace_llm.prompt.version"),
        Some("queue_v2")
    );
    assert_eq!(attr_str(&consumer, "app.channel"), Some("email"));
    let model = h.span("chat gpt-4o");
    assert_child_of(&model, &consumer);
    assert_eq!(attr_str(&model, "trace_llm.tenant.id"), Some("acme"));
}

#[test]
fn malformed_headers_are_ignored_whole() {
    let h = Harness::new();
    for (traceparent, baggage) in [
        (
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "trace_llm.tenant.id=acme,bad entry",
        ),
        (
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "trace_llm.tenant.id=acme%zz",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "=novalue",
        ),
        ("not-a-traceparent", ""),
    ] {
        let headers: HashMap<String, String> = [
            ("traceparent".to_owned(), traceparent.to_owned()),
            ("baggage".to_owned(), baggage.to_owned()),
        ]
        .into();
        let scope = propagation::extract(&headers);
        assert!(scope.parent().is_none(), "{traceparent}");
        assert!(scope.request_context().is_none(), "{baggage}");
        scope.sync_scope(tool_call);
    }
    for span in h.spans() {
        assert_root(&span);
        assert!(attr(&span, "trace_llm.tenant.id").is_none());
    }
}

#[test]
fn context_attributes_are_bounded() {
    let h = Harness::new();
    let mut ctx = RequestContext::new().tenant_id("t".repeat(1000));
    for i in 0..40 {
        ctx = ctx.attribute(format!("app.k{i}"), i64::from(i));
    }
    assert_eq!(ctx.attributes().len(), trace_llm::MAX_CONTEXT_ATTRIBUTES);
    ctx.sync_scope(tool_call);
    let span = h.span("execute_tool tool_call");
    assert_eq!(
        attr_str(&span, "trace_llm.tenant.id").map(str::len),
        Some(trace_llm::MAX_CONTEXT_VALUE_BYTES)
    );
    assert!(attr(&span, "app.k15").is_some());
    assert!(attr(&span, "app.k16").is_none());
    // GenAI attributes are still there.
    assert_eq!(attr_str(&span, "gen_ai.tool.name"), Some("tool_call"));
}

#[trace_llm(kind = "invoke_agent", agent = "http-handler")]
async fn answer_handler() -> String {
    model_call(9).await.to_string()
}

#[test]
fn tower_layer_continues_the_incoming_trace_over_real_http() {
    use axum::Router;
    use axum::routing::get;
    use trace_llm::tower::RequestContextLayer;

    let h = Harness::new();
    let rt = multi_thread();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let body = rt.block_on(async {
        let app = Router::new()
            .route("/answer", get(answer_handler))
            .layer(RequestContextLayer::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let body = reqwest::Client::new()
            .get(format!("http://{addr}/answer"))
            .header("traceparent", format!("00-{trace_id}-{parent_id}-01"))
            .header(
                "baggage",
                "trace_llm.tenant.id=acme,trace_llm.user.cohort=beta",
            )
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body");
        server.abort();
        body
    });
    assert_eq!(body, "9");
    let handler = h.span("invoke_agent http-handler");
    assert_eq!(
        handler.span_context.trace_id(),
        TraceId::from_hex(trace_id).expect("hex")
    );
    assert_eq!(
        handler.parent_span_id,
        SpanId::from_hex(parent_id).expect("hex")
    );
    assert!(handler.parent_span_is_remote);
    assert_eq!(attr_str(&handler, "trace_llm.tenant.id"), Some("acme"));
    assert_eq!(attr_str(&handler, "trace_llm.user.cohort"), Some("beta"));
    let model = h.span("chat gpt-4o");
    assert_child_of(&model, &handler);
}

#[test]
fn tracing_spans_bridged_to_opentelemetry_are_parents() {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;

    let h = Harness::new();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("app")));
    let parent_context = tracing::subscriber::with_default(subscriber, || {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let span = tracing::info_span!("http request");
        let _entered = span.enter();
        tool_call();
        span.context().span().span_context().clone()
    });
    use opentelemetry::trace::TraceContextExt as _;
    let tool = h.span("execute_tool tool_call");
    assert!(parent_context.is_valid());
    assert_eq!(tool.span_context.trace_id(), parent_context.trace_id());
    assert_eq!(tool.parent_span_id, parent_context.span_id());
}
