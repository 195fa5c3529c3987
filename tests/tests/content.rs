//! Content capture: off by default and never serialised then; on, recorded as JSON in the
//! semconv message schemas, passed through secret masking and the user's redaction hook,
//! and cut to the size limit while staying valid JSON.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use serde_json::{Value, json};
use trace_llm::{Evaluation, ScoredDocument, trace_llm};
use trace_llm_tests::fixtures::Fixture;
use trace_llm_tests::*;

#[trace_llm(kind = "chat", provider = "openai", request = req)]
fn chat(req: &Value, response: Value) -> Result<Value, std::io::Error> {
    Ok(response)
}

#[trace_llm(kind = "chat", provider = "anthropic", request = req)]
fn anthropic(req: &Value, response: Value) -> Value {
    response
}

#[trace_llm(kind = "chat", provider = "openai", request = req, stream)]
fn chat_stream(req: &Value, chunks: Vec<Value>) -> impl futures_core::Stream<Item = Value> {
    futures_util::stream::iter(chunks)
}

fn json_attr(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> Value {
    let text = attr_str(span, key).unwrap_or_else(|| panic!("{key} missing"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{key} is not JSON ({e}): {text}"))
}

#[test]
fn input_and_output_messages_follow_the_semconv_schema() {
    let h = Harness::with(|c| c.capture_content(true));
    let fixture = Fixture::named(
        "openai-recorded",
        "test_chat_completion_tool_calls_with_content",
    );
    // First call: the model asks for two tool calls.
    let first = &fixture.interactions[0];
    chat(&first.request, first.response_json()).expect("ok");
    // Second call: the tool results go back.
    let second = &fixture.interactions[1];
    chat(&second.request, second.response_json()).expect("ok");
    let mut spans = h.spans();
    spans.sort_by_key(|s| s.start_time);

    let output = json_attr(&spans[0], "gen_ai.output.messages");
    assert_eq!(
        output,
        json!([{
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "call_JpNb8OiAkbIbHzDggfpdDHpi", "name": "get_current_weather",
                 "arguments": {"location": "Seattle, WA"}},
                {"type": "tool_call", "id": "call_vaFQc3zK6hHTRZKXRI5Eo2cJ", "name": "get_current_weather",
                 "arguments": {"location": "San Francisco, CA"}}
            ],
            "finish_reason": "tool_call"
        }])
    );
    assert_eq!(
        json_attr(&spans[0], "gen_ai.tool.definitions"),
        json!([{"type": "function", "name": "get_current_weather"}])
    );

    let input = json_attr(&spans[1], "gen_ai.input.messages");
    assert_eq!(
        input[0],
        json!({"role": "system", "parts": [{"type": "text", "content": "You're a helpful assistant."}]})
    );
    assert_eq!(input[1]["role"], "user");
    assert_eq!(input[2]["role"], "assistant");
    assert_eq!(
        input[2]["parts"][1]["arguments"],
        json!({"location": "San Francisco, CA"})
    );
    assert_eq!(
        input[3],
        json!({"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_JpNb8OiAkbIbHzDggfpdDHpi", "response": "50 degrees and raining"}]})
    );
    let output = json_attr(&spans[1], "gen_ai.output.messages");
    assert_eq!(output[0]["finish_reason"], "stop");
    assert_eq!(
        output[0]["parts"][0]["content"],
        "Today, the weather in Seattle is 50 degrees and raining, while in San Francisco, it's 70 degrees and sunny."
    );
    assert!(attr(&spans[1], "trace_llm.content.truncated").is_none());
}

#[test]
fn streamed_tool_calls_are_assembled_into_output_messages() {
    let h = Harness::with(|c| c.capture_content(true));
    let fixture = Fixture::named(
        "openai-recorded",
        "test_chat_completion_multiple_tools_streaming_with_content",
    );
    let interaction = &fixture.interactions[0];
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    rt.block_on(async {
        let mut s = std::pin::pin!(chat_stream(&interaction.request, interaction.chunks()));
        while s.next().await.is_some() {}
    });
    let span = h.spans().pop().expect("span");
    let output = json_attr(&span, "gen_ai.output.messages");
    assert_eq!(output[0]["finish_reason"], "tool_call");
    let parts = output[0]["parts"].as_array().expect("parts");
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["id"], "call_fHCjJqt9Pysde6vcJcvbXGBx");
    assert_eq!(parts[0]["arguments"], json!({"location": "Seattle, WA"}));
    assert_eq!(
        parts[1]["arguments"],
        json!({"location": "San Francisco, CA"})
    );
}

#[test]
fn anthropic_system_instructions_and_output() {
    let h = Harness::with(|c| c.capture_content(true));
    let fixture = Fixture::named(
        "anthropic-recorded",
        "test_messages__test_with_asyncio_run_legacy",
    );
    let i = &fixture.interactions[0];
    anthropic(&i.request, i.response_json());
    let span = h.spans().pop().expect("span");
    assert_eq!(
        json_attr(&span, "gen_ai.system_instructions"),
        json!([{"type": "text", "content": "You help generate concise summaries of news articles and blog posts that user sends you."}])
    );
    assert_eq!(
        json_attr(&span, "gen_ai.input.messages"),
        json!([{"role": "user", "parts": [{"type": "text", "content": "What is the weather in San Francisco?"}]}])
    );
    let output = json_attr(&span, "gen_ai.output.messages");
    assert_eq!(output[0]["finish_reason"], "stop");
    assert!(
        output[0]["parts"][0]["content"]
            .as_str()
            .expect("text")
            .starts_with("I apologize")
    );
}

#[test]
fn size_limit_truncates_to_valid_json_and_marks_it() {
    let h = Harness::with(|c| c.capture_content(true).content_max_bytes(200));
    let long = "word ".repeat(2000);
    let req = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": long}]});
    chat(&req, json!({"object": "chat.completion", "choices": []})).expect("ok");
    let span = h.spans().pop().expect("span");
    let text = attr_str(&span, "gen_ai.input.messages").expect("input");
    assert!(text.len() <= 200, "{} bytes", text.len());
    let value: Value = serde_json::from_str(text).expect("still valid JSON");
    let content = value[0]["parts"][0]["content"].as_str().expect("content");
    assert!(content.ends_with(trace_llm::TRUNCATION_MARKER), "{content}");
    assert_eq!(attr_bool(&span, "trace_llm.content.truncated"), Some(true));
}

#[test]
fn redaction_hook_sees_every_value_and_secrets_are_masked() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen2 = seen.clone();
    let h = Harness::with(move |c| {
        c.capture_content(true).redact(move |key, value| {
            seen2.lock().expect("lock").push(key.to_owned());
            value.replace("Seattle", "[city]")
        })
    });
    let req = json!({"model": "gpt-4o", "messages": [
        {"role": "user", "content": "weather in Seattle? my key is sk-proj-AAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
    ]});
    let resp = json!({"object": "chat.completion", "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Seattle: rain"}}
    ]});
    chat(&req, resp).expect("ok");
    let span = h.spans().pop().expect("span");
    let input = attr_str(&span, "gen_ai.input.messages").expect("input");
    assert!(
        !input.contains("Seattle") && input.contains("[city]"),
        "{input}"
    );
    assert!(
        !input.contains("sk-proj-") && input.contains("[REDACTED]"),
        "{input}"
    );
    let output = attr_str(&span, "gen_ai.output.messages").expect("output");
    assert!(output.contains("[city]: rain"), "{output}");
    let keys = seen.lock().expect("lock").clone();
    assert_eq!(
        keys,
        vec!["gen_ai.input.messages", "gen_ai.output.messages"]
    );
}

#[test]
fn capture_off_never_builds_content() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let h = Harness::with(move |c| {
        c.redact(move |_, v| {
            counter.fetch_add(1, Ordering::Relaxed);
            v
        })
    });
    let fixture = Fixture::named(
        "openai-recorded",
        "test_chat_completion_tool_calls_with_content",
    );
    let i = &fixture.interactions[1];
    chat(&i.request, i.response_json()).expect("ok");
    let span = h.spans().pop().expect("span");
    for key in [
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.tool.definitions",
    ] {
        assert!(attr(&span, key).is_none(), "{key}");
    }
    assert_eq!(
        calls.load(Ordering::Relaxed),
        0,
        "the hook ran: content was built"
    );
}

#[derive(serde::Serialize)]
struct Forecast {
    city: String,
    celsius: i32,
}

#[trace_llm(kind = "execute_tool", tool_call_id = id, arguments = args)]
fn get_weather(id: &str, args: &str) -> Result<Forecast, std::fmt::Error> {
    Ok(Forecast {
        city: "Paris".into(),
        celsius: 14,
    })
}

struct Hit {
    id: &'static str,
    score: f64,
}

impl ScoredDocument for Hit {
    fn id(&self) -> Option<&str> {
        Some(self.id)
    }
    fn score(&self) -> Option<f64> {
        Some(self.score)
    }
}

#[trace_llm(kind = "retrieval", data_source = "kb", query = q)]
fn search(q: &str) -> Vec<Hit> {
    vec![
        Hit {
            id: "a",
            score: 0.4,
        },
        Hit {
            id: "b",
            score: 0.9,
        },
    ]
}

#[trace_llm(name = "evaluate relevance")]
fn judge() -> Evaluation {
    Evaluation::new("Relevance")
        .score(4.0)
        .label("relevant")
        .explanation("on topic")
        .response_id("chatcmpl-evaluated")
}

#[test]
fn tool_retrieval_and_evaluation_content() {
    let h = Harness::with(|c| c.capture_content(true));
    get_weather("call_1", r#"{"city": "Paris"}"#).expect("ok");
    search("weather paris");
    judge();
    let tool = h.span("execute_tool get_weather");
    assert_eq!(
        json_attr(&tool, "gen_ai.tool.call.arguments"),
        json!({"city": "Paris"})
    );
    assert_eq!(
        json_attr(&tool, "gen_ai.tool.call.result"),
        json!({"city": "Paris", "celsius": 14})
    );
    let retrieval = h.span("retrieval kb");
    assert_eq!(
        attr_str(&retrieval, "gen_ai.retrieval.query.text"),
        Some("weather paris")
    );
    assert_eq!(
        attr_i64(&retrieval, "trace_llm.retrieval.documents"),
        Some(2)
    );
    assert_eq!(
        attr_f64(&retrieval, "trace_llm.retrieval.top_score"),
        Some(0.9)
    );
    assert_eq!(
        json_attr(&retrieval, "gen_ai.retrieval.documents"),
        json!([{"id": "a", "score": 0.4}, {"id": "b", "score": 0.9}])
    );
    let eval = h.span("evaluate relevance");
    let event = events(&eval, "gen_ai.evaluation.result");
    assert_eq!(event.len(), 1);
    let attrs = &event[0].attributes;
    assert_eq!(
        attr_in(attrs, "gen_ai.evaluation.name").map(|v| v.to_string()),
        Some("Relevance".into())
    );
    assert_eq!(
        attr_in(attrs, "gen_ai.evaluation.score.value"),
        Some(&opentelemetry::Value::F64(4.0))
    );
    assert_eq!(
        attr_in(attrs, "gen_ai.evaluation.score.label").map(|v| v.to_string()),
        Some("relevant".into())
    );
    assert_eq!(
        attr_in(attrs, "gen_ai.response.id").map(|v| v.to_string()),
        Some("chatcmpl-evaluated".into())
    );
}

#[test]
fn tool_and_retrieval_content_off_by_default() {
    let h = Harness::new();
    get_weather("call_1", r#"{"city": "Paris"}"#).expect("ok");
    search("weather paris");
    let tool = h.span("execute_tool get_weather");
    assert!(attr(&tool, "gen_ai.tool.call.arguments").is_none());
    assert!(attr(&tool, "gen_ai.tool.call.result").is_none());
    let retrieval = h.span("retrieval kb");
    assert!(attr(&retrieval, "gen_ai.retrieval.query.text").is_none());
    assert!(attr(&retrieval, "gen_ai.retrieval.documents").is_none());
    // Counts and scores are not content.
    assert_eq!(
        attr_i64(&retrieval, "trace_llm.retrieval.documents"),
        Some(2)
    );
}
