//! Every attribute key, event name and well-known value this crate emits, pinned to the
//! OpenTelemetry GenAI semantic conventions [v1.41.0](SCHEMA_URL).
//!
//! Nothing else in the crate spells a key: the GenAI constants of
//! `opentelemetry-semantic-conventions` 0.33 are feature-gated and deprecated (the GenAI
//! conventions moved to their own repository), so the keys live here. Keys under
//! `trace_llm.*` are this project's own and are listed in the README.
//!
//! ```
//! use trace_llm::semconv;
//! assert_eq!(semconv::GEN_AI_USAGE_INPUT_TOKENS, "gen_ai.usage.input_tokens");
//! ```

/// Schema URL of the semantic-conventions version this crate follows; it is set on the
/// instrumentation scope of every exported span.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.41.0";

/// Name of the instrumentation scope of every span this crate produces.
pub const SCOPE_NAME: &str = "trace-llm";

// --- gen_ai.* : operation, provider, request ----------------------------------------------

/// The name of the operation being performed (`chat`, `embeddings`, `execute_tool`, ...).
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// The GenAI provider as identified by the instrumentation (`openai`, `anthropic`, ...).
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// The name of the model a request is being made to.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// The temperature setting of the request (double).
pub const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
/// The maximum number of tokens the model generates (int).
pub const GEN_AI_REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
/// The top_p sampling setting (double).
pub const GEN_AI_REQUEST_TOP_P: &str = "gen_ai.request.top_p";
/// The top_k sampling setting (double); also the number of documents a retrieval asks for.
pub const GEN_AI_REQUEST_TOP_K: &str = "gen_ai.request.top_k";
/// The frequency penalty setting (double).
pub const GEN_AI_REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
/// The presence penalty setting (double).
pub const GEN_AI_REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
/// Sequences that stop generation (string array).
pub const GEN_AI_REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";
/// The request seed (int).
pub const GEN_AI_REQUEST_SEED: &str = "gen_ai.request.seed";
/// Whether the request was made in streaming mode (boolean).
pub const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";
/// The number of candidate completions asked for, set only when not 1 (int).
pub const GEN_AI_REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";
/// The encoding formats asked for in an embeddings request (string array).
pub const GEN_AI_REQUEST_ENCODING_FORMATS: &str = "gen_ai.request.encoding_formats";
/// The output modality the client asked for (`text`, `json`, `image`, `speech`).
pub const GEN_AI_OUTPUT_TYPE: &str = "gen_ai.output.type";
/// The number of dimensions of the resulting embeddings (int).
pub const GEN_AI_EMBEDDINGS_DIMENSION_COUNT: &str = "gen_ai.embeddings.dimension.count";
/// Conversation (session, thread) identifier.
pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// The session, as Phoenix and Langfuse group traces by it (general semconv `session.id`).
pub const SESSION_ID: &str = "session.id";
/// The end user (general semconv `user.id`).
pub const USER_ID: &str = "user.id";

// --- gen_ai.* : response and usage ---------------------------------------------------------

/// The unique identifier of the completion.
pub const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";
/// The name of the model that generated the response.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// Reasons the model stopped generating, one per choice (string array).
pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
/// Seconds from the request to the first chunk of a streaming response (double).
pub const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
/// Input (prompt) tokens, including cached ones (int).
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// Output (completion) tokens (int).
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// Input tokens served from a provider-managed cache (int).
pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
/// Input tokens written to a provider-managed cache (int).
pub const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_creation.input_tokens";
/// Output tokens used for reasoning (int).
pub const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";

// --- gen_ai.* : content (opt-in) -----------------------------------------------------------

/// The chat history sent to the model, JSON in the semconv input-messages schema.
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// The messages the model returned, JSON in the semconv output-messages schema.
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// System instructions sent separately from the chat history, JSON.
pub const GEN_AI_SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
/// Tool definitions available to the model, JSON.
pub const GEN_AI_TOOL_DEFINITIONS: &str = "gen_ai.tool.definitions";
/// Arguments passed to a tool call, JSON.
pub const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
/// Result of a tool call, JSON.
pub const GEN_AI_TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
/// Query text of a retrieval.
pub const GEN_AI_RETRIEVAL_QUERY_TEXT: &str = "gen_ai.retrieval.query.text";
/// Documents a retrieval returned, JSON (`id`, `score`).
pub const GEN_AI_RETRIEVAL_DOCUMENTS: &str = "gen_ai.retrieval.documents";

// --- gen_ai.* : tools, agents, workflows, data sources, evaluation --------------------------

/// Name of the tool.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// Identifier of the tool call.
pub const GEN_AI_TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
/// Type of the tool (`function`, `extension`, `datastore`).
pub const GEN_AI_TOOL_TYPE: &str = "gen_ai.tool.type";
/// Description of the tool.
pub const GEN_AI_TOOL_DESCRIPTION: &str = "gen_ai.tool.description";
/// Human-readable name of the agent.
pub const GEN_AI_AGENT_NAME: &str = "gen_ai.agent.name";
/// Unique identifier of the agent.
pub const GEN_AI_AGENT_ID: &str = "gen_ai.agent.id";
/// Free-form description of the agent.
pub const GEN_AI_AGENT_DESCRIPTION: &str = "gen_ai.agent.description";
/// Version of the agent.
pub const GEN_AI_AGENT_VERSION: &str = "gen_ai.agent.version";
/// Human-readable name of the workflow.
pub const GEN_AI_WORKFLOW_NAME: &str = "gen_ai.workflow.name";
/// Identifier of the data source a retrieval reads.
pub const GEN_AI_DATA_SOURCE_ID: &str = "gen_ai.data_source.id";
/// Name of the event carrying an evaluation result.
pub const GEN_AI_EVALUATION_RESULT_EVENT: &str = "gen_ai.evaluation.result";
/// Name of the evaluation metric.
pub const GEN_AI_EVALUATION_NAME: &str = "gen_ai.evaluation.name";
/// Score of the evaluation (double).
pub const GEN_AI_EVALUATION_SCORE_VALUE: &str = "gen_ai.evaluation.score.value";
/// Human-readable label of the score.
pub const GEN_AI_EVALUATION_SCORE_LABEL: &str = "gen_ai.evaluation.score.label";
/// Free-form explanation of the score.
pub const GEN_AI_EVALUATION_EXPLANATION: &str = "gen_ai.evaluation.explanation";
/// Type of tokens a `gen_ai.client.token.usage` measurement counts.
pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";

// --- openai.* : OpenAI-specific attributes ------------------------------------------------

/// The OpenAI API used: `chat_completions` or `responses`.
pub const OPENAI_API_TYPE: &str = "openai.api.type";
/// The service tier asked for (when not `auto`).
pub const OPENAI_REQUEST_SERVICE_TIER: &str = "openai.request.service_tier";
/// The service tier that served the request.
pub const OPENAI_RESPONSE_SERVICE_TIER: &str = "openai.response.service_tier";
/// The backend configuration fingerprint.
pub const OPENAI_RESPONSE_SYSTEM_FINGERPRINT: &str = "openai.response.system_fingerprint";

// --- general conventions -------------------------------------------------------------------

/// Class of error the operation ended with (low cardinality).
pub const ERROR_TYPE: &str = "error.type";
/// GenAI server address.
pub const SERVER_ADDRESS: &str = "server.address";
/// GenAI server port (int).
pub const SERVER_PORT: &str = "server.port";
/// Fully qualified name of the instrumented function.
pub const CODE_FUNCTION_NAME: &str = "code.function.name";
/// Source file of the code a span or event comes from.
pub const CODE_FILE_PATH: &str = "code.file.path";
/// Line in [`CODE_FILE_PATH`] of the code a span or event comes from.
pub const CODE_LINE_NUMBER: &str = "code.line.number";
/// Name of the event recording an exception.
pub const EXCEPTION_EVENT: &str = "exception";
/// Type of the exception.
pub const EXCEPTION_TYPE: &str = "exception.type";
/// Message of the exception.
pub const EXCEPTION_MESSAGE: &str = "exception.message";
/// Resource: logical name of the service.
pub const SERVICE_NAME: &str = "service.name";
/// Resource: version of the service.
pub const SERVICE_VERSION: &str = "service.version";
/// Resource: deployment environment (`production`, `staging`).
pub const DEPLOYMENT_ENVIRONMENT_NAME: &str = "deployment.environment.name";
/// Resource: name of the distribution producing the telemetry.
pub const TELEMETRY_DISTRO_NAME: &str = "telemetry.distro.name";
/// Resource: version of the distribution producing the telemetry.
pub const TELEMETRY_DISTRO_VERSION: &str = "telemetry.distro.version";

// --- trace_llm.* : this project's own keys (listed in the README) ---------------------------

/// Prompt version from the request context.
pub const TRACE_LLM_PROMPT_VERSION: &str = "trace_llm.prompt.version";
/// The prompt (template) name from the request context (v1.41.0 has no key for it).
pub const TRACE_LLM_PROMPT_NAME: &str = "trace_llm.prompt.name";
/// User cohort from the request context.
pub const TRACE_LLM_USER_COHORT: &str = "trace_llm.user.cohort";
/// Tenant from the request context.
pub const TRACE_LLM_TENANT_ID: &str = "trace_llm.tenant.id";
/// Number of items a traced stream or iterator yielded (int).
pub const TRACE_LLM_STREAM_CHUNKS: &str = "trace_llm.stream.chunks";
/// Number of documents a retrieval returned (int).
pub const TRACE_LLM_RETRIEVAL_DOCUMENTS: &str = "trace_llm.retrieval.documents";
/// Highest relevance score among the retrieved documents (double).
pub const TRACE_LLM_RETRIEVAL_TOP_SCORE: &str = "trace_llm.retrieval.top_score";
/// Cost of this call in USD (double).
pub const TRACE_LLM_USAGE_COST: &str = "trace_llm.usage.cost";
/// Cost in USD of this span's descendants and itself (double).
pub const TRACE_LLM_USAGE_TOTAL_COST: &str = "trace_llm.usage.total_cost";
/// Event on the span whose cost made its request cross its budget.
pub const TRACE_LLM_BUDGET_EXCEEDED_EVENT: &str = "trace_llm.budget.exceeded";
/// On a request scope's root span: its request spent more than its budget.
pub const TRACE_LLM_BUDGET_EXCEEDED: &str = "trace_llm.budget.exceeded";
/// The request's budget in USD (on the budget event).
pub const TRACE_LLM_BUDGET_USD: &str = "trace_llm.budget.usd";
/// On a local root span kept by an outcome rule the ratio sampler had dropped: which rule
/// (`error`, `slow`, `cost`).
pub const TRACE_LLM_SAMPLING_KEPT_BY: &str = "trace_llm.sampling.kept_by";
/// Input tokens of this span's descendants and itself (int).
pub const TRACE_LLM_USAGE_TOTAL_INPUT_TOKENS: &str = "trace_llm.usage.total_input_tokens";
/// Output tokens of this span's descendants and itself (int).
pub const TRACE_LLM_USAGE_TOTAL_OUTPUT_TOKENS: &str = "trace_llm.usage.total_output_tokens";
/// Inference and embeddings calls among this span's descendants and itself that had usage
/// but no known price, so are missing from `trace_llm.usage.total_cost` (int; only when > 0).
pub const TRACE_LLM_USAGE_UNPRICED_CALLS: &str = "trace_llm.usage.unpriced_calls";
/// Inference and embeddings calls among this span's descendants and itself (int).
pub const TRACE_LLM_USAGE_INFERENCE_CALLS: &str = "trace_llm.usage.inference_calls";
/// Set (true) on a content attribute's span when a content value was cut to the size limit.
pub const TRACE_LLM_CONTENT_TRUNCATED: &str = "trace_llm.content.truncated";
/// Event added when the response was cut by a length limit (`length`, `max_tokens`).
pub const TRACE_LLM_RESPONSE_TRUNCATED_EVENT: &str = "response_truncated";

/// Well-known values of [`GEN_AI_OPERATION_NAME`].
pub mod operation {
    /// Chat completion.
    pub const CHAT: &str = "chat";
    /// Legacy text completion.
    pub const TEXT_COMPLETION: &str = "text_completion";
    /// Multimodal content generation.
    pub const GENERATE_CONTENT: &str = "generate_content";
    /// Embeddings.
    pub const EMBEDDINGS: &str = "embeddings";
    /// Retrieval from a data source.
    pub const RETRIEVAL: &str = "retrieval";
    /// Tool execution.
    pub const EXECUTE_TOOL: &str = "execute_tool";
    /// Agent creation.
    pub const CREATE_AGENT: &str = "create_agent";
    /// Agent invocation.
    pub const INVOKE_AGENT: &str = "invoke_agent";
    /// Workflow invocation.
    pub const INVOKE_WORKFLOW: &str = "invoke_workflow";
}

/// Well-known values of [`ERROR_TYPE`] this crate reports (see the README's error table).
pub mod error_type {
    /// The future or stream was dropped before it finished.
    pub const CANCELLED: &str = "cancelled";
    /// The function panicked.
    pub const PANIC: &str = "panic";
    /// Fallback when nothing more specific is known.
    pub const OTHER: &str = "_OTHER";
}

/// Attribute namespaces only the library writes: a request context extracted from an
/// untrusted `baggage` header never sets a key in them, so a remote caller cannot change
/// what a span says about its own operation (`gen_ai.operation.name`, usage, cost) or
/// duplicate a key the library sets.
pub const RESERVED_PREFIXES: [&str; 7] = [
    "gen_ai.",
    "trace_llm.",
    "code.",
    "openai.",
    "error.",
    "exception.",
    "server.",
];

/// Whether `key` is one the library writes itself (see [`RESERVED_PREFIXES`]), so remote
/// baggage may not set it.
pub fn is_reserved(key: &str) -> bool {
    RESERVED_PREFIXES.iter().any(|p| key.starts_with(p))
        || matches!(
            key,
            "session.id" | "user.id" | "otel.status_code" | "otel.status_description"
        )
}

/// Names of the newest GenAI conventions (open-telemetry/semantic-conventions-genai), used
/// instead of the v1.41.0 ones when `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`
/// or `TracingConfig::gen_ai_latest_experimental(true)`.
pub mod latest {
    /// Replaces `gen_ai.usage.cache_creation.input_tokens`.
    pub const GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: &str = "gen_ai.usage.cache_write.input_tokens";
    /// Replaces `trace_llm.prompt.name`.
    pub const GEN_AI_PROMPT_NAME: &str = "gen_ai.prompt.name";
    /// Replaces `trace_llm.prompt.version`.
    pub const GEN_AI_PROMPT_VERSION: &str = "gen_ai.prompt.version";
    /// Inference calls' duration (replaces `gen_ai.client.operation.duration` for them).
    pub const INFERENCE_DURATION: &str = "gen_ai.client.inference.duration";
    /// Embeddings calls' duration (replaces `gen_ai.client.operation.duration` for them).
    pub const EMBEDDINGS_DURATION: &str = "gen_ai.client.embeddings.duration";
    /// Replaces `gen_ai.client.operation.time_to_first_chunk`.
    pub const INFERENCE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.client.inference.time_to_first_chunk";
    /// Replaces `gen_ai.client.operation.time_per_output_chunk`.
    pub const INFERENCE_TIME_PER_OUTPUT_CHUNK: &str =
        "gen_ai.client.inference.time_per_output_chunk";
    /// Input tokens per inference call (replaces `gen_ai.client.token.usage`, type input).
    pub const INFERENCE_INPUT_TOKENS: &str = "gen_ai.client.inference.operation.input_tokens";
    /// Output tokens per inference call (replaces `gen_ai.client.token.usage`, type output).
    pub const INFERENCE_OUTPUT_TOKENS: &str = "gen_ai.client.inference.operation.output_tokens";
    /// Input tokens per embeddings call (replaces `gen_ai.client.token.usage` for them).
    pub const EMBEDDINGS_INPUT_TOKENS: &str = "gen_ai.client.embeddings.operation.input_tokens";
    /// Tool executions' duration (replaces `trace_llm.operation.duration` for them).
    pub const EXECUTE_TOOL_DURATION: &str = "gen_ai.execute_tool.duration";
    /// Agent invocations' duration (replaces `trace_llm.operation.duration` for them).
    pub const INVOKE_AGENT_DURATION: &str = "gen_ai.invoke_agent.duration";
    /// Workflows' duration (replaces `trace_llm.operation.duration` for them).
    pub const WORKFLOW_DURATION: &str = "gen_ai.workflow.duration";
}
