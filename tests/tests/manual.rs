//! The manual API: `span(kind, name)` with a guard, `in_scope`, `instrument`, `stream`,
//! `iter`; `current_span()` recording on whatever span is current.

use std::time::Duration;

use futures_util::StreamExt;
use opentelemetry::trace::SpanKind;
use serde_json::Value;
use trace_llm::{Evaluation, Operation, current_span, span, trace_llm};
use trace_llm_tests::fixtures::Fixture;
use trace_llm_tests::*;

#[trace_llm(kind = "execute_tool")]
fn child() -> u32 {
    1
}

#[test]
fn guard_makes_the_span_current_until_dropped() {
    let h = Harness::new();
    {
        let _guard = span(Operation::Chat, "chat gpt-4o")
            .provider("openai")
            .model("gpt-4o")
            .attribute("app.attempt", 2)
            .start();
        child();
        current_span().record_usage(30, 7);
    }
    child(); // after the guard: a root
    let parent = h.span("chat gpt-4o");
    assert_eq!(kind(&parent), SpanKind::Client);
    assert_eq!(attr_str(&parent, "gen_ai.operation.name"), Some("chat"));
    assert_eq!(attr_str(&parent, "gen_ai.provider.name"), Some("openai"));
    assert_eq!(attr_str(&parent, "gen_ai.request.model"), Some("gpt-4o"));
    assert_eq!(attr_i64(&parent, "app.attempt"), Some(2));
    assert_eq!(attr_i64(&parent, "gen_ai.usage.input_tokens"), Some(30));
    assert_eq!(attr_i64(&parent, "gen_ai.usage.output_tokens"), Some(7));
    assert!(is_ok(&parent));
    let spans = h.spans();
    let children: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "execute_tool child")
        .collect();
    assert_eq!(children.len(), 2);
    assert_eq!(
        children
            .iter()
            .filter(|c| c.parent_span_id == parent.span_context.span_id())
            .count(),
        1
    );
}

#[test]
fn a_loop_summarised_in_one_span() {
    let h = Harness::new();
    let candidates: Vec<f64> = (0..1000).map(|i| f64::from(i % 97) / 100.0).collect();
    let best = span(Operation::Retrieval, "retrieval rerank-pool")
        .data_source("rerank-pool")
        .in_scope(|| {
            let best = candidates.iter().copied().fold(0.0, f64::max);
            let kept = candidates.iter().filter(|s| **s > 0.5).count();
            current_span().set_attribute("app.candidates", candidates.len());
            current_span().set_attribute("app.kept", kept);
            current_span().set_attribute("app.best_score", best);
            best
        });
    assert_eq!(best, 0.96);
    let s = h.span("retrieval rerank-pool");
    assert_eq!(attr_str(&s, "gen_ai.data_source.id"), Some("rerank-pool"));
    assert_eq!(attr_i64(&s, "app.candidates"), Some(1000));
    assert_eq!(attr_f64(&s, "app.best_score"), Some(0.96));
}

#[test]
fn call_site_named_tool_dispatch() {
    let h = Harness::new();
    for (name, id) in [("get_weather", "call_1"), ("get_time", "call_2")] {
        let result: Result<String, std::fmt::Error> =
            span(Operation::ExecuteTool, format!("execute_tool {name}"))
                .tool(name)
                .tool_call_id(id)
                .in_scope(|| {
                    if name == "get_time" {
                        let err = std::fmt::Error;
                        current_span().record_error(&err);
                        return Err(err);
                    }
                    Ok("sunny".into())
                });
        let _ = result;
    }
    let weather = h.span("execute_tool get_weather");
    assert_eq!(kind(&weather), SpanKind::Internal);
    assert_eq!(attr_str(&weather, "gen_ai.tool.name"), Some("get_weather"));
    assert_eq!(attr_str(&weather, "gen_ai.tool.call.id"), Some("call_1"));
    assert_eq!(attr_str(&weather, "gen_ai.tool.type"), Some("function"));
    let time = h.span("execute_tool get_time");
    assert!(is_error(&time));
    assert_eq!(attr_str(&time, "error.type"), Some("fmt::Error"));
}

#[test]
fn instrument_follows_the_future() {
    let h = Harness::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let out = rt.block_on(
        span(Operation::InvokeAgent, "invoke_agent planner")
            .agent("planner")
            .instrument(async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                child()
            }),
    );
    assert_eq!(out, 1);
    let timed_out = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_millis(2),
            span(Operation::Task, "slow").instrument(std::future::pending::<()>()),
        )
        .await
    });
    assert!(timed_out.is_err());
    let agent = h.span("invoke_agent planner");
    let c = h.span("execute_tool child");
    assert_child_of(&c, &agent);
    let duration = agent
        .end_time
        .duration_since(agent.start_time)
        .expect("duration");
    assert!(duration >= Duration::from_millis(5));
    let slow = h.span("slow");
    assert_eq!(attr_str(&slow, "error.type"), Some("cancelled"));
}

#[test]
fn hand_built_streams_and_iterators() {
    let h = Harness::new();
    let chunks = Fixture::named("openai-recorded", "test_chat_completion_streaming").interactions
        [0]
    .chunks();
    let n = chunks.len();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    rt.block_on(async {
        let stream = span(Operation::Chat, "chat gpt-4")
            .provider("openai")
            .model("gpt-4")
            .stream(futures_util::stream::iter(chunks));
        let items: Vec<Value> = stream.collect().await;
        assert_eq!(items.len(), n);
    });
    let tokens: String = span(Operation::Chat, "chat local-llama")
        .iter(["Hel".to_owned(), "lo".to_owned()].into_iter())
        .collect();
    assert_eq!(tokens, "Hello");
    let s = h.span("chat gpt-4");
    assert_eq!(attr_bool(&s, "gen_ai.request.stream"), Some(true));
    assert_eq!(attr_i64(&s, "trace_llm.stream.chunks"), Some(n as i64));
    assert_eq!(attr_i64(&s, "gen_ai.usage.input_tokens"), Some(12));
    assert!(attr_f64(&s, "gen_ai.response.time_to_first_chunk").is_some());
    let local = h.span("chat local-llama");
    assert_eq!(attr_i64(&local, "trace_llm.stream.chunks"), Some(2));
}

#[test]
fn current_span_records_responses_events_and_evaluations() {
    let h = Harness::new();
    #[trace_llm(kind = "chat", provider = "anthropic", model = "claude-sonnet-4")]
    fn by_hand(body: &Value) {
        current_span().record_response(body);
        current_span().add_event(
            "cache.miss",
            vec![opentelemetry::KeyValue::new("app.key", "k1")],
        );
        current_span().record_evaluation(&Evaluation::new("Faithfulness").score(0.5));
        assert!(current_span().is_recording());
        assert!(current_span().span_context().is_some());
    }
    let body = Fixture::named(
        "anthropic-recorded",
        "test_messages__test_anthropic_message_create_legacy",
    )
    .interactions[0]
        .response_json();
    by_hand(&body);
    let s = h.span("chat claude-sonnet-4");
    assert_eq!(attr_i64(&s, "gen_ai.usage.input_tokens"), Some(17));
    assert_eq!(attr_i64(&s, "gen_ai.usage.output_tokens"), Some(220));
    assert_eq!(events(&s, "cache.miss").len(), 1);
    assert_eq!(events(&s, "gen_ai.evaluation.result").len(), 1);
}

#[test]
fn current_span_without_a_span_is_a_no_op() {
    let h = Harness::new();
    assert!(!current_span().is_recording());
    current_span().set_attribute("x", 1);
    current_span().record_usage(1, 1);
    assert!(h.spans().is_empty());
}
