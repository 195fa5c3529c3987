//! A tight loop of one benchmark workload, for `perf record` or `valgrind --tool=callgrind`
//! (instruction counts are repeatable where wall time on a shared machine is not):
//!
//! ```text
//! cargo build --release -p trace-llm-benches --example profile_loop
//! perf record -g target/release/examples/profile_loop on 2000000
//! valgrind --tool=callgrind target/release/examples/profile_loop off-async 100000
//! ```
//!
//! Workloads: `plain`, `off`, `unsampled`, `on`, `sdk` (sync chat call); `plain-async`,
//! `off-async`, `on-async`; `plain-stream`, `off-stream`, `on-stream` (ten chunks);
//! `off-nested`, `unsampled-nested`, `on-nested`, `sdk-nested` (four levels); `on-json` (a
//! recorded OpenAI request and response as `serde_json::Value`); `on-layer` (the
//! `#[tracing::instrument]` chat call through `trace_llm::tracing::layer()`), `sdk-tracing`
//! (the same through `tracing-opentelemetry`), `registry` and `registry-slots` (the same
//! with the registry alone, and with a layer that only finds its value per span),
//! `on-layer-bare` and `registry-slots-bare` (a `tracing` span with no fields, entered once,
//! through the two); any of them
//! with `-threads2` runs on two threads at once (time per call on each thread). `off*` and
//! `plain*` never start the pipeline. Prints the time per call and the pipeline's counters
//! (drops mean the export thread did not keep up with the discarding exporter).

use std::hint::black_box;

use trace_llm::TracingConfig;
use trace_llm_benches::*;

/// A recorded OpenAI request and response (tool calls), as `serde_json::Value`.
static JSON: std::sync::LazyLock<(serde_json::Value, serde_json::Value)> =
    std::sync::LazyLock::new(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/openai-recorded/test_chat_completion_tool_calls_no_content.json"
        );
        let text = std::fs::read_to_string(path).expect("fixture");
        let fixture: serde_json::Value = serde_json::from_str(&text).expect("fixture json");
        let interaction = &fixture["interactions"][0];
        let body = interaction["response"]["body"].as_str().expect("body");
        (
            interaction["request"]["body"].clone(),
            serde_json::from_str(body).expect("response json"),
        )
    });

/// A chat call whose request and response are JSON values.
#[inline(never)]
#[trace_llm::trace_llm(kind = "chat", provider = "openai", request = req)]
fn traced_json_chat<'a>(
    req: &serde_json::Value,
    response: &'a serde_json::Value,
) -> &'a serde_json::Value {
    response
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "on".to_owned());
    let calls: u32 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let traced = !["off", "plain", "sdk"].iter().any(|p| which.starts_with(p));
    let guard = traced.then(|| {
        let ratio = if which.starts_with("unsampled") {
            0.0
        } else {
            1.0
        };
        TracingConfig::default()
            .with_span_exporter(Discard)
            .sample_ratio(ratio)
            .init()
            .expect("init")
    });
    // Only when measured: its batch thread would be counted by callgrind.
    let sdk = which.starts_with("sdk").then(sdk_provider);
    let tracer = || &sdk.as_ref().expect("sdk workload").1;
    // `<workload>-threads2`: the same workload on two threads at once.
    let (which, threads) = match which.strip_suffix("-threads2") {
        Some(base) => (base.to_owned(), 2),
        None => (which.clone(), 1),
    };
    let call: Box<dyn Fn() + Sync> = match which.as_str() {
        "plain" => Box::new(|| {
            black_box(plain_chat(black_box(&REQUEST)));
        }),
        "off" | "unsampled" | "on" => Box::new(|| {
            black_box(traced_chat(black_box(&REQUEST)));
        }),
        "sdk" => Box::new(|| {
            black_box(sdk_chat(tracer(), black_box(&REQUEST)));
        }),
        "plain-async" => Box::new(|| {
            black_box(ready(async { plain_chat(black_box(&REQUEST)) }));
        }),
        "off-async" | "on-async" => Box::new(|| {
            black_box(ready(traced_chat_async(black_box(&REQUEST))));
        }),
        "plain-stream" => Box::new(|| {
            black_box(drain(futures_util::stream::iter(chunks())));
        }),
        "off-stream" | "on-stream" => Box::new(|| {
            black_box(drain(traced_stream(black_box(&REQUEST))));
        }),
        "off-nested" | "unsampled-nested" | "on-nested" => Box::new(|| {
            black_box(traced_agent(black_box(&REQUEST)));
        }),
        "on-json" => Box::new(|| {
            black_box(traced_json_chat(black_box(&JSON.0), black_box(&JSON.1)));
        }),
        "on-layer"
        | "sdk-tracing"
        | "registry"
        | "registry-slots"
        | "on-layer-bare"
        | "registry-slots-bare" => {
            let dispatch = match which.trim_end_matches("-bare") {
                "on-layer" => trace_llm_layer_dispatch(),
                "sdk-tracing" => tracing_dispatch(tracer().clone()),
                "registry" => registry_dispatch(),
                _ => registry_slots_dispatch(),
            };
            // The chat call with its ten fields, or a span with none entered once.
            let bare = which.ends_with("-bare");
            Box::new(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    if bare {
                        let span = tracing::info_span!("bare");
                        black_box(span.in_scope(|| black_box(1)));
                    } else {
                        black_box(tracing_chat(black_box(&REQUEST)));
                    }
                });
            })
        }
        "sdk-nested" => Box::new(|| {
            black_box(sdk_agent(tracer(), black_box(&REQUEST)));
        }),
        other => panic!("unknown workload {other}"),
    };
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..calls {
                    call();
                }
            });
        }
    });
    let elapsed = start.elapsed();
    eprint!("{which}: {:?} per call", elapsed / calls);
    if let Some(guard) = guard {
        let _ = guard.force_flush();
        eprint!(", {:?}", guard.stats());
    }
    if let Some((provider, _)) = &sdk {
        let _ = provider.force_flush();
    }
    eprint!(
        ", {} spans reached the exporter",
        DISCARDED.load(std::sync::atomic::Ordering::Relaxed)
    );
    eprintln!();
}
