//! End to end against Arize Phoenix: a chat span exported by trace-llm shows up as an LLM
//! span with its model and token counts, an agent's trace totals each token once, and the
//! request's session and user are the ones Phoenix groups by, all read back through
//! Phoenix's REST API.

use std::time::Duration;

use serde_json::Value;
use trace_llm::{Protocol, RequestContext, TracingConfig, trace_llm};
use trace_llm_tests::collector::wait_until;
use trace_llm_tests::fixtures::Fixture;
use trace_llm_tests::phoenix::Phoenix;

#[trace_llm(kind = "chat", provider = "openai", request = req)]
fn chat(req: &Value, response: Value) -> Result<Value, std::io::Error> {
    Ok(response)
}

/// An agent that calls the model twice and returns the last answer.
#[trace_llm(kind = "invoke_agent", agent = "researcher")]
fn researcher(calls: &[(Value, Value)]) -> Value {
    let mut last = Value::Null;
    for (req, response) in calls {
        last = chat(req, response.clone()).expect("chat");
    }
    last
}

#[test]
fn phoenix_sees_an_llm_span_with_token_counts() {
    let phoenix = Phoenix::start();
    let guard = TracingConfig::default()
        .service_name("trace-llm-phoenix-e2e")
        .otlp_endpoint(phoenix.endpoint())
        .protocol(Protocol::HttpProtobuf)
        // Phoenix takes traces only.
        .metrics(false)
        .init()
        .expect("init");
    let fixture = Fixture::named(
        "openai-recorded",
        "test_chat_completion_tool_calls_no_content",
    );
    let interaction = &fixture.interactions[0];
    let body = interaction.response_json();
    chat(&interaction.request, body.clone()).expect("chat");
    // A second trace: an agent and its two model calls, in a user's session.
    let second = Fixture::named("openai-recorded", "test_chat_completion_with_content");
    let calls: Vec<(Value, Value)> = [&fixture.interactions[0], &second.interactions[0]]
        .iter()
        .map(|i| (i.request.clone(), i.response_json()))
        .collect();
    RequestContext::new()
        .session_id("session-9")
        .user_id("user-7")
        .sync_scope(|| researcher(&calls));
    guard.shutdown().expect("export to Phoenix");

    let mut spans = Vec::new();
    let arrived = wait_until(Duration::from_secs(30), || {
        spans = phoenix.spans();
        spans.len() >= 4
    });
    assert!(arrived, "Phoenix did not list the 4 spans: {spans:#?}");
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let trace_of = |s: &Value| s["context"]["trace_id"].as_str().unwrap_or("").to_owned();
    let agent = spans
        .iter()
        .find(|s| s["name"] == "invoke_agent researcher")
        .expect("agent span");
    let agent_trace = trace_of(agent);
    assert!(!agent_trace.is_empty(), "{agent:#}");
    let in_agent: Vec<&Value> = spans
        .iter()
        .filter(|s| trace_of(s) == agent_trace)
        .collect();
    assert_eq!(in_agent.len(), 3, "{spans:#?}");
    // The trace's token total, as a backend adds it up, is the sum of its model calls.
    let total = |key: &str| -> i64 {
        in_agent
            .iter()
            .filter_map(|s| s["attributes"][key].as_i64())
            .sum()
    };
    let prompt: i64 = calls
        .iter()
        .map(|(_, r)| r["usage"]["prompt_tokens"].as_i64().expect("usage"))
        .sum();
    let completion: i64 = calls
        .iter()
        .map(|(_, r)| r["usage"]["completion_tokens"].as_i64().expect("usage"))
        .sum();
    assert_eq!(total("llm.token_count.prompt"), prompt, "{in_agent:#?}");
    assert_eq!(
        total("llm.token_count.completion"),
        completion,
        "{in_agent:#?}"
    );
    assert_eq!(agent["span_kind"], "AGENT", "{agent:#}");
    for s in &in_agent {
        assert_eq!(s["attributes"]["session.id"], "session-9", "{s:#}");
        assert_eq!(s["attributes"]["user.id"], "user-7", "{s:#}");
    }

    let span = spans
        .iter()
        .find(|s| trace_of(s) != agent_trace)
        .expect("the lone chat span");
    assert_eq!(span["name"], "chat gpt-4o-mini");
    // Phoenix's own reading of the conventions: an LLM span with the model and tokens.
    assert_eq!(span["span_kind"], "LLM", "{span:#}");
    // Success is left Unset, as the conventions ask; Phoenix shows it as such.
    assert_eq!(span["status_code"], "UNSET", "{span:#}");
    let a = &span["attributes"];
    let usage = &body["usage"];
    assert_eq!(a["llm.token_count.prompt"], usage["prompt_tokens"], "{a:#}");
    assert_eq!(
        a["llm.token_count.completion"], usage["completion_tokens"],
        "{a:#}"
    );
    assert_eq!(a["llm.model_name"], interaction.request["model"]);
    assert_eq!(a["llm.provider"], "openai");
    assert_eq!(
        a["gen_ai.response.finish_reasons"][0],
        body["choices"][0]["finish_reason"]
    );
}
