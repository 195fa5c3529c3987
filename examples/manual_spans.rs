//! The manual API, for what a decorator cannot express:
//! - a retriever scoring many candidates, summarised in one span instead of one per item;
//! - tool calls dispatched by name, each span named at the call site;
//! - recording on the current span from inside (usage of a hand-parsed response).
//!
//! ```text
//! cargo run --example manual_spans
//! ```

use trace_llm::{Operation, TracingConfig, current_span, span, trace_llm};

struct Candidate {
    id: u32,
    text: String,
}

fn score(query: &str, candidate: &Candidate) -> f64 {
    let hits = query
        .split(' ')
        .filter(|w| candidate.text.contains(w))
        .count();
    hits as f64 / query.split(' ').count() as f64
}

/// One span for the whole scoring loop, with the numbers that matter as attributes.
fn rerank(query: &str, candidates: &[Candidate]) -> Vec<u32> {
    span(Operation::Retrieval, "retrieval rerank")
        .data_source("rerank")
        .attribute("app.candidates", candidates.len())
        .in_scope(|| {
            let mut scored: Vec<(f64, u32)> =
                candidates.iter().map(|c| (score(query, c), c.id)).collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            let kept: Vec<u32> = scored
                .iter()
                .filter(|(s, _)| *s > 0.3)
                .map(|(_, id)| *id)
                .collect();
            current_span().set_attribute("app.kept", kept.len());
            current_span().set_attribute("app.best_score", scored.first().map_or(0.0, |s| s.0));
            kept
        })
}

struct ToolCall {
    id: &'static str,
    name: &'static str,
    arguments: &'static str,
}

/// Tools chosen by the model at run time: one span per call, named after the tool.
fn dispatch(call: &ToolCall) -> Result<String, String> {
    span(
        Operation::ExecuteTool,
        format!("execute_tool {}", call.name),
    )
    .tool(call.name)
    .tool_call_id(call.id)
    .in_scope(|| match call.name {
        "get_weather" => Ok(format!("rain for {}", call.arguments)),
        "get_time" => Ok("14:05".to_owned()),
        other => {
            current_span().record_error_type("tool_not_found", other);
            Err(format!("no tool named {other}"))
        }
    })
}

/// A model call whose response the application parses itself: usage recorded by hand.
#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o-mini")]
fn plan(question: &str) -> Vec<ToolCall> {
    current_span().record_usage(question.len() as i64 + 40, 25);
    vec![
        ToolCall {
            id: "call_1",
            name: "get_weather",
            arguments: "Paris",
        },
        ToolCall {
            id: "call_2",
            name: "get_time",
            arguments: "{}",
        },
        ToolCall {
            id: "call_3",
            name: "book_flight",
            arguments: "{}",
        },
    ]
}

#[trace_llm(kind = "invoke_agent", agent = "assistant")]
fn agent(question: &str) -> Vec<Result<String, String>> {
    let corpus: Vec<Candidate> = (0..500)
        .map(|id| Candidate {
            id,
            text: match id % 5 {
                0 => format!("doc {id}: paris weather this week"),
                1 => format!("doc {id}: weather in lyon"),
                _ => format!("doc {id}: train timetables"),
            },
        })
        .collect();
    let kept = rerank(question, &corpus);
    println!("kept {} of {} candidates", kept.len(), corpus.len());
    plan(question).iter().map(dispatch).collect()
}

fn main() -> Result<(), trace_llm::Error> {
    let guard = TracingConfig::default()
        .service_name("manual-spans-demo")
        .console()
        .init()?;
    for result in agent("paris weather") {
        println!("{result:?}");
    }
    println!();
    guard.shutdown()
}
