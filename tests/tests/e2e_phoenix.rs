//! End to end against Arize Phoenix: a chat span exported by trace-llm shows up as an LLM
//! span with its model and token counts, read back through Phoenix's REST API.

use std::time::Duration;

use serde_json::Value;
use trace_llm::{Protocol, TracingConfig, trace_llm};
use trace_llm_tests::collector::wait_until;
use trace_llm_tests::fixtures::Fixture;
use trace_llm_tests::phoenix::Phoenix;

#[trace_llm(kind = "chat", provider = "openai", request = req)]
fn chat(req: &Value, response: Value) -> Result<Value, std::io::Error> {
    Ok(response)
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
    guard.shutdown().expect("export to Phoenix");

    let mut spans = Vec::new();
    let arrived = wait_until(Duration::from_secs(30), || {
        spans = phoenix.spans();
        !spans.is_empty()
    });
    assert!(arrived, "Phoenix did not list the span");
    assert_eq!(spans.len(), 1, "{spans:#?}");
    let span = &spans[0];
    assert_eq!(span["name"], "chat gpt-4o-mini");
    // Phoenix's own reading of the conventions: an LLM span with the model and tokens.
    assert_eq!(span["span_kind"], "LLM", "{span:#}");
    assert_eq!(span["status_code"], "OK");
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
