//! The export pipeline under load, against a real collector (rotel) on loopback:
//!
//! 1. throughput: chat spans (a recorded OpenAI response, extracted from JSON) as fast as the
//!    pipeline takes them, counted at the collector; spans per second, drops, and CPU time of
//!    this process per delivered span; then the ratio to the stock SDK pipeline
//!    (`BatchSpanProcessor` + `opentelemetry-otlp` over HTTP/protobuf) sending the same spans
//!    (same name, kind and attributes) to the same collector as fast as it can, drops counted
//!    for both;
//! 2. latency of a traced call, p50 / p99 / p99.9, with the collector up and with it down;
//! 3. peak memory while the collector is down and spans keep coming, against the queue bound.
//!
//! ```text
//! cargo run --release -p trace-llm-tests --bin pipeline_load
//! ```
//!
//! `SPANS=n` sets the spans per throughput run (default 1,000,000); `PHASES=throughput` (or
//! `memory`, `sdk`, `latency`, comma-separated) runs only those phases, e.g. under
//! `perf record -a`.
//!
//! Needs the rotel collector (see tests/README or `.ci/run`). Prints a markdown report.

use std::time::{Duration, Instant};

use serde_json::Value;
use trace_llm::{DEFAULT_QUEUE_SIZE, Protocol, TracingConfig, TracingGuard, trace_llm};
use trace_llm_tests::collector::{Rotel, free_port, process_cpu_time, wait_until};
use trace_llm_tests::fixtures::Fixture;

#[trace_llm(kind = "chat", provider = "openai", request = req)]
fn chat<'a>(req: &Value, response: &'a Value) -> &'a Value {
    response
}

fn init(endpoint: String, protocol: Protocol) -> TracingGuard {
    TracingConfig::default()
        .service_name("pipeline-load")
        .otlp_endpoint(endpoint)
        .protocol(protocol)
        .metrics(false)
        .timeout(Duration::from_secs(2))
        .shutdown_timeout(Duration::from_secs(60))
        .init()
        .expect("init")
}

/// User plus system CPU time of this process so far.
fn cpu_time() -> Duration {
    process_cpu_time("/proc/self/stat")
}

/// Peak resident memory of this process (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn throughput(req: &Value, response: &Value, protocol: Protocol, spans: u64) -> String {
    let rotel = Rotel::start_counting();
    let endpoint = match protocol {
        Protocol::Grpc => rotel.grpc_endpoint(),
        _ => rotel.http_endpoint(),
    };
    let guard = init(endpoint, protocol);
    let limit = (DEFAULT_QUEUE_SIZE as u64) / 2;
    let cpu = cpu_time();
    let collector_cpu = rotel.cpu_time();
    let start = Instant::now();
    for _ in 0..spans {
        // Back-pressure instead of drops: the question is what the exporter sustains.
        loop {
            let s = guard.stats();
            if s.started - s.exported - s.dropped < limit {
                break;
            }
            // Not synchronisation: pacing, so that waiting burns no CPU of this process.
            std::thread::sleep(Duration::from_millis(1));
        }
        chat(req, response);
    }
    // The last, partial batch goes now rather than after the schedule delay.
    let _ = guard.force_flush();
    let arrived = wait_until(Duration::from_secs(300), || rotel.received() >= spans);
    let elapsed = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu);
    let collector_cpu = rotel.cpu_time().saturating_sub(collector_cpu);
    let stats = guard.stats();
    let _ = guard.shutdown();
    assert!(
        arrived,
        "the collector counted {} of {spans} spans",
        rotel.received()
    );
    format!(
        "| {protocol:?} | {spans} | {} | {:.0} | {} | {:.2} µs | {:.2} µs |",
        rotel.received(),
        spans as f64 / elapsed.as_secs_f64(),
        stats.dropped,
        cpu.as_secs_f64() * 1e6 / spans as f64,
        collector_cpu.as_secs_f64() * 1e6 / spans as f64,
    )
}

/// What the collector counted once its count stopped moving for two seconds (or after five
/// minutes): spans a pipeline dropped never come, so "all arrived" cannot be the condition.
fn settled_count(rotel: &Rotel) -> u64 {
    let mut last = rotel.received();
    let mut still_since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(300);
    wait_until(Duration::from_secs(300), || {
        let now = rotel.received();
        if now != last {
            last = now;
            still_since = Instant::now();
        }
        still_since.elapsed() >= Duration::from_secs(2) || Instant::now() >= deadline
    });
    last
}

/// The name, kind and attributes of the span `chat` exports, for the SDK baseline to send.
fn chat_span(req: &Value, response: &Value) -> opentelemetry_sdk::trace::SpanData {
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let guard = TracingConfig::default()
        .with_span_exporter(exporter.clone())
        .metrics(false)
        .init()
        .expect("init");
    chat(req, response);
    let _ = guard.force_flush();
    let span = exporter
        .get_finished_spans()
        .expect("spans")
        .pop()
        .expect("the chat span");
    let _ = guard.shutdown();
    span
}

/// One pipeline sending `spans` chat spans over HTTP/protobuf as fast as it takes them (no
/// back-pressure: what it cannot take, it drops); `(delivered, seconds until the last
/// arrived, dropped, CPU µs per delivered span)`.
fn flat_out(
    rotel: &Rotel,
    spans: u64,
    send: impl Fn(),
    flush: impl FnOnce(),
) -> (u64, f64, u64, f64) {
    let before = rotel.received();
    let cpu = cpu_time();
    let start = Instant::now();
    for _ in 0..spans {
        send();
    }
    flush();
    let delivered = settled_count(rotel) - before;
    // The settling wait is not delivery time.
    let elapsed = start.elapsed().saturating_sub(Duration::from_secs(2));
    let cpu = cpu_time().saturating_sub(cpu);
    (
        delivered,
        elapsed.as_secs_f64(),
        spans.saturating_sub(delivered),
        cpu.as_secs_f64() * 1e6 / delivered.max(1) as f64,
    )
}

/// trace-llm against the stock SDK pipeline, one after the other against one collector.
fn against_sdk(req: &Value, response: &Value, spans: u64) {
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry_otlp::WithExportConfig as _;
    use opentelemetry_otlp::WithHttpConfig as _;
    use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};

    let template = chat_span(req, response);
    let rotel = Rotel::start_counting();
    let guard = init(rotel.http_endpoint(), Protocol::HttpProtobuf);
    let ours = flat_out(
        &rotel,
        spans,
        || {
            chat(req, response);
        },
        || {
            let _ = guard.force_flush();
        },
    );
    let _ = guard.shutdown();

    // The stock pipeline: its processor exports from a plain thread, so the HTTP client is
    // the blocking one (the async clients need a runtime that thread does not have).
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(reqwest::blocking::Client::new())
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", rotel.http_endpoint()))
        .with_timeout(Duration::from_secs(2))
        .build()
        .expect("OTLP exporter");
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(DEFAULT_QUEUE_SIZE)
                .build(),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("pipeline-load");
    let sdk = flat_out(
        &rotel,
        spans,
        || {
            let mut span = tracer
                .span_builder(template.name.clone())
                .with_kind(template.span_kind.clone())
                .with_attributes(template.attributes.clone())
                .start(&tracer);
            span.end();
        },
        || {
            let _ = provider.force_flush();
        },
    );
    let _ = provider.shutdown();

    println!(
        "### Against the stock SDK pipeline (HTTP/protobuf, same collector, no back-pressure)\n"
    );
    println!(
        "| pipeline | spans sent | delivered | delivered/s | dropped | CPU per delivered span |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, (delivered, seconds, dropped, cpu)) in [("trace-llm", ours), ("SDK", sdk)] {
        println!(
            "| {name} | {spans} | {delivered} | {:.0} | {dropped} | {cpu:.2} µs |",
            delivered as f64 / seconds
        );
    }
    println!(
        "\ndelivered/s ratio, trace-llm ÷ SDK: {:.2}\n",
        (ours.0 as f64 / ours.1) / (sdk.0 as f64 / sdk.1).max(1.0)
    );
}

/// Per-call latency percentiles (µs) over `calls` calls.
fn latencies(req: &Value, response: &Value, calls: usize) -> (f64, f64, f64) {
    let mut samples: Vec<u32> = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        chat(req, response);
        samples.push(u32::try_from(t.elapsed().as_nanos()).unwrap_or(u32::MAX));
    }
    samples.sort_unstable();
    let at = |q: f64| f64::from(samples[((samples.len() as f64 - 1.0) * q) as usize]) / 1e3;
    (at(0.50), at(0.99), at(0.999))
}

/// Peak memory while spans keep coming into a dead endpoint, against the queue bound.
fn memory(req: &Value, response: &Value, dead: &str) {
    println!("### Memory with the collector down\n");
    let guard = init(dead.to_owned(), Protocol::Grpc);
    // A flush returns once the export thread runs its loop, after it decoded the price
    // database (about 20 MiB, once per process): the growth measured from here is the queue.
    let _ = guard.force_flush();
    let before = peak_rss();
    let burst = 3 * DEFAULT_QUEUE_SIZE as u64;
    for _ in 0..burst {
        chat(req, response);
    }
    let peak = peak_rss();
    let stats = guard.stats();
    let _ = guard.shutdown();
    println!(
        "{burst} spans into a dead endpoint (queue {}): {} dropped; peak RSS grew from {:.0} \
         MiB after init to {:.0} MiB, by {:.0} MiB, {:.2} KiB per span held (documented \
         bound: {} spans × ~1.5 KiB = {:.0} MiB).\n",
        DEFAULT_QUEUE_SIZE,
        stats.dropped,
        before as f64 / 1048576.0,
        peak as f64 / 1048576.0,
        peak.saturating_sub(before) as f64 / 1048576.0,
        peak.saturating_sub(before) as f64 / 1024.0 / (burst - stats.dropped) as f64,
        DEFAULT_QUEUE_SIZE,
        DEFAULT_QUEUE_SIZE as f64 * 1536.0 / 1048576.0,
    );
}

/// Per-call latency with the collector up, then with nothing listening.
fn latency(req: &Value, response: &Value, dead: &str) {
    println!("\n### Latency of a traced chat call (200,000 calls)\n");
    println!("| collector | p50 | p99 | p99.9 |");
    println!("|---|---:|---:|---:|");
    let rotel = Rotel::start_counting();
    for (label, endpoint) in [
        ("up", rotel.grpc_endpoint()),
        ("down (nothing listening)", dead.to_owned()),
    ] {
        let guard = init(endpoint, Protocol::Grpc);
        latencies(req, response, 20_000); // warm up
        let (p50, p99, p999) = latencies(req, response, 200_000);
        println!("| {label} | {p50:.2} µs | {p99:.2} µs | {p999:.2} µs |");
        let _ = guard.shutdown();
    }
}

fn main() {
    let fixture = Fixture::named(
        "openai-recorded",
        "test_chat_completion_tool_calls_no_content",
    );
    let interaction = &fixture.interactions[0];
    let (req, response) = (interaction.request.clone(), interaction.response_json());
    let spans: u64 = std::env::var("SPANS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let phases = std::env::var("PHASES").unwrap_or_default();
    let run = |phase: &str| phases.is_empty() || phases.split(',').any(|p| p.trim() == phase);
    let dead = format!("http://127.0.0.1:{}", free_port());

    // Memory first: peak RSS is a high-water mark, so later phases would hide it.
    if run("memory") {
        memory(&req, &response, &dead);
    }
    if run("throughput") {
        println!("### Throughput to rotel on loopback\n");
        println!(
            "| protocol | spans sent | counted at the collector | spans/s | dropped | CPU per span \
             (this process) | CPU per span (collector) |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
            println!("{}", throughput(&req, &response, protocol, spans));
        }
        println!();
    }
    if run("sdk") {
        against_sdk(&req, &response, spans);
    }
    if run("latency") {
        latency(&req, &response, &dead);
    }
}
