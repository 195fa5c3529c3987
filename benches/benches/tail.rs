//! The cost of outcome-based sampling, side by side in one run: the four-span agent call
//! (`traced_agent`) exported (ratio 1), dropped at the head (ratio 0, no rule), and held for
//! the outcome rules then dropped (ratio 0 + `keep_errors`, the common case: a clean trace).
//! Every exporter discards.
//!
//! ```text
//! cargo bench -p trace-llm-benches --bench tail
//! ```
//!
//! Also prints the memory a held span takes (measured by holding `tail_max_spans` spans
//! of one long trace and reading the process's resident set before and after).

use std::hint::black_box;

use criterion::Criterion;
use trace_llm::{TracingConfig, TracingGuard};
use trace_llm_benches::*;

fn pipeline(configure: impl FnOnce(TracingConfig) -> TracingConfig) -> TracingGuard {
    configure(
        TracingConfig::default()
            .service_name("bench")
            .with_span_exporter(Discard)
            .metrics(false),
    )
    .init()
    .expect("init")
}

/// Resident set size in KiB (Linux), 0 elsewhere.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    {
        let mut group = c.benchmark_group("tail");
        for (label, ratio, rules) in [
            ("ratio_1_exported", 1.0, false),
            ("ratio_0_dropped_at_head", 0.0, false),
            ("ratio_0_held_then_dropped", 0.0, true),
        ] {
            let guard = pipeline(|c| {
                let c = c.sample_ratio(ratio);
                if rules { c.keep_errors(true) } else { c }
            });
            group.bench_function(label, |b| b.iter(|| traced_agent(black_box(&REQUEST))));
            let _ = guard.force_flush();
            let stats = guard.stats();
            eprintln!(
                "{label}: started {} exported {} tail_dropped {}",
                stats.started, stats.exported, stats.tail_dropped
            );
            let _ = guard.shutdown();
        }
        group.finish();
    }
    // Memory per held span: one long trace holding 10,000 agent calls (40,000 spans; the
    // bound is raised so that none is dropped), then its root ends clean and all are freed.
    let guard = pipeline(|c| c.sample_ratio(0.0).keep_errors(true).tail_max_spans(40_001));
    let before = rss_kib();
    let root = trace_llm::span(trace_llm::Operation::Task, "long root").start();
    for _ in 0..10_000 {
        black_box(traced_agent(&REQUEST));
    }
    let held = rss_kib();
    drop(root);
    let _ = guard.force_flush();
    eprintln!(
        "held spans: 40,000 took {} KiB ({:.2} KiB per span); tail_dropped {}",
        held.saturating_sub(before),
        held.saturating_sub(before) as f64 / 40_000.0,
        guard.stats().tail_dropped
    );
    let _ = guard.shutdown();
    c.final_summary();
}
