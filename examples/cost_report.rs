//! What a request cost: an agent plans with one model, fans research out to sub-agents on
//! spawned tasks, embeds, streams its summary from another model and checks it with a
//! self-hosted one. Every model call carries `trace_llm.usage.cost`; every ancestor carries
//! the totals of the calls below it; the request's running totals are available to the
//! handler (here printed, in a service a response header).
//!
//! The models are fake and in-process (no network, no API key) but answer in the providers'
//! JSON shapes, so the bundled `genai-prices` table prices them; the self-hosted model gets
//! its price from `TracingConfig::model_price`.
//!
//! ```text
//! cargo run --example cost_report
//! ```

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use trace_llm::{Price, RequestContext, TracingConfig, trace_llm};

// ---- fake models answering in the providers' shapes ----------------------------------------

fn openai_reply(model: &str, text: &str, prompt_tokens: u64, cached: u64) -> Value {
    json!({
        "id": "chatcmpl-cost-demo",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": text.split_whitespace().count() * 4 / 3,
            "prompt_tokens_details": {"cached_tokens": cached}
        }
    })
}

fn anthropic_reply(model: &str, text: &str, input: u64, cache_read: u64) -> Value {
    json!({
        "id": "msg_cost_demo",
        "type": "message",
        "role": "assistant",
        "model": model,
        "stop_reason": "end_turn",
        "content": [{"type": "text", "text": text}],
        "usage": {
            "input_tokens": input,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": 0,
            "output_tokens": text.split_whitespace().count() * 4 / 3
        }
    })
}

async fn latency(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

// ---- the traced agent ----------------------------------------------------------------------

#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o")]
async fn plan(question: &str) -> Value {
    latency(30).await;
    let _ = question;
    openai_reply(
        "gpt-4o-2024-08-06",
        "1. battery chemistry 2. charging networks 3. resale value",
        1_850,
        1_024,
    )
}

#[trace_llm(
    kind = "embeddings",
    provider = "openai",
    model = "text-embedding-3-small"
)]
async fn embed(topic: &str) -> Value {
    latency(5).await;
    json!({
        "object": "list",
        "model": "text-embedding-3-small",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, -0.2, 0.3]}],
        "usage": {"prompt_tokens": topic.len() as u64 / 4 + 1, "total_tokens": topic.len() as u64 / 4 + 1}
    })
}

#[trace_llm(
    kind = "chat",
    provider = "anthropic",
    model = "claude-3-5-haiku-20241022"
)]
async fn read_sources(topic: &str) -> Value {
    latency(40).await;
    anthropic_reply(
        "claude-3-5-haiku-20241022",
        &format!("Notes on {topic}: three sources agree, one is outdated."),
        6_400,
        4_096,
    )
}

#[trace_llm(kind = "invoke_agent", agent = "researcher")]
async fn research(topic: String) -> usize {
    embed(&topic).await;
    read_sources(&topic).await;
    topic.len()
}

/// OpenAI chunks, the last one carrying usage (as with `stream_options.include_usage`).
fn summary_chunks() -> Vec<Value> {
    let text =
        "Electric cars cost less to run, more to insure, and hold value when batteries last.";
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-sum", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2024-07-18",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut chunks: Vec<Value> = text
        .split_inclusive(' ')
        .map(|w| chunk(json!({"content": w}), Value::Null))
        .collect();
    chunks.push(chunk(json!({}), json!("stop")));
    chunks.push(
        json!({"id": "chatcmpl-sum", "object": "chat.completion.chunk",
                       "model": "gpt-4o-mini-2024-07-18", "choices": [],
                       "usage": {"prompt_tokens": 2_300, "completion_tokens": 21}}),
    );
    chunks
}

#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o-mini")]
async fn summarise(notes: usize) -> impl Stream<Item = Value> {
    latency(25).await;
    let _ = notes;
    futures_util::stream::iter(summary_chunks()).then(|chunk| async {
        latency(2).await;
        chunk
    })
}

#[trace_llm(kind = "chat", provider = "vllm", model = "llama-3.1-8b-internal")]
async fn fact_check(summary: &str) -> Value {
    latency(10).await;
    openai_reply(
        "llama-3.1-8b-internal",
        "consistent",
        summary.len() as u64,
        0,
    )
}

#[trace_llm(kind = "invoke_agent", agent = "analyst")]
async fn analyse(question: &str) -> String {
    plan(question).await;
    // Fan out: each researcher runs on its own task; their calls still roll up here.
    let topics = ["battery chemistry", "charging networks", "resale value"];
    let handles: Vec<_> = topics
        .iter()
        .map(|t| trace_llm::spawn(research((*t).to_owned())))
        .collect();
    let mut notes = 0;
    for handle in handles {
        notes += handle.await.unwrap_or(0);
    }
    let summary: String = summarise(notes)
        .await
        .map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
        .await;
    fact_check(&summary).await;
    summary
}

#[tokio::main]
async fn main() -> Result<(), trace_llm::Error> {
    let guard = TracingConfig::default()
        .service_name("cost-report")
        .console()
        // A self-hosted model: our own rate, per million tokens.
        .model_price(
            "llama-3.1-8b-internal",
            Price::per_million_tokens(0.02, 0.02),
        )
        .init()?;

    let (summary, totals) = RequestContext::new()
        .tenant_id("acme")
        .scope(async {
            let summary = analyse("Is an electric car worth it?").await;
            (summary, RequestContext::totals())
        })
        .await;
    println!("summary: {summary}");
    println!(
        "request total: ${:.6} for {} model calls ({} input / {} output tokens)\n",
        totals.cost_usd, totals.inference_calls, totals.input_tokens, totals.output_tokens
    );

    // Flushes the console exporter: the span tree, with each call's cost, prints here.
    guard.shutdown()
}
