//! Span lifecycle across every function shape the macro supports: current while the body
//! runs, nested across `.await`, ended exactly once on return, error, panic and
//! cancellation.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use opentelemetry::trace::SpanKind;
use trace_llm::{ErrorType, trace_llm};
use trace_llm_tests::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[derive(Debug)]
struct Boom(&'static str);
impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "boom: {}", self.0)
    }
}
impl std::error::Error for Boom {}

#[derive(Debug)]
enum ProviderError {
    RateLimited,
}
impl ErrorType for ProviderError {
    fn error_type(&self) -> std::borrow::Cow<'static, str> {
        "rate_limit".into()
    }
}

#[trace_llm]
fn leaf(x: u32) -> u32 {
    x + 1
}

#[trace_llm]
fn sync_parent() -> u32 {
    leaf(1) + leaf(2)
}

#[test]
fn sync_function_nests_children_and_ends_once() {
    let h = Harness::new();
    assert_eq!(sync_parent(), 5);
    // A span started after the decorated call is not its child: the frame was restored.
    assert_eq!(leaf(0), 1);
    let spans = h.spans();
    assert_eq!(spans.len(), 4);
    assert_unique(&spans);
    let parent = h.span("sync_parent");
    assert_root(&parent);
    assert_eq!(kind(&parent), SpanKind::Internal);
    assert!(is_ok(&parent));
    let leaves: Vec<_> = spans.iter().filter(|s| s.name == "leaf").collect();
    assert_eq!(leaves.len(), 3);
    assert_eq!(
        leaves
            .iter()
            .filter(|l| l.parent_span_id == parent.span_context.span_id())
            .count(),
        2
    );
    assert_eq!(
        leaves
            .iter()
            .filter(|l| l.parent_span_id == opentelemetry::trace::SpanId::INVALID)
            .count(),
        1
    );
    for l in &leaves {
        assert!(l.start_time <= l.end_time);
        assert_eq!(attr_str(l, "code.function.name"), Some("lifecycle::leaf"));
    }
}

#[trace_llm]
async fn async_leaf(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n * 2
}

#[trace_llm(kind = "invoke_agent", agent = "planner")]
async fn async_parent() -> u32 {
    let a = async_leaf(1).await;
    tokio::task::yield_now().await;
    let b = async_leaf(2).await;
    a + b + leaf(0)
}

#[test]
fn async_function_nests_children_across_await() {
    let h = Harness::new();
    assert_eq!(rt().block_on(async_parent()), 7);
    let spans = h.spans();
    assert_eq!(spans.len(), 4);
    assert_unique(&spans);
    let parent = h.span("invoke_agent planner");
    assert_eq!(attr_str(&parent, "gen_ai.agent.name"), Some("planner"));
    assert_eq!(
        attr_str(&parent, "gen_ai.operation.name"),
        Some("invoke_agent")
    );
    for child in spans.iter().filter(|s| s.name != parent.name) {
        assert_child_of(child, &parent);
        assert!(child.start_time >= parent.start_time && child.end_time <= parent.end_time);
    }
}

/// Two decorated futures polled alternately: each child must find its own parent, because
/// the span is attached per poll, never held across `.await`.
#[test]
fn interleaved_futures_keep_their_own_parents() {
    let h = Harness::new();
    let (a, b) = rt().block_on(async { tokio::join!(async_parent(), async_parent()) });
    assert_eq!((a, b), (7, 7));
    let spans = h.spans();
    assert_eq!(spans.len(), 8);
    let parents: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "invoke_agent planner")
        .collect();
    assert_eq!(parents.len(), 2);
    assert_ne!(
        parents[0].span_context.trace_id(),
        parents[1].span_context.trace_id()
    );
    for parent in parents {
        let children = spans
            .iter()
            .filter(|s| s.parent_span_id == parent.span_context.span_id())
            .count();
        assert_eq!(children, 3);
    }
}

#[test]
fn async_span_starts_at_first_poll_and_never_polled_records_nothing() {
    let h = Harness::new();
    let fut = async_leaf(3);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let before_poll = std::time::SystemTime::now();
    assert_eq!(rt().block_on(fut), 6);
    drop(async_leaf(4)); // never polled
    let spans = h.spans();
    assert_eq!(spans.len(), 1);
    assert!(
        spans[0].start_time >= before_poll,
        "span started before its first poll"
    );
}

struct Counter {
    n: u32,
}

impl Counter {
    #[trace_llm(kind = "execute_tool", tool = "read")]
    fn read(&self) -> u32 {
        self.n
    }

    #[trace_llm(kind = "execute_tool", tool = "bump")]
    fn bump(&mut self) -> u32 {
        self.n += 1;
        self.n
    }

    #[trace_llm]
    fn into_inner(self) -> u32 {
        self.n
    }

    #[trace_llm]
    async fn async_read(&self) -> u32 {
        self.n
    }
}

#[trace_llm]
fn generic<T>(value: &T) -> u64
where
    T: Clone + Into<u64> + std::fmt::Debug,
{
    value.clone().into()
}

#[trace_llm]
fn returns_impl_trait(n: u32) -> impl std::fmt::Display {
    n * 10
}

/// # Safety
/// `p` must point to a valid `u32`.
#[trace_llm]
unsafe fn unsafe_read(p: *const u32) -> u32 {
    // SAFETY: the caller guarantees `p` is valid.
    unsafe { *p }
}

#[test]
fn methods_generics_impl_trait_and_unsafe() {
    let h = Harness::new();
    let mut c = Counter { n: 1 };
    assert_eq!(c.read(), 1);
    assert_eq!(c.bump(), 2);
    assert_eq!(rt().block_on(c.async_read()), 2);
    assert_eq!(c.into_inner(), 2);
    assert_eq!(generic(&7u8), 7);
    assert_eq!(returns_impl_trait(4).to_string(), "40");
    let x = 9u32;
    // SAFETY: `x` is a live u32.
    assert_eq!(unsafe { unsafe_read(&x) }, 9);
    let names: Vec<String> = h.spans().iter().map(|s| s.name.to_string()).collect();
    for expected in [
        "execute_tool read",
        "execute_tool bump",
        "async_read",
        "into_inner",
        "generic",
        "returns_impl_trait",
        "unsafe_read",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "missing {expected} in {names:?}"
        );
    }
    assert_eq!(names.len(), 7);
}

#[async_trait::async_trait]
trait Agent {
    async fn run(&self, input: u32) -> Result<u32, Boom>;
}

struct Doubler;

#[async_trait::async_trait]
impl Agent for Doubler {
    #[trace_llm(kind = "invoke_agent", agent = "doubler", attributes(input = input))]
    async fn run(&self, input: u32) -> Result<u32, Boom> {
        if input == 0 {
            return Err(Boom("zero"));
        }
        Ok(async_leaf(input).await)
    }
}

#[test]
fn async_trait_methods_are_instrumented_like_async_fns() {
    let h = Harness::new();
    let agent: Box<dyn Agent + Send + Sync> = Box::new(Doubler);
    let fut = agent.run(3);
    let before_poll = std::time::SystemTime::now();
    assert_eq!(rt().block_on(fut).expect("ok"), 6);
    assert!(rt().block_on(agent.run(0)).is_err());
    let spans = h.spans();
    let runs: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "invoke_agent doubler")
        .collect();
    assert_eq!(runs.len(), 2);
    let ok = runs
        .iter()
        .find(|s| attr_i64(s, "input") == Some(3))
        .expect("ok run");
    assert!(
        ok.start_time >= before_poll,
        "async-trait span must start at first poll"
    );
    let leaf = spans.iter().find(|s| s.name == "async_leaf").expect("leaf");
    assert_child_of(leaf, ok);
    let err = runs
        .iter()
        .find(|s| attr_i64(s, "input") == Some(0))
        .expect("err run");
    assert!(is_error(err));
    assert_eq!(attr_str(err, "error.type"), Some("Boom"));
}

#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o-mini")]
fn returns_future(n: u32) -> impl Future<Output = u32> {
    let started_inside = leaf(n); // runs at the call, inside the span
    async move {
        tokio::task::yield_now().await;
        async_leaf(started_inside).await
    }
}

#[trace_llm]
fn returns_boxed_future(n: u32) -> Pin<Box<dyn Future<Output = Result<u32, Boom>> + Send>> {
    Box::pin(async move { if n == 0 { Err(Boom("zero")) } else { Ok(n) } })
}

#[test]
fn functions_returning_futures_cover_the_future() {
    let h = Harness::new();
    let fut = returns_future(1);
    assert_eq!(rt().block_on(fut), 4);
    assert_eq!(rt().block_on(returns_boxed_future(5)).expect("ok"), 5);
    assert!(rt().block_on(returns_boxed_future(0)).is_err());
    let spans = h.spans();
    let chat = h.span("chat gpt-4o-mini");
    assert_eq!(kind(&chat), SpanKind::Client);
    let children: Vec<_> = spans
        .iter()
        .filter(|s| s.parent_span_id == chat.span_context.span_id())
        .collect();
    assert_eq!(
        children.len(),
        2,
        "leaf at the call and async_leaf in the future"
    );
    let async_child = children
        .iter()
        .find(|s| s.name == "async_leaf")
        .expect("async child");
    assert!(
        chat.end_time >= async_child.end_time,
        "span must cover the returned future"
    );
    let boxed: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "returns_boxed_future")
        .collect();
    assert_eq!(boxed.len(), 2);
    assert_eq!(boxed.iter().filter(|s| is_error(s)).count(), 1);
}

#[trace_llm(kind = "execute_tool")]
fn failing_tool(fail: bool) -> Result<&'static str, Boom> {
    if fail {
        Err(Boom("disk on fire"))?;
    }
    Ok("fine")
}

#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o")]
async fn rate_limited() -> Result<(), ProviderError> {
    Err(ProviderError::RateLimited)
}

#[test]
fn errors_set_status_error_type_and_exception_event() {
    let h = Harness::new();
    assert!(failing_tool(true).is_err());
    assert!(rt().block_on(rate_limited()).is_err());
    let tool = h.span("execute_tool failing_tool");
    assert!(is_error(&tool));
    assert_eq!(attr_str(&tool, "error.type"), Some("Boom"));
    assert_eq!(attr_str(&tool, "gen_ai.tool.name"), Some("failing_tool"));
    let exceptions = events(&tool, "exception");
    assert_eq!(exceptions.len(), 1);
    assert_eq!(
        attr_in(&exceptions[0].attributes, "exception.message").map(|v| v.to_string()),
        Some("boom: disk on fire".to_owned())
    );
    assert_eq!(
        attr_in(&exceptions[0].attributes, "exception.type").map(|v| v.to_string()),
        Some("lifecycle::Boom".to_owned())
    );
    let chat = h.span("chat gpt-4o");
    assert_eq!(attr_str(&chat, "error.type"), Some("rate_limit"));
    // Debug is the message when there is no Display.
    let ex = events(&chat, "exception");
    assert_eq!(
        attr_in(&ex[0].attributes, "exception.message").map(|v| v.to_string()),
        Some("RateLimited".to_owned())
    );
    // Success is Ok, and carries no error.type.
    assert!(failing_tool(false).is_ok());
    let spans = h.spans();
    let ok = spans
        .iter()
        .find(|s| s.name == "execute_tool failing_tool" && !is_error(s))
        .expect("ok span");
    assert!(is_ok(ok));
    assert!(attr(ok, "error.type").is_none());
}

#[trace_llm]
fn panics(msg: &'static str) -> u32 {
    leaf(1);
    panic!("{msg}")
}

#[trace_llm]
async fn panics_async() -> u32 {
    tokio::task::yield_now().await;
    panic!("async kaboom")
}

#[test]
fn panics_end_the_span_with_error_and_continue() {
    let h = Harness::new();
    let caught = std::panic::catch_unwind(|| panics("kaboom"));
    assert!(caught.is_err(), "the panic must continue");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("runtime");
    let joined = rt.block_on(async { tokio::spawn(panics_async()).await });
    assert!(joined.expect_err("task panicked").is_panic());
    let spans = h.spans();
    assert_unique(&spans);
    let sync = h.span("panics");
    assert!(is_error(&sync));
    assert_eq!(attr_str(&sync, "error.type"), Some("panic"));
    let ex = events(&sync, "exception");
    assert_eq!(
        attr_in(&ex[0].attributes, "exception.message").map(|v| v.to_string()),
        Some("kaboom".to_owned())
    );
    let leaf_span = h.span("leaf");
    assert_child_of(&leaf_span, &sync);
    let async_span = h.span("panics_async");
    assert_eq!(attr_str(&async_span, "error.type"), Some("panic"));
}

struct NoopWake;
impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

#[trace_llm(kind = "chat", provider = "anthropic", model = "claude-sonnet-4")]
async fn slow_call() -> u32 {
    std::future::pending::<()>().await;
    1
}

#[test]
fn future_dropped_unfinished_ends_once_as_cancelled() {
    let h = Harness::new();
    let waker = Waker::from(Arc::new(NoopWake));
    let mut cx = Context::from_waker(&waker);
    let mut fut = Box::pin(slow_call());
    assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Pending));
    assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Pending));
    drop(fut);
    // A timeout is the common way to cancel.
    let timed_out = rt().block_on(async {
        tokio::time::timeout(std::time::Duration::from_millis(5), slow_call()).await
    });
    assert!(timed_out.is_err());
    let spans = h.spans();
    assert_eq!(spans.len(), 2);
    assert_unique(&spans);
    for span in &spans {
        assert!(is_error(span));
        assert_eq!(attr_str(span, "error.type"), Some("cancelled"));
        assert_eq!(attr_str(span, "gen_ai.provider.name"), Some("anthropic"));
    }
}

#[test]
fn instrumentation_scope_carries_name_version_and_schema_url() {
    let h = Harness::new();
    leaf(1);
    let span = h.span("leaf");
    let scope = &span.instrumentation_scope;
    assert_eq!(scope.name(), "trace-llm");
    assert_eq!(scope.version(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(
        scope.schema_url(),
        Some("https://opentelemetry.io/schemas/1.41.0")
    );
}

#[test]
fn spans_nest_under_a_current_opentelemetry_span() {
    use opentelemetry::trace::{Span as _, TraceContextExt, Tracer, TracerProvider};
    let h = Harness::new();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let tracer = provider.tracer("http-server");
    let server_span = tracer.start("GET /answer");
    let server_ctx = server_span.span_context().clone();
    let cx = opentelemetry::Context::current_with_span(server_span);
    {
        let _attached = cx.attach();
        leaf(1);
    }
    let span = h.span("leaf");
    assert_eq!(span.span_context.trace_id(), server_ctx.trace_id());
    assert_eq!(span.parent_span_id, server_ctx.span_id());
}
