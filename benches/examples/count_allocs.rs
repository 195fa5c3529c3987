//! Allocations per traced call, on both threads (the call's and the export thread's):
//!
//! ```text
//! cargo run --release -p trace-llm-benches --example count_allocs
//! TRACE_ALLOCS=1 cargo run --release -p trace-llm-benches --example count_allocs  # where
//! ```
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use trace_llm::TracingConfig;
use trace_llm_benches::*;

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
// SAFETY: forwards to the system allocator; only counts.
thread_local! { static TRACE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) }; }
fn trace(size: usize) {
    if TRACE.with(|t| t.replace(false)) {
        let bt = std::backtrace::Backtrace::force_capture().to_string();
        let frames: Vec<&str> = bt
            .lines()
            .filter(|l| l.contains("trace_llm") && !l.contains("at "))
            .take(4)
            .collect();
        eprintln!("alloc {size}: {}", frames.join(" <- "));
        TRACE.with(|t| t.set(true));
    }
}
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        trace(layout.size());
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        trace(new);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new as u64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let guard = TracingConfig::default()
        .with_span_exporter(Discard)
        .init()
        .expect("init");
    let (_p, tracer) = sdk_provider();
    for _ in 0..1000 {
        black_box(traced_chat(black_box(&REQUEST)));
    }
    let _ = guard.force_flush();
    if std::env::var_os("TRACE_ALLOCS").is_some() {
        TRACE.with(|t| t.set(true));
        black_box(traced_chat(black_box(&REQUEST)));
        TRACE.with(|t| t.set(false));
        return;
    }
    type Call<'a> = Box<dyn Fn() + 'a>;
    let cases: [(&str, Call); 3] = [
        (
            "trace_llm",
            Box::new(|| {
                black_box(traced_chat(black_box(&REQUEST)));
            }),
        ),
        (
            "otel_sdk",
            Box::new(|| {
                black_box(sdk_chat(&tracer, black_box(&REQUEST)));
            }),
        ),
        (
            "trace_llm stream",
            Box::new(|| {
                black_box(drain(traced_stream(black_box(&REQUEST))));
            }),
        ),
    ];
    for (name, call) in cases {
        let (a, b) = (
            ALLOCS.load(Ordering::Relaxed),
            BYTES.load(Ordering::Relaxed),
        );
        for _ in 0..1000 {
            call();
        }
        let (a2, b2) = (
            ALLOCS.load(Ordering::Relaxed),
            BYTES.load(Ordering::Relaxed),
        );
        eprintln!(
            "{name}: {:.1} allocations, {:.0} bytes per call (both threads)",
            (a2 - a) as f64 / 1000.0,
            (b2 - b) as f64 / 1000.0
        );
        let _ = guard.force_flush();
    }
}
