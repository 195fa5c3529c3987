//! Telemetry never breaks the app: hostile payloads, panicking user code, a panicking
//! exporter, bad configuration and untrusted headers. Each test asserts what the exporter
//! (or, for warnings, stderr) received.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use serde_json::{Value, json};
use trace_llm::{GenAiResponse, ResponseRecorder, TracingConfig, Usage, trace_llm};
use trace_llm_tests::*;

#[trace_llm(kind = "chat", provider = "openai", request = req)]
fn openai_chat(req: &Value, response: Value) -> Value {
    response
}

#[trace_llm(kind = "chat", provider = "anthropic", request = req)]
fn anthropic_chat(req: &Value, response: Value) -> Value {
    response
}

#[trace_llm(kind = "chat", provider = "anthropic", request = req, stream)]
fn anthropic_stream(req: &Value, events: Vec<Value>) -> impl Iterator<Item = Value> {
    events.into_iter()
}

#[trace_llm(kind = "execute_tool", tool = "lookup")]
fn lookup(result: Value) -> Value {
    result
}

fn request() -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]})
}

fn token_counts(span: &SpanData) -> Vec<(String, i64)> {
    span.attributes
        .iter()
        .filter(|kv| kv.key.as_str().starts_with("gen_ai.usage."))
        .map(|kv| match &kv.value {
            opentelemetry::Value::I64(n) => (kv.key.to_string(), *n),
            other => panic!("{} is {other:?}, not an int", kv.key),
        })
        .collect()
}

#[test]
fn token_counts_are_never_negative_and_saturate() {
    let h = Harness::new();
    openai_chat(
        &request(),
        json!({"object": "chat.completion", "model": "gpt-4o-mini",
               "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
               "usage": {"prompt_tokens": -5, "completion_tokens": -1,
                         "prompt_tokens_details": {"cached_tokens": -3}}}),
    );
    anthropic_chat(
        &request(),
        json!({"type": "message", "id": "msg_1", "model": "claude-3-5-haiku", "role": "assistant",
               "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
               "usage": {"input_tokens": 10, "output_tokens": 2,
                         "cache_read_input_tokens": i64::MAX, "cache_creation_input_tokens": 5}}),
    );
    anthropic_stream(
        &request(),
        vec![
            json!({"type": "message_start", "message": {"id": "msg_2", "model": "claude-3-5-haiku",
                   "usage": {"input_tokens": i64::MAX, "output_tokens": 1,
                             "cache_read_input_tokens": i64::MAX}}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                   "usage": {"output_tokens": -7}}),
        ],
    )
    .for_each(drop);
    let spans = h.spans();
    assert_eq!(spans.len(), 3);
    for span in &spans {
        for (key, n) in token_counts(span) {
            assert!(n >= 0, "{}: {key} = {n}", span.name);
        }
        for key in [
            "trace_llm.usage.total_input_tokens",
            "trace_llm.usage.total_output_tokens",
        ] {
            if let Some(n) = attr_i64(span, key) {
                assert!(n >= 0, "{key} = {n}");
            }
        }
    }
    let mut anthropic: Vec<&SpanData> = spans
        .iter()
        .filter(|s| attr_str(s, "gen_ai.provider.name") == Some("anthropic"))
        .collect();
    anthropic.sort_by_key(|s| s.start_time);
    assert_eq!(
        attr_i64(anthropic[0], "gen_ai.usage.input_tokens"),
        Some(i64::MAX),
        "10 + i64::MAX + 5 saturates"
    );
    assert_eq!(
        attr_i64(anthropic[1], "gen_ai.usage.input_tokens"),
        Some(i64::MAX)
    );
    assert_eq!(
        attr_i64(anthropic[1], "gen_ai.usage.output_tokens"),
        Some(1),
        "a negative later count does not replace a valid one"
    );
}

/// `depth` arrays nested inside each other around a string.
fn nested(depth: usize) -> Value {
    (0..depth).fold(json!("leaf"), |inner, _| Value::Array(vec![inner]))
}

fn json_depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[test]
fn deep_content_stays_valid_json_with_and_without_a_redact_hook() {
    for with_hook in [false, true] {
        let h = Harness::with(|c| {
            let c = c.capture_content(true).content_max_bytes(4096);
            if with_hook {
                c.redact(|_key, value| value.replace("leaf", "LEAF"))
            } else {
                c
            }
        });
        lookup(nested(1_000));
        let span = h.span("execute_tool lookup");
        let text = attr_str(&span, "gen_ai.tool.call.result").expect("result recorded");
        assert!(text.len() <= 4096, "{} bytes", text.len());
        let parsed: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("hook {with_hook}: not JSON ({e}): {text:.200}"));
        assert!(json_depth(&parsed) <= 64, "depth {}", json_depth(&parsed));
        assert_eq!(attr_bool(&span, "trace_llm.content.truncated"), Some(true));
    }
}

#[test]
fn a_hook_returning_non_json_is_recorded_as_a_json_string() {
    let h = Harness::with(|c| {
        c.capture_content(true)
            .content_max_bytes(100)
            .redact(|_key, _value| "<<not json>> ".repeat(50))
    });
    lookup(json!({"answer": 42}));
    let span = h.span("execute_tool lookup");
    let text = attr_str(&span, "gen_ai.tool.call.result").expect("result recorded");
    assert!(text.len() <= 100, "{} bytes", text.len());
    let parsed: Value = serde_json::from_str(text).expect("valid JSON");
    assert!(
        parsed
            .as_str()
            .is_some_and(|s| s.starts_with("<<not json>>"))
    );
}

#[test]
fn content_of_any_size_fits_its_limit_in_linear_time() {
    // 20,000 messages, each too long for the limit: the old item-by-item cut took minutes
    // here; a hang detector (not a speed assertion) catches a return to quadratic time.
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let h = Harness::with(|c| c.capture_content(true).content_max_bytes(2_000));
        let messages: Vec<Value> = (0..20_000)
            .map(|i| json!({"role": "user", "content": format!("message {i} {}", "x".repeat(40))}))
            .collect();
        let req = json!({"model": "gpt-4o-mini", "messages": messages});
        openai_chat(&req, json!({"object": "chat.completion", "choices": []}));
        let span = h.span("chat gpt-4o-mini");
        let text = attr_str(&span, "gen_ai.input.messages")
            .expect("input recorded")
            .to_owned();
        let _ = done.send(text);
    });
    let text = finished
        .recv_timeout(Duration::from_secs(120))
        .expect("content capture of 20,000 messages did not finish within 120 s");
    assert!(text.len() <= 2_000, "{} bytes", text.len());
    let parsed: Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(!parsed.as_array().expect("array").is_empty());
}

#[test]
fn remote_baggage_cannot_write_library_keys() {
    let h = Harness::new();
    let carrier: HashMap<String, String> = HashMap::from([(
        "baggage".to_owned(),
        "gen_ai.operation.name=evil,code.function.name=evil,trace_llm.usage.cost=9,\
         gen_ai.usage.input_tokens=1,error.type=evil,server.address=evil,session.id=s,\
         trace_llm.tenant.id=acme,app.region=eu"
            .to_owned(),
    )]);
    trace_llm::propagation::extract(&carrier).sync_scope(|| {
        lookup(json!("ok"));
    });
    let span = h.span("execute_tool lookup");
    // `attr` fails when a key is present twice.
    assert_eq!(
        attr_str(&span, "gen_ai.operation.name"),
        Some("execute_tool")
    );
    assert_ne!(attr_str(&span, "code.function.name"), Some("evil"));
    assert_eq!(attr(&span, "trace_llm.usage.cost"), None);
    assert_eq!(attr(&span, "gen_ai.usage.input_tokens"), None);
    assert_eq!(attr(&span, "error.type"), None);
    assert_eq!(attr(&span, "server.address"), None);
    assert_eq!(attr(&span, "session.id"), None);
    assert!(!is_error(&span));
    assert_eq!(attr_str(&span, "trace_llm.tenant.id"), Some("acme"));
    assert_eq!(attr_str(&span, "app.region"), Some("eu"));
}

#[test]
fn a_panicking_redact_hook_records_no_content_and_the_call_goes_on() {
    let h = Harness::with(|c| {
        c.capture_content(true)
            .redact(|_key, _value| panic!("redact hook failure"))
    });
    let ran = AtomicUsize::new(0);
    let out = std::panic::catch_unwind(|| {
        ran.fetch_add(1, Ordering::Relaxed);
        lookup(json!({"secret": "do not leak"}))
    })
    .expect("the call must not panic");
    assert_eq!(out, json!({"secret": "do not leak"}));
    assert_eq!(ran.load(Ordering::Relaxed), 1);
    let span = h.span("execute_tool lookup");
    assert_eq!(attr(&span, "gen_ai.tool.call.result"), None);
    assert!(h.guard().stats().hook_panics >= 1);
}

#[derive(Debug)]
struct HostileError;

impl fmt::Display for HostileError {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Display panicked")
    }
}

impl trace_llm::ErrorType for HostileError {
    fn error_type(&self) -> Cow<'static, str> {
        panic!("error_type panicked")
    }
}

#[trace_llm(kind = "execute_tool", tool = "fails")]
fn fails() -> Result<u32, HostileError> {
    Err(HostileError)
}

struct HostileResponse;

impl GenAiResponse for HostileResponse {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        rec.usage(Usage::new(3, 4));
        panic!("extractor panicked")
    }
}

#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o-mini")]
fn hostile_response() -> HostileResponse {
    HostileResponse
}

#[test]
fn panicking_error_type_display_and_extractor_impls_are_contained() {
    let h = Harness::new();
    let before = h.guard().stats().hook_panics;
    let result = std::panic::catch_unwind(fails).expect("the call must not panic");
    assert!(result.is_err());
    std::panic::catch_unwind(hostile_response).expect("the call must not panic");
    let span = h.span("execute_tool fails");
    assert!(is_error(&span));
    assert_eq!(attr_str(&span, "error.type"), Some("HostileError"));
    let chat = h.span("chat gpt-4o-mini");
    assert!(!is_error(&chat));
    assert_eq!(attr_i64(&chat, "gen_ai.usage.input_tokens"), Some(3));
    assert!(h.guard().stats().hook_panics >= before + 3);
}

/// Panics on its first `panics` exports, then keeps what it receives.
#[derive(Clone, Debug, Default)]
struct PanickingExporter {
    panics: usize,
    calls: Arc<AtomicUsize>,
    kept: Collecting,
}

impl SpanExporter for PanickingExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.calls.fetch_add(1, Ordering::Relaxed) < self.panics {
            panic!("exporter panicked");
        }
        self.kept.export(batch).await
    }
}

#[test]
fn a_panicking_exporter_is_counted_and_export_goes_on() {
    let _serial = serial();
    let exporter = PanickingExporter {
        panics: 2,
        ..PanickingExporter::default()
    };
    let guard = TracingConfig::default()
        .with_span_exporter(exporter.clone())
        .init()
        .expect("init");
    lookup(json!(1));
    assert!(
        guard.force_flush().is_err(),
        "a panicked export is a failed flush"
    );
    lookup(json!(2));
    assert!(guard.force_flush().is_err());
    lookup(json!(3));
    guard.force_flush().expect("exports again after the panics");
    let stats = guard.stats();
    assert_eq!(stats.export_errors, 2);
    assert_eq!(stats.dropped, 2);
    assert_eq!(stats.exported, 1);
    assert_eq!(stats.started, stats.exported + stats.dropped);
    assert!(stats.hook_panics >= 2);
    assert_eq!(exporter.kept.spans().len(), 1);
    guard.shutdown().expect("shutdown");
}

/// What a child run of this binary printed.
struct ChildOutput {
    stdout: String,
    stderr: String,
}

/// Runs test `name` of this binary alone in a child process with `env` set (the environment
/// and stderr are process-wide).
fn run_child(name: &str, env: &[(&str, &str)]) -> ChildOutput {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = std::process::Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("TRACE_LLM_HOSTILE_CHILD", name);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("child test run");
    let child = ChildOutput {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        out.status.success(),
        "child {name} failed:\n{}\n{}",
        child.stdout,
        child.stderr
    );
    child
}

fn in_child(name: &str) -> bool {
    std::env::var("TRACE_LLM_HOSTILE_CHILD").as_deref() == Ok(name)
}

/// A loopback OTLP/HTTP receiver that answers 200 and reports each request's headers.
fn header_recorder(rt: &tokio::runtime::Runtime) -> (u16, mpsc::Receiver<http_headers::Map>) {
    let (tx, rx) = mpsc::channel();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = axum::Router::new()
        .route("/v1/metrics", axum::routing::post(|| async { "" }))
        .route(
            "/v1/traces",
            axum::routing::post(move |headers: axum::http::HeaderMap| {
                let tx = tx.clone();
                async move {
                    let map = headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                        .collect();
                    let _ = tx.send(map);
                    ""
                }
            }),
        );
    rt.spawn(async move { axum::serve(listener, app).await });
    (port, rx)
}

mod http_headers {
    pub type Map = std::collections::HashMap<String, String>;
}

#[test]
fn bad_header_variables_warn_naming_the_variable_and_send_no_raw_values() {
    let child = "child_exports_with_header_variables";
    let out = run_child(
        child,
        &[
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "good=1,k=%ZZ,garbage,team=a%20b",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ],
    );
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains("OTEL_EXPORTER_OTLP_HEADERS") && l.contains("malformed")),
        "no warning naming the variable:\n{}",
        out.stderr
    );
    let warnings = out
        .stderr
        .lines()
        .filter(|l| l.contains("OTEL_EXPORTER_OTLP_HEADERS"))
        .count();
    assert_eq!(warnings, 1, "warned more than once:\n{}", out.stderr);
    let received = out
        .stdout
        .lines()
        .find_map(|l| l.split_once("HEADERS ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("the child saw no export:\n{}\n{}", out.stdout, out.stderr));
    let received: HashMap<String, String> = serde_json::from_str(received).expect("headers");
    assert_eq!(received.get("good").map(String::as_str), Some("1"));
    assert_eq!(received.get("team").map(String::as_str), Some("a b"));
    assert_eq!(
        received.get("k"),
        None,
        "the malformed value was sent: {received:?}"
    );
    assert!(!received.values().any(|v| v.contains("%ZZ")));
}

#[test]
fn child_exports_with_header_variables() {
    if !in_child("child_exports_with_header_variables") {
        return;
    }
    let rt = multi_thread_runtime(1);
    let (port, requests) = header_recorder(&rt);
    let guard = TracingConfig::default()
        .otlp_endpoint(format!("http://127.0.0.1:{port}"))
        .metrics(false)
        .init()
        .expect("init");
    lookup(json!(1));
    guard.force_flush().expect("flush");
    let headers = requests
        .recv_timeout(Duration::from_secs(30))
        .expect("an export request");
    println!("HEADERS {}", serde_json::to_string(&headers).expect("json"));
    guard.shutdown().expect("shutdown");
}

#[test]
fn warnings_quote_hostile_model_names_bounded() {
    let out = run_child("child_prices_a_hostile_model_name", &[]);
    assert!(
        out.stderr.contains("no price known"),
        "no warning:\n{:.2000}",
        out.stderr
    );
    let longest = out.stderr.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 1_000, "a stderr line of {longest} bytes");
    assert!(
        !out.stderr.contains("\u{1b}["),
        "control characters reached stderr"
    );
}

#[trace_llm(kind = "chat", provider = "openai", model = model)]
fn priced(model: &str) -> Value {
    json!({"object": "chat.completion", "choices": [],
           "usage": {"prompt_tokens": 10, "completion_tokens": 5}})
}

#[test]
fn child_prices_a_hostile_model_name() {
    if !in_child("child_prices_a_hostile_model_name") {
        return;
    }
    let h = Harness::new();
    let hostile = format!("\u{1b}[31mevil\n{}", "m".repeat(1 << 20));
    priced(&hostile);
    assert_eq!(h.spans().len(), 1);
}

/// Bad values of every variable trace-llm reads (or lets the exporter read).
const BAD_ENV: [(&str, &str); 17] = [
    ("OTEL_SDK_DISABLED", "maybe"),
    ("OTEL_TRACES_SAMPLER", "traceidratio"),
    ("OTEL_TRACES_SAMPLER_ARG", "NaN"),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "-5"),
    ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "99999999999999999999"),
    ("OTEL_BSP_SCHEDULE_DELAY", "18446744073709551615"),
    ("OTEL_BSP_EXPORT_TIMEOUT", "0"),
    ("OTEL_BSP_MAX_CONCURRENT_EXPORTS", "many"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "-1"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "garbage"),
    ("OTEL_RESOURCE_ATTRIBUTES", "garbage,=x"),
    (
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        "perhaps",
    ),
    ("OTEL_METRIC_EXPORT_INTERVAL", "never"),
    (
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "sideways",
    ),
    ("OTEL_SERVICE_NAME", "\u{1b}[2Jsvc"),
];

#[test]
fn bad_environment_values_warn_once_each_and_tracing_works() {
    let out = run_child("child_traces_under_a_bad_environment", &BAD_ENV);
    for (name, _) in &BAD_ENV[..16] {
        if *name == "OTEL_TRACES_SAMPLER" {
            continue; // a valid value, there so that its argument is read
        }
        let warnings = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("trace-llm: warning: ") && l.contains(name))
            .filter(|l| !l.contains(&format!("{name}_")))
            .count();
        assert_eq!(
            warnings, 1,
            "{name}: {warnings} warnings in:\n{}",
            out.stderr
        );
    }
    assert!(
        out.stdout.contains("SPANS 3"),
        "spans did not arrive:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn child_traces_under_a_bad_environment() {
    if !in_child("child_traces_under_a_bad_environment") {
        return;
    }
    let rt = multi_thread_runtime(1);
    let (port, requests) = header_recorder(&rt);
    let guard = TracingConfig::default()
        .otlp_endpoint(format!("http://127.0.0.1:{port}"))
        .init()
        .expect("bad environment values never fail init");
    for i in 0..3 {
        lookup(json!(i));
    }
    guard.force_flush().expect("flush");
    requests
        .recv_timeout(Duration::from_secs(30))
        .expect("an export request");
    println!("SPANS {}", guard.stats().exported);
    guard.shutdown().expect("shutdown");
}

/// Calls traced functions from its destructor, which runs while its thread tears down.
struct TracesOnDrop(Option<mpsc::Sender<()>>);

impl Drop for TracesOnDrop {
    fn drop(&mut self) {
        for _ in 0..2 {
            lookup(json!({"rows": 1}));
        }
        if let Some(done) = self.0.take() {
            let _ = done.send(());
        }
    }
}

thread_local! {
    static TRACES_ON_DROP: std::cell::RefCell<TracesOnDrop> =
        const { std::cell::RefCell::new(TracesOnDrop(None)) };
}

/// Runs `body` on a new thread, with the sender its `TracesOnDrop` signals once that
/// destructor ran; returns how many spans were exported, after checking their ids differ.
fn spans_of_a_thread_torn_down(body: impl FnOnce(mpsc::Sender<()>) + Send + 'static) -> usize {
    let h = Harness::new();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || body(done))
        .join()
        .expect("traced calls during thread teardown must not panic");
    finished
        .recv_timeout(Duration::from_secs(10))
        .expect("the destructor ran");
    let spans = h.spans();
    assert_unique(&spans);
    spans.len()
}

#[test]
fn spans_started_while_a_thread_tears_down_keep_distinct_ids() {
    let exported = spans_of_a_thread_torn_down(|done| {
        // Registered first, this destructor runs after trace-llm's per-thread cache is gone.
        TRACES_ON_DROP.with(|t| t.borrow_mut().0 = Some(done));
        lookup(json!({"rows": 0}));
    });
    assert_eq!(exported, 3);
}

thread_local! {
    static FIRST_TRACED_ON_DROP: std::cell::RefCell<TracesOnDrop> =
        const { std::cell::RefCell::new(TracesOnDrop(None)) };
}

#[test]
fn a_first_traced_call_after_opentelemetrys_context_is_gone_is_exported() {
    let exported = spans_of_a_thread_torn_down(|done| {
        // Destroyed in reverse order: OpenTelemetry's context first, then this destructor,
        // which makes the thread's first trace-llm calls.
        FIRST_TRACED_ON_DROP.with(|t| t.borrow_mut().0 = Some(done));
        opentelemetry::Context::map_current(|_| ());
    });
    assert_eq!(exported, 2);
}
