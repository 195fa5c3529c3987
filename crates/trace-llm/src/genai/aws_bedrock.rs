//! `aws-sdk-bedrockruntime` (feature `aws-bedrock`): `GenAiResponse` for `ConverseOutput`,
//! `GenAiChunk` for `ConverseStreamOutput` events, `GenAiRequest` for the `Converse` /
//! `ConverseStream` fluent builders, and `ErrorType` for the operations' errors and for
//! `SdkError`. Content (with capture on) goes through the same Converse mapping as the JSON
//! wire format.

use std::borrow::Cow;

use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::operation::converse::builders::ConverseFluentBuilder;
use aws_sdk_bedrockruntime::operation::converse_stream::builders::ConverseStreamFluentBuilder;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ContentBlockStart, ConverseOutput as OutputKind,
    ConverseStreamOutput, InferenceConfiguration, Message, ReasoningContentBlock,
    ReasoningContentBlockDelta, SystemContentBlock, TokenUsage, Tool, ToolResultContentBlock,
};
use aws_smithy_types::Document;
use serde_json::{Value, json};

use super::json::{bedrock_cached_usage, bedrock_message};
use super::{
    ErrorType, GenAiChunk, GenAiRequest, GenAiResponse, RequestRecorder, ResponseRecorder, Usage,
};
use crate::semconv as sc;

const PROVIDER: &str = "aws.bedrock";

fn usage(u: &TokenUsage) -> Usage {
    let count = |n: i32| i64::from(n.max(0));
    bedrock_cached_usage(
        Some(count(u.input_tokens())),
        Some(count(u.output_tokens())),
        u.cache_read_input_tokens().map(count),
        u.cache_write_input_tokens().map(count),
    )
}

fn document(d: &Document) -> Value {
    match d {
        Document::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), document(v))).collect())
        }
        Document::Array(items) => Value::Array(items.iter().map(document).collect()),
        Document::Number(n) => match *n {
            aws_smithy_types::Number::PosInt(u) => json!(u),
            aws_smithy_types::Number::NegInt(i) => json!(i),
            aws_smithy_types::Number::Float(f) => json!(f),
        },
        Document::String(s) => Value::String(s.clone()),
        Document::Bool(b) => Value::Bool(*b),
        Document::Null => Value::Null,
    }
}

/// A content block in the Converse wire format, for the shared semconv mapping.
fn block(b: &ContentBlock) -> Option<Value> {
    Some(match b {
        ContentBlock::Text(text) => json!({"text": text}),
        ContentBlock::ToolUse(t) => json!({"toolUse": {
            "toolUseId": t.tool_use_id(), "name": t.name(), "input": document(t.input())}}),
        ContentBlock::ToolResult(r) => {
            let content: Vec<Value> = r
                .content()
                .iter()
                .filter_map(|c| match c {
                    ToolResultContentBlock::Text(t) => Some(json!({"text": t})),
                    ToolResultContentBlock::Json(d) => Some(json!({"json": document(d)})),
                    _ => None,
                })
                .collect();
            json!({"toolResult": {"toolUseId": r.tool_use_id(), "content": content}})
        }
        ContentBlock::ReasoningContent(ReasoningContentBlock::ReasoningText(r)) => {
            json!({"reasoningContent": {"reasoningText": {"text": r.text()}}})
        }
        _ => return None,
    })
}

fn message(m: &Message) -> Value {
    let content: Vec<Value> = m.content().iter().filter_map(block).collect();
    bedrock_message(&json!({"role": m.role().as_str(), "content": content}))
}

impl GenAiResponse for ConverseOutput {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        rec.infer_provider(PROVIDER);
        let reason = self.stop_reason().as_str();
        rec.finish_reason(0, reason);
        if let Some(u) = self.usage() {
            rec.usage(usage(u));
        }
        if let Some(OutputKind::Message(m)) = self.output() {
            if rec.capture_content() {
                rec.output_messages(|| {
                    let mut out = message(m);
                    out["role"] = "assistant".into();
                    out["finish_reason"] =
                        super::json::messages::finish_reason_or_error(Some(reason));
                    json!([out])
                });
            }
        }
    }
}

impl GenAiChunk for ConverseStreamOutput {
    fn record_chunk(&self, rec: &mut ResponseRecorder<'_>) {
        rec.infer_provider(PROVIDER);
        let index = |i: i32| usize::try_from(i).unwrap_or(0).min(1 << 16);
        rec.chunk_has_output(matches!(self, ConverseStreamOutput::ContentBlockDelta(_)));
        match self {
            ConverseStreamOutput::ContentBlockStart(e) => {
                if let Some(ContentBlockStart::ToolUse(t)) = e.start() {
                    let i = index(e.content_block_index());
                    rec.tool_call_delta(0, i, Some(t.tool_use_id()), Some(t.name()), "");
                }
            }
            ConverseStreamOutput::ContentBlockDelta(e) => match e.delta() {
                Some(ContentBlockDelta::Text(text)) => rec.output_text_delta(0, text),
                Some(ContentBlockDelta::ToolUse(t)) => {
                    let i = index(e.content_block_index());
                    rec.tool_call_delta(0, i, None, None, t.input());
                }
                Some(ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Text(t))) => {
                    rec.reasoning_delta(0, t);
                }
                _ => {}
            },
            ConverseStreamOutput::MessageStop(e) => rec.finish_reason(0, e.stop_reason().as_str()),
            ConverseStreamOutput::Metadata(e) => {
                if let Some(u) = e.usage() {
                    rec.usage(usage(u));
                }
            }
            _ => {}
        }
    }
}

/// The request side of `Converse` and `ConverseStream` (their fluent builders hold the
/// input): the model id, the inference configuration, and (capture on) the messages,
/// system prompt and tool names.
macro_rules! converse_request {
    ($builder:ty) => {
        impl GenAiRequest for $builder {
            fn model(&self) -> Option<&str> {
                self.get_model_id().as_deref()
            }

            fn record_request(&self, rec: &mut RequestRecorder<'_>) {
                record_converse_request(
                    self.get_inference_config().as_ref(),
                    self.get_messages().as_deref().unwrap_or_default(),
                    self.get_system().as_deref().unwrap_or_default(),
                    self.get_tool_config()
                        .as_ref()
                        .map_or(&[][..], |c| c.tools()),
                    rec,
                );
            }
        }
    };
}

converse_request!(ConverseFluentBuilder);
converse_request!(ConverseStreamFluentBuilder);

fn record_converse_request(
    config: Option<&InferenceConfiguration>,
    messages: &[Message],
    system: &[SystemContentBlock],
    tools: &[Tool],
    rec: &mut RequestRecorder<'_>,
) {
    rec.infer_provider(PROVIDER);
    if let Some(c) = config {
        if let Some(n) = c.max_tokens() {
            rec.max_tokens(i64::from(n));
        }
        if let Some(t) = c.temperature() {
            rec.temperature(f64::from(t));
        }
        if let Some(p) = c.top_p() {
            rec.top_p(f64::from(p));
        }
        if !c.stop_sequences().is_empty() {
            rec.stop_sequences(c.stop_sequences().iter().cloned());
        }
    }
    if !rec.capture_content() {
        return;
    }
    if !messages.is_empty() {
        rec.input_messages(|| Value::Array(messages.iter().map(message).collect()));
    }
    let system: Vec<Value> = system
        .iter()
        .filter_map(|s| match s {
            SystemContentBlock::Text(t) => Some(json!({"type": "text", "content": t})),
            _ => None,
        })
        .collect();
    if !system.is_empty() {
        rec.system_instructions(|| Value::Array(system));
    }
    let names: Vec<Value> = tools
        .iter()
        .filter_map(|t| match t {
            Tool::ToolSpec(spec) => Some(json!({"type": "function", "name": spec.name()})),
            _ => None,
        })
        .collect();
    if !names.is_empty() {
        rec.tool_definitions(|| Value::Array(names));
    }
}

/// A service error's AWS code (`ThrottlingException`, ...) as an `error.type`.
fn service_error_type<E: ProvideErrorMetadata>(e: &E) -> Cow<'static, str> {
    Cow::Borrowed(match e.code() {
        Some(code) => super::json::aws_exception_type(code),
        None => sc::error_type::OTHER,
    })
}

macro_rules! operation_error {
    ($($error:ty),+) => {
        $(impl ErrorType for $error {
            fn error_type(&self) -> Cow<'static, str> {
                service_error_type(self)
            }
        })+
    };
}

operation_error!(
    aws_sdk_bedrockruntime::operation::converse::ConverseError,
    aws_sdk_bedrockruntime::operation::converse_stream::ConverseStreamError,
    aws_sdk_bedrockruntime::operation::invoke_model::InvokeModelError,
    aws_sdk_bedrockruntime::operation::invoke_model_with_response_stream::InvokeModelWithResponseStreamError,
    aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError
);

/// Any Bedrock operation's `SdkError`: the service's error code, else what went wrong on
/// the way (`timeout`, `dispatch_failure`, `response_error`, `construction_failure`).
impl<E: ProvideErrorMetadata, R> ErrorType for SdkError<E, R> {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            SdkError::ServiceError(e) => service_error_type(e.err()),
            SdkError::TimeoutError(_) => Cow::Borrowed("timeout"),
            SdkError::DispatchFailure(d) if d.is_timeout() => Cow::Borrowed("timeout"),
            SdkError::DispatchFailure(_) => Cow::Borrowed("dispatch_failure"),
            SdkError::ResponseError(_) => Cow::Borrowed("response_error"),
            SdkError::ConstructionFailure(_) => Cow::Borrowed("construction_failure"),
            _ => Cow::Borrowed(sc::error_type::OTHER),
        }
    }
}
