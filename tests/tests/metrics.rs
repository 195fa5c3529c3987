//! GenAI client metrics, read from the SDK's in-memory metric exporter: the instruments of
//! the conventions with their units and bucket boundaries, one measurement per call with the
//! span's own numbers, low-cardinality attributes only, recorded for unsampled calls too.

use futures_util::StreamExt;
use opentelemetry_sdk::metrics::InMemoryMetricExporter;
use opentelemetry_sdk::trace::SpanData;
use serde_json::Value;
use trace_llm::metrics::{DURATION_BUCKETS, TOKEN_BUCKETS, TRACE_LLM_OPERATION_DURATION};
use trace_llm::{RequestContext, trace_llm};
use trace_llm_tests::fixtures::Fixture;
use trace_llm_tests::metrics::{Point, histogram, names};
use trace_llm_tests::*;

const DURATION: &str = "gen_ai.client.operation.duration";
const TOKENS: &str = "gen_ai.client.token.usage";
const TTFC: &str = "gen_ai.client.operation.time_to_first_chunk";
const TPOC: &str = "gen_ai.client.operation.time_per_output_chunk";

#[derive(Debug)]
struct RateLimited;
impl std::fmt::Display for RateLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("429 Too Many Requests")
    }
}
impl trace_llm::ErrorType for RateLimited {
    fn error_type(&self) -> std::borrow::Cow<'static, str> {
        "rate_limit".into()
    }
}

#[trace_llm(kind = "chat", provider = "openai", request = req)]
fn chat(req: &Value, response: Value) -> Result<Value, RateLimited> {
    Ok(response)
}

#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o-mini")]
fn throttled_chat() -> Result<Value, RateLimited> {
    Err(RateLimited)
}

#[trace_llm(kind = "chat", provider = "anthropic", request = req, stream)]
fn chat_stream(req: &Value, chunks: Vec<Value>) -> impl futures_core::Stream<Item = Value> {
    futures_util::stream::iter(chunks)
}

#[trace_llm(kind = "execute_tool", tool = "lookup")]
fn lookup(id: u32) -> u32 {
    id
}

fn openai_call() -> (Value, Value) {
    let fixture = Fixture::named(
        "openai-recorded",
        "test_chat_completion_tool_calls_no_content",
    );
    let interaction = &fixture.interactions[0];
    (interaction.request.clone(), interaction.response_json())
}

fn anthropic_stream() -> (Value, Vec<Value>) {
    let fixture = Fixture::named(
        "anthropic-recorded",
        "test_messages__test_anthropic_message_streaming_legacy",
    );
    let interaction = &fixture.interactions[0];
    (interaction.request.clone(), interaction.chunks())
}

fn span_seconds(span: &SpanData) -> f64 {
    span.end_time
        .duration_since(span.start_time)
        .expect("end after start")
        .as_secs_f64()
}

fn only(points: Vec<Point>, what: &str) -> Point {
    assert_eq!(points.len(), 1, "{what}: {points:#?}");
    points.into_iter().next().expect("one point")
}

/// Checks that a point holds exactly one measurement of `value`, in the right bucket.
fn assert_single(point: &Point, value: f64) {
    assert_eq!(point.count, 1, "{point:#?}");
    assert!((point.sum - value).abs() < 1e-9, "{} != {value}", point.sum);
    let mut expected = vec![0; point.bounds.len() + 1];
    expected[point.bucket_of(value)] = 1;
    assert_eq!(point.buckets, expected, "{point:#?}");
}

#[test]
fn a_chat_call_records_duration_and_tokens_with_the_spans_numbers() {
    let metrics = InMemoryMetricExporter::default();
    let h = Harness::with(|c| c.with_metric_exporter(metrics.clone()));
    let (req, response) = openai_call();
    RequestContext::new()
        .tenant_id("tenant-42")
        .session_id("session-7")
        .prompt_version("v3")
        .sync_scope(|| chat(&req, response.clone()))
        .expect("chat");
    let span = h.span("chat gpt-4o-mini");

    let duration = only(histogram(&metrics, DURATION), DURATION);
    assert_eq!(duration.unit, "s");
    assert_eq!(duration.bounds, DURATION_BUCKETS.to_vec());
    assert_single(&duration, duration.sum);
    assert!(duration.sum > 0.0 && duration.sum <= span_seconds(&span) + 1e-3);
    assert_eq!(
        duration.keys(),
        [
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.request.model",
            "gen_ai.response.model"
        ]
    );
    assert!(duration.has("gen_ai.operation.name", "chat"));
    assert!(duration.has("gen_ai.provider.name", "openai"));
    assert!(duration.has(
        "gen_ai.request.model",
        req["model"].as_str().expect("model")
    ));
    assert!(duration.has(
        "gen_ai.response.model",
        response["model"].as_str().expect("response model")
    ));

    let tokens = histogram(&metrics, TOKENS);
    assert_eq!(tokens.len(), 2, "{tokens:#?}");
    for (kind, key, field) in [
        ("input", "gen_ai.usage.input_tokens", "prompt_tokens"),
        ("output", "gen_ai.usage.output_tokens", "completion_tokens"),
    ] {
        let point = tokens
            .iter()
            .find(|p| p.has("gen_ai.token.type", kind))
            .unwrap_or_else(|| panic!("no {kind} tokens: {tokens:#?}"));
        assert_eq!(point.unit, "{token}");
        assert_eq!(point.bounds, TOKEN_BUCKETS.to_vec());
        let expected = response["usage"][field].as_i64().expect("usage");
        assert_eq!(attr_i64(&span, key), Some(expected));
        assert_single(point, expected as f64);
        assert!(point.has("gen_ai.response.model", response["model"].as_str().unwrap()));
    }

    // Neither streaming metric for a call that did not stream.
    assert!(histogram(&metrics, TTFC).is_empty());
    assert!(histogram(&metrics, TPOC).is_empty());
    // Request-context values stay on spans: they would explode metric cardinality.
    assert_eq!(attr_str(&span, "trace_llm.tenant.id"), Some("tenant-42"));
    for name in names(&metrics) {
        for point in histogram(&metrics, &name) {
            for key in point.keys() {
                assert!(
                    !key.starts_with("trace_llm.")
                        && !key.starts_with("session")
                        && key != "gen_ai.conversation.id",
                    "{name} carries request-context key {key}"
                );
            }
        }
    }
}

#[test]
fn a_failed_call_records_its_duration_with_error_type_and_no_tokens() {
    let metrics = InMemoryMetricExporter::default();
    let h = Harness::with(|c| c.with_metric_exporter(metrics.clone()));
    assert!(throttled_chat().is_err());
    let span = h.span("chat gpt-4o-mini");
    assert_eq!(attr_str(&span, "error.type"), Some("rate_limit"));

    let duration = only(histogram(&metrics, DURATION), DURATION);
    assert!(duration.has("error.type", "rate_limit"), "{duration:#?}");
    assert!(duration.has("gen_ai.request.model", "gpt-4o-mini"));
    assert_eq!(duration.attr("gen_ai.response.model"), None);
    assert!(histogram(&metrics, TOKENS).is_empty());
}

fn chunks_of_type(chunks: &[serde_json::Value], kind: &str) -> usize {
    chunks.iter().filter(|c| c["type"] == kind).count()
}

#[test]
fn a_stream_records_time_to_first_chunk_and_one_gap_per_later_chunk() {
    let metrics = InMemoryMetricExporter::default();
    let h = Harness::with(|c| c.with_metric_exporter(metrics.clone()));
    let (req, chunks) = anthropic_stream();
    let req_chunks = chunks.clone();
    let n = chunks.len();
    assert!(n > 2, "the fixture streams several chunks");
    let seen = futures_executor::block_on(chat_stream(&req, chunks).count());
    assert_eq!(seen, n);
    let span = h.span("chat claude-3-haiku-20240307");

    let ttfc = only(histogram(&metrics, TTFC), TTFC);
    assert_eq!(ttfc.unit, "s");
    assert_eq!(ttfc.bounds, DURATION_BUCKETS.to_vec());
    let span_ttfc = attr_f64(&span, "gen_ai.response.time_to_first_chunk").expect("ttfc");
    assert_single(&ttfc, span_ttfc);
    assert!(ttfc.has("gen_ai.provider.name", "anthropic"));

    // Gaps between output chunks only: not the lifecycle events (message_start,
    // content_block_start / stop, message_delta, message_stop, ping).
    let output_chunks = chunks_of_type(&req_chunks, "content_block_delta");
    assert!(output_chunks > 2 && output_chunks < n);
    let gaps = only(histogram(&metrics, TPOC), TPOC);
    assert_eq!(gaps.bounds, DURATION_BUCKETS.to_vec());
    assert_eq!(gaps.count, output_chunks as u64 - 1);
    assert_eq!(gaps.buckets.iter().sum::<u64>(), output_chunks as u64 - 1);
    // The gaps fit inside the span, after the first chunk.
    assert!(gaps.sum <= span_seconds(&span) - span_ttfc + 1e-6);
    assert!(gaps.has("gen_ai.response.model", "claude-3-haiku-20240307"));
    assert_eq!(ttfc.attributes, gaps.attributes);

    let tokens = histogram(&metrics, TOKENS);
    let output = tokens
        .iter()
        .find(|p| p.has("gen_ai.token.type", "output"))
        .expect("output tokens");
    let expected = attr_i64(&span, "gen_ai.usage.output_tokens").expect("usage");
    assert_single(output, expected as f64);
}

#[test]
fn unsampled_calls_are_still_measured() {
    let metrics = InMemoryMetricExporter::default();
    let h = Harness::with(|c| c.sample_ratio(0.0).with_metric_exporter(metrics.clone()));
    let (req, response) = openai_call();
    for _ in 0..3 {
        chat(&req, response.clone()).expect("chat");
    }
    assert!(h.spans().is_empty(), "ratio 0 exports no spans");
    let duration = only(histogram(&metrics, DURATION), DURATION);
    assert_eq!(duration.count, 3);
    let input = histogram(&metrics, TOKENS)
        .into_iter()
        .find(|p| p.has("gen_ai.token.type", "input"))
        .expect("input tokens");
    assert_eq!(input.count, 3);
    assert_eq!(
        input.sum,
        3.0 * response["usage"]["prompt_tokens"].as_f64().expect("usage")
    );
}

#[test]
fn tools_are_measured_under_the_trace_llm_name_not_the_client_metric() {
    let metrics = InMemoryMetricExporter::default();
    let h = Harness::with(|c| c.with_metric_exporter(metrics.clone()));
    lookup(1);
    lookup(2);
    let _ = h.spans();
    assert!(histogram(&metrics, DURATION).is_empty());
    let tool = only(histogram(&metrics, TRACE_LLM_OPERATION_DURATION), "tool");
    assert_eq!(tool.count, 2);
    assert_eq!(tool.unit, "s");
    assert_eq!(tool.bounds, DURATION_BUCKETS.to_vec());
    assert!(tool.has("gen_ai.operation.name", "execute_tool"));
    assert!(tool.has("gen_ai.tool.name", "lookup"));
}

#[test]
fn metrics_are_off_without_otlp_or_an_exporter_and_each_flush_exports_them_when_on() {
    // Off: a custom span exporter alone turns nothing on.
    {
        let h = Harness::new();
        lookup(1);
        assert_eq!(h.spans().len(), 1);
    }
    let metrics = InMemoryMetricExporter::default();
    let h = Harness::with(|c| c.with_metric_exporter(metrics.clone()));
    lookup(1);
    h.guard().force_flush().expect("flush");
    let first = metrics.get_finished_metrics().expect("metrics").len();
    assert!(first >= 1);
    lookup(2);
    h.guard().force_flush().expect("flush");
    assert!(metrics.get_finished_metrics().expect("metrics").len() > first);
    let tool = only(histogram(&metrics, TRACE_LLM_OPERATION_DURATION), "tool");
    assert_eq!(tool.count, 2, "cumulative: both calls");
}

#[test]
fn metrics_false_wins_over_an_exporter() {
    let metrics = InMemoryMetricExporter::default();
    let h = Harness::with(|c| c.with_metric_exporter(metrics.clone()).metrics(false));
    lookup(1);
    assert_eq!(h.spans().len(), 1);
    assert!(metrics.get_finished_metrics().expect("metrics").is_empty());
}
