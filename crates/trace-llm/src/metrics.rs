//! GenAI client metrics (semconv v1.41), recorded by the same instrumented calls as the
//! spans, sampled or not: `gen_ai.client.operation.duration`, `gen_ai.client.token.usage`,
//! and for streams `gen_ai.client.operation.time_to_first_chunk` and
//! `gen_ai.client.operation.time_per_output_chunk`; tools, agents, workflows and retrievals
//! under `trace_llm.operation.duration`. Attributes never include request-context values:
//! metrics must stay low-cardinality.
//!
//! Collection goes through a manual reader that the export thread drives, so the OTLP metric
//! exporter runs on the same runtime as the span exporter.

use std::borrow::Cow;
use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry::metrics::{Histogram, Meter};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
};

use crate::operation::Operation;
use crate::semconv as sc;
use crate::usage::Usage;

/// What the metrics of one span are recorded from: plain values the span core hands over,
/// so that metrics depend on no span machinery.
pub(crate) struct CallFacts<'a> {
    pub(crate) operation: Operation,
    // Borrowed as the span holds them: cloning a `Cow::Borrowed` name allocates nothing.
    pub(crate) provider: Option<&'a Cow<'static, str>>,
    pub(crate) request_model: Option<&'a Cow<'static, str>>,
    pub(crate) response_model: Option<&'a Cow<'static, str>>,
    /// The span's attributes, where the server and the step's names are found.
    pub(crate) attributes: &'a [KeyValue],
    pub(crate) error_type: Option<&'a Cow<'static, str>>,
    pub(crate) usage: Usage,
    pub(crate) time_to_first_chunk: Option<f64>,
}

/// Explicit bucket boundaries the conventions give for durations, in seconds.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/// Explicit bucket boundaries the conventions give for token counts.
pub const TOKEN_BUCKETS: [f64; 14] = [
    1.0,
    4.0,
    16.0,
    64.0,
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
];

/// Name of the duration histogram of tools, agents, workflows and retrievals.
pub const TRACE_LLM_OPERATION_DURATION: &str = "trace_llm.operation.duration";

pub(crate) struct Metrics {
    operation_duration: Histogram<f64>,
    token_usage: Histogram<u64>,
    time_to_first_chunk: Histogram<f64>,
    time_per_output_chunk: Histogram<f64>,
    step_duration: Histogram<f64>,
    /// The newest conventions' instruments, when they were asked for.
    latest: Option<LatestInstruments>,
}

/// The instruments of the newest GenAI conventions that have no v1.41.0 counterpart of the
/// same shape: per-operation-kind durations and per-direction token histograms.
struct LatestInstruments {
    embeddings_duration: Histogram<f64>,
    input_tokens: Histogram<u64>,
    output_tokens: Histogram<u64>,
    embeddings_input_tokens: Histogram<u64>,
    tool_duration: Histogram<f64>,
    agent_duration: Histogram<f64>,
    workflow_duration: Histogram<f64>,
}

impl Metrics {
    /// The instruments of the v1.41.0 conventions, or of the newest ones (`latest`).
    pub(crate) fn new(meter: &Meter, latest: bool) -> Self {
        use crate::semconv::latest as l;
        let seconds = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build()
        };
        let tokens = |name: &'static str, description: &'static str| {
            meter
                .u64_histogram(name)
                .with_unit("{token}")
                .with_description(description)
                .with_boundaries(TOKEN_BUCKETS.to_vec())
                .build()
        };
        let pick =
            |stable: &'static str, newest: &'static str| if latest { newest } else { stable };
        Metrics {
            operation_duration: seconds(
                pick("gen_ai.client.operation.duration", l::INFERENCE_DURATION),
                "GenAI operation duration.",
            ),
            token_usage: tokens(
                "gen_ai.client.token.usage",
                "Number of input and output tokens used.",
            ),
            time_to_first_chunk: seconds(
                pick(
                    "gen_ai.client.operation.time_to_first_chunk",
                    l::INFERENCE_TIME_TO_FIRST_CHUNK,
                ),
                "Time to receive the first chunk of a streaming response.",
            ),
            time_per_output_chunk: seconds(
                pick(
                    "gen_ai.client.operation.time_per_output_chunk",
                    l::INFERENCE_TIME_PER_OUTPUT_CHUNK,
                ),
                "Time per output chunk after the first one.",
            ),
            step_duration: seconds(
                TRACE_LLM_OPERATION_DURATION,
                "Duration of tool executions, agent and workflow invocations, and retrievals.",
            ),
            latest: latest.then(|| LatestInstruments {
                embeddings_duration: seconds(l::EMBEDDINGS_DURATION, "GenAI embeddings duration."),
                input_tokens: tokens(
                    l::INFERENCE_INPUT_TOKENS,
                    "Input tokens used per inference operation.",
                ),
                output_tokens: tokens(
                    l::INFERENCE_OUTPUT_TOKENS,
                    "Output tokens used per inference operation.",
                ),
                embeddings_input_tokens: tokens(
                    l::EMBEDDINGS_INPUT_TOKENS,
                    "Input tokens used per embeddings operation.",
                ),
                tool_duration: seconds(l::EXECUTE_TOOL_DURATION, "Duration of a tool execution."),
                agent_duration: seconds(
                    l::INVOKE_AGENT_DURATION,
                    "Duration of an agent invocation.",
                ),
                workflow_duration: seconds(l::WORKFLOW_DURATION, "Duration of a workflow."),
            }),
        }
    }

    /// Operation, provider, models and server: what the GenAI client metrics share.
    fn model_attributes(state: &CallFacts<'_>) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(7);
        if let Some(op) = state.operation.as_str() {
            attributes.push(KeyValue::new(sc::GEN_AI_OPERATION_NAME, op));
        }
        if let Some(provider) = state.provider {
            attributes.push(KeyValue::new(sc::GEN_AI_PROVIDER_NAME, provider.clone()));
        }
        if let Some(model) = state.request_model {
            attributes.push(KeyValue::new(sc::GEN_AI_REQUEST_MODEL, model.clone()));
        }
        if let Some(model) = state.response_model {
            attributes.push(KeyValue::new(sc::GEN_AI_RESPONSE_MODEL, model.clone()));
        }
        for key in [sc::SERVER_ADDRESS, sc::SERVER_PORT] {
            if let Some(kv) = state.attributes.iter().find(|kv| kv.key.as_str() == key) {
                attributes.push(kv.clone());
            }
        }
        attributes
    }

    /// What a tool / agent / workflow / retrieval duration is broken down by: names the
    /// application chose, a bounded set.
    fn step_attributes(state: &CallFacts<'_>) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(4);
        if let Some(op) = state.operation.as_str() {
            attributes.push(KeyValue::new(sc::GEN_AI_OPERATION_NAME, op));
        }
        for key in [
            sc::GEN_AI_TOOL_NAME,
            sc::GEN_AI_AGENT_NAME,
            sc::GEN_AI_WORKFLOW_NAME,
            sc::GEN_AI_DATA_SOURCE_ID,
            sc::GEN_AI_PROVIDER_NAME,
        ] {
            if let Some(kv) = state.attributes.iter().find(|kv| kv.key.as_str() == key) {
                attributes.push(kv.clone());
            }
        }
        attributes
    }

    /// Records a span that ended after `duration` seconds.
    pub(crate) fn record_end(&self, state: &CallFacts<'_>, duration: f64) {
        if state.operation == Operation::Task {
            return;
        }
        let error = state
            .error_type
            .map(|e| KeyValue::new(sc::ERROR_TYPE, Value::from(e.clone())));
        if !state.operation.is_inference() {
            let mut attributes = Self::step_attributes(state);
            attributes.extend(error);
            let histogram = match (&self.latest, state.operation) {
                (Some(l), Operation::ExecuteTool) => &l.tool_duration,
                (Some(l), Operation::InvokeAgent | Operation::CreateAgent) => &l.agent_duration,
                (Some(l), Operation::InvokeWorkflow) => &l.workflow_duration,
                _ => &self.step_duration,
            };
            histogram.record(duration, &attributes);
            return;
        }
        let attributes = Self::model_attributes(state);
        let mut with_error = attributes.clone();
        with_error.extend(error);
        if let Some(latest) = &self.latest {
            return self.record_latest(latest, state, duration, &attributes, &with_error);
        }
        self.operation_duration.record(duration, &with_error);
        let usage = &state.usage;
        for (kind, count) in [
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
        ] {
            if let Some(count) = count.and_then(|c| u64::try_from(c).ok()) {
                let mut attributes = attributes.clone();
                attributes.push(KeyValue::new(sc::GEN_AI_TOKEN_TYPE, kind));
                self.token_usage.record(count, &attributes);
            }
        }
        if let Some(ttfc) = state.time_to_first_chunk {
            self.time_to_first_chunk.record(ttfc, &attributes);
        }
    }

    /// A model call in the newest conventions: inference and embeddings apart, token
    /// counts per direction (failed calls included, as those conventions ask).
    fn record_latest(
        &self,
        latest: &LatestInstruments,
        state: &CallFacts<'_>,
        duration: f64,
        attributes: &[KeyValue],
        with_error: &[KeyValue],
    ) {
        let usage = &state.usage;
        let count = |n: Option<i64>| n.and_then(|c| u64::try_from(c).ok());
        if state.operation == Operation::Embeddings {
            latest.embeddings_duration.record(duration, with_error);
            if let Some(n) = count(usage.input_tokens) {
                latest.embeddings_input_tokens.record(n, with_error);
            }
            return;
        }
        self.operation_duration.record(duration, with_error);
        if let Some(n) = count(usage.input_tokens) {
            latest.input_tokens.record(n, with_error);
        }
        if let Some(n) = count(usage.output_tokens) {
            latest.output_tokens.record(n, with_error);
        }
        if let Some(ttfc) = state.time_to_first_chunk {
            self.time_to_first_chunk.record(ttfc, attributes);
        }
    }

    /// The attributes of a stream's time-per-chunk measurements.
    pub(crate) fn chunk_attributes(&self, state: &CallFacts<'_>) -> Vec<KeyValue> {
        Self::model_attributes(state)
    }

    /// Records the time between two chunks of a streamed response.
    pub(crate) fn record_chunk_gap(&self, operation: Operation, attributes: &[KeyValue], gap: f64) {
        if operation.is_inference() {
            self.time_per_output_chunk.record(gap, attributes);
        }
    }
}

/// A manual reader shared between the meter provider (which registers it) and the export
/// thread (which collects through it).
#[derive(Debug, Clone)]
pub(crate) struct SharedReader(pub(crate) Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// The meter provider and the instruments spans record into.
pub(crate) struct MetricsSetup {
    pub(crate) provider: SdkMeterProvider,
    pub(crate) reader: SharedReader,
    pub(crate) instruments: Metrics,
}

impl MetricsSetup {
    pub(crate) fn new(
        resource: opentelemetry_sdk::Resource,
        scope: InstrumentationScope,
        temporality: Temporality,
        latest: bool,
    ) -> Self {
        let reader = SharedReader(Arc::new(
            ManualReader::builder()
                .with_temporality(temporality)
                .build(),
        ));
        let provider = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_reader(reader.clone())
            .build();
        let meter = opentelemetry::metrics::MeterProvider::meter_with_scope(&provider, scope);
        MetricsSetup {
            instruments: Metrics::new(&meter, latest),
            provider,
            reader,
        }
    }
}
