//! Every recording of the Gemini / Vertex AI, Bedrock, Ollama, Cohere, Mistral, Groq and
//! Azure OpenAI folders, through decorated functions returning `serde_json::Value` (plain
//! calls, and streams of the recorded chunks), with content capture on: the provider is
//! inferred, the status, usage and finish reasons are there, and every content attribute is
//! valid in the semconv message schemas. Hand-checked values follow.

use std::borrow::Cow;

use opentelemetry_sdk::trace::SpanData;
use serde_json::{Value, json};
use trace_llm::{model_from_url, trace_llm};
use trace_llm_tests::fixtures::{Fixture, Interaction};
use trace_llm_tests::*;

#[trace_llm(kind = "chat", request = req, model = model)]
fn call(req: &Value, model: Option<&str>, response: Value) -> Value {
    response
}

#[trace_llm(kind = "chat", request = req, model = model, stream)]
fn call_stream(
    req: &Value,
    model: Option<&str>,
    chunks: Vec<Value>,
) -> impl Iterator<Item = Value> {
    chunks.into_iter()
}

fn model_of(i: &Interaction) -> Option<String> {
    i.request["model"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| model_from_url(&i.path).map(Cow::into_owned))
}

/// Runs one interaction through the matching decorated function.
fn run(i: &Interaction) {
    let model = model_of(i);
    match i.client_chunks() {
        Some(chunks) => {
            let n = chunks.len();
            assert_eq!(call_stream(&i.request, model.as_deref(), chunks).count(), n);
        }
        None => {
            let response: Value = serde_json::from_str(&i.body).unwrap_or(Value::Null);
            call(&i.request, model.as_deref(), response);
        }
    }
}

fn json_attr(span: &SpanData, key: &str) -> Option<Value> {
    attr_str(span, key).map(|text| {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{key} is not JSON ({e}): {text}"))
    })
}

/// The semconv message schemas: role, parts with a type, tool calls with a string name,
/// output finish reasons from the enum.
fn check_messages(ctx: &str, key: &str, messages: &Value, output: bool) {
    let messages = messages
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: {key} is not an array"));
    for m in messages {
        assert!(m["role"].is_string(), "{ctx}: {key} role: {m}");
        let parts = m["parts"]
            .as_array()
            .unwrap_or_else(|| panic!("{ctx}: {key} parts: {m}"));
        for p in parts {
            assert!(p["type"].is_string(), "{ctx}: {key} part type: {p}");
            if p["type"] == "tool_call" {
                assert!(p["name"].is_string(), "{ctx}: {key} tool call name: {p}");
            }
        }
        if output {
            let reason = m["finish_reason"]
                .as_str()
                .unwrap_or_else(|| panic!("{ctx}: {m}"));
            assert!(
                ["stop", "length", "content_filter", "tool_call", "error"].contains(&reason),
                "{ctx}: finish_reason {reason}"
            );
        }
    }
}

/// What each folder's spans must say their provider is (Mistral is OpenAI-shaped: the user
/// names it).
fn provider_of(folder: &str) -> Option<&'static str> {
    match folder {
        "gemini-recorded" => Some("gcp.gen_ai"),
        "bedrock-recorded" => Some("aws.bedrock"),
        "ollama-recorded" => Some("ollama"),
        "cohere-recorded" => Some("cohere"),
        "groq-recorded" => Some("groq"),
        "azure-recorded" => Some("azure.ai.openai"),
        _ => None,
    }
}

/// Successful recordings that carry no token counts at all.
fn has_usage(i: &Interaction) -> bool {
    let text = format!(
        "{}{}",
        i.body,
        serde_json::Value::Array(i.decoded_chunks.clone())
    );
    ["Token", "tokens", "_count", "usage"]
        .iter()
        .any(|k| text.contains(k))
}

#[test]
fn every_provider_recording_gives_a_valid_span() {
    let h = Harness::with(|c| c.capture_content(true).content_max_bytes(1 << 20));
    let mut checked = 0;
    // The providers other than OpenAI and Anthropic (those have golden tests of their own).
    for &folder in &trace_llm_tests::fixtures::FOLDERS[2..] {
        let fixtures = Fixture::all(folder);
        assert!(!fixtures.is_empty(), "no recordings in {folder}");
        for fixture in &fixtures {
            for (n, i) in fixture.interactions.iter().enumerate() {
                h.exporter.reset();
                run(i);
                let spans = h.spans();
                assert_eq!(spans.len(), 1, "{}", fixture.name);
                let span = &spans[0];
                let ctx = format!("{folder}/{} #{n}", fixture.name);
                let error_body =
                    serde_json::from_str::<Value>(&i.body).is_ok_and(|b| b.get("error").is_some());
                if i.status >= 400 || error_body {
                    assert!(is_error(span), "{ctx}: an error body is an error");
                    let kind = attr_str(span, "error.type").expect("error.type");
                    assert!(kind.len() < 40 && !kind.contains(' '), "{ctx}: {kind}");
                    continue;
                }
                assert!(!is_error(span), "{ctx}: {:?}", span.status);
                if let Some(provider) = provider_of(folder) {
                    assert_eq!(
                        attr_str(span, "gen_ai.provider.name"),
                        Some(provider),
                        "{ctx}"
                    );
                }
                if folder != "azure-recorded" && folder != "mistral-recorded" {
                    assert!(
                        !span
                            .attributes
                            .iter()
                            .any(|kv| kv.key.as_str().starts_with("openai.")),
                        "{ctx}: openai.* on another provider's span"
                    );
                }
                let model = model_of(i).expect("model");
                assert_eq!(span.name, format!("chat {model}"), "{ctx}");
                if has_usage(i) {
                    assert!(
                        attr_i64(span, "gen_ai.usage.output_tokens").is_some(),
                        "{ctx}: no output tokens"
                    );
                }
                let reasons = attr_strings(span, "gen_ai.response.finish_reasons");
                assert!(
                    reasons.is_some_and(|r| !r.is_empty() && r.iter().all(|s| !s.is_empty())),
                    "{ctx}: finish reasons"
                );
                let input = json_attr(span, "gen_ai.input.messages")
                    .unwrap_or_else(|| panic!("{ctx}: no input messages"));
                check_messages(&ctx, "input", &input, false);
                let output = json_attr(span, "gen_ai.output.messages")
                    .unwrap_or_else(|| panic!("{ctx}: no output messages"));
                check_messages(&ctx, "output", &output, true);
                assert!(!output.as_array().expect("array").is_empty(), "{ctx}");
                if let Some(system) = json_attr(span, "gen_ai.system_instructions") {
                    for part in system.as_array().expect("system parts") {
                        assert!(part["type"].is_string(), "{ctx}: {part}");
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 60, "checked {checked}");
}

/// Runs the one interaction `index` of `folder/name` and returns its span.
fn span_of(h: &Harness, folder: &str, name: &str, index: usize) -> SpanData {
    h.exporter.reset();
    let fixture = Fixture::named(folder, name);
    run(&fixture.interactions[index]);
    let mut spans = h.spans();
    assert_eq!(spans.len(), 1);
    spans.remove(0)
}

fn usage(span: &SpanData) -> [Option<i64>; 5] {
    [
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.reasoning.output_tokens",
    ]
    .map(|k| attr_i64(span, k))
}

#[test]
fn hand_checked_gemini() {
    let h = Harness::with(|c| c.capture_content(true));
    // 75 prompt + 573 tool-use prompt; 414 candidates + 117 thoughts: the total, 1,179.
    let s = span_of(
        &h,
        "gemini-recorded",
        "gemini-adk__test_instrumentor__test_google_adk_instrumentor_code_execution_token_counts",
        0,
    );
    assert_eq!(usage(&s), [Some(648), Some(531), None, None, Some(117)]);
    assert_eq!(
        attr_str(&s, "gen_ai.response.model"),
        Some("gemini-2.5-flash")
    );
    assert_eq!(
        attr_strings(&s, "gen_ai.response.finish_reasons"),
        Some(vec!["STOP".into()])
    );
    let output = json_attr(&s, "gen_ai.output.messages").expect("output");
    let types: Vec<&str> = output[0]["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .filter_map(|p| p["type"].as_str())
        .collect();
    assert!(types.contains(&"executable_code"), "{types:?}");

    // Streamed with thoughts: they are a reasoning part and count as output.
    let s = span_of(
        &h,
        "gemini-recorded",
        "gemini-genai__test_instrumentation__test_streaming_reasoning",
        0,
    );
    assert_eq!(usage(&s), [Some(11), Some(1416), None, None, Some(713)]);
    assert_eq!(attr_bool(&s, "gen_ai.request.stream"), Some(true));
    let output = json_attr(&s, "gen_ai.output.messages").expect("output");
    assert_eq!(output[0]["parts"][0]["type"], "reasoning");
    assert_eq!(output[0]["parts"][1]["type"], "text");
    assert_eq!(output[0]["finish_reason"], "stop");

    // A function call, the tool declared, the system instruction.
    let s = span_of(
        &h,
        "gemini-recorded",
        "gemini-genai__test_instrumentation__test_chat_session_with_tool",
        0,
    );
    let output = json_attr(&s, "gen_ai.output.messages").expect("output");
    assert_eq!(
        output[0]["parts"][0],
        json!({"type": "tool_call", "name": "get_weather", "arguments": {"location": "San Francisco"}})
    );
    assert_eq!(
        json_attr(&s, "gen_ai.tool.definitions"),
        Some(json!([{"type": "function", "name": "get_weather"}]))
    );
    assert!(json_attr(&s, "gen_ai.system_instructions").is_some());
    assert_eq!(
        attr_str(&s, "gen_ai.request.model"),
        Some("gemini-2.0-flash")
    );
}

#[test]
fn hand_checked_gemini_errors() {
    let h = Harness::new();
    for (name, expected) in [
        (
            "vertexai-sdk__test_generate_content_invalid_role",
            "invalid_request",
        ),
        ("vertexai-sdk__test_generate_content_missing_model", "404"),
    ] {
        let fixture = Fixture::named("gemini-recorded", name);
        h.exporter.reset();
        run(&fixture.interactions[0]);
        let s = h.spans().remove(0);
        assert!(is_error(&s), "{name}");
        assert_eq!(attr_str(&s, "error.type"), Some(expected), "{name}");
    }
}

#[test]
fn hand_checked_bedrock() {
    let h = Harness::with(|c| c.capture_content(true));
    let s = span_of(
        &h,
        "bedrock-recorded",
        "openinference__test_converse_tool_use_message",
        0,
    );
    assert_eq!(usage(&s), [Some(90), Some(14), None, None, None]);
    assert_eq!(
        attr_strings(&s, "gen_ai.response.finish_reasons"),
        Some(vec!["tool_use".into()])
    );
    let output = json_attr(&s, "gen_ai.output.messages").expect("output");
    assert_eq!(
        output,
        json!([{"role": "assistant", "finish_reason": "tool_call", "parts": [
            {"type": "tool_call", "id": "tooluse_Z4oIdWzp6MUkuN99WX3jLk", "name": "top_song",
             "arguments": {"sign": "Radio XYZ"}}]}])
    );
    assert_eq!(
        json_attr(&s, "gen_ai.tool.definitions"),
        Some(json!([{"type": "function", "name": "top_song"}]))
    );
    assert_eq!(
        attr_str(&s, "gen_ai.request.model"),
        Some("mistral.devstral-2-123b")
    );

    // ConverseStream: inference settings, the metadata event's usage, the stop event.
    let s = span_of(
        &h,
        "bedrock-recorded",
        "botocore__test_converse_stream_with_content",
        0,
    );
    assert_eq!(usage(&s), [Some(8), Some(10), None, None, None]);
    assert_eq!(attr_i64(&s, "gen_ai.request.max_tokens"), Some(10));
    assert_eq!(attr_f64(&s, "gen_ai.request.temperature"), Some(0.8));
    assert_eq!(attr_f64(&s, "gen_ai.request.top_p"), Some(1.0));
    assert_eq!(
        attr_strings(&s, "gen_ai.request.stop_sequences"),
        Some(vec!["|".into()])
    );
    assert_eq!(
        attr_strings(&s, "gen_ai.response.finish_reasons"),
        Some(vec!["max_tokens".into()])
    );
    let output = json_attr(&s, "gen_ai.output.messages").expect("output");
    assert_eq!(
        output[0]["parts"][0]["content"],
        "I am here and ready to assist"
    );

    // InvokeModel bodies: Titan and Llama.
    let s = span_of(
        &h,
        "bedrock-recorded",
        "botocore__test_invoke_model_with_content_amazon.titan",
        0,
    );
    assert_eq!(usage(&s), [Some(5), Some(10), None, None, None]);
    assert_eq!(
        attr_strings(&s, "gen_ai.response.finish_reasons"),
        Some(vec!["LENGTH".into()])
    );
    let s = span_of(
        &h,
        "bedrock-recorded",
        "botocore__test_invoke_model_with_content_meta.llama",
        0,
    );
    assert_eq!(usage(&s), [Some(5), Some(10), None, None, None]);
    assert_eq!(attr_i64(&s, "gen_ai.request.max_tokens"), Some(10));
    assert_eq!(
        attr_str(&s, "gen_ai.request.model"),
        Some("meta.llama3-1-70b-instruct-v1:0")
    );
    // Anthropic through Bedrock: Anthropic's shape, Bedrock's provider.
    let s = span_of(
        &h,
        "bedrock-recorded",
        "botocore__test_invoke_model_with_content_anthropic.claude",
        0,
    );
    assert_eq!(attr_str(&s, "gen_ai.provider.name"), Some("aws.bedrock"));
    assert_eq!(usage(&s), [Some(14), Some(10), None, None, None]);
}

#[test]
fn hand_checked_ollama_cohere_groq_azure() {
    let h = Harness::with(|c| c.capture_content(true));
    let s = span_of(
        &h,
        "ollama-recorded",
        "openinference__test_instrumentor__test_chat_stream",
        0,
    );
    assert_eq!(usage(&s), [Some(21), Some(889), None, None, None]);
    assert_eq!(attr_f64(&s, "gen_ai.request.temperature"), Some(0.0));
    assert_eq!(attr_i64(&s, "gen_ai.request.seed"), Some(42));
    let output = json_attr(&s, "gen_ai.output.messages").expect("output");
    assert_eq!(output[0]["parts"][0]["type"], "reasoning");
    assert_eq!(output[0]["finish_reason"], "stop");

    let s = span_of(
        &h,
        "cohere-recorded",
        "langchain__test_chains__test_astream",
        0,
    );
    assert_eq!(usage(&s), [Some(212), Some(65), Some(208), None, None]);
    assert_eq!(
        attr_strings(&s, "gen_ai.response.finish_reasons"),
        Some(vec!["COMPLETE".into()])
    );
    assert_eq!(attr_f64(&s, "gen_ai.request.temperature"), Some(0.75));

    let cohere_tools = Fixture::all("cohere-recorded")
        .into_iter()
        .find(|f| f.name.contains("with_tool") && !f.interactions[0].is_stream())
        .expect("cohere tool recording");
    h.exporter.reset();
    run(&cohere_tools.interactions[0]);
    let s = h.spans().remove(0);
    let output = json_attr(&s, "gen_ai.output.messages").expect("output");
    let calls: Vec<&str> = output[0]["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .filter(|p| p["type"] == "tool_call")
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(calls, ["get_time", "get_weather"]);
    assert_eq!(output[0]["finish_reason"], "tool_call");

    let groq = Fixture::all("groq-recorded").remove(0);
    h.exporter.reset();
    run(&groq.interactions[0]);
    let s = h.spans().remove(0);
    assert_eq!(attr_str(&s, "gen_ai.provider.name"), Some("groq"));
    assert!(attr_i64(&s, "gen_ai.usage.input_tokens").is_some_and(|n| n > 0));

    for fixture in Fixture::all("azure-recorded") {
        h.exporter.reset();
        run(&fixture.interactions[0]);
        let s = h.spans().remove(0);
        if !is_error(&s) {
            assert_eq!(
                attr_str(&s, "gen_ai.provider.name"),
                Some("azure.ai.openai"),
                "{}",
                fixture.name
            );
            assert!(attr_str(&s, "gen_ai.response.id").is_some_and(|id| !id.is_empty()));
        }
    }
}

#[test]
fn model_from_url_reads_each_provider_path() {
    for folder in ["gemini-recorded", "bedrock-recorded", "azure-recorded"] {
        for fixture in Fixture::all(folder) {
            for i in &fixture.interactions {
                let model = model_from_url(&i.path);
                assert!(
                    model
                        .as_deref()
                        .is_some_and(|m| !m.is_empty() && !m.contains('%')),
                    "{}: {}",
                    fixture.name,
                    i.path
                );
            }
        }
    }
}

/// A call of `model` at `provider` that used 1,000 input and 100 output tokens.
fn priced(provider: &'static str, model: &str) {
    let _span = trace_llm::span(trace_llm::Operation::Chat, "chat")
        .provider(provider)
        .model(model)
        .start();
    trace_llm::current_span().record_usage(1_000, 100);
}

/// The providers' own model names, as their APIs and URLs spell them, resolve in the
/// bundled price table.
#[test]
fn provider_model_ids_have_prices() {
    let h = Harness::new();
    let cases = [
        ("gcp.gen_ai", "gemini-2.5-flash"),
        ("gcp.gemini", "gemini-2.0-flash"),
        ("gcp.vertex_ai", "gemini-2.5-pro"),
        ("aws.bedrock", "anthropic.claude-3-haiku-20240307-v1:0"),
        (
            "aws.bedrock",
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        ),
        ("aws.bedrock", "amazon.nova-micro-v1:0"),
        ("aws.bedrock", "meta.llama3-1-70b-instruct-v1:0"),
        ("cohere", "command-r-08-2024"),
        ("mistral_ai", "mistral-small-latest"),
        ("groq", "llama-3.1-8b-instant"),
        ("deepseek", "deepseek-chat"),
        ("azure.ai.openai", "gpt-4o-mini"),
    ];
    let mut missing = Vec::new();
    for (provider, model) in cases {
        h.exporter.reset();
        priced(provider, model);
        let span = h.spans().remove(0);
        match attr_f64(&span, "trace_llm.usage.cost") {
            Some(cost) => assert!(cost > 0.0 && cost < 1.0, "{provider} {model}: {cost}"),
            None => missing.push(format!("{provider} {model}")),
        }
    }
    assert!(missing.is_empty(), "no price for: {missing:?}");
}

#[trace_llm(kind = "chat", model = "llama3", base_url = base)]
fn local_chat(base: &str) -> Value {
    json!({"model": "llama3", "created_at": "2024-05-24T21:01:59Z", "done": true,
           "done_reason": "stop", "message": {"role": "assistant", "content": "hi"},
           "prompt_eval_count": 3, "eval_count": 1})
}

#[test]
fn base_url_sets_the_server_on_spans_and_metrics() {
    use trace_llm_tests::metrics::histogram;
    let metrics = opentelemetry_sdk::metrics::InMemoryMetricExporter::default();
    let h = Harness::with(|c| c.with_metric_exporter(metrics.clone()));
    for (url, host, port) in [
        ("http://localhost:11434", "localhost", 11434),
        ("https://api.example.com/v1", "api.example.com", 443),
        ("http://[::1]:8080/api", "::1", 8080),
    ] {
        h.exporter.reset();
        local_chat(url);
        let s = h.span("chat llama3");
        assert_eq!(attr_str(&s, "server.address"), Some(host), "{url}");
        assert_eq!(attr_i64(&s, "server.port"), Some(port), "{url}");
    }
    local_chat("not a url");
    h.guard().force_flush().expect("flush");
    let points = histogram(&metrics, "gen_ai.client.operation.duration");
    assert!(
        points
            .iter()
            .any(|p| p.has("server.address", "localhost") && p.has("server.port", "11434")),
        "{points:#?}"
    );
    assert!(points.iter().any(|p| p.attr("server.address").is_none()));
}
