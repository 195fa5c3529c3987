//! A small RAG pipeline traced with `#[trace_llm]`: retrieve, rerank, chat with a fake
//! in-process model (no network, no API key), run the tool the model asks for, chat again.
//! The console exporter prints the span tree when the request ends.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use std::borrow::Cow;
use std::time::Duration;

use trace_llm::{
    ErrorType, GenAiRequest, GenAiResponse, RequestContext, RequestRecorder, ResponseRecorder,
    TracingConfig, Usage, trace_llm,
};

// ---- a fake model with OpenAI-like request and response types ------------------------------

struct ChatRequest {
    model: &'static str,
    messages: Vec<String>,
    temperature: f64,
    max_tokens: i64,
}

impl GenAiRequest for ChatRequest {
    fn model(&self) -> Option<&str> {
        Some(self.model)
    }
    fn record_request(&self, rec: &mut RequestRecorder<'_>) {
        rec.temperature(self.temperature);
        rec.max_tokens(self.max_tokens);
    }
}

enum Reply {
    Text(String),
    ToolCall { id: String, city: String },
}

struct ChatResponse {
    id: String,
    reply: Reply,
    usage: Usage,
}

impl GenAiResponse for ChatResponse {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        rec.id(&self.id);
        rec.model("fake-gpt-2025-06-01");
        let reason = match self.reply {
            Reply::Text(_) => "stop",
            Reply::ToolCall { .. } => "tool_calls",
        };
        rec.finish_reason(0, reason);
        rec.usage(self.usage);
    }
}

#[derive(Debug)]
enum ModelError {
    Overloaded,
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the model is overloaded")
    }
}

impl ErrorType for ModelError {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            ModelError::Overloaded => "overloaded".into(),
        }
    }
}

/// Answers in a few milliseconds: first asks for the weather tool, then answers.
struct FakeModel;

impl FakeModel {
    async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, ModelError> {
        tokio::time::sleep(Duration::from_millis(15)).await;
        if req.messages.is_empty() {
            return Err(ModelError::Overloaded);
        }
        let prompt_tokens: i64 = req
            .messages
            .iter()
            .map(|m| m.split_whitespace().count() as i64)
            .sum();
        let has_tool_result = req.messages.iter().any(|m| m.starts_with("tool:"));
        let reply = if has_tool_result {
            Reply::Text("Pack an umbrella: rain in Paris this afternoon.".into())
        } else {
            Reply::ToolCall {
                id: "call_7fGh2".into(),
                city: "Paris".into(),
            }
        };
        let completion_tokens = match &reply {
            Reply::Text(t) => t.split_whitespace().count() as i64,
            Reply::ToolCall { .. } => 12,
        };
        Ok(ChatResponse {
            id: format!("chatcmpl-{}", req.messages.len()),
            reply,
            usage: Usage::new(prompt_tokens * 4 / 3 + 20, completion_tokens),
        })
    }
}

// ---- the traced pipeline -------------------------------------------------------------------

struct Hits(Vec<(&'static str, f64)>);

impl GenAiResponse for Hits {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        let top = self
            .0
            .iter()
            .map(|(_, score)| *score)
            .fold(None, |best: Option<f64>, s| {
                Some(best.map_or(s, |b| b.max(s)))
            });
        rec.retrieved_documents(self.0.len() as i64, top);
    }
}

#[trace_llm(kind = "retrieval", data_source = "travel-docs", attributes(top_k = k))]
async fn retrieve(query: &str, k: usize) -> Hits {
    tokio::time::sleep(Duration::from_millis(4)).await;
    let corpus = [
        ("paris-weather-guide", 0.91),
        ("umbrella-faq", 0.74),
        ("lyon-restaurants", 0.22),
    ];
    let words = query.split_whitespace().count();
    Hits(corpus.into_iter().take(k.min(words)).collect())
}

#[trace_llm(kind = "task", attributes(candidates = hits.0.len()))]
fn rerank(hits: Hits) -> Vec<&'static str> {
    let mut docs = hits.0;
    docs.sort_by(|a, b| b.1.total_cmp(&a.1));
    docs.into_iter().map(|(id, _)| id).collect()
}

#[trace_llm(kind = "chat", provider = "openai", request = req)]
async fn chat(model: &FakeModel, req: &ChatRequest) -> Result<ChatResponse, ModelError> {
    model.complete(req).await
}

#[derive(Debug)]
struct ToolError(String);

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tool failed: {}", self.0)
    }
}

#[trace_llm(kind = "execute_tool", tool_call_id = call_id)]
fn get_weather(call_id: &str, city: &str) -> Result<String, ToolError> {
    match city {
        "Paris" => Ok("rain, 14°C".into()),
        other => Err(ToolError(format!("no forecast for {other}"))),
    }
}

#[trace_llm(kind = "invoke_agent", agent = "travel-assistant")]
async fn answer(model: &FakeModel, question: &str) -> Result<String, ModelError> {
    let docs = rerank(retrieve(question, 2).await);
    let mut messages = vec![
        format!("system: answer with the help of {}", docs.join(", ")),
        format!("user: {question}"),
    ];
    loop {
        let req = ChatRequest {
            model: "gpt-4o-mini",
            messages: messages.clone(),
            temperature: 0.2,
            max_tokens: 300,
        };
        let response = chat(model, &req).await?;
        match response.reply {
            Reply::Text(text) => return Ok(text),
            Reply::ToolCall { id, city } => {
                let result = get_weather(&id, &city).unwrap_or_else(|e| e.to_string());
                messages.push(format!("tool: {result}"));
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), trace_llm::Error> {
    let guard = TracingConfig::default()
        .service_name("quickstart")
        .console()
        .init()?;

    let text = RequestContext::new()
        .prompt_version("travel_v3")
        .user_cohort("beta")
        .tenant_id("acme")
        .session_id("conv-42")
        .scope(answer(&FakeModel, "do I need an umbrella in Paris today"))
        .await;
    match text {
        Ok(text) => println!("answer: {text}\n"),
        Err(e) => println!("failed: {e}\n"),
    }

    // Flushes the console exporter: the span tree prints here.
    guard.shutdown()
}
