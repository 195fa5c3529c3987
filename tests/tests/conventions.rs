//! The GenAI conventions as written: status, provider-specific keys, message schemas,
//! tokens counted once, stream flags and timing, error classification, backend keys.
//! Payloads are recorded ones (some with one field changed to reach a case).

use futures_util::StreamExt;
use opentelemetry::trace::Status;
use serde_json::{Value, json};
use trace_llm::{RequestContext, trace_llm};
use trace_llm_tests::fixtures::Fixture;
use trace_llm_tests::*;

#[trace_llm(kind = "chat", request = req)]
fn chat(req: &Value, response: Value) -> Value {
    response
}

#[trace_llm(kind = "chat", request = req, stream)]
fn chat_stream(req: &Value, chunks: Vec<Value>) -> impl Iterator<Item = Value> {
    chunks.into_iter()
}

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the tool refused")
    }
}

#[trace_llm(kind = "execute_tool")]
fn refusing_tool() -> Result<(), Refused> {
    Err(Refused)
}

fn recorded(folder: &str, name: &str, index: usize) -> (Value, Value) {
    let fixture = Fixture::named(folder, name);
    let i = &fixture.interactions[index];
    (i.request.clone(), i.response_json())
}

fn json_attr(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> Value {
    serde_json::from_str(attr_str(span, key).unwrap_or_else(|| panic!("{key} missing")))
        .expect("JSON")
}

#[test]
fn success_leaves_the_status_unset_and_errors_do_not_repeat_their_type() {
    let h = Harness::new();
    let (req, response) = recorded("openai-recorded", "test_chat_completion_with_content", 0);
    chat(&req, response);
    let _ = refusing_tool();
    let ok = h.span("chat gpt-4o-mini");
    assert_eq!(ok.status, Status::Unset);
    let failed = h.span("execute_tool refusing_tool");
    assert_eq!(attr_str(&failed, "error.type"), Some("Refused"));
    assert_eq!(
        failed.status,
        Status::error("the tool refused"),
        "the description is the message, not error.type"
    );
}

#[test]
fn openai_keys_stay_off_other_providers_spans() {
    let h = Harness::with(|c| c.capture_content(true));
    let (req, response) = recorded(
        "anthropic-recorded",
        "test_messages__test_anthropic_message_create_legacy",
        0,
    );
    chat(&req, response);
    let span = h.spans().remove(0);
    assert_eq!(attr_str(&span, "gen_ai.provider.name"), Some("anthropic"));
    let openai: Vec<&str> = span
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .filter(|k| k.starts_with("openai."))
        .collect();
    assert!(openai.is_empty(), "{openai:?}");
}

#[test]
fn responses_output_is_one_message_and_input_items_that_are_not_messages_are_left_out() {
    let h = Harness::with(|c| c.capture_content(true));
    let (mut req, response) = recorded(
        "openai-recorded",
        "test_responses_create_captures_tool_call_content_content_mode0",
        0,
    );
    // A follow-up turn's input: a reasoning item and an item reference beside the message.
    req["input"] = json!([
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "item_reference", "id": "msg_0"},
        {"role": "user", "content": [{"type": "input_text", "text": "What's the weather in Seattle right now?"}]},
    ]);
    // A stored prompt template beside the input.
    req["prompt"] = json!({"id": "pmpt_1", "variables": {"city": "Seattle"}});
    chat(&req, response);
    let span = h.spans().remove(0);
    let input = json_attr(&span, "gen_ai.input.messages");
    assert_eq!(
        input,
        json!([{"role": "user", "parts": [{"type": "text", "content": "What's the weather in Seattle right now?"}]}])
    );
    let output = json_attr(&span, "gen_ai.output.messages");
    let messages = output.as_array().expect("array");
    assert_eq!(messages.len(), 1, "{output}");
    assert_eq!(messages[0]["finish_reason"], "tool_call");
    assert_eq!(messages[0]["parts"][0]["type"], "tool_call");
    assert_eq!(messages[0]["parts"][0]["name"], "get_current_weather");
    // The official instrumentation reports finish reasons of message items only.
    assert_eq!(attr_strings(&span, "gen_ai.response.finish_reasons"), None);
}

#[test]
fn a_failed_responses_call_is_classified_like_an_http_error() {
    let h = Harness::new();
    let (req, mut response) = recorded(
        "openai-recorded",
        "test_responses_create_basic_content_mode0",
        0,
    );
    response["status"] = json!("failed");
    response["error"] = json!({"code": "rate_limit_exceeded", "message": "slow down"});
    chat(&req, response);
    let span = h.spans().remove(0);
    assert!(is_error(&span));
    assert_eq!(attr_str(&span, "error.type"), Some("rate_limit"));
}

#[test]
fn anthropic_structured_output_is_json() {
    let h = Harness::new();
    let (mut req, response) = recorded(
        "anthropic-recorded",
        "test_messages__test_anthropic_message_create_legacy",
        0,
    );
    req["output_format"] = json!({"type": "json_schema", "schema": {"type": "object"}});
    chat(&req, response);
    let span = h.spans().remove(0);
    assert_eq!(attr_str(&span, "gen_ai.output.type"), Some("json"));
}

#[trace_llm(kind = "chat", provider = "openai", request = req)]
fn planner_call(req: &Value, response: Value) -> Value {
    response
}

/// An agent returning its model's response, as agent frameworks do.
#[trace_llm(kind = "invoke_agent", agent = "planner")]
fn planner(req: &Value, response: Value) -> Value {
    planner_call(req, response)
}

#[test]
fn tokens_are_counted_once_per_trace() {
    let h = Harness::new();
    let (req, response) = recorded("openai-recorded", "test_chat_completion_with_content", 0);
    planner(&req, response);
    let spans = h.spans();
    let sum = |key: &str| -> i64 { spans.iter().filter_map(|s| attr_i64(s, key)).sum() };
    let chat = h.span("chat gpt-4o-mini");
    let agent = h.span("invoke_agent planner");
    let input = attr_i64(&chat, "gen_ai.usage.input_tokens").expect("model call usage");
    assert_eq!(sum("gen_ai.usage.input_tokens"), input);
    assert_eq!(
        sum("gen_ai.usage.output_tokens"),
        attr_i64(&chat, "gen_ai.usage.output_tokens").expect("output")
    );
    assert_eq!(attr(&agent, "gen_ai.usage.input_tokens"), None);
    assert_eq!(
        attr_i64(&agent, "trace_llm.usage.total_input_tokens"),
        Some(input)
    );
    // The agent still says what its answer was.
    assert!(attr_str(&agent, "gen_ai.response.id").is_some());
}

#[test]
fn iterators_are_streams_and_only_model_calls_have_time_to_first_chunk() {
    let h = Harness::new();
    let items: Vec<String> = trace_llm::span(trace_llm::Operation::Chat, "chat local")
        .model("local")
        .iter(vec!["a".to_owned(), "b".to_owned()].into_iter())
        .collect();
    assert_eq!(items.len(), 2);
    let tool_items = futures_executor::block_on(
        trace_llm::span(trace_llm::Operation::ExecuteTool, "execute_tool search")
            .stream(futures_util::stream::iter(vec!["x".to_owned()]))
            .collect::<Vec<_>>(),
    );
    assert_eq!(tool_items.len(), 1);
    let chat = h.span("chat local");
    assert_eq!(attr_bool(&chat, "gen_ai.request.stream"), Some(true));
    assert!(attr_f64(&chat, "gen_ai.response.time_to_first_chunk").is_some());
    let tool = h.span("execute_tool search");
    assert_eq!(attr(&tool, "gen_ai.response.time_to_first_chunk"), None);
    assert_eq!(attr(&tool, "gen_ai.request.stream"), None);
    assert_eq!(attr_i64(&tool, "trace_llm.stream.chunks"), Some(1));
}

#[test]
fn streamed_output_messages_are_schema_valid_even_when_cut_short() {
    let h = Harness::with(|c| c.capture_content(true));
    let fixture = Fixture::named(
        "openai-recorded",
        "test_chat_completion_multiple_tools_streaming_with_content",
    );
    let i = &fixture.interactions[0];
    let chunks = i.chunks();
    // Stop reading before the finish reasons arrive.
    let cut = chunks.len() / 2;
    chat_stream(&i.request, chunks).take(cut).for_each(drop);
    let span = h.spans().remove(0);
    let output = json_attr(&span, "gen_ai.output.messages");
    for m in output.as_array().expect("array") {
        assert!(m["finish_reason"].is_string(), "{m}");
        for p in m["parts"].as_array().expect("parts") {
            if p["type"] == "tool_call" {
                assert!(p["name"].is_string(), "{p}");
            }
        }
    }
}

#[test]
fn user_and_session_ids_reach_the_keys_backends_read() {
    let h = Harness::new();
    let (req, response) = recorded("openai-recorded", "test_chat_completion_with_content", 0);
    RequestContext::new()
        .user_id("user-7")
        .session_id("session-9")
        .sync_scope(|| chat(&req, response));
    let span = h.spans().remove(0);
    assert_eq!(attr_str(&span, "user.id"), Some("user-7"));
    assert_eq!(attr_str(&span, "session.id"), Some("session-9"));
    assert_eq!(attr_str(&span, "gen_ai.conversation.id"), Some("session-9"));
    // Propagated to the next service with the rest of the request context.
    let mut carrier = std::collections::HashMap::new();
    RequestContext::new()
        .user_id("user-7")
        .sync_scope(|| trace_llm::propagation::inject(&mut carrier));
    let remote = trace_llm::propagation::extract(&carrier);
    let user = remote
        .sync_scope(|| RequestContext::current().and_then(|c| c.get_user_id().map(str::to_owned)));
    assert_eq!(user.as_deref(), Some("user-7"));
}

/// Each value of `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`, in a child process.
#[test]
fn capture_content_accepts_the_official_values() {
    for (value, captured, warns) in [
        ("true", true, false),
        ("SPAN_ONLY", true, false),
        ("span_and_event", true, true),
        ("EVENT_ONLY", true, true),
        ("NO_CONTENT", false, false),
        ("false", false, false),
        ("sometimes", false, true),
    ] {
        let exe = std::env::current_exe().expect("test binary");
        let out = std::process::Command::new(exe)
            .args(["child_reports_content_capture", "--exact", "--nocapture"])
            .env("TRACE_LLM_CONVENTIONS_CHILD", "1")
            .env("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value)
            .output()
            .expect("child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{value}: {stdout}{stderr}");
        assert!(
            stdout.contains(&format!("CAPTURED {captured}")),
            "{value}: {stdout}"
        );
        let warned = stderr
            .lines()
            .filter(|l| l.contains("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"))
            .count();
        assert_eq!(warned, usize::from(warns), "{value}: {stderr}");
    }
}

#[test]
fn child_reports_content_capture() {
    if std::env::var("TRACE_LLM_CONVENTIONS_CHILD").is_err() {
        return;
    }
    let h = Harness::new();
    let (req, response) = recorded("openai-recorded", "test_chat_completion_with_content", 0);
    chat(&req, response);
    let span = h.spans().remove(0);
    println!(
        "CAPTURED {}",
        attr(&span, "gen_ai.input.messages").is_some()
    );
}

#[trace_llm(kind = "execute_tool", tool = "lookup")]
fn lookup() -> u32 {
    7
}

fn latest_mode_spans_and_metrics(
    configure: impl FnOnce(trace_llm::TracingConfig) -> trace_llm::TracingConfig,
) -> (
    opentelemetry_sdk::trace::SpanData,
    Vec<String>,
    Option<std::borrow::Cow<'static, str>>,
) {
    let metrics = opentelemetry_sdk::metrics::InMemoryMetricExporter::default();
    let h = Harness::with(|c| configure(c.with_metric_exporter(metrics.clone())));
    let (req, response) = recorded(
        "anthropic-recorded",
        "test_prompt_caching__test_anthropic_prompt_caching_legacy",
        0,
    );
    RequestContext::new()
        .prompt_name("summarize")
        .prompt_version("v3")
        .sync_scope(|| chat(&req, response));
    lookup();
    let span = h.span("chat claude-3-5-sonnet-20240620");
    h.guard().force_flush().expect("flush");
    let names = trace_llm_tests::metrics::names(&metrics);
    let schema = span
        .instrumentation_scope
        .schema_url()
        .map(|s| s.to_owned().into());
    (span, names, schema)
}

#[test]
fn the_newest_conventions_on_request() {
    let (span, names, schema) =
        latest_mode_spans_and_metrics(|c| c.gen_ai_latest_experimental(true));
    assert_eq!(
        attr_i64(&span, "gen_ai.usage.cache_write.input_tokens"),
        Some(1163)
    );
    assert_eq!(
        attr(&span, "gen_ai.usage.cache_creation.input_tokens"),
        None
    );
    assert_eq!(attr_str(&span, "gen_ai.prompt.name"), Some("summarize"));
    assert_eq!(attr_str(&span, "gen_ai.prompt.version"), Some("v3"));
    assert_eq!(attr(&span, "trace_llm.prompt.version"), None);
    for name in [
        "gen_ai.client.inference.duration",
        "gen_ai.client.inference.operation.input_tokens",
        "gen_ai.client.inference.operation.output_tokens",
        "gen_ai.execute_tool.duration",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} missing: {names:?}");
    }
    for old in [
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "trace_llm.operation.duration",
    ] {
        assert!(
            !names.iter().any(|n| n == old),
            "{old} still there: {names:?}"
        );
    }
    assert_eq!(schema, None);

    // The default: v1.41.0.
    let (span, names, schema) = latest_mode_spans_and_metrics(|c| c);
    assert_eq!(
        attr_i64(&span, "gen_ai.usage.cache_creation.input_tokens"),
        Some(1163)
    );
    assert_eq!(attr_str(&span, "trace_llm.prompt.name"), Some("summarize"));
    assert_eq!(attr_str(&span, "trace_llm.prompt.version"), Some("v3"));
    assert!(names.iter().any(|n| n == "gen_ai.client.token.usage"));
    assert!(
        names
            .iter()
            .any(|n| n == "gen_ai.client.operation.duration")
    );
    assert_eq!(
        schema.as_deref(),
        Some("https://opentelemetry.io/schemas/1.41.0")
    );
}

#[test]
fn the_newest_conventions_from_the_environment() {
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args(["child_reports_cache_key", "--exact", "--nocapture"])
        .env("TRACE_LLM_CONVENTIONS_CHILD", "1")
        .env(
            "OTEL_SEMCONV_STABILITY_OPT_IN",
            "http, gen_ai_latest_experimental",
        )
        .output()
        .expect("child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("CACHE_WRITE true"), "{stdout}");
}

#[test]
fn child_reports_cache_key() {
    if std::env::var("TRACE_LLM_CONVENTIONS_CHILD").is_err() {
        return;
    }
    let h = Harness::new();
    let (req, response) = recorded(
        "anthropic-recorded",
        "test_prompt_caching__test_anthropic_prompt_caching_legacy",
        0,
    );
    chat(&req, response);
    let span = h.spans().remove(0);
    println!(
        "CACHE_WRITE {}",
        attr(&span, "gen_ai.usage.cache_write.input_tokens").is_some()
    );
}
