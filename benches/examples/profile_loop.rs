//! A tight loop of traced calls for `perf record`:
//!
//! ```text
//! cargo build --release -p trace-llm-benches --example profile_loop
//! perf record -g target/release/examples/profile_loop [on|unsampled|sdk] [calls]
//! ```
//!
//! Prints the time per call and the pipeline's counters (drops mean the export thread did
//! not keep up with the discarding exporter).

use std::hint::black_box;

use trace_llm::TracingConfig;
use trace_llm_benches::{Discard, REQUEST, sdk_chat, sdk_provider, traced_chat};

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "on".to_owned());
    let calls: u32 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let ratio = if which == "unsampled" { 0.0 } else { 1.0 };
    let guard = TracingConfig::default()
        .with_span_exporter(Discard)
        .sample_ratio(ratio)
        .init()
        .expect("init");
    let (_provider, tracer) = sdk_provider();
    let start = std::time::Instant::now();
    for _ in 0..calls {
        if which == "sdk" {
            black_box(sdk_chat(&tracer, black_box(&REQUEST)));
        } else {
            black_box(traced_chat(black_box(&REQUEST)));
        }
    }
    let elapsed = start.elapsed();
    let _ = guard.force_flush();
    eprintln!(
        "{which}: {:?} per call, {:?}",
        elapsed / calls,
        guard.stats()
    );
}
