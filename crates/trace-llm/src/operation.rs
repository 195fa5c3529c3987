//! The GenAI operation a span represents: a leaf type every layer shares.

use opentelemetry::trace::SpanKind;

use crate::semconv::operation;

/// The GenAI operation a span represents; `gen_ai.operation.name` is its semconv value.
///
/// `Task` is a plain INTERNAL span named after the function, without
/// `gen_ai.operation.name`.
///
/// ```
/// use trace_llm::Operation;
/// assert_eq!(Operation::Chat.as_str(), Some("chat"));
/// assert_eq!(Operation::from_kind("tool"), Some(Operation::ExecuteTool));
/// assert_eq!(Operation::Task.as_str(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Chat completion (`chat`).
    Chat,
    /// Legacy text completion (`text_completion`).
    TextCompletion,
    /// Multimodal generation (`generate_content`).
    GenerateContent,
    /// Embeddings (`embeddings`).
    Embeddings,
    /// Retrieval from a data source (`retrieval`).
    Retrieval,
    /// Tool execution (`execute_tool`).
    ExecuteTool,
    /// Agent creation (`create_agent`).
    CreateAgent,
    /// Agent invocation (`invoke_agent`).
    InvokeAgent,
    /// Workflow invocation (`invoke_workflow`).
    InvokeWorkflow,
    /// Any other step of the application: no `gen_ai.operation.name`.
    Task,
}

impl Operation {
    /// The `gen_ai.operation.name` value, `None` for [`Operation::Task`].
    pub const fn as_str(self) -> Option<&'static str> {
        Some(match self {
            Operation::Chat => operation::CHAT,
            Operation::TextCompletion => operation::TEXT_COMPLETION,
            Operation::GenerateContent => operation::GENERATE_CONTENT,
            Operation::Embeddings => operation::EMBEDDINGS,
            Operation::Retrieval => operation::RETRIEVAL,
            Operation::ExecuteTool => operation::EXECUTE_TOOL,
            Operation::CreateAgent => operation::CREATE_AGENT,
            Operation::InvokeAgent => operation::INVOKE_AGENT,
            Operation::InvokeWorkflow => operation::INVOKE_WORKFLOW,
            Operation::Task => return None,
        })
    }

    /// Parses a `kind` as the macro accepts it: a semconv operation name, one of the aliases
    /// `tool`, `agent`, `workflow`, `retriever`, or `task`.
    pub fn from_kind(kind: &str) -> Option<Operation> {
        Some(match kind {
            "chat" => Operation::Chat,
            "text_completion" => Operation::TextCompletion,
            "generate_content" => Operation::GenerateContent,
            "embeddings" => Operation::Embeddings,
            "retrieval" | "retriever" => Operation::Retrieval,
            "execute_tool" | "tool" => Operation::ExecuteTool,
            "create_agent" => Operation::CreateAgent,
            "invoke_agent" | "agent" => Operation::InvokeAgent,
            "invoke_workflow" | "workflow" => Operation::InvokeWorkflow,
            "task" => Operation::Task,
            _ => return None,
        })
    }

    /// CLIENT for calls that leave the process (model calls, retrieval, agent creation),
    /// INTERNAL for tools, in-process agents, workflows and tasks.
    pub const fn span_kind(self) -> SpanKind {
        match self {
            Operation::Chat
            | Operation::TextCompletion
            | Operation::GenerateContent
            | Operation::Embeddings
            | Operation::Retrieval
            | Operation::CreateAgent => SpanKind::Client,
            Operation::ExecuteTool
            | Operation::InvokeAgent
            | Operation::InvokeWorkflow
            | Operation::Task => SpanKind::Internal,
        }
    }

    /// Model calls whose usage counts towards token and cost totals.
    pub const fn is_inference(self) -> bool {
        matches!(
            self,
            Operation::Chat
                | Operation::TextCompletion
                | Operation::GenerateContent
                | Operation::Embeddings
        )
    }
}
