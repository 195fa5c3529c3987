//! The chat call with its request and response as `serde_json::Value` (a recorded OpenAI
//! chat completion with sampling parameters, usage details, service tier and fingerprint),
//! as an application that calls the HTTP API itself holds them: `#[trace_llm]` reads them
//! through its `GenAiRequest` / `GenAiResponse` impls for JSON; the hand-written SDK baseline
//! reads the same fields with `Value::get`, as a careful user would, and sets the same
//! attributes.

use std::hint::black_box;
use std::sync::LazyLock;

use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
use opentelemetry::{KeyValue, StringValue, Value as OtelValue};
use opentelemetry_sdk::trace::SdkTracer;
use serde_json::Value;
use trace_llm::trace_llm;

/// The recorded request body and response body.
pub struct Payloads {
    pub request: Value,
    pub response: Value,
}

/// `test_chat_completion_extra_params` from the recorded OpenAI traffic.
pub static PAYLOADS: LazyLock<Payloads> = LazyLock::new(|| {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/openai-recorded/test_chat_completion_extra_params.json"
    );
    let text = std::fs::read_to_string(path).expect("recorded fixture");
    let fixture: Value = serde_json::from_str(&text).expect("fixture is JSON");
    let interaction = &fixture["interactions"][0];
    let body = interaction["response"]["body"]
        .as_str()
        .expect("response body");
    Payloads {
        request: interaction["request"]["body"].clone(),
        response: serde_json::from_str(body).expect("response body is JSON"),
    }
});

/// The "model": returns the recorded response at once.
#[inline(never)]
pub fn respond_json(req: &Value) -> &'static Value {
    black_box(req);
    black_box(&PAYLOADS.response)
}

/// Undecorated.
#[inline(never)]
pub fn plain_json_chat(req: &Value) -> &'static Value {
    respond_json(req)
}

/// `#[trace_llm]`, extracting from the JSON.
#[inline(never)]
#[trace_llm(kind = "chat", provider = "openai", request = req)]
pub fn traced_json_chat(req: &Value) -> &'static Value {
    respond_json(req)
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn int_of(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

/// Hand-written with the OpenTelemetry SDK: the same attributes, read with `Value::get`.
#[inline(never)]
pub fn sdk_json_chat(tracer: &SdkTracer, req: &Value) -> &'static Value {
    let model = str_of(req, "model").unwrap_or("unknown");
    let mut attributes = Vec::with_capacity(24);
    attributes.extend([
        KeyValue::new("gen_ai.operation.name", "chat"),
        KeyValue::new("gen_ai.provider.name", "openai"),
        KeyValue::new(
            "code.function.name",
            "trace_llm_benches::json::traced_json_chat",
        ),
        KeyValue::new("gen_ai.request.model", model.to_owned()),
        KeyValue::new("openai.api.type", "chat_completions"),
    ]);
    if let Some(t) = req.get("temperature").and_then(Value::as_f64) {
        attributes.push(KeyValue::new("gen_ai.request.temperature", t));
    }
    if let Some(n) = int_of(req, "max_tokens") {
        attributes.push(KeyValue::new("gen_ai.request.max_tokens", n));
    }
    if let Some(seed) = int_of(req, "seed") {
        attributes.push(KeyValue::new("gen_ai.request.seed", seed));
    }
    if let Some(format) = req.get("response_format").and_then(|f| str_of(f, "type")) {
        let output = if format == "text" { "text" } else { "json" };
        attributes.push(KeyValue::new("gen_ai.output.type", output));
    }
    if let Some(tier) = str_of(req, "service_tier") {
        attributes.push(KeyValue::new(
            "openai.request.service_tier",
            tier.to_owned(),
        ));
    }
    let mut span = tracer
        .span_builder(format!("chat {model}"))
        .with_kind(SpanKind::Client)
        .with_attributes(attributes)
        .start(tracer);

    let response = respond_json(req);

    if let Some(id) = str_of(response, "id") {
        span.set_attribute(KeyValue::new("gen_ai.response.id", id.to_owned()));
    }
    if let Some(model) = str_of(response, "model") {
        span.set_attribute(KeyValue::new("gen_ai.response.model", model.to_owned()));
    }
    let reasons: Vec<StringValue> = response
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| str_of(c, "finish_reason"))
        .map(|r| StringValue::from(r.to_owned()))
        .collect();
    span.set_attribute(KeyValue::new(
        "gen_ai.response.finish_reasons",
        OtelValue::Array(reasons.into()),
    ));
    if let Some(usage) = response.get("usage") {
        let input = int_of(usage, "prompt_tokens").unwrap_or(0);
        let output = int_of(usage, "completion_tokens").unwrap_or(0);
        span.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", input));
        span.set_attribute(KeyValue::new("gen_ai.usage.output_tokens", output));
        if let Some(cached) = usage
            .get("prompt_tokens_details")
            .and_then(|d| int_of(d, "cached_tokens"))
        {
            span.set_attribute(KeyValue::new(
                "gen_ai.usage.cache_read.input_tokens",
                cached,
            ));
        }
        if let Some(reasoning) = usage
            .get("completion_tokens_details")
            .and_then(|d| int_of(d, "reasoning_tokens"))
        {
            span.set_attribute(KeyValue::new(
                "gen_ai.usage.reasoning.output_tokens",
                reasoning,
            ));
        }
        // gpt-4o-mini's rates, as a hand-written integration would price the call.
        let cost = (input as f64 * 0.15 + output as f64 * 0.6) / 1e6;
        span.set_attribute(KeyValue::new("trace_llm.usage.cost", cost));
    }
    if let Some(fp) = str_of(response, "system_fingerprint") {
        span.set_attribute(KeyValue::new(
            "openai.response.system_fingerprint",
            fp.to_owned(),
        ));
    }
    if let Some(tier) = str_of(response, "service_tier") {
        span.set_attribute(KeyValue::new(
            "openai.response.service_tier",
            tier.to_owned(),
        ));
    }
    span.set_status(Status::Ok);
    span.end();
    response
}
