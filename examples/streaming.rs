//! Streaming responses traced end to end: the span stays open while the caller reads,
//! records time to first chunk, the chunk count and the usage from the final chunk, and ends
//! once — when the stream ends, or when the caller stops reading early (as cancelled).
//!
//! A fake in-process model streams OpenAI-shaped chunks (no network needed).
//!
//! ```text
//! cargo run --example streaming
//! ```

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use trace_llm::{TracingConfig, trace_llm};

/// OpenAI chat-completion chunks, the last one carrying usage (as with
/// `stream_options.include_usage`).
fn fake_chunks(text: &str) -> Vec<Value> {
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    let mut chunks: Vec<Value> = words
        .iter()
        .map(|w| {
            json!({"id": "chatcmpl-demo", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2024-07-18",
                   "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": null}]})
        })
        .collect();
    chunks.push(json!({"id": "chatcmpl-demo", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2024-07-18",
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}));
    chunks.push(json!({"id": "chatcmpl-demo", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2024-07-18",
                       "choices": [], "usage": {"prompt_tokens": 14, "completion_tokens": words.len()}}));
    chunks
}

/// The span starts at the call, covers the wait for the first chunk and the whole stream.
#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o-mini")]
async fn stream_answer(question: &str) -> impl Stream<Item = Value> {
    tokio::time::sleep(Duration::from_millis(20)).await; // time to first byte
    let _ = question;
    futures_util::stream::iter(fake_chunks(
        "Streams are traced until their last chunk arrives.",
    ))
    .then(|chunk| async {
        tokio::time::sleep(Duration::from_millis(3)).await;
        chunk
    })
}

fn text_of(chunk: &Value) -> &str {
    chunk["choices"][0]["delta"]["content"]
        .as_str()
        .unwrap_or("")
}

#[tokio::main]
async fn main() -> Result<(), trace_llm::Error> {
    let guard = TracingConfig::default()
        .service_name("streaming-demo")
        .console()
        .init()?;

    // Read everything, slowly: the span ends after the last chunk, not when the function
    // returned.
    let mut answer = String::new();
    let mut stream = std::pin::pin!(stream_answer("how are streams traced?").await);
    while let Some(chunk) = stream.next().await {
        answer.push_str(text_of(&chunk));
        tokio::time::sleep(Duration::from_millis(5)).await; // a slow consumer
    }
    println!("answer: {answer}");

    // Stop after three chunks: the span ends once, as cancelled, with what was seen.
    let first_words: Vec<Value> = stream_answer("and when I stop early?")
        .await
        .take(3)
        .collect()
        .await;
    println!("read {} chunks, then stopped\n", first_words.len());

    guard.shutdown()
}
