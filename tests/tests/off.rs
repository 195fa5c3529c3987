//! Off is free: before `init_tracing`, and with `OTEL_SDK_DISABLED=true`, decorated
//! functions run unchanged, record nothing, and allocate nothing more than the body does;
//! nor do unsampled spans.
//! One test per binary state, in order, because the environment is process-wide.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use trace_llm::{TracingConfig, trace_llm};
use trace_llm_tests::Harness;

/// Counts allocations made by the current thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

struct Req {
    model: String,
}

impl trace_llm::GenAiRequest for Req {
    fn model(&self) -> Option<&str> {
        Some(&self.model)
    }
    fn record_request(&self, rec: &mut trace_llm::RequestRecorder<'_>) {
        rec.temperature(0.5);
    }
}

#[trace_llm(kind = "chat", provider = "openai", request = req, attributes(step = "x", n = n))]
fn chat(req: &Req, n: u32) -> Result<u32, std::fmt::Error> {
    Ok(n + 1)
}

#[trace_llm]
async fn task(n: u32) -> u32 {
    n * 2
}

fn poll_once<F: std::future::Future>(f: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("pending"),
    }
}

#[test]
fn off_before_init_and_when_disabled() {
    let req = Req {
        model: "gpt-4o".into(),
    };

    // 1. Before init: no allocation beyond the body's (which allocates nothing).
    let before = allocations();
    for n in 0..100 {
        assert_eq!(chat(&req, n), Ok(n + 1));
        assert_eq!(poll_once(task(n)), n * 2);
    }
    assert_eq!(allocations() - before, 0, "the off path allocated");

    // The manual API too.
    let before = allocations();
    for n in 0..100u32 {
        let v = trace_llm::span(trace_llm::Operation::Chat, "chat gpt-4o")
            .provider("openai")
            .model("gpt-4o")
            .attribute("app.n", n)
            .in_scope(|| {
                trace_llm::current_span().set_attribute("app.k", n);
                trace_llm::current_span().record_usage(1, 2);
                n
            });
        assert_eq!(v, n);
        let _guard = trace_llm::span(trace_llm::Operation::Task, "step").start();
    }
    assert_eq!(
        allocations() - before,
        0,
        "the manual API allocated while off"
    );

    // Nothing from before init is exported later.
    {
        let h = Harness::new();
        assert!(h.spans().is_empty());
        chat(&req, 1).expect("ok");
        assert_eq!(h.spans().len(), 1);
    }

    // Not sampled: an unsampled span is its ids alone, sync or async, and allocates nothing
    // either (after the first call, which sets up the thread's state).
    {
        let h = Harness::with(|c| c.sample_ratio(0.0));
        chat(&req, 0).expect("ok");
        poll_once(task(0));
        let before = allocations();
        for n in 0..100 {
            assert_eq!(chat(&req, n), Ok(n + 1));
            assert_eq!(poll_once(task(n)), n * 2);
        }
        assert_eq!(allocations() - before, 0, "the unsampled path allocated");
        assert!(h.spans().is_empty());
    }

    // 2. After shutdown: off again, and free again.
    let before = allocations();
    for n in 0..100 {
        assert_eq!(chat(&req, n), Ok(n + 1));
    }
    assert_eq!(
        allocations() - before,
        0,
        "the off path allocated after shutdown"
    );

    // 3. OTEL_SDK_DISABLED=true: init succeeds and records nothing.
    // SAFETY: this binary has a single test; no other thread reads the environment now.
    unsafe { std::env::set_var("OTEL_SDK_DISABLED", "true") };
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let guard = TracingConfig::default()
        .with_span_exporter(exporter.clone())
        .init()
        .expect("init succeeds when disabled");
    let before = allocations();
    for n in 0..100 {
        assert_eq!(chat(&req, n), Ok(n + 1));
    }
    assert_eq!(allocations() - before, 0, "the disabled path allocated");
    guard.force_flush().expect("flush");
    assert!(exporter.get_finished_spans().expect("spans").is_empty());
    assert_eq!(guard.stats(), trace_llm::Stats::default());
    guard.shutdown().expect("shutdown");
    // SAFETY: as above.
    unsafe { std::env::remove_var("OTEL_SDK_DISABLED") };
}
