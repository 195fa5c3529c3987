//! The user's own `tracing-opentelemetry` stack (its own `SdkTracerProvider`): `tracing`
//! spans created inside a trace-llm span are its children, in the shapes services have.

use futures_util::StreamExt;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use trace_llm::{Operation, trace_llm};
use trace_llm_tests::{Harness, assert_child_of, multi_thread_runtime};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

/// The user's pipeline: `tracing` spans exported by `tracing-opentelemetry` into memory.
struct UserStack {
    provider: SdkTracerProvider,
    exporter: InMemorySpanExporter,
}

impl UserStack {
    fn new() -> (UserStack, impl tracing::Subscriber + Send + Sync) {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("app")));
        (UserStack { provider, exporter }, subscriber)
    }

    fn span(&self, name: &str) -> SpanData {
        self.provider.force_flush().expect("flush");
        let spans = self.exporter.get_finished_spans().expect("spans");
        spans
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no `tracing` span {name:?} exported"))
    }
}

#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o")]
fn chat_with_http_call() -> u32 {
    let _http = tracing::info_span!("http.call").entered();
    1
}

#[test]
fn a_tracing_span_inside_is_a_child() {
    let h = Harness::new();
    let (user, subscriber) = UserStack::new();
    tracing::subscriber::with_default(subscriber, chat_with_http_call);
    h.guard().force_flush().expect("flush");
    assert_child_of(&user.span("http.call"), &h.span("chat gpt-4o"));
}

#[test]
fn request_then_chat_then_http_call_with_a_tracing_span_outside() {
    let h = Harness::new();
    let (user, subscriber) = UserStack::new();
    tracing::subscriber::with_default(subscriber, || {
        let _request = tracing::info_span!("request").entered();
        chat_with_http_call();
    });
    h.guard().force_flush().expect("flush");
    let (request, http) = (user.span("request"), user.span("http.call"));
    let chat = h.span("chat gpt-4o");
    assert_child_of(&chat, &request);
    assert_child_of(&http, &chat);
}

#[trace_llm(kind = "agent")]
async fn agent() -> u32 {
    tokio::task::yield_now().await;
    let fetched = async {
        tokio::task::yield_now().await;
        2
    }
    .instrument(tracing::info_span!("http.call"))
    .await;
    tool().await + fetched
}

#[trace_llm(kind = "tool")]
async fn tool() -> u32 {
    async { 1 }
        .instrument(tracing::info_span!("db.query"))
        .await
}

#[test]
fn async_bodies_with_instrumented_futures_on_a_multi_thread_runtime() {
    let h = Harness::new();
    let (user, subscriber) = UserStack::new();
    let rt = multi_thread_runtime(2);
    let dispatch = tracing::Dispatch::new(subscriber);
    let value = rt.block_on(async {
        // The request span is created under the user's subscriber, as a server's would be.
        let request =
            tracing::dispatcher::with_default(&dispatch, || tracing::info_span!("request"));
        tokio::spawn(
            agent()
                .instrument(request)
                .with_current_subscriber_of(&dispatch),
        )
        .await
        .expect("join")
    });
    assert_eq!(value, 3);
    h.guard().force_flush().expect("flush");
    let request = user.span("request");
    let agent = h.span("invoke_agent agent");
    let tool = h.span("execute_tool tool");
    assert_child_of(&agent, &request);
    assert_child_of(&user.span("http.call"), &agent);
    assert_child_of(&tool, &agent);
    assert_child_of(&user.span("db.query"), &tool);
}

/// `WithDispatch` for a spawned future (the worker threads have no default subscriber).
trait WithSubscriber: Sized {
    fn with_current_subscriber_of(
        self,
        dispatch: &tracing::Dispatch,
    ) -> tracing::instrument::WithDispatch<Self>;
}

impl<F: std::future::Future> WithSubscriber for F {
    fn with_current_subscriber_of(
        self,
        dispatch: &tracing::Dispatch,
    ) -> tracing::instrument::WithDispatch<Self> {
        tracing::instrument::WithSubscriber::with_subscriber(self, dispatch.clone())
    }
}

/// A stream item that records nothing.
struct Item;

impl trace_llm::StreamItem for Item {
    fn record_item(&self, _: &mut trace_llm::ResponseRecorder<'_>) {}
}

#[test]
fn tracing_spans_created_while_stream_items_are_produced() {
    let h = Harness::new();
    let (user, subscriber) = UserStack::new();
    let dispatch = tracing::Dispatch::new(subscriber);
    let rt = multi_thread_runtime(2);
    rt.block_on(
        async {
            let items = futures_util::stream::iter(0..2).then(|_| {
                async {
                    tokio::task::yield_now().await;
                    Item
                }
                .instrument(tracing::info_span!("chunk.read"))
            });
            let traced = trace_llm::span(Operation::Chat, "chat stream").stream(items);
            assert_eq!(traced.count().await, 2);
        }
        .with_current_subscriber_of(&dispatch),
    );
    h.guard().force_flush().expect("flush");
    assert_child_of(&user.span("chunk.read"), &h.span("chat stream"));
}

#[trace_llm(kind = "tool")]
fn inner_tool() -> u32 {
    1
}

#[test]
fn trace_llm_inside_tracing_inside_trace_llm() {
    let h = Harness::new();
    let (user, subscriber) = UserStack::new();
    tracing::subscriber::with_default(subscriber, || {
        trace_llm::span(Operation::InvokeAgent, "invoke_agent outer").in_scope(|| {
            let _http = tracing::info_span!("http.call").entered();
            inner_tool();
        });
    });
    h.guard().force_flush().expect("flush");
    let http = user.span("http.call");
    assert_child_of(&http, &h.span("invoke_agent outer"));
    assert_child_of(&h.span("execute_tool inner_tool"), &http);
}
