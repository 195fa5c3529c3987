//! Span names, kinds and start attributes per operation; per-call values (`model`,
//! `request`, `tool_call_id`, `attributes`); return-value hooks through user types.

use opentelemetry::trace::SpanKind;
use trace_llm::{GenAiRequest, GenAiResponse, RequestRecorder, ResponseRecorder, Usage, trace_llm};
use trace_llm_tests::*;

struct Ask {
    model: String,
    temperature: f64,
    max_tokens: i64,
    stop: Vec<&'static str>,
}

impl GenAiRequest for Ask {
    fn model(&self) -> Option<&str> {
        Some(&self.model)
    }
    fn record_request(&self, rec: &mut RequestRecorder<'_>) {
        rec.temperature(self.temperature);
        rec.max_tokens(self.max_tokens);
        rec.stop_sequences(self.stop.iter().copied());
        rec.choice_count(1); // 1 is not recorded
    }
}

struct Answer {
    id: &'static str,
    finish: Vec<&'static str>,
    input: i64,
    output: i64,
}

impl GenAiResponse for Answer {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        rec.id(self.id);
        rec.model("fake-model-2025-01-01");
        for (i, reason) in self.finish.iter().enumerate() {
            rec.finish_reason(i, reason);
        }
        rec.usage(Usage::new(self.input, self.output).cache_read(3));
    }
}

/// Implements nothing: returning it must compile and record nothing from it.
struct Opaque;

#[trace_llm(kind = "chat", provider = "openai", request = req)]
async fn chat(req: &Ask) -> Result<Answer, std::io::Error> {
    Ok(Answer {
        id: "resp-1",
        finish: vec!["stop", "length"],
        input: 11,
        output: 7,
    })
}

#[trace_llm(kind = "text_completion", provider = "openai", model = model_name)]
fn complete(model_name: &str) -> Opaque {
    Opaque
}

#[trace_llm(
    kind = "embeddings",
    provider = "openai",
    model = "text-embedding-3-small"
)]
fn embed() -> Answer {
    Answer {
        id: "e",
        finish: vec![],
        input: 5,
        output: 0,
    }
}

#[trace_llm(kind = "generate_content", provider = "gcp.gemini", model = Some("gemini-2.0-flash".to_string()))]
fn generate() {}

#[trace_llm(kind = "chat", provider = "openai")]
fn chat_without_model() {}

#[test]
fn inference_spans_are_named_after_operation_and_model() {
    let h = Harness::new();
    let req = Ask {
        model: "gpt-4o".into(),
        temperature: 0.2,
        max_tokens: 256,
        stop: vec!["END"],
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    rt.block_on(chat(&req)).expect("ok");
    let _ = complete("gpt-3.5-turbo-instruct");
    let _ = embed();
    generate();
    chat_without_model();

    let chat = h.span("chat gpt-4o");
    assert_eq!(kind(&chat), SpanKind::Client);
    assert_eq!(attr_str(&chat, "gen_ai.operation.name"), Some("chat"));
    assert_eq!(attr_str(&chat, "gen_ai.provider.name"), Some("openai"));
    assert_eq!(attr_str(&chat, "gen_ai.request.model"), Some("gpt-4o"));
    assert_eq!(attr_f64(&chat, "gen_ai.request.temperature"), Some(0.2));
    assert_eq!(attr_i64(&chat, "gen_ai.request.max_tokens"), Some(256));
    assert_eq!(
        attr_strings(&chat, "gen_ai.request.stop_sequences"),
        Some(vec!["END".into()])
    );
    assert!(attr(&chat, "gen_ai.request.choice.count").is_none());
    // From the user's GenAiResponse impl, reached through Result::Ok.
    assert_eq!(attr_str(&chat, "gen_ai.response.id"), Some("resp-1"));
    assert_eq!(
        attr_str(&chat, "gen_ai.response.model"),
        Some("fake-model-2025-01-01")
    );
    assert_eq!(
        attr_strings(&chat, "gen_ai.response.finish_reasons"),
        Some(vec!["stop".into(), "length".into()])
    );
    assert_eq!(attr_i64(&chat, "gen_ai.usage.input_tokens"), Some(11));
    assert_eq!(attr_i64(&chat, "gen_ai.usage.output_tokens"), Some(7));
    assert_eq!(
        attr_i64(&chat, "gen_ai.usage.cache_read.input_tokens"),
        Some(3)
    );
    // A `length` finish reason is not an error, but is marked.
    assert!(is_ok(&chat));
    assert_eq!(events(&chat, "response_truncated").len(), 1);

    let complete = h.span("text_completion gpt-3.5-turbo-instruct");
    assert_eq!(
        attr_str(&complete, "gen_ai.request.model"),
        Some("gpt-3.5-turbo-instruct")
    );
    assert!(attr(&complete, "gen_ai.usage.input_tokens").is_none());

    let embed = h.span("embeddings text-embedding-3-small");
    assert_eq!(attr_i64(&embed, "gen_ai.usage.input_tokens"), Some(5));
    h.span("generate_content gemini-2.0-flash");
    let bare = h.span("chat");
    assert!(attr(&bare, "gen_ai.request.model").is_none());
}

struct ToolCall {
    id: String,
    city: &'static str,
}

#[trace_llm(kind = "execute_tool", tool_call_id = call.id)]
fn get_weather(call: &ToolCall) -> Result<String, std::fmt::Error> {
    Ok(format!("sunny in {}", call.city))
}

#[trace_llm(kind = "tool", tool = "search_web")]
fn search(q: &str) -> usize {
    q.len()
}

#[trace_llm(kind = "retrieval", data_source = "docs-index")]
fn retrieve() -> Vec<u32> {
    vec![1, 2]
}

#[trace_llm(kind = "retriever")]
fn retrieve_anywhere() {}

#[trace_llm(kind = "agent")]
fn research_agent() {}

#[trace_llm(kind = "create_agent", agent = "support", provider = "openai")]
fn create() {}

#[trace_llm(kind = "workflow", workflow = "rag")]
fn pipeline() {}

#[trace_llm(kind = "invoke_workflow")]
fn nightly_eval() {}

#[trace_llm(kind = "task")]
fn rerank() {}

#[trace_llm(name = "custom step")]
fn renamed() {}

#[trace_llm(kind = "chat", name = "planner call", model = "gpt-4o")]
fn renamed_chat() {}

#[test]
fn tool_agent_workflow_retrieval_and_task_spans() {
    let h = Harness::new();
    let call = ToolCall {
        id: "call_abc123".into(),
        city: "Paris",
    };
    assert_eq!(get_weather(&call).expect("ok"), "sunny in Paris");
    assert_eq!(call.id, "call_abc123", "the argument was not moved");
    search("rust");
    retrieve();
    retrieve_anywhere();
    research_agent();
    create();
    pipeline();
    nightly_eval();
    rerank();
    renamed();
    renamed_chat();

    let tool = h.span("execute_tool get_weather");
    assert_eq!(kind(&tool), SpanKind::Internal);
    assert_eq!(
        attr_str(&tool, "gen_ai.operation.name"),
        Some("execute_tool")
    );
    assert_eq!(attr_str(&tool, "gen_ai.tool.name"), Some("get_weather"));
    assert_eq!(attr_str(&tool, "gen_ai.tool.call.id"), Some("call_abc123"));
    assert_eq!(attr_str(&tool, "gen_ai.tool.type"), Some("function"));
    assert_eq!(
        attr_str(&h.span("execute_tool search_web"), "gen_ai.tool.name"),
        Some("search_web")
    );

    let retrieval = h.span("retrieval docs-index");
    assert_eq!(kind(&retrieval), SpanKind::Client);
    assert_eq!(
        attr_str(&retrieval, "gen_ai.data_source.id"),
        Some("docs-index")
    );
    assert_eq!(
        attr_str(&h.span("retrieval"), "gen_ai.operation.name"),
        Some("retrieval")
    );

    let agent = h.span("invoke_agent research_agent");
    assert_eq!(kind(&agent), SpanKind::Internal);
    assert_eq!(
        attr_str(&agent, "gen_ai.agent.name"),
        Some("research_agent")
    );
    let created = h.span("create_agent support");
    assert_eq!(kind(&created), SpanKind::Client);
    assert_eq!(
        attr_str(&created, "gen_ai.operation.name"),
        Some("create_agent")
    );

    let wf = h.span("invoke_workflow rag");
    assert_eq!(attr_str(&wf, "gen_ai.workflow.name"), Some("rag"));
    assert_eq!(kind(&wf), SpanKind::Internal);
    h.span("invoke_workflow nightly_eval");

    let task = h.span("rerank");
    assert_eq!(kind(&task), SpanKind::Internal);
    assert!(attr(&task, "gen_ai.operation.name").is_none());
    h.span("custom step");
    let rc = h.span("planner call");
    assert_eq!(attr_str(&rc, "gen_ai.request.model"), Some("gpt-4o"));
}

#[trace_llm(attributes(
    "app.step" = "rerank",
    attempt = attempt,
    score = 0.5,
    cached = flag,
    tags = vec!["a", "b"],
    missing = None::<&str>,
    big = u64::MAX,
))]
fn with_attributes(attempt: u32, flag: bool) {}

#[test]
fn custom_attributes_keep_their_types() {
    let h = Harness::new();
    with_attributes(3, true);
    let span = h.span("with_attributes");
    assert_eq!(attr_str(&span, "app.step"), Some("rerank"));
    assert_eq!(attr_i64(&span, "attempt"), Some(3));
    assert_eq!(attr_f64(&span, "score"), Some(0.5));
    assert_eq!(attr_bool(&span, "cached"), Some(true));
    assert_eq!(
        attr_strings(&span, "tags"),
        Some(vec!["a".into(), "b".into()])
    );
    assert!(attr(&span, "missing").is_none());
    assert_eq!(attr_str(&span, "big"), Some("18446744073709551615"));
}

/// The macro's and the runtime's tables of kinds agree: every kind and alias the macro
/// accepts maps to the operation (and span kind) the runtime's `Operation::from_kind` gives
/// for the same string (given through `$kind:literal` fragments, as users' own macros forward
/// them). The macro crate pins the same list in its own unit test.
mod kinds_agree {
    use trace_llm::{Operation, trace_llm};
    use trace_llm_tests::*;

    macro_rules! kinds {
        ($($name:ident = $kind:literal),+ $(,)?) => {
            $(#[trace_llm(kind = $kind, name = "kind probe")]
            fn $name() {})+
            const KINDS: &[(&str, fn())] = &[$(($kind, $name)),+];
        };
    }

    kinds!(
        chat = "chat",
        text_completion = "text_completion",
        generate_content = "generate_content",
        embeddings = "embeddings",
        retrieval = "retrieval",
        retriever = "retriever",
        execute_tool = "execute_tool",
        tool = "tool",
        create_agent = "create_agent",
        invoke_agent = "invoke_agent",
        agent = "agent",
        invoke_workflow = "invoke_workflow",
        workflow = "workflow",
        task = "task",
    );

    #[test]
    fn the_macro_and_the_runtime_map_every_kind_alike() {
        let h = Harness::new();
        for (kind, call) in KINDS {
            h.exporter.reset();
            call();
            let span = h.span("kind probe");
            let runtime = Operation::from_kind(kind)
                .unwrap_or_else(|| panic!("the runtime does not know kind {kind:?}"));
            assert_eq!(
                attr_str(&span, "gen_ai.operation.name"),
                runtime.as_str(),
                "kind {kind:?}"
            );
            assert_eq!(span.span_kind, runtime.span_kind(), "kind {kind:?}");
        }
    }
}
