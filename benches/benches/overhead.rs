//! Per-call overhead, side by side in one run: the same small chat call undecorated; under
//! `#[trace_llm]` before init, unsampled and on; hand-written with the OpenTelemetry SDK;
//! under `tracing` + `tracing-opentelemetry`; under `fastrace`. Sync, async, streamed,
//! nested four deep, and on two threads at once. Every exporter discards.
//!
//! ```text
//! cargo bench -p trace-llm-benches --bench overhead
//! ```
//!
//! Prints criterion's report, then a table of medians with their ratio to the hand-written
//! SDK span (`otel_sdk`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use opentelemetry_sdk::trace::SdkTracer;
use trace_llm::{TracingConfig, TracingGuard};
use trace_llm_benches::*;

/// Runs `f` with the trace-llm pipeline on (sampling `ratio`), exporting into a discarding
/// sink; reports spans the pipeline dropped, since a dropped span costs less than an exported
/// one.
fn with_pipeline(ratio: f64, f: impl FnOnce()) {
    let guard: TracingGuard = TracingConfig::default()
        .service_name("bench")
        .with_span_exporter(Discard)
        .sample_ratio(ratio)
        .init()
        .expect("init");
    f();
    let _ = guard.force_flush();
    let stats = guard.stats();
    if stats.dropped > 0 {
        eprintln!(
            "note: trace-llm dropped {} of {} spans (queue full)",
            stats.dropped, stats.started
        );
    }
    let _ = guard.shutdown();
}

struct Baselines<'a> {
    tracer: &'a SdkTracer,
    dispatch: &'a tracing::Dispatch,
}

fn sync(group: &mut BenchmarkGroup<'_, WallTime>, b: &Baselines<'_>) {
    group.bench_function("undecorated", |x| {
        x.iter(|| plain_chat(black_box(&REQUEST)))
    });
    // Before the first init of the process: the state a library user's tests run in.
    group.bench_function("trace_llm_off", |x| {
        x.iter(|| traced_chat(black_box(&REQUEST)))
    });
    // The SDK baseline also before the pipeline runs: the order benchmarks run in moves
    // results on a shared machine, and the table shows by how much.
    group.bench_function("otel_sdk_first", |x| {
        x.iter(|| sdk_chat(b.tracer, black_box(&REQUEST)))
    });
    with_pipeline(0.0, || {
        group.bench_function("trace_llm_unsampled", |x| {
            x.iter(|| traced_chat(black_box(&REQUEST)))
        });
    });
    with_pipeline(1.0, || {
        group.bench_function("trace_llm", |x| x.iter(|| traced_chat(black_box(&REQUEST))));
    });
    group.bench_function("otel_sdk", |x| {
        x.iter(|| sdk_chat(b.tracer, black_box(&REQUEST)))
    });
    tracing::dispatcher::with_default(b.dispatch, || {
        group.bench_function("tracing_otel", |x| {
            x.iter(|| tracing_chat(black_box(&REQUEST)))
        });
    });
    group.bench_function("fastrace", |x| {
        x.iter(|| fastrace_chat(black_box(&REQUEST)))
    });
}

fn asynchronous(group: &mut BenchmarkGroup<'_, WallTime>, b: &Baselines<'_>) {
    group.bench_function("undecorated", |x| {
        x.iter(|| ready(async { plain_chat(black_box(&REQUEST)) }))
    });
    group.bench_function("trace_llm_off", |x| {
        x.iter(|| ready(traced_chat_async(black_box(&REQUEST))))
    });
    with_pipeline(1.0, || {
        group.bench_function("trace_llm", |x| {
            x.iter(|| ready(traced_chat_async(black_box(&REQUEST))))
        });
    });
    group.bench_function("otel_sdk", |x| {
        x.iter(|| ready(sdk_chat_async(b.tracer, black_box(&REQUEST))))
    });
    tracing::dispatcher::with_default(b.dispatch, || {
        group.bench_function("tracing_otel", |x| {
            x.iter(|| ready(tracing_chat_async(black_box(&REQUEST))))
        });
    });
}

fn stream(group: &mut BenchmarkGroup<'_, WallTime>, b: &Baselines<'_>) {
    group.bench_function("undecorated", |x| {
        x.iter(|| drain(futures_util::stream::iter(chunks())))
    });
    group.bench_function("trace_llm_off", |x| {
        x.iter(|| drain(traced_stream(black_box(&REQUEST))))
    });
    with_pipeline(1.0, || {
        group.bench_function("trace_llm", |x| {
            x.iter(|| drain(traced_stream(black_box(&REQUEST))))
        });
    });
    group.bench_function("otel_sdk", |x| {
        x.iter(|| sdk_stream(b.tracer, black_box(&REQUEST)))
    });
    tracing::dispatcher::with_default(b.dispatch, || {
        group.bench_function("tracing_otel", |x| {
            x.iter(|| tracing_stream(black_box(&REQUEST)))
        });
    });
}

fn nested(group: &mut BenchmarkGroup<'_, WallTime>, b: &Baselines<'_>) {
    group.bench_function("trace_llm_off", |x| {
        x.iter(|| traced_agent(black_box(&REQUEST)))
    });
    with_pipeline(1.0, || {
        group.bench_function("trace_llm", |x| {
            x.iter(|| traced_agent(black_box(&REQUEST)))
        });
    });
    group.bench_function("otel_sdk", |x| {
        x.iter(|| sdk_agent(b.tracer, black_box(&REQUEST)))
    });
    tracing::dispatcher::with_default(b.dispatch, || {
        group.bench_function("tracing_otel", |x| {
            x.iter(|| tracing_agent(black_box(&REQUEST)))
        });
    });
    group.bench_function("fastrace", |x| {
        x.iter(|| fastrace_agent(black_box(&REQUEST)))
    });
}

/// Two threads calling at once; the time reported is per call on each thread.
fn two_threads(group: &mut BenchmarkGroup<'_, WallTime>, b: &Baselines<'_>) {
    fn contended(iters: u64, call: impl Fn() + Sync) -> Duration {
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..iters {
                        call();
                    }
                });
            }
        });
        start.elapsed()
    }
    with_pipeline(1.0, || {
        group.bench_function("trace_llm", |x| {
            x.iter_custom(|iters| {
                contended(iters, || {
                    black_box(traced_chat(black_box(&REQUEST)));
                })
            })
        });
    });
    group.bench_function("otel_sdk", |x| {
        x.iter_custom(|iters| {
            contended(iters, || {
                black_box(sdk_chat(b.tracer, black_box(&REQUEST)));
            })
        })
    });
    group.bench_function("tracing_otel", |x| {
        x.iter_custom(|iters| {
            contended(iters, || {
                tracing::dispatcher::with_default(b.dispatch, || {
                    black_box(tracing_chat(black_box(&REQUEST)));
                });
            })
        })
    });
    group.bench_function("fastrace", |x| {
        x.iter_custom(|iters| {
            contended(iters, || {
                black_box(fastrace_chat(black_box(&REQUEST)));
            })
        })
    });
}

const GROUPS: [(&str, &[&str]); 5] = [
    (
        "sync",
        &[
            "undecorated",
            "trace_llm_off",
            "otel_sdk_first",
            "trace_llm_unsampled",
            "trace_llm",
            "otel_sdk",
            "tracing_otel",
            "fastrace",
        ],
    ),
    (
        "async",
        &[
            "undecorated",
            "trace_llm_off",
            "trace_llm",
            "otel_sdk",
            "tracing_otel",
        ],
    ),
    (
        "stream",
        &[
            "undecorated",
            "trace_llm_off",
            "trace_llm",
            "otel_sdk",
            "tracing_otel",
        ],
    ),
    (
        "nested4",
        &[
            "trace_llm_off",
            "trace_llm",
            "otel_sdk",
            "tracing_otel",
            "fastrace",
        ],
    ),
    (
        "threads2",
        &["trace_llm", "otel_sdk", "tracing_otel", "fastrace"],
    ),
];

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    fastrace::set_reporter(DiscardReporter, fastrace::collector::Config::default());
    let (provider, tracer) = sdk_provider();
    let dispatch = tracing_dispatch(tracer.clone());
    let baselines = Baselines {
        tracer: &tracer,
        dispatch: &dispatch,
    };
    type Run = fn(&mut BenchmarkGroup<'_, WallTime>, &Baselines<'_>);
    let runs: [(&str, Run); 5] = [
        ("sync", sync),
        ("async", asynchronous),
        ("stream", stream),
        ("nested4", nested),
        ("threads2", two_threads),
    ];
    for (name, run) in runs {
        let mut group = c.benchmark_group(name);
        run(&mut group, &baselines);
        group.finish();
    }
    c.final_summary();
    let _ = provider.shutdown();
    fastrace::flush();
    println!("\n{}", criterion_ratios::table(&GROUPS, "otel_sdk"));
}
