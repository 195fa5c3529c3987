//! Every recorded OpenAI exchange in `tests/fixtures/openai-recorded`, replayed by a loopback
//! HTTP server to the real `async-openai` client through decorated functions. The expected
//! attributes are derived from the recorded request and response bodies by the code below
//! (plain JSON field reads, written from the OpenAI API reference and the conventions),
//! never by running the extractor.

use std::collections::BTreeMap;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionResponseStream, CreateChatCompletionRequest, CreateChatCompletionResponse,
};
use async_openai::types::embeddings::{
    CreateBase64EmbeddingResponse, CreateEmbeddingRequest, CreateEmbeddingResponse,
};
use async_openai::types::responses::{CreateResponse, Response, ResponseStream};
use futures_util::StreamExt;
use opentelemetry_sdk::trace::SpanData;
use serde_json::Value;
use trace_llm::trace_llm;
use trace_llm_tests::fixtures::{Fixture, Interaction};
use trace_llm_tests::*;

type OpenAi = Client<OpenAIConfig>;

#[trace_llm(kind = "chat", provider = "openai", request = req)]
async fn chat(
    client: &OpenAi,
    req: CreateChatCompletionRequest,
) -> Result<CreateChatCompletionResponse, OpenAIError> {
    client.chat().create(req).await
}

#[trace_llm(kind = "chat", provider = "openai", request = req, stream)]
async fn chat_stream(
    client: &OpenAi,
    req: CreateChatCompletionRequest,
) -> Result<ChatCompletionResponseStream, OpenAIError> {
    client.chat().create_stream(req).await
}

#[trace_llm(kind = "embeddings", provider = "openai", request = req)]
async fn embed(
    client: &OpenAi,
    req: CreateEmbeddingRequest,
) -> Result<CreateEmbeddingResponse, OpenAIError> {
    client.embeddings().create(req).await
}

#[trace_llm(kind = "embeddings", provider = "openai", request = req)]
async fn embed_base64(
    client: &OpenAi,
    req: CreateEmbeddingRequest,
) -> Result<CreateBase64EmbeddingResponse, OpenAIError> {
    client.embeddings().create_base64(req).await
}

#[trace_llm(kind = "chat", provider = "openai", request = req)]
async fn respond(client: &OpenAi, req: CreateResponse) -> Result<Response, OpenAIError> {
    client.responses().create(req).await
}

#[trace_llm(kind = "chat", provider = "openai", request = req, stream)]
async fn respond_stream(
    client: &OpenAi,
    req: CreateResponse,
) -> Result<ResponseStream, OpenAIError> {
    client.responses().create_stream(req).await
}

/// Sends one recorded request through the matching decorated function, consuming streams.
async fn call(client: &OpenAi, interaction: &Interaction) {
    let body = interaction.request.clone();
    let stream = interaction.is_stream();
    match interaction.path.as_str() {
        "/v1/chat/completions" => {
            let req: CreateChatCompletionRequest =
                serde_json::from_value(body).expect("chat request");
            if stream {
                let mut s = chat_stream(client, req).await.expect("stream opens");
                while let Some(item) = s.next().await {
                    item.expect("chunk");
                }
            } else {
                let _ = chat(client, req).await;
            }
        }
        "/v1/embeddings" => {
            let req: CreateEmbeddingRequest =
                serde_json::from_value(body).expect("embeddings request");
            if interaction.request["encoding_format"] == "base64" {
                let _ = embed_base64(client, req).await;
            } else {
                let _ = embed(client, req).await;
            }
        }
        "/v1/responses" => {
            let req: CreateResponse = serde_json::from_value(body).expect("responses request");
            if stream {
                let mut s = respond_stream(client, req).await.expect("stream opens");
                while let Some(item) = s.next().await {
                    item.expect("event");
                }
            } else {
                let _ = respond(client, req).await;
            }
        }
        other => panic!("no decorated function for {other}"),
    }
}

/// Typed expected attribute values.
#[derive(Debug, Clone, PartialEq)]
enum V {
    S(String),
    I(i64),
    F(f64),
    B(bool),
    Strings(Vec<String>),
}

fn s(v: &str) -> V {
    V::S(v.to_owned())
}

/// What the conventions ask for, derived from the recorded exchange.
fn expected(interaction: &Interaction) -> BTreeMap<&'static str, V> {
    let req = &interaction.request;
    let mut e = BTreeMap::new();
    let api = interaction.path.as_str();
    let operation = if api == "/v1/embeddings" {
        "embeddings"
    } else {
        "chat"
    };
    e.insert("gen_ai.operation.name", s(operation));
    e.insert("gen_ai.provider.name", s("openai"));
    e.insert(
        "gen_ai.request.model",
        V::S(req["model"].as_str().expect("model").to_owned()),
    );
    if let Some(t) = req["temperature"].as_f64() {
        e.insert("gen_ai.request.temperature", V::F(t));
    }
    if let Some(t) = req["top_p"].as_f64() {
        e.insert("gen_ai.request.top_p", V::F(t));
    }
    if let Some(n) = req["max_tokens"]
        .as_i64()
        .or(req["max_output_tokens"].as_i64())
    {
        e.insert("gen_ai.request.max_tokens", V::I(n));
    }
    if let Some(n) = req["seed"].as_i64() {
        e.insert("gen_ai.request.seed", V::I(n));
    }
    match &req["stop"] {
        Value::String(stop) => {
            e.insert(
                "gen_ai.request.stop_sequences",
                V::Strings(vec![stop.clone()]),
            );
        }
        Value::Array(stops) => {
            let stops = stops
                .iter()
                .map(|x| x.as_str().expect("stop").to_owned())
                .collect();
            e.insert("gen_ai.request.stop_sequences", V::Strings(stops));
        }
        _ => {}
    }
    if let Some(n) = req["n"].as_i64().filter(|n| *n != 1) {
        e.insert("gen_ai.request.choice.count", V::I(n));
    }
    if req["stream"] == true {
        e.insert("gen_ai.request.stream", V::B(true));
    }
    let format = req["response_format"]["type"]
        .as_str()
        .or(req["text"]["format"]["type"].as_str());
    if let Some(format) = format {
        e.insert(
            "gen_ai.output.type",
            s(if format == "text" { "text" } else { "json" }),
        );
    }
    if let Some(tier) = req["service_tier"].as_str().filter(|t| *t != "auto") {
        e.insert("openai.request.service_tier", s(tier));
    }
    if api == "/v1/chat/completions" {
        e.insert("openai.api.type", s("chat_completions"));
    }
    if api == "/v1/responses" {
        e.insert("openai.api.type", s("responses"));
    }
    if let Some(format) = req["encoding_format"].as_str() {
        e.insert(
            "gen_ai.request.encoding_formats",
            V::Strings(vec![format.to_owned()]),
        );
    }

    if interaction.status >= 400 {
        // Low-cardinality error classes (README): 404 stays `404`, 400 is `invalid_request`.
        let class = match interaction.status {
            400 => "invalid_request",
            404 => "404",
            other => panic!("no expectation for status {other}"),
        };
        e.insert("error.type", s(class));
        return e;
    }

    // The response side: a single JSON body, or the SSE chunks folded together.
    let bodies: Vec<Value> = if interaction.is_stream() {
        interaction.chunks()
    } else {
        vec![interaction.response_json()]
    };
    let mut finish: BTreeMap<usize, String> = BTreeMap::new();
    for body in &bodies {
        // Responses API streams carry the whole response in their final event.
        let body = match body["type"].as_str() {
            Some("response.created" | "response.in_progress") => {
                e.entry("gen_ai.response.id")
                    .or_insert(V::S(body["response"]["id"].as_str().expect("id").into()));
                e.entry("gen_ai.response.model").or_insert(V::S(
                    body["response"]["model"].as_str().expect("model").into(),
                ));
                continue;
            }
            Some("response.completed") => &body["response"],
            Some(_) => continue,
            None => body,
        };
        if let Some(id) = body["id"].as_str().filter(|_| body["object"] != "list") {
            e.entry("gen_ai.response.id").or_insert(V::S(id.to_owned()));
        }
        if let Some(model) = body["model"].as_str() {
            e.entry("gen_ai.response.model")
                .or_insert(V::S(model.to_owned()));
        }
        for (i, choice) in body["choices"].as_array().into_iter().flatten().enumerate() {
            if let Some(reason) = choice["finish_reason"].as_str() {
                let index = choice["index"].as_u64().map_or(i, |n| n as usize);
                finish.insert(index, reason.to_owned());
            }
        }
        if body["object"] == "response" {
            // One reason per output item (`stop` when completed, `tool_calls` for calls).
            let mut reasons: Vec<String> = Vec::new();
            for item in body["output"].as_array().into_iter().flatten() {
                let reason = match (item["type"].as_str(), item["status"].as_str()) {
                    (Some("message"), Some("completed")) => "stop",
                    (Some("function_call"), Some("completed")) => "tool_calls",
                    _ => continue,
                };
                if !reasons.iter().any(|r| r == reason) {
                    reasons.push(reason.to_owned());
                }
            }
            for (i, r) in reasons.into_iter().enumerate() {
                finish.insert(i, r);
            }
        }
        let usage = &body["usage"];
        if usage.is_object() {
            let input = usage["prompt_tokens"]
                .as_i64()
                .or(usage["input_tokens"].as_i64())
                .expect("input");
            e.insert("gen_ai.usage.input_tokens", V::I(input));
            let output = usage["completion_tokens"]
                .as_i64()
                .or(usage["output_tokens"].as_i64());
            if let Some(out) = output.filter(|_| operation != "embeddings") {
                e.insert("gen_ai.usage.output_tokens", V::I(out));
            }
            let cached = usage["prompt_tokens_details"]["cached_tokens"]
                .as_i64()
                .or(usage["input_tokens_details"]["cached_tokens"].as_i64());
            if let Some(c) = cached {
                e.insert("gen_ai.usage.cache_read.input_tokens", V::I(c));
            }
            let reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
                .as_i64()
                .or(usage["output_tokens_details"]["reasoning_tokens"].as_i64());
            if let Some(r) = reasoning {
                e.insert("gen_ai.usage.reasoning.output_tokens", V::I(r));
            }
        }
        if let Some(fp) = body["system_fingerprint"].as_str() {
            e.insert("openai.response.system_fingerprint", s(fp));
        }
        if let Some(tier) = body["service_tier"].as_str() {
            e.insert("openai.response.service_tier", s(tier));
        }
        if body["object"] == "list" {
            let dims = match &body["data"][0]["embedding"] {
                Value::Array(values) => values.len() as i64,
                Value::String(b64) => decode_base64(b64).len() as i64 / 4,
                other => panic!("embedding {other}"),
            };
            e.insert("gen_ai.embeddings.dimension.count", V::I(dims));
        }
    }
    if !finish.is_empty() {
        e.insert(
            "gen_ai.response.finish_reasons",
            V::Strings(finish.into_values().collect()),
        );
    }
    if interaction.is_stream() {
        e.insert(
            "trace_llm.stream.chunks",
            V::I(interaction.chunks().len() as i64),
        );
    }
    e
}

/// A plain base64 decoder for the test (standard alphabet, padded).
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes: Vec<u8> = text.bytes().filter(|b| *b != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        let produced = chunk.len() * 6 / 8;
        for i in 0..produced {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

const CONTENT_KEYS: [&str; 6] = [
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
];

fn check(fixture: &Fixture, n: usize, span: &SpanData, expected: &BTreeMap<&'static str, V>) {
    let ctx = format!("{} #{n} ({})", fixture.name, span.name);
    for (key, want) in expected {
        let got = match want {
            V::S(_) => attr_str(span, key).map(|v| V::S(v.to_owned())),
            V::I(_) => attr_i64(span, key).map(V::I),
            V::F(_) => attr_f64(span, key).map(V::F),
            V::B(_) => attr_bool(span, key).map(V::B),
            V::Strings(_) => attr_strings(span, key).map(V::Strings),
        };
        assert_eq!(got.as_ref(), Some(want), "{ctx}: {key}");
    }
    for key in CONTENT_KEYS {
        assert!(
            attr(span, key).is_none(),
            "{ctx}: {key} recorded while content capture is off"
        );
    }
    let model = match &expected["gen_ai.request.model"] {
        V::S(m) => m.clone(),
        _ => unreachable!(),
    };
    let op = match &expected["gen_ai.operation.name"] {
        V::S(o) => o.clone(),
        _ => unreachable!(),
    };
    assert_eq!(span.name, format!("{op} {model}"), "{ctx}: span name");
    assert_eq!(
        span.span_kind,
        opentelemetry::trace::SpanKind::Client,
        "{ctx}"
    );
    if expected.contains_key("error.type") {
        assert!(is_error(span), "{ctx}: status");
        assert_eq!(events(span, "exception").len(), 1, "{ctx}: exception event");
    } else {
        assert!(is_ok(span), "{ctx}: status {:?}", span.status);
    }
    if expected.contains_key("gen_ai.request.stream") && !expected.contains_key("error.type") {
        let ttfc = attr_f64(span, "gen_ai.response.time_to_first_chunk").expect("ttfc");
        let duration = span
            .end_time
            .duration_since(span.start_time)
            .expect("duration")
            .as_secs_f64();
        assert!(
            ttfc > 0.0 && ttfc <= duration,
            "{ctx}: ttfc {ttfc} duration {duration}"
        );
    }
}

#[test]
fn every_openai_fixture_through_async_openai() {
    let h = Harness::new();
    let rt = multi_thread_runtime(2);
    let fixtures = Fixture::all("openai-recorded");
    assert!(fixtures.len() >= 60, "fixtures missing: {}", fixtures.len());
    let mut checked = 0;
    for fixture in &fixtures {
        h.exporter.reset();
        rt.block_on(async {
            let server = fixture.serve().await;
            let config = OpenAIConfig::new()
                .with_api_base(format!("{}/v1", server.uri()))
                .with_api_key("sk-test");
            let client = Client::with_config(config);
            for interaction in &fixture.interactions {
                call(&client, interaction).await;
            }
        });
        let mut spans = h.spans();
        spans.sort_by_key(|s| s.start_time);
        assert_eq!(
            spans.len(),
            fixture.interactions.len(),
            "{}: one span per call",
            fixture.name
        );
        for (n, (interaction, span)) in fixture.interactions.iter().zip(&spans).enumerate() {
            check(fixture, n, span, &expected(interaction));
            checked += 1;
        }
    }
    assert!(checked >= 66, "checked {checked} exchanges");
}

/// Spot checks with literal values read off the recordings by hand.
#[test]
fn hand_checked_openai_values() {
    let h = Harness::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let fixture = Fixture::named(
        "openai-recorded",
        "test_chat_completion_tool_calls_no_content",
    );
    rt.block_on(async {
        let server = fixture.serve().await;
        let client = Client::with_config(
            OpenAIConfig::new()
                .with_api_base(format!("{}/v1", server.uri()))
                .with_api_key("sk-test"),
        );
        for interaction in &fixture.interactions {
            call(&client, interaction).await;
        }
    });
    let mut spans = h.spans();
    spans.sort_by_key(|s| s.start_time);
    let first = &spans[0];
    assert_eq!(
        attr_str(first, "gen_ai.response.id"),
        Some("chatcmpl-ASYMW6w3m9qqpHUVhYTbQbw61zMqA")
    );
    assert_eq!(
        attr_str(first, "gen_ai.response.model"),
        Some("gpt-4o-mini-2024-07-18")
    );
    assert_eq!(
        attr_strings(first, "gen_ai.response.finish_reasons"),
        Some(vec!["tool_calls".into()])
    );
    assert_eq!(attr_i64(first, "gen_ai.usage.input_tokens"), Some(75));
    assert_eq!(attr_i64(first, "gen_ai.usage.output_tokens"), Some(51));
    assert_eq!(
        attr_strings(&spans[1], "gen_ai.response.finish_reasons"),
        Some(vec!["stop".into()])
    );
    assert_eq!(attr_i64(&spans[1], "gen_ai.usage.input_tokens"), Some(99));
}
