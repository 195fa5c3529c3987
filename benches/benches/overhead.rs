//! Per-call overhead, side by side in one run: the same small chat call undecorated; under
//! `#[trace_llm]` before init, unsampled and on; `#[tracing::instrument]` with no subscriber
//! (async); hand-written with the OpenTelemetry SDK;
//! under `tracing` + `tracing-opentelemetry`; under `fastrace`. Sync, async, streamed,
//! nested four deep, on two threads at once, and with the request and response as JSON
//! values (a recorded OpenAI chat completion); made current for OpenTelemetry's context
//! against the SDK's `in_span` pattern; `tracing` spans through trace-llm's layer against
//! `tracing-opentelemetry`. Every exporter discards.
//!
//! ```text
//! cargo bench -p trace-llm-benches --bench overhead
//! ```
//!
//! Prints criterion's report, then a table of medians with their ratio to the hand-written
//! SDK span (`otel_sdk`).

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use trace_llm::{TracingConfig, TracingGuard};
use trace_llm_benches::*;

/// Runs `f` with the trace-llm pipeline on (sampling `ratio`), exporting into a discarding
/// sink; reports spans the pipeline dropped, since a dropped span costs less than an exported
/// one.
fn with_pipeline(label: &str, ratio: f64, f: impl FnOnce()) {
    let guard: TracingGuard = TracingConfig::default()
        .service_name("bench")
        .with_span_exporter(Discard)
        .sample_ratio(ratio)
        .init()
        .expect("init");
    f();
    let _ = guard.force_flush();
    let stats = guard.stats();
    if ratio > 0.0 {
        note_delivery(label, stats.started, stats.exported, stats.dropped);
    }
    let _ = guard.shutdown();
}

struct Baselines<'a> {
    provider: &'a SdkTracerProvider,
    tracer: &'a SdkTracer,
    dispatch: &'a tracing::Dispatch,
}

thread_local! {
    /// Calls of baselines that export through the SDK, on this (criterion's) thread.
    static CALLS: Cell<u64> = const { Cell::new(0) };
}
/// The same, made by the two-thread benchmarks.
static CONTENDED_CALLS: AtomicU64 = AtomicU64::new(0);
/// One line per SDK benchmark: spans started and spans the exporter received.
static DELIVERY: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Counts one call of a baseline that exports through the SDK.
fn counted<R>(result: R) -> R {
    CALLS.with(|c| c.set(c.get() + 1));
    result
}

/// Calls counted so far, and spans the discarding exporter received so far.
fn sdk_mark() -> (u64, u64) {
    (
        CALLS.with(Cell::get) + CONTENDED_CALLS.load(Ordering::Relaxed),
        DISCARDED.load(Ordering::Relaxed),
    )
}

/// Notes how many of the spans an SDK benchmark started reached the exporter: the batch
/// processor drops the rest, silently, when its queue is full, and a dropped span costs
/// less than an exported one.
fn sdk_note(b: &Baselines<'_>, (calls, exported): (u64, u64), label: &str, spans_per_call: u64) {
    let _ = b.provider.force_flush();
    let (calls_now, exported_now) = sdk_mark();
    let started = (calls_now - calls) * spans_per_call;
    let delivered = exported_now - exported;
    let lost = started.saturating_sub(delivered);
    note_delivery(label, started, delivered, lost);
}

/// One row of the delivery table printed after the ratios.
fn note_delivery(label: &str, started: u64, delivered: u64, lost: u64) {
    DELIVERY.lock().unwrap().push(format!(
        "| {label} | {started} | {delivered} | {:.1} % |",
        100.0 * lost as f64 / started.max(1) as f64
    ));
}

/// Hands fastrace's collected spans to its reporter now: its collector thread would
/// otherwise still be working through them while the next benchmark runs, and take CPU
/// from it. (The SDK pipeline is flushed by `sdk_note`; ours is shut down after each use.)
fn drain_fastrace() {
    fastrace::flush();
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
    let mark = sdk_mark();
    group.bench_function("otel_sdk_first", |x| {
        x.iter(|| counted(sdk_chat(b.tracer, black_box(&REQUEST))))
    });
    sdk_note(b, mark, "sync/otel_sdk_first", 1);
    with_pipeline("sync/trace_llm_unsampled", 0.0, || {
        group.bench_function("trace_llm_unsampled", |x| {
            x.iter(|| traced_chat(black_box(&REQUEST)))
        });
    });
    with_pipeline("sync/trace_llm", 1.0, || {
        group.bench_function("trace_llm", |x| x.iter(|| traced_chat(black_box(&REQUEST))));
    });
    let mark = sdk_mark();
    group.bench_function("otel_sdk", |x| {
        x.iter(|| counted(sdk_chat(b.tracer, black_box(&REQUEST))))
    });
    sdk_note(b, mark, "sync/otel_sdk", 1);
    let mark = sdk_mark();
    tracing::dispatcher::with_default(b.dispatch, || {
        group.bench_function("tracing_otel", |x| {
            x.iter(|| counted(tracing_chat(black_box(&REQUEST))))
        });
    });
    sdk_note(b, mark, "sync/tracing_otel", 1);
    group.bench_function("fastrace", |x| {
        x.iter(|| fastrace_chat(black_box(&REQUEST)))
    });
    drain_fastrace();
}

fn asynchronous(group: &mut BenchmarkGroup<'_, WallTime>, b: &Baselines<'_>) {
    group.bench_function("undecorated", |x| {
        x.iter(|| ready(async { plain_chat(black_box(&REQUEST)) }))
    });
    group.bench_function("trace_llm_off", |x| {
        x.iter(|| ready(traced_chat_async(black_box(&REQUEST))))
    });
    with_pipeline("async/trace_llm", 1.0, || {
        group.bench_function("trace_llm", |x| {
            x.iter(|| ready(traced_chat_async(black_box(&REQUEST))))
        });
    });
    let mark = sdk_mark();
    group.bench_function("otel_sdk", |x| {
        x.iter(|| counted(ready(sdk_chat_async(b.tracer, black_box(&REQUEST)))))
    });
    sdk_note(b, mark, "async/otel_sdk", 1);
    let mark = sdk_mark();
    tracing::dispatcher::with_default(b.dispatch, || {
        group.bench_function("tracing_otel", |x| {
            x.iter(|| counted(ready(tracing_chat_async(black_box(&REQUEST)))))
        });
    });
    sdk_note(b, mark, "async/tracing_otel", 1);
    // `#[tracing::instrument]` on the same `async fn` with no subscriber: the off cost the
    // target compares with (`async fn` keeps its signature in both). Last: a callsite first
    // reached with no subscriber caches its interest, which would slow nothing but could
    // skew `tracing_otel` above.
    group.bench_function("tracing_off", |x| {
        x.iter(|| ready(tracing_chat_async(black_box(&REQUEST))))
    });
}

fn stream(group: &mut BenchmarkGroup<'_, WallTime>, b: &Baselines<'_>) {
    group.bench_function("undecorated", |x| {
        x.iter(|| drain(futures_util::stream::iter(chunks())))
    });
    group.bench_function("trace_llm_off", |x| {
        x.iter(|| drain(traced_stream(black_box(&REQUEST))))
    });
    with_pipeline("stream/trace_llm", 1.0, || {
        group.bench_function("trace_llm", |x| {
            x.iter(|| drain(traced_stream(black_box(&REQUEST))))
        });
    });
    let mark = sdk_mark();
    group.bench_function("otel_sdk", |x| {
        x.iter(|| counted(sdk_stream(b.tracer, black_box(&REQUEST))))
    });
    sdk_note(b, mark, "stream/otel_sdk", 1);
    let mark = sdk_mark();
    tracing::dispatcher::with_default(b.dispatch, || {
        group.bench_function("tracing_otel", |x| {
            x.iter(|| counted(tracing_stream(black_box(&REQUEST))))
        });
    });
    sdk_note(b, mark, "stream/tracing_otel", 1);
}

fn nested(group: &mut BenchmarkGroup<'_, WallTime>, b: &Baselines<'_>) {
    group.bench_function("trace_llm_off", |x| {
        x.iter(|| traced_agent(black_box(&REQUEST)))
    });
    with_pipeline("nested4/trace_llm", 1.0, || {
        group.bench_function("trace_llm", |x| {
            x.iter(|| traced_agent(black_box(&REQUEST)))
        });
    });
    let mark = sdk_mark();
    group.bench_function("otel_sdk", |x| {
        x.iter(|| counted(sdk_agent(b.tracer, black_box(&REQUEST))))
    });
    sdk_note(b, mark, "nested4/otel_sdk", 4);
    let mark = sdk_mark();
    tracing::dispatcher::with_default(b.dispatch, || {
        group.bench_function("tracing_otel", |x| {
            x.iter(|| counted(tracing_agent(black_box(&REQUEST))))
        });
    });
    sdk_note(b, mark, "nested4/tracing_otel", 4);
    group.bench_function("fastrace", |x| {
        x.iter(|| fastrace_agent(black_box(&REQUEST)))
    });
    drain_fastrace();
}

/// Two threads calling at once; the time reported is per call on each thread.
fn two_threads(group: &mut BenchmarkGroup<'_, WallTime>, b: &Baselines<'_>) {
    fn contended(iters: u64, call: impl Fn() + Sync) -> Duration {
        CONTENDED_CALLS.fetch_add(2 * iters, Ordering::Relaxed);
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
    with_pipeline("threads2/trace_llm", 1.0, || {
        group.bench_function("trace_llm", |x| {
            x.iter_custom(|iters| {
                contended(iters, || {
                    black_box(traced_chat(black_box(&REQUEST)));
                })
            })
        });
    });
    let mark = sdk_mark();
    group.bench_function("otel_sdk", |x| {
        x.iter_custom(|iters| {
            contended(iters, || {
                black_box(sdk_chat(b.tracer, black_box(&REQUEST)));
            })
        })
    });
    sdk_note(b, mark, "threads2/otel_sdk", 1);
    let mark = sdk_mark();
    group.bench_function("tracing_otel", |x| {
        x.iter_custom(|iters| {
            contended(iters, || {
                tracing::dispatcher::with_default(b.dispatch, || {
                    black_box(tracing_chat(black_box(&REQUEST)));
                });
            })
        })
    });
    sdk_note(b, mark, "threads2/tracing_otel", 1);
    group.bench_function("fastrace", |x| {
        x.iter_custom(|iters| {
            contended(iters, || {
                black_box(fastrace_chat(black_box(&REQUEST)));
            })
        })
    });
    drain_fastrace();
}

/// The request and response as JSON values, read through trace-llm's JSON impls and, in the
/// baseline, with `Value::get`.
fn json_payloads(group: &mut BenchmarkGroup<'_, WallTime>, b: &Baselines<'_>) {
    let req = &json::PAYLOADS.request;
    group.bench_function("undecorated", |x| {
        x.iter(|| json::plain_json_chat(black_box(req)))
    });
    with_pipeline("json/trace_llm", 1.0, || {
        group.bench_function("trace_llm", |x| {
            x.iter(|| json::traced_json_chat(black_box(req)))
        });
    });
    let mark = sdk_mark();
    group.bench_function("otel_sdk", |x| {
        x.iter(|| counted(json::sdk_json_chat(b.tracer, black_box(req))))
    });
    sdk_note(b, mark, "json/otel_sdk", 1);
}

/// Spans made current for the code they wrap, where OpenTelemetry's `Context::current()` and
/// a `tracing-opentelemetry` layer see them: `#[trace_llm]` (which always does this) against
/// the SDK span attached as `Tracer::in_span` does.
fn made_current(group: &mut BenchmarkGroup<'_, WallTime>, b: &Baselines<'_>) {
    with_pipeline("current/trace_llm", 1.0, || {
        group.bench_function("trace_llm", |x| x.iter(|| traced_chat(black_box(&REQUEST))));
    });
    let mark = sdk_mark();
    group.bench_function("otel_sdk", |x| {
        x.iter(|| counted(sdk_chat_current(b.tracer, black_box(&REQUEST))))
    });
    sdk_note(b, mark, "current/otel_sdk", 1);
}

/// The same `tracing` spans (`#[tracing::instrument]` with ten fields, five recorded later)
/// exported by `tracing-opentelemetry` into the SDK pipeline, and by
/// `trace_llm::tracing::layer()` into trace-llm's; both exporters discard. Beside them, what
/// bounds any layer from below: the same calls with the `tracing` registry alone (no layer,
/// nothing exported), with a layer that only finds its per-span value in the registry on
/// each callback (what every exporting layer does first), and one complete `#[trace_llm]`
/// span for the same call (the work exporting a span adds, at trace-llm's cheapest).
fn layer(group: &mut BenchmarkGroup<'_, WallTime>, b: &Baselines<'_>) {
    let ours = trace_llm_layer_dispatch();
    with_pipeline("layer/trace_llm_layer", 1.0, || {
        tracing::dispatcher::with_default(&ours, || {
            group.bench_function("trace_llm_layer", |x| {
                x.iter(|| tracing_chat(black_box(&REQUEST)))
            });
        });
    });
    with_pipeline("layer/trace_llm_span", 1.0, || {
        group.bench_function("trace_llm_span", |x| {
            x.iter(|| traced_chat(black_box(&REQUEST)))
        });
    });
    tracing::dispatcher::with_default(&registry_dispatch(), || {
        group.bench_function("registry_only", |x| {
            x.iter(|| tracing_chat(black_box(&REQUEST)))
        });
    });
    tracing::dispatcher::with_default(&registry_slots_dispatch(), || {
        group.bench_function("registry_slots", |x| {
            x.iter(|| tracing_chat(black_box(&REQUEST)))
        });
    });
    let mark = sdk_mark();
    tracing::dispatcher::with_default(b.dispatch, || {
        group.bench_function("tracing_otel", |x| {
            x.iter(|| counted(tracing_chat(black_box(&REQUEST))))
        });
    });
    sdk_note(b, mark, "layer/tracing_otel", 1);
    let mark = sdk_mark();
    group.bench_function("otel_sdk", |x| {
        x.iter(|| counted(sdk_chat(b.tracer, black_box(&REQUEST))))
    });
    sdk_note(b, mark, "layer/otel_sdk", 1);
}

const GROUPS: [(&str, &[&str]); 8] = [
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
            "tracing_off",
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
    ("json", &["undecorated", "trace_llm", "otel_sdk"]),
    ("current", &["trace_llm", "otel_sdk"]),
    (
        "layer",
        &[
            "trace_llm_layer",
            "tracing_otel",
            "otel_sdk",
            "registry_only",
            "registry_slots",
            "trace_llm_span",
        ],
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
        provider: &provider,
        tracer: &tracer,
        dispatch: &dispatch,
    };
    type Run = fn(&mut BenchmarkGroup<'_, WallTime>, &Baselines<'_>);
    let runs: [(&str, Run); 8] = [
        ("sync", sync),
        ("async", asynchronous),
        ("stream", stream),
        ("nested4", nested),
        ("threads2", two_threads),
        ("json", json_payloads),
        ("current", made_current),
        ("layer", layer),
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
    println!("\nSpans started and delivered to the exporter (trace-llm and the SDK pipeline):\n");
    println!("| benchmark | started | delivered | dropped |\n|---|---:|---:|---:|");
    for line in DELIVERY.lock().unwrap().iter() {
        println!("{line}");
    }
}
