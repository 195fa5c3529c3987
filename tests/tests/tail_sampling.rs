//! Outcome-based sampling and budgets: what the exporter receives when the head sampler
//! drops traces and the outcome rules keep some of them.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::StreamExt;
use opentelemetry::trace::TraceId;
use opentelemetry_sdk::trace::SpanData;
use serde_json::{Value, json};
use trace_llm::{Price, RequestContext, TracingConfig, trace_llm};
use trace_llm_tests::*;

#[derive(Debug)]
struct ToolFailed;

impl std::fmt::Display for ToolFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tool failed")
    }
}

fn response(input: i64, output: i64) -> Value {
    json!({"object": "chat.completion", "id": "chatcmpl-1", "model": "house-model",
           "choices": [{"index": 0, "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "ok"}}],
           "usage": {"prompt_tokens": input, "completion_tokens": output}})
}

#[trace_llm(kind = "chat", provider = "openai", model = "house-model")]
async fn chat(input: i64) -> Value {
    response(input, 10)
}

#[trace_llm(kind = "execute_tool")]
async fn tool(fail: bool) -> Result<u32, ToolFailed> {
    if fail { Err(ToolFailed) } else { Ok(1) }
}

#[trace_llm(kind = "invoke_agent", agent = "worker")]
async fn agent(fail: bool) -> u32 {
    chat(100).await;
    tool(fail).await.unwrap_or(0)
}

#[trace_llm(kind = "invoke_agent", agent = "sync_worker")]
fn sync_agent(fail: bool) -> u32 {
    futures_executor::block_on(agent(fail))
}

fn by_trace(spans: &[SpanData]) -> HashMap<TraceId, Vec<&SpanData>> {
    let mut traces: HashMap<TraceId, Vec<&SpanData>> = HashMap::new();
    for s in spans {
        traces.entry(s.span_context.trace_id()).or_default().push(s);
    }
    traces
}

fn rules(c: TracingConfig) -> TracingConfig {
    c.sample_ratio(0.0).keep_errors(true)
}

#[test]
fn a_failing_trace_is_kept_whole_and_a_clean_one_dropped() {
    let h = Harness::with(rules);
    sync_agent(true);
    sync_agent(false);
    let spans = h.spans();
    let traces = by_trace(&spans);
    assert_eq!(traces.len(), 1, "only the failing trace: {spans:#?}");
    let trace = traces.values().next().expect("trace");
    let names: HashSet<&str> = trace.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(
        names,
        HashSet::from([
            "invoke_agent sync_worker",
            "invoke_agent worker",
            "chat house-model",
            "execute_tool tool"
        ])
    );
    let root = trace
        .iter()
        .find(|s| s.name == "invoke_agent sync_worker")
        .expect("root");
    assert_eq!(attr_str(root, "trace_llm.sampling.kept_by"), Some("error"));
    let inner = trace
        .iter()
        .find(|s| s.name == "invoke_agent worker")
        .expect("agent");
    assert_child_of(inner, root);
    assert!(!trace.iter().any(|s| s.span_context.is_sampled()));
    let stats = h.guard().stats();
    assert_eq!(stats.tail_kept, 1);
    assert_eq!(stats.tail_dropped, 4);
    assert_eq!(stats.started, stats.exported);
    assert_eq!(stats.exported, 4);
}

#[test]
fn ratio_sampled_traces_export_as_before() {
    let h = Harness::with(|c| c.sample_ratio(1.0).keep_errors(true));
    sync_agent(false);
    sync_agent(true);
    let spans = h.spans();
    assert_eq!(spans.len(), 8);
    assert!(spans.iter().all(|s| s.span_context.is_sampled()));
    assert!(
        spans
            .iter()
            .all(|s| attr(s, "trace_llm.sampling.kept_by").is_none())
    );
    assert_eq!(h.guard().stats().tail_kept, 0);
}

#[trace_llm(kind = "invoke_workflow", workflow = "slow")]
fn slow_root(sleep: Duration) {
    std::thread::sleep(sleep);
}

#[trace_llm(kind = "chat", provider = "openai", model = "house-model")]
fn priced_chat(input: i64) -> Value {
    response(input, 0)
}

#[trace_llm(kind = "invoke_workflow", workflow = "costly")]
fn costly_root(calls: usize) {
    for _ in 0..calls {
        priced_chat(1_000_000);
    }
}

#[test]
fn slow_and_costly_roots_are_kept() {
    let h = Harness::with(|c| {
        c.sample_ratio(0.0)
            .keep_slower_than(Duration::from_millis(40))
            .keep_costlier_than(2.5)
            .model_price("house-model", Price::per_million_tokens(1.0, 0.0))
    });
    slow_root(Duration::from_millis(80));
    slow_root(Duration::ZERO);
    costly_root(3); // $3
    costly_root(2); // $2
    let spans = h.spans();
    let kept: Vec<(&str, Option<&str>)> = spans
        .iter()
        .filter(|s| s.name.starts_with("invoke_workflow"))
        .map(|s| (s.name.as_ref(), attr_str(s, "trace_llm.sampling.kept_by")))
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.contains(&("invoke_workflow slow", Some("slow"))));
    assert!(kept.contains(&("invoke_workflow costly", Some("cost"))));
    assert_eq!(
        spans
            .iter()
            .filter(|s| s.name == "chat house-model")
            .count(),
        3,
        "the costly trace's calls come with it"
    );
    assert_eq!(h.guard().stats().tail_kept, 2);
}

#[trace_llm(kind = "invoke_workflow", workflow = "panics")]
fn panicking_root() {
    panic!("boom");
}

#[trace_llm(kind = "chat", provider = "openai", model = "house-model", stream)]
fn failing_stream() -> impl futures_core::Stream<Item = Result<String, ToolFailed>> {
    futures_util::stream::iter(vec![Ok("a".to_owned()), Err(ToolFailed)])
}

#[trace_llm(kind = "invoke_agent", agent = "stuck")]
async fn stuck() {
    std::future::pending::<()>().await;
}

#[test]
fn panics_cancellations_and_stream_errors_are_errors() {
    let h = Harness::with(rules);
    let _ = std::panic::catch_unwind(panicking_root);
    // A future dropped before it finished.
    {
        let mut pending = Box::pin(stuck());
        let waker = futures_util::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        let _ = pending.as_mut().poll(&mut cx);
    }
    futures_executor::block_on(failing_stream().for_each(|_| async {}));
    let spans = h.spans();
    let roots: HashSet<&str> = spans
        .iter()
        .filter(|s| attr(s, "trace_llm.sampling.kept_by").is_some())
        .map(|s| s.name.as_ref())
        .collect();
    assert!(roots.contains("invoke_workflow panics"), "{roots:?}");
    assert!(roots.contains("invoke_agent stuck"), "{roots:?}");
    assert!(roots.contains("chat house-model"), "{roots:?}");
    assert_eq!(h.guard().stats().tail_kept, 3, "{roots:?}");
}

#[test]
fn a_sampled_remote_parent_is_honoured_and_held_spans_propagate_unsampled() {
    let h = Harness::with(rules);
    let sampled = HashMap::from([(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    )]);
    trace_llm::propagation::extract(&sampled).sync_scope(|| sync_agent(false));
    let mut outgoing = HashMap::new();
    let unsampled = HashMap::from([(
        "traceparent".to_owned(),
        "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".to_owned(),
    )]);
    trace_llm::propagation::extract(&unsampled).sync_scope(|| {
        let _span = trace_llm::span(trace_llm::Operation::Task, "held").start();
        trace_llm::propagation::inject(&mut outgoing);
        sync_agent(true);
    });
    let spans = h.spans();
    let traces = by_trace(&spans);
    assert_eq!(traces.len(), 2);
    let remote_sampled = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("id");
    assert_eq!(traces[&remote_sampled].len(), 4);
    assert!(
        traces[&remote_sampled]
            .iter()
            .all(|s| s.span_context.is_sampled())
    );
    // The held trace was decided in this process: downstream services saw it unsampled.
    let traceparent = &outgoing["traceparent"];
    assert!(traceparent.starts_with("00-5bf92f3577b34da6a3ce929d0e0e4736-"));
    assert!(traceparent.ends_with("-00"), "{traceparent}");
}

#[test]
fn spans_ending_after_their_root_follow_its_decision() {
    let h = Harness::with(rules);
    let rt = multi_thread_runtime(2);
    let (release, wait) = tokio::sync::oneshot::channel::<()>();
    let (release2, wait2) = tokio::sync::oneshot::channel::<()>();
    let late = rt.block_on(async {
        let kept = trace_llm::span(trace_llm::Operation::Task, "kept root")
            .instrument(async {
                let late = trace_llm::spawn(async move {
                    let _ = wait.await;
                    chat(1).await
                });
                let _ = tool(true).await;
                Some(late)
            })
            .await
            .expect("task");
        let dropped = trace_llm::span(trace_llm::Operation::Task, "dropped root")
            .instrument(async {
                Some(trace_llm::spawn(async move {
                    let _ = wait2.await;
                    chat(2).await
                }))
            })
            .await
            .expect("task");
        let _ = release.send(());
        let _ = release2.send(());
        (kept.await, dropped.await)
    });
    assert!(late.0.is_ok() && late.1.is_ok());
    let spans = h.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(
        names.iter().filter(|n| **n == "chat house-model").count(),
        1,
        "{names:?}"
    );
    let chat = h.span("chat house-model");
    let root = h.span("kept root");
    assert_eq!(chat.span_context.trace_id(), root.span_context.trace_id());
    assert!(!names.contains(&"dropped root"));
}

#[test]
fn held_spans_are_bounded() {
    let h = Harness::with(|c| rules(c).tail_max_spans(50));
    let root = trace_llm::span(trace_llm::Operation::Task, "long root").start();
    for _ in 0..200 {
        futures_executor::block_on(chat(1));
    }
    drop(root);
    assert!(h.spans().is_empty());
    let stats = h.guard().stats();
    assert_eq!(
        stats.tail_dropped, 201,
        "every span dropped, none kept: {stats:?}"
    );
}

#[test]
fn a_thousand_concurrent_requests_keep_exactly_the_failing_ones() {
    let h = Harness::with(|c| rules(c).tail_max_spans(100_000));
    let rt = multi_thread_runtime(2);
    let totals = rt.block_on(async {
        let tasks: Vec<_> = (0..1_000)
            .map(|i| {
                tokio::spawn(async move {
                    RequestContext::new()
                        .tenant_id(format!("t{i}"))
                        .scope(async move {
                            agent(i % 100 == 7).await;
                            RequestContext::totals()
                        })
                        .await
                })
            })
            .collect();
        let mut totals = Vec::new();
        for t in tasks {
            totals.push(t.await.expect("task"));
        }
        totals
    });
    assert!(
        totals
            .iter()
            .all(|t| t.inference_calls == 1 && t.input_tokens == 100)
    );
    let spans = h.spans();
    let traces = by_trace(&spans);
    assert_eq!(traces.len(), 10, "the 10 failing requests");
    for trace in traces.values() {
        assert_eq!(trace.len(), 3);
        assert!(trace.iter().any(|s| is_error(s)));
        let tenants: HashSet<&str> = trace
            .iter()
            .filter_map(|s| attr_str(s, "trace_llm.tenant.id"))
            .collect();
        assert_eq!(tenants.len(), 1, "one request per trace");
    }
    let stats = h.guard().stats();
    assert_eq!(stats.tail_kept, 10);
    assert_eq!(stats.tail_dropped, 990 * 3);
    assert_eq!(stats.exported, 30);
}

#[test]
fn budgets_mark_the_crossing_span_and_the_root() {
    let h = Harness::with(|c| c.model_price("house-model", Price::per_million_tokens(1.0, 0.0)));
    let remaining = RequestContext::new().budget_usd(2.5).sync_scope(|| {
        let mut seen = Vec::new();
        costly_root_observing(&mut seen);
        (seen, RequestContext::remaining_usd())
    });
    // $1 per call: 2.5 left, 1.5, 0.5, then 0 (never below).
    assert_eq!(remaining.0, vec![Some(1.5), Some(0.5), Some(0.0)]);
    assert_eq!(remaining.1, Some(0.0));
    let spans = h.spans();
    let crossing: Vec<&SpanData> = spans
        .iter()
        .filter(|s| !events(s, "trace_llm.budget.exceeded").is_empty())
        .collect();
    assert_eq!(crossing.len(), 1, "only the third call crosses");
    let event = events(crossing[0], "trace_llm.budget.exceeded")[0];
    assert_eq!(
        attr_in(&event.attributes, "trace_llm.budget.usd"),
        Some(&opentelemetry::Value::F64(2.5))
    );
    assert_eq!(
        attr_in(&event.attributes, "trace_llm.usage.total_cost"),
        Some(&opentelemetry::Value::F64(3.0))
    );
    let root = h.span("invoke_workflow observed");
    assert_eq!(attr_bool(&root, "trace_llm.budget.exceeded"), Some(true));
    assert!(
        spans
            .iter()
            .filter(|s| s.name != "invoke_workflow observed")
            .all(|s| attr(s, "trace_llm.budget.exceeded").is_none())
    );
    assert_eq!(RequestContext::remaining_usd(), None);
}

#[trace_llm(kind = "invoke_workflow", workflow = "observed")]
fn costly_root_observing(seen: &mut Vec<Option<f64>>) {
    for _ in 0..3 {
        priced_chat(1_000_000);
        seen.push(RequestContext::remaining_usd());
    }
}

/// The environment variables, in a child process (the environment is process-wide).
#[test]
fn the_rules_from_the_environment() {
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args([
            "child_runs_one_failing_and_one_clean_trace",
            "--exact",
            "--nocapture",
        ])
        .env("TRACE_LLM_TAIL_CHILD", "1")
        .env("OTEL_TRACES_SAMPLER", "always_off")
        .env("TRACE_LLM_KEEP_ERRORS", "true")
        .env("TRACE_LLM_KEEP_SLOWER_THAN_MS", "60000")
        .env("TRACE_LLM_KEEP_COSTLIER_THAN_USD", "not-money")
        .output()
        .expect("child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("EXPORTED 4 KEPT 1"), "{stdout}");
    assert!(
        stderr.contains("TRACE_LLM_KEEP_COSTLIER_THAN_USD"),
        "a bad value warns: {stderr}"
    );
}

#[test]
fn child_runs_one_failing_and_one_clean_trace() {
    if std::env::var("TRACE_LLM_TAIL_CHILD").is_err() {
        return;
    }
    let h = Harness::new();
    sync_agent(true);
    sync_agent(false);
    let spans = h.spans();
    println!(
        "EXPORTED {} KEPT {}",
        spans.len(),
        h.guard().stats().tail_kept
    );
}
