//! The workload the benchmarks share: one small chat call, written five ways (undecorated,
//! `#[trace_llm]`, hand-written `opentelemetry_sdk`, `tracing` + `tracing-opentelemetry`,
//! `fastrace`), each producing the same span: name `chat gpt-4o-mini`, kind CLIENT, and ten
//! GenAI attributes (operation, provider, request model, temperature, max tokens, response
//! id, response model, finish reasons, input and output tokens), exported into sinks that
//! discard.

use std::hint::black_box;

use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use trace_llm::{GenAiRequest, GenAiResponse, RequestRecorder, ResponseRecorder, Usage, trace_llm};

pub mod criterion_ratios;
pub mod json;

/// A chat request, as a client library would hold it.
pub struct ChatRequest {
    pub model: &'static str,
    pub temperature: f64,
    pub max_tokens: i64,
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

/// A chat response.
pub struct ChatResponse {
    pub id: &'static str,
    pub model: &'static str,
    pub finish_reason: &'static str,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

impl GenAiResponse for ChatResponse {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        rec.id(self.id);
        rec.model(self.model);
        rec.finish_reason(0, self.finish_reason);
        rec.usage(Usage::new(self.input_tokens, self.output_tokens));
    }
}

pub const REQUEST: ChatRequest = ChatRequest {
    model: "gpt-4o-mini",
    temperature: 0.2,
    max_tokens: 300,
};

/// The "model": returns at once, so that only the instrumentation is measured.
#[inline(never)]
pub fn respond(req: &ChatRequest) -> ChatResponse {
    black_box(ChatResponse {
        id: "chatcmpl-bench",
        model: "gpt-4o-mini-2024-07-18",
        finish_reason: "stop",
        input_tokens: 42 + black_box(req.max_tokens) % 2,
        output_tokens: 12,
    })
}

/// Undecorated.
#[inline(never)]
pub fn plain_chat(req: &ChatRequest) -> ChatResponse {
    respond(req)
}

/// `#[trace_llm]`: request and response extraction, status, cost.
#[inline(never)]
#[trace_llm(kind = "chat", provider = "openai", request = req)]
pub fn traced_chat(req: &ChatRequest) -> ChatResponse {
    respond(req)
}

/// The same, async.
#[trace_llm(kind = "chat", provider = "openai", request = req)]
pub async fn traced_chat_async(req: &ChatRequest) -> ChatResponse {
    respond(req)
}

/// The span as a careful user would start it with the SDK: static keys, the attributes
/// known at start passed to the builder.
fn sdk_start(
    tracer: &SdkTracer,
    req: &ChatRequest,
    stream: bool,
) -> opentelemetry_sdk::trace::Span {
    let mut attributes = Vec::with_capacity(7);
    attributes.extend([
        KeyValue::new("gen_ai.operation.name", "chat"),
        KeyValue::new("gen_ai.provider.name", "openai"),
        KeyValue::new("code.function.name", "trace_llm_benches::traced_chat"),
        KeyValue::new("gen_ai.request.model", req.model),
        KeyValue::new("gen_ai.request.temperature", req.temperature),
        KeyValue::new("gen_ai.request.max_tokens", req.max_tokens),
    ]);
    if stream {
        attributes.push(KeyValue::new("gen_ai.request.stream", true));
    }
    tracer
        .span_builder("chat gpt-4o-mini")
        .with_kind(SpanKind::Client)
        .with_attributes(attributes)
        .start(tracer)
}

/// What a call costs, as a hand-written integration would price it (gpt-4o-mini's rates).
fn sdk_cost(input: i64, output: i64) -> f64 {
    (input as f64 * 0.15 + output as f64 * 0.6) / 1e6
}

/// The response's attributes. The id is copied, as from a real response, which owns it.
fn sdk_response_attributes(
    id: &'static str,
    model: &'static str,
    finish_reason: &'static str,
    (input, output): (i64, i64),
) -> [KeyValue; 5] {
    [
        KeyValue::new("gen_ai.response.id", id.to_owned()),
        KeyValue::new("gen_ai.response.model", model),
        KeyValue::new(
            "gen_ai.response.finish_reasons",
            Value::Array(vec![opentelemetry::StringValue::from(finish_reason)].into()),
        ),
        KeyValue::new("gen_ai.usage.input_tokens", input),
        KeyValue::new("gen_ai.usage.output_tokens", output),
    ]
}

fn response_attributes(response: &ChatResponse) -> [KeyValue; 5] {
    sdk_response_attributes(
        response.id,
        response.model,
        response.finish_reason,
        (response.input_tokens, response.output_tokens),
    )
}

/// The call's own cost, as `trace_llm.usage.cost`.
fn cost_attribute(response: &ChatResponse) -> KeyValue {
    KeyValue::new(
        "trace_llm.usage.cost",
        sdk_cost(response.input_tokens, response.output_tokens),
    )
}

/// Hand-written with the OpenTelemetry SDK.
#[inline(never)]
pub fn sdk_chat(tracer: &SdkTracer, req: &ChatRequest) -> ChatResponse {
    let mut span = sdk_start(tracer, req, false);
    let response = respond(req);
    span.set_attributes(response_attributes(&response));
    span.set_attribute(cost_attribute(&response));
    span.set_status(Status::Ok);
    span.end();
    response
}

/// Ends the SDK span `cx` carries with the response's attributes.
fn end_sdk_span(cx: &Context, response: &ChatResponse) {
    use opentelemetry::trace::TraceContextExt as _;
    let span = cx.span();
    span.set_attributes(response_attributes(response));
    span.set_attribute(cost_attribute(response));
    span.set_status(Status::Ok);
    span.end();
}

/// The same, async: the span is current while the future runs.
pub async fn sdk_chat_async(tracer: &SdkTracer, req: &ChatRequest) -> ChatResponse {
    use opentelemetry::trace::{FutureExt as _, TraceContextExt as _};
    let cx = Context::current_with_span(sdk_start(tracer, req, false));
    let response = async { respond(req) }.with_context(cx.clone()).await;
    end_sdk_span(&cx, &response);
    response
}

/// The SDK span made current while the call runs, as `Tracer::in_span` does
/// (`Context::current_with_span` + `attach`): what a made-current `#[trace_llm]` span is
/// compared with.
pub fn sdk_chat_current(tracer: &SdkTracer, req: &ChatRequest) -> ChatResponse {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = Context::current_with_span(sdk_start(tracer, req, false));
    let response = {
        let _current = cx.clone().attach();
        respond(req)
    };
    end_sdk_span(&cx, &response);
    response
}

/// Declares a chat function under `tracing::instrument` with the span's fields; sync and
/// async share the one attribute.
macro_rules! tracing_chat_fn {
    ($(#[$attr:meta])* $name:ident, $($async:tt)?) => {
        $(#[$attr])*
        #[tracing::instrument(
            name = "chat gpt-4o-mini",
            skip_all,
            fields(
                otel.kind = "client",
                gen_ai.operation.name = "chat",
                gen_ai.provider.name = "openai",
                gen_ai.request.model = req.model,
                gen_ai.request.temperature = req.temperature,
                gen_ai.request.max_tokens = req.max_tokens,
                gen_ai.response.id = tracing::field::Empty,
                gen_ai.response.model = tracing::field::Empty,
                gen_ai.response.finish_reasons = tracing::field::Empty,
                gen_ai.usage.input_tokens = tracing::field::Empty,
                gen_ai.usage.output_tokens = tracing::field::Empty,
                otel.status_code = tracing::field::Empty,
            )
        )]
        pub $($async)? fn $name(req: &ChatRequest) -> ChatResponse {
            let response = respond(req);
            tracing_record(&response);
            response
        }
    };
}

tracing_chat_fn!(
    /// `tracing::instrument` with the same fields, exported by `tracing-opentelemetry`.
    #[inline(never)]
    tracing_chat,
);

tracing_chat_fn!(
    /// The same, async.
    tracing_chat_async,
    async
);

fn tracing_record(response: &ChatResponse) {
    let span = tracing::Span::current();
    span.record("gen_ai.response.id", response.id);
    span.record("gen_ai.response.model", response.model);
    span.record("gen_ai.response.finish_reasons", response.finish_reason);
    span.record("gen_ai.usage.input_tokens", response.input_tokens);
    span.record("gen_ai.usage.output_tokens", response.output_tokens);
    span.record("otel.status_code", "OK");
}

/// `fastrace`: a root span per call (fastrace records nothing without one) with the same
/// properties, reported to a reporter that discards. No OpenTelemetry export.
#[inline(never)]
pub fn fastrace_chat(req: &ChatRequest) -> ChatResponse {
    use fastrace::prelude::*;
    let root = Span::root("chat gpt-4o-mini", SpanContext::random()).with_properties(|| {
        [
            ("gen_ai.operation.name", "chat".to_owned()),
            ("gen_ai.provider.name", "openai".to_owned()),
            ("gen_ai.request.model", req.model.to_owned()),
            ("gen_ai.request.temperature", req.temperature.to_string()),
            ("gen_ai.request.max_tokens", req.max_tokens.to_string()),
        ]
    });
    let response = respond(req);
    root.add_properties(|| {
        [
            ("gen_ai.response.id", response.id.to_owned()),
            ("gen_ai.response.model", response.model.to_owned()),
            (
                "gen_ai.response.finish_reasons",
                response.finish_reason.to_owned(),
            ),
            (
                "gen_ai.usage.input_tokens",
                response.input_tokens.to_string(),
            ),
            (
                "gen_ai.usage.output_tokens",
                response.output_tokens.to_string(),
            ),
        ]
    });
    response
}

// ---- four levels: agent → workflow → tool → chat -------------------------------------------

#[trace_llm(kind = "invoke_agent", agent = "planner")]
pub fn traced_agent(req: &ChatRequest) -> ChatResponse {
    traced_workflow(req)
}

#[trace_llm(kind = "invoke_workflow", workflow = "answer")]
fn traced_workflow(req: &ChatRequest) -> ChatResponse {
    traced_tool(req)
}

#[trace_llm(kind = "execute_tool", tool = "search")]
fn traced_tool(req: &ChatRequest) -> ChatResponse {
    traced_chat(req)
}

/// Four nested SDK spans, each current while its child runs, with what trace-llm records
/// on them: the function, the response the level returns, and the totals of the calls below
/// (summed by hand from the response).
pub fn sdk_agent(tracer: &SdkTracer, req: &ChatRequest) -> ChatResponse {
    fn level(
        tracer: &SdkTracer,
        name: &'static str,
        attributes: &[(&'static str, &'static str)],
        body: impl FnOnce() -> ChatResponse,
    ) -> ChatResponse {
        use opentelemetry::trace::TraceContextExt as _;
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Internal)
            .with_attributes(attributes.iter().map(|&(k, v)| KeyValue::new(k, v)))
            .start(tracer);
        let cx = Context::current_with_span(span);
        let response = {
            let _attached = cx.clone().attach();
            body()
        };
        let span = cx.span();
        // Not the usage: the model call below reports it (each token counted once).
        let [id, model, reasons, _, _] = response_attributes(&response);
        span.set_attributes([id, model, reasons]);
        let (input, output) = (response.input_tokens, response.output_tokens);
        span.set_attributes([
            KeyValue::new("trace_llm.usage.total_cost", sdk_cost(input, output)),
            KeyValue::new("trace_llm.usage.total_input_tokens", input),
            KeyValue::new("trace_llm.usage.total_output_tokens", output),
            KeyValue::new("trace_llm.usage.inference_calls", 1),
        ]);
        span.set_status(Status::Ok);
        span.end();
        response
    }
    level(
        tracer,
        "invoke_agent planner",
        &[
            ("gen_ai.operation.name", "invoke_agent"),
            ("gen_ai.agent.name", "planner"),
            ("code.function.name", "trace_llm_benches::traced_agent"),
        ],
        || {
            level(
                tracer,
                "invoke_workflow answer",
                &[
                    ("gen_ai.operation.name", "invoke_workflow"),
                    ("gen_ai.workflow.name", "answer"),
                    ("code.function.name", "trace_llm_benches::traced_workflow"),
                ],
                || {
                    level(
                        tracer,
                        "execute_tool search",
                        &[
                            ("gen_ai.operation.name", "execute_tool"),
                            ("gen_ai.tool.name", "search"),
                            ("gen_ai.tool.type", "function"),
                            ("code.function.name", "trace_llm_benches::traced_tool"),
                        ],
                        || sdk_chat(tracer, req),
                    )
                },
            )
        },
    )
}

#[tracing::instrument(name = "invoke_agent planner", skip_all, fields(gen_ai.operation.name = "invoke_agent", gen_ai.agent.name = "planner"))]
pub fn tracing_agent(req: &ChatRequest) -> ChatResponse {
    tracing_workflow(req)
}

#[tracing::instrument(name = "invoke_workflow answer", skip_all, fields(gen_ai.operation.name = "invoke_workflow", gen_ai.workflow.name = "answer"))]
fn tracing_workflow(req: &ChatRequest) -> ChatResponse {
    tracing_tool(req)
}

#[tracing::instrument(name = "execute_tool search", skip_all, fields(gen_ai.operation.name = "execute_tool", gen_ai.tool.name = "search"))]
fn tracing_tool(req: &ChatRequest) -> ChatResponse {
    tracing_chat(req)
}

/// Four levels under fastrace: a root and three local children.
pub fn fastrace_agent(req: &ChatRequest) -> ChatResponse {
    use fastrace::prelude::*;
    let root = Span::root("invoke_agent planner", SpanContext::random()).with_properties(|| {
        [
            ("gen_ai.operation.name", "invoke_agent"),
            ("gen_ai.agent.name", "planner"),
        ]
    });
    let _parent = root.set_local_parent();
    fastrace_workflow(req)
}

#[fastrace::trace(name = "invoke_workflow answer")]
fn fastrace_workflow(req: &ChatRequest) -> ChatResponse {
    fastrace_tool(req)
}

#[fastrace::trace(name = "execute_tool search")]
fn fastrace_tool(req: &ChatRequest) -> ChatResponse {
    fastrace_leaf(req)
}

#[fastrace::trace(name = "chat gpt-4o-mini", properties = { "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai" })]
fn fastrace_leaf(req: &ChatRequest) -> ChatResponse {
    respond(req)
}

// ---- streams -------------------------------------------------------------------------------

/// A streamed chat chunk: text, then a finish reason, then usage (as OpenAI sends them).
pub struct Chunk {
    pub text: &'static str,
    pub finish_reason: Option<&'static str>,
    pub usage: Option<(i64, i64)>,
}

impl trace_llm::GenAiChunk for Chunk {
    fn record_chunk(&self, rec: &mut ResponseRecorder<'_>) {
        rec.id("chatcmpl-bench");
        rec.model("gpt-4o-mini-2024-07-18");
        if let Some(reason) = self.finish_reason {
            rec.finish_reason(0, reason);
        }
        if let Some((input, output)) = self.usage {
            rec.usage(Usage::new(input, output));
        }
    }
}

/// Ten chunks.
pub fn chunks() -> impl Iterator<Item = Chunk> {
    (0..10).map(|i| Chunk {
        text: "word ",
        finish_reason: (i == 8).then_some("stop"),
        usage: (i == 9).then_some((42, 8)),
    })
}

/// A streamed chat call under `#[trace_llm]`: the span covers the consumption.
#[trace_llm(kind = "chat", provider = "openai", request = req, stream)]
pub fn traced_stream(req: &ChatRequest) -> impl futures_core::Stream<Item = Chunk> {
    let _ = req;
    futures_util::stream::iter(chunks())
}

/// Drains a stream that is always ready.
pub fn drain<S: futures_core::Stream>(stream: S) -> usize {
    use futures_util::StreamExt;
    let mut stream = std::pin::pin!(stream);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut n = 0;
    while let std::task::Poll::Ready(Some(item)) = stream.poll_next_unpin(&mut cx) {
        black_box(item);
        n += 1;
    }
    n
}

/// Runs a future that is always ready.
pub fn ready<F: std::future::Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// The same stream, hand-written with the SDK: the span is current on every poll, and the
/// attributes are read from the chunks.
pub fn sdk_stream(tracer: &SdkTracer, req: &ChatRequest) -> usize {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = Context::current_with_span(sdk_start(tracer, req, true));
    let start = std::time::Instant::now();
    let mut first_chunk = None;
    let mut n = 0;
    let mut finish = None;
    let mut usage = None;
    for chunk in chunks() {
        let _attached = cx.clone().attach();
        first_chunk.get_or_insert_with(|| start.elapsed().as_secs_f64());
        finish = chunk.finish_reason.or(finish);
        usage = chunk.usage.or(usage);
        black_box(&chunk);
        n += 1;
    }
    let span = cx.span();
    span.set_attributes(sdk_response_attributes(
        "chatcmpl-bench",
        "gpt-4o-mini-2024-07-18",
        finish.unwrap_or("stop"),
        usage.unwrap_or_default(),
    ));
    let (input, output) = usage.unwrap_or_default();
    span.set_attribute(KeyValue::new(
        "trace_llm.usage.cost",
        sdk_cost(input, output),
    ));
    span.set_attribute(KeyValue::new("trace_llm.stream.chunks", n));
    if let Some(seconds) = first_chunk {
        span.set_attribute(KeyValue::new(
            "gen_ai.response.time_to_first_chunk",
            seconds,
        ));
    }
    span.set_status(Status::Ok);
    span.end();
    n as usize
}

/// The same stream under `tracing`: the span is entered on every item.
pub fn tracing_stream(req: &ChatRequest) -> usize {
    let span = tracing::info_span!(
        "chat gpt-4o-mini",
        otel.kind = "client",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "openai",
        gen_ai.request.model = req.model,
        gen_ai.request.temperature = req.temperature,
        gen_ai.request.max_tokens = req.max_tokens,
        gen_ai.request.stream = true,
        gen_ai.response.id = tracing::field::Empty,
        gen_ai.response.model = tracing::field::Empty,
        gen_ai.response.finish_reasons = tracing::field::Empty,
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
    );
    let mut n = 0;
    for chunk in chunks() {
        let _entered = span.enter();
        if let Some(reason) = chunk.finish_reason {
            span.record("gen_ai.response.finish_reasons", reason);
        }
        if let Some((input, output)) = chunk.usage {
            span.record("gen_ai.usage.input_tokens", input);
            span.record("gen_ai.usage.output_tokens", output);
        }
        black_box(&chunk);
        n += 1;
    }
    span.record("gen_ai.response.id", "chatcmpl-bench");
    span.record("gen_ai.response.model", "gpt-4o-mini-2024-07-18");
    n
}

// ---- sinks ---------------------------------------------------------------------------------

/// A span exporter that drops every batch.
#[derive(Debug, Default, Clone)]
pub struct Discard;

/// Spans that reached a [`Discard`] exporter, in this process: what a batch processor
/// delivered, as opposed to what it dropped on a full queue.
pub static DISCARDED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        DISCARDED.fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
        drop(black_box(batch));
        Ok(())
    }
}

/// A fastrace reporter that drops every batch.
pub struct DiscardReporter;

impl fastrace::collector::Reporter for DiscardReporter {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        drop(black_box(spans));
    }
}

/// The SDK's batch processor (its own thread) into [`Discard`], with trace-llm's queue
/// bound ([`trace_llm::DEFAULT_QUEUE_SIZE`]) instead of its default 2,048: with the smaller
/// queue it drops most spans when called in a tight loop (silently), and a baseline that
/// exports a fraction of its spans is not the same work.
pub fn sdk_provider() -> (SdkTracerProvider, SdkTracer) {
    use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor};
    let processor = BatchSpanProcessor::builder(Discard)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(trace_llm::DEFAULT_QUEUE_SIZE)
                .build(),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("bench");
    (provider, tracer)
}

/// A `tracing` dispatcher exporting through trace-llm's layer into trace-llm's pipeline.
pub fn trace_llm_layer_dispatch() -> tracing::Dispatch {
    use tracing_subscriber::layer::SubscriberExt as _;
    tracing::Dispatch::new(tracing_subscriber::registry().with(trace_llm::tracing::layer()))
}

/// A `tracing` dispatcher with the registry alone: what every exporting layer sits on
/// (span slots, the current-span stack, dispatch) before it does any work of its own.
pub fn registry_dispatch() -> tracing::Dispatch {
    tracing::Dispatch::new(tracing_subscriber::registry())
}

/// A `tracing` dispatcher with the registry and a layer that only keeps a value per span
/// in the registry's extensions and finds it again on each enter, record and close, as
/// every exporting layer must: the least an exporting layer can cost.
pub fn registry_slots_dispatch() -> tracing::Dispatch {
    use tracing_subscriber::layer::SubscriberExt as _;
    tracing::Dispatch::new(tracing_subscriber::registry().with(SlotsOnly))
}

/// The layer of [`registry_slots_dispatch`].
struct SlotsOnly;

/// What [`SlotsOnly`] keeps per span: how often it was found.
struct Slot(u64);

impl<S> tracing_subscriber::Layer<S> for SlotsOnly
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Slot(0));
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        _: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id)
            && let Some(slot) = span.extensions_mut().get_mut::<Slot>()
        {
            slot.0 = black_box(slot.0 + 1);
        }
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            black_box(span.extensions().get::<Slot>().map(|slot| slot.0));
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            black_box(span.extensions_mut().remove::<Slot>());
        }
    }
}

/// A `tracing` dispatcher exporting through `tracing-opentelemetry` into the SDK above.
pub fn tracing_dispatch(tracer: SdkTracer) -> tracing::Dispatch {
    use tracing_subscriber::layer::SubscriberExt as _;
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    tracing::Dispatch::new(subscriber)
}
