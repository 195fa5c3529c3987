//! End to end against a real OpenTelemetry collector (rotel) on loopback: what arrives over
//! both OTLP protocols, a 100,000-span burst, collector outages, a collector that never
//! answers, and `init` from every kind of runtime.

use std::collections::HashMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::Value;
use trace_llm::{Protocol, ScoredDocument, TracingConfig, TracingGuard, trace_llm};
use trace_llm_tests::collector::{Rotel, free_port, wait_until};
use trace_llm_tests::fixtures::Fixture;
use trace_llm_tests::serial;

struct Hit(&'static str, f64);

impl ScoredDocument for Hit {
    fn id(&self) -> Option<&str> {
        Some(self.0)
    }
    fn score(&self) -> Option<f64> {
        Some(self.1)
    }
}

#[trace_llm(kind = "retrieval", data_source = "docs")]
fn retrieve() -> Vec<Hit> {
    vec![Hit("a", 0.25), Hit("b", 0.75)]
}

#[trace_llm(kind = "chat", provider = "openai", request = req)]
fn chat(req: &Value, response: Value) -> Result<Value, std::io::Error> {
    Ok(response)
}

#[derive(Debug)]
struct ToolFailed;
impl std::fmt::Display for ToolFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no such city")
    }
}

#[trace_llm(kind = "execute_tool", tool_call_id = "call_1")]
fn get_weather() -> Result<String, ToolFailed> {
    Err(ToolFailed)
}

#[trace_llm(kind = "invoke_agent", agent = "e2e")]
fn agent() {
    retrieve();
    let fixture = Fixture::named("openai-recorded", "test_chat_completion_extra_params");
    let i = &fixture.interactions[0];
    chat(&i.request, i.response_json()).expect("chat");
    let _ = get_weather();
}

#[trace_llm(kind = "execute_tool")]
fn tick(n: u64) -> u64 {
    n
}

fn init(rotel: &Rotel, protocol: Protocol) -> TracingGuard {
    let endpoint = match protocol {
        Protocol::Grpc => rotel.grpc_endpoint(),
        _ => rotel.http_endpoint(),
    };
    TracingConfig::default()
        .service_name("trace-llm-e2e")
        .service_version("1.2.3")
        .environment("ci")
        .otlp_endpoint(endpoint)
        .protocol(protocol)
        .timeout(Duration::from_secs(5))
        .shutdown_timeout(Duration::from_secs(30))
        .init()
        .expect("init")
}

fn by_name(spans: &[Value]) -> HashMap<String, Value> {
    spans
        .iter()
        .map(|s| (s["name"].as_str().expect("name").to_owned(), s.clone()))
        .collect()
}

#[test]
fn a_pipeline_arrives_intact_over_grpc_and_http() {
    let _serial = serial();
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let rotel = Rotel::start();
        let guard = init(&rotel, protocol);
        agent();
        guard.shutdown().expect("shutdown delivers everything");
        let spans = rotel.wait_for_spans(4, Duration::from_secs(20));
        assert_eq!(spans.len(), 4, "{protocol:?}: {spans:#?}");
        let s = by_name(&spans);
        let root = &s["invoke_agent e2e"];
        let chat = &s["chat gpt-4o-mini"];
        let tool = &s["execute_tool get_weather"];
        let retrieval = &s["retrieval docs"];
        for child in [chat, tool, retrieval] {
            assert_eq!(child["trace_id"], root["trace_id"], "{protocol:?}");
            assert_eq!(child["parent_span_id"], root["span_id"], "{protocol:?}");
        }
        assert_eq!(root["parent_span_id"], "", "{protocol:?}");
        // Kinds: CLIENT = 3, INTERNAL = 1. Status: UNSET = 0 (success), ERROR = 2.
        assert_eq!(chat["kind"], 3);
        assert_eq!(tool["kind"], 1);
        assert_eq!(chat["status_code"], 0);
        assert_eq!(tool["status_code"], 2);
        // Typed attributes: ints stay ints, doubles doubles, finish reasons an array.
        let a = &chat["attributes"];
        assert!(a["gen_ai.usage.input_tokens"].is_i64(), "{a}");
        assert!(a["gen_ai.usage.output_tokens"].is_i64(), "{a}");
        assert!(a["gen_ai.request.seed"].is_i64(), "{a}");
        assert!(a["gen_ai.request.temperature"].is_f64(), "{a}");
        assert!(a["gen_ai.response.finish_reasons"].is_array(), "{a}");
        assert_eq!(a["gen_ai.response.finish_reasons"][0], "stop");
        assert_eq!(a["gen_ai.provider.name"], "openai");
        assert!(retrieval["attributes"]["trace_llm.retrieval.top_score"].is_f64());
        assert_eq!(retrieval["attributes"]["trace_llm.retrieval.documents"], 2);
        assert_eq!(tool["attributes"]["error.type"], "ToolFailed");
        assert_eq!(tool["events"][0]["name"], "exception");
        assert_eq!(
            tool["events"][0]["attributes"]["exception.message"],
            "no such city"
        );
        // Resource and instrumentation scope.
        let resource = &root["resource"];
        assert_eq!(resource["service.name"], "trace-llm-e2e");
        assert_eq!(resource["service.version"], "1.2.3");
        assert_eq!(resource["deployment.environment.name"], "ci");
        assert_eq!(resource["telemetry.sdk.language"], "rust");
        assert_eq!(resource["telemetry.distro.name"], "trace-llm");
        assert_eq!(root["scope"]["name"], "trace-llm");
        assert_eq!(root["scope"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            root["scope"]["schema_url"],
            "https://opentelemetry.io/schemas/1.41.0"
        );
        // Cost on the call, its roll-up on the agent.
        assert!(
            a["trace_llm.usage.cost"].as_f64().is_some_and(|c| c > 0.0),
            "{a}"
        );
        assert_eq!(
            root["attributes"]["trace_llm.usage.total_cost"],
            a["trace_llm.usage.cost"]
        );
        assert_eq!(root["attributes"]["trace_llm.usage.inference_calls"], 1);
        check_metrics(&rotel, chat, protocol);
    }
}

/// The GenAI metrics travel the same way as the spans, to the same collector.
fn check_metrics(rotel: &Rotel, chat: &Value, protocol: Protocol) {
    let mut metrics = Vec::new();
    let arrived = wait_until(Duration::from_secs(20), || {
        metrics = rotel.metrics();
        metrics
            .iter()
            .any(|m| m["name"] == "trace_llm.operation.duration")
    });
    assert!(
        arrived,
        "{protocol:?}: no metrics reached the collector: {metrics:#?}"
    );
    let latest = |name: &str| -> Value {
        metrics
            .iter()
            .rev()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{protocol:?}: no {name} among {metrics:#?}"))
            .clone()
    };
    let duration = latest("gen_ai.client.operation.duration");
    assert_eq!(duration["unit"], "s");
    assert_eq!(duration["resource"]["service.name"], "trace-llm-e2e");
    let points = duration["points"].as_array().expect("histogram points");
    assert_eq!(points.len(), 1, "{duration:#}");
    let point = &points[0];
    assert_eq!(point["count"], 1);
    let bounds: Vec<f64> =
        serde_json::from_value(point["explicit_bounds"].clone()).expect("bounds");
    assert_eq!(bounds, trace_llm::metrics::DURATION_BUCKETS.to_vec());
    let a = &point["attributes"];
    assert_eq!(a["gen_ai.operation.name"], "chat");
    assert_eq!(a["gen_ai.provider.name"], "openai");
    assert_eq!(
        a["gen_ai.request.model"],
        chat["attributes"]["gen_ai.request.model"]
    );
    assert_eq!(
        a["gen_ai.response.model"],
        chat["attributes"]["gen_ai.response.model"]
    );

    let tokens = latest("gen_ai.client.token.usage");
    assert_eq!(tokens["unit"], "{token}");
    for (kind, key) in [
        ("input", "gen_ai.usage.input_tokens"),
        ("output", "gen_ai.usage.output_tokens"),
    ] {
        let point = tokens["points"]
            .as_array()
            .expect("points")
            .iter()
            .find(|p| p["attributes"]["gen_ai.token.type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} tokens in {tokens:#}"));
        assert_eq!(point["count"], 1);
        assert_eq!(
            point["sum"].as_f64(),
            chat["attributes"][key].as_f64(),
            "{kind}"
        );
    }

    let steps = latest("trace_llm.operation.duration");
    let step = |operation: &str| {
        steps["points"]
            .as_array()
            .expect("points")
            .iter()
            .find(|p| p["attributes"]["gen_ai.operation.name"] == operation)
            .unwrap_or_else(|| panic!("no {operation} in {steps:#}"))
            .clone()
    };
    assert_eq!(
        step("invoke_agent")["attributes"]["gen_ai.agent.name"],
        "e2e"
    );
    assert_eq!(
        step("retrieval")["attributes"]["gen_ai.data_source.id"],
        "docs"
    );
    assert_eq!(
        step("execute_tool")["attributes"]["error.type"],
        "ToolFailed"
    );
}

#[test]
fn a_burst_of_100_000_spans_is_delivered_whole() {
    let _serial = serial();
    let rotel = Rotel::start();
    let guard = init(&rotel, Protocol::Grpc);
    for n in 0..100_000 {
        tick(n);
    }
    let stats = guard.stats();
    assert_eq!(stats.started, 100_000);
    guard.force_flush().expect("flush");
    let stats = guard.stats();
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert_eq!(stats.exported, 100_000, "{stats:?}");
    guard.shutdown().expect("shutdown");
    let arrived = rotel.wait_for_spans(100_000, Duration::from_secs(60)).len();
    assert_eq!(arrived, 100_000);
}

#[test]
fn export_resumes_after_the_collector_restarts() {
    let _serial = serial();
    let mut rotel = Rotel::start();
    let guard = TracingConfig::default()
        .otlp_endpoint(rotel.http_endpoint())
        .protocol(Protocol::HttpProtobuf)
        .timeout(Duration::from_millis(500))
        .shutdown_timeout(Duration::from_secs(20))
        .init()
        .expect("init");
    for n in 0..100 {
        tick(n);
    }
    guard.force_flush().expect("collector up");
    assert_eq!(
        rotel.wait_for_spans(100, Duration::from_secs(10)).len(),
        100
    );

    rotel.kill();
    for n in 0..100 {
        tick(n); // the app carries on while the collector is down
    }
    assert!(
        guard.force_flush().is_err(),
        "the export to a dead collector fails"
    );
    let down = guard.stats();
    assert_eq!(down.dropped, 100, "{down:?}");
    assert!(down.export_errors >= 1, "{down:?}");

    rotel.restart();
    for n in 0..100 {
        tick(n);
    }
    guard.force_flush().expect("collector back");
    let stats = guard.stats();
    assert_eq!(stats.exported, 200, "{stats:?}");
    assert_eq!(stats.started, stats.exported + stats.dropped, "{stats:?}");
    guard.shutdown().expect("shutdown");
    // The restarted collector got the third round (its file kept the first).
    assert_eq!(
        rotel.wait_for_spans(200, Duration::from_secs(10)).len(),
        200
    );
}

#[test]
fn no_collector_at_start_costs_the_app_nothing() {
    let _serial = serial();
    let port = free_port(); // nothing listens there
    let guard = TracingConfig::default()
        .otlp_endpoint(format!("http://127.0.0.1:{port}"))
        .protocol(Protocol::Grpc)
        .timeout(Duration::from_millis(300))
        .shutdown_timeout(Duration::from_secs(5))
        .init()
        .expect("init succeeds without a collector");
    for n in 0..50 {
        assert_eq!(tick(n), n);
    }
    let started = Instant::now();
    let result = guard.shutdown();
    let took = started.elapsed();
    assert!(result.is_err(), "shutdown reports the failed export");
    // Bounded by the shutdown deadline (generous margin: this is about never hanging).
    assert!(took < Duration::from_secs(7), "shutdown took {took:?}");
}

#[test]
fn a_collector_that_never_answers_is_bounded_by_the_timeouts() {
    let _serial = serial();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accepts connections and never answers.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let guard = TracingConfig::default()
        .otlp_endpoint(format!("http://127.0.0.1:{port}"))
        .protocol(Protocol::HttpProtobuf)
        .timeout(Duration::from_millis(300))
        .shutdown_timeout(Duration::from_secs(3))
        .init()
        .expect("init");
    for n in 0..20 {
        tick(n);
    }
    let started = Instant::now();
    let _ = guard.shutdown();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
}

fn traced_round(rotel: &Rotel) -> TracingGuard {
    let guard = init(rotel, Protocol::Grpc);
    tick(1);
    guard
}

#[test]
fn init_works_outside_inside_and_on_a_current_thread_runtime() {
    let _serial = serial();
    let rotel = Rotel::start();
    // Outside any runtime (the SDK's gRPC exporter panics here).
    traced_round(&rotel).shutdown().expect("outside");
    // Inside a multi-threaded runtime, shut down from async code.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("rt")
        .block_on(async { traced_round(&rotel).shutdown().expect("multi-thread") });
    // Inside a current-thread runtime (as `#[tokio::main(flavor = "current_thread")]`),
    // dropped rather than shut down.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt")
        .block_on(async {
            let guard = traced_round(&rotel);
            tokio::task::yield_now().await;
            drop(guard);
        });
    assert_eq!(rotel.wait_for_spans(3, Duration::from_secs(10)).len(), 3);
}
