//! Streams and iterators: the span covers the consumption, ends when the stream ends (or is
//! dropped, as cancelled, with what was seen so far), records time to first chunk, the chunk
//! count and what the chunks say. Driven by recorded SSE bodies.

use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::Value;
use trace_llm::trace_llm;
use trace_llm_tests::fixtures::Fixture;
use trace_llm_tests::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn openai_chunks(name: &str) -> Vec<Value> {
    Fixture::named("openai-recorded", name).interactions[0].chunks()
}

fn anthropic_chunks(name: &str) -> Vec<Value> {
    Fixture::named("anthropic-recorded", name).interactions[0].chunks()
}

/// A stream of recorded chunks, each arriving after `delay`.
fn paced(chunks: Vec<Value>, delay: Duration) -> impl Stream<Item = Value> + Send {
    futures_util::stream::iter(chunks).then(move |c| async move {
        tokio::time::sleep(delay).await;
        c
    })
}

#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4")]
fn impl_stream(chunks: Vec<Value>) -> impl Stream<Item = Value> {
    paced(chunks, Duration::from_millis(2))
}

#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4")]
async fn async_impl_stream(chunks: Vec<Value>) -> impl Stream<Item = Value> {
    tokio::task::yield_now().await;
    paced(chunks, Duration::from_millis(1))
}

#[derive(Debug)]
struct ApiError(&'static str);
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<Value, ApiError>> + Send>>;

#[trace_llm(
    kind = "chat",
    provider = "anthropic",
    model = "claude-3-5-sonnet-20240620",
    stream
)]
async fn result_of_boxed(chunks: Vec<Value>, fail_open: bool) -> Result<ChunkStream, ApiError> {
    tokio::time::sleep(Duration::from_millis(3)).await;
    if fail_open {
        return Err(ApiError("connection refused"));
    }
    Ok(Box::pin(paced(chunks, Duration::from_millis(1)).map(Ok)))
}

#[trace_llm(kind = "chat", model = "gpt-4")]
fn box_stream(chunks: Vec<Value>) -> BoxStream<'static, Value> {
    paced(chunks, Duration::ZERO).boxed()
}

#[trace_llm(kind = "chat", model = "gpt-4")]
fn iterator(chunks: Vec<Value>) -> impl Iterator<Item = Value> {
    chunks.into_iter()
}

#[trace_llm(kind = "chat", model = "gpt-4", stream)]
fn boxed_iter(chunks: Vec<Value>) -> Box<dyn Iterator<Item = Value> + Send> {
    Box::new(chunks.into_iter())
}

#[test]
fn span_covers_a_slow_consumer_with_usage_from_the_final_chunk() {
    let h = Harness::new();
    let chunks = openai_chunks("test_chat_completion_streaming");
    let n = chunks.len();
    let stream = impl_stream(chunks);
    let returned_at = std::time::SystemTime::now();
    let last_item_at = rt().block_on(async {
        let mut stream = std::pin::pin!(stream);
        let mut last = returned_at;
        while stream.next().await.is_some() {
            // A slow consumer: the span must stay open while it works.
            tokio::time::sleep(Duration::from_millis(5)).await;
            last = std::time::SystemTime::now();
        }
        last
    });
    let span = h.span("chat gpt-4");
    assert!(
        span.end_time >= last_item_at - Duration::from_millis(6),
        "span ended before the stream did"
    );
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .expect("duration");
    assert!(
        duration >= Duration::from_millis(5 * (n as u64 - 1)),
        "{duration:?}"
    );
    let ttfc = attr_f64(&span, "gen_ai.response.time_to_first_chunk").expect("ttfc");
    assert!(ttfc > 0.0 && ttfc < duration.as_secs_f64());
    assert_eq!(attr_i64(&span, "trace_llm.stream.chunks"), Some(n as i64));
    assert_eq!(attr_bool(&span, "gen_ai.request.stream"), Some(true));
    // The recorded final chunk: {"prompt_tokens":12,"completion_tokens":5}.
    assert_eq!(attr_i64(&span, "gen_ai.usage.input_tokens"), Some(12));
    assert_eq!(attr_i64(&span, "gen_ai.usage.output_tokens"), Some(5));
    assert_eq!(
        attr_str(&span, "gen_ai.response.id"),
        Some("chatcmpl-ASYMZ4oSykiIFK4lXLReDiKyAjsQl")
    );
    assert_eq!(attr_str(&span, "gen_ai.response.model"), Some("gpt-4-0613"));
    assert_eq!(
        attr_strings(&span, "gen_ai.response.finish_reasons"),
        Some(vec!["stop".into()])
    );
    assert!(is_ok(&span));
}

#[test]
fn anthropic_usage_spread_over_events() {
    let h = Harness::new();
    let chunks =
        anthropic_chunks("test_prompt_caching__test_anthropic_prompt_caching_stream_legacy");
    let n = chunks.len();
    rt().block_on(async {
        let mut stream = result_of_boxed(chunks, false).await.expect("opens");
        while let Some(item) = stream.next().await {
            item.expect("chunk");
        }
    });
    let span = h.span("chat claude-3-5-sonnet-20240620");
    // message_start: input 4, cache creation 1165, cache read 0; message_delta: output 201.
    assert_eq!(attr_i64(&span, "gen_ai.usage.input_tokens"), Some(4 + 1165));
    assert_eq!(
        attr_i64(&span, "gen_ai.usage.cache_creation.input_tokens"),
        Some(1165)
    );
    assert_eq!(attr_i64(&span, "gen_ai.usage.output_tokens"), Some(201));
    assert_eq!(
        attr_strings(&span, "gen_ai.response.finish_reasons"),
        Some(vec!["end_turn".into()])
    );
    assert_eq!(attr_i64(&span, "trace_llm.stream.chunks"), Some(n as i64));
    // The span started at the call: TTFT includes the 3 ms before the stream existed.
    let ttfc = attr_f64(&span, "gen_ai.response.time_to_first_chunk").expect("ttfc");
    assert!(ttfc >= 0.003, "{ttfc}");
}

#[test]
fn early_drop_ends_once_as_cancelled_with_partial_data() {
    let h = Harness::new();
    let chunks = openai_chunks("test_chat_completion_streaming");
    rt().block_on(async {
        // `take(3)` then drop.
        let taken: Vec<Value> = impl_stream(chunks.clone()).take(3).collect().await;
        assert_eq!(taken.len(), 3);
        // `break` out of a loop.
        let mut s = std::pin::pin!(async_impl_stream(chunks.clone()).await);
        let mut seen = 0;
        while s.next().await.is_some() {
            seen += 1;
            if seen == 2 {
                break;
            }
        }
        // Dropped before the first poll.
        drop(box_stream(chunks.clone()));
    });
    let spans = h.spans();
    assert_eq!(spans.len(), 3);
    assert_unique(&spans);
    let mut counts: Vec<i64> = spans
        .iter()
        .map(|s| attr_i64(s, "trace_llm.stream.chunks").expect("chunks"))
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, vec![0, 2, 3]);
    for span in &spans {
        assert!(is_error(span), "{}", span.name);
        assert_eq!(attr_str(span, "error.type"), Some("cancelled"));
        assert_eq!(
            attr_strings(span, "gen_ai.response.finish_reasons"),
            Some(vec!["error".into()])
        );
        // No usage arrived before the drop (it comes in the final chunk).
        assert!(attr(span, "gen_ai.usage.input_tokens").is_none());
    }
    let partial = spans
        .iter()
        .find(|s| attr_i64(s, "trace_llm.stream.chunks") == Some(3))
        .expect("take(3)");
    assert_eq!(
        attr_str(partial, "gen_ai.response.id"),
        Some("chatcmpl-ASYMZ4oSykiIFK4lXLReDiKyAjsQl")
    );
    assert!(attr_f64(partial, "gen_ai.response.time_to_first_chunk").is_some());
}

#[test]
fn anthropic_drop_after_message_start_keeps_partial_usage() {
    let h = Harness::new();
    let chunks = anthropic_chunks("test_messages__test_anthropic_message_streaming_legacy");
    rt().block_on(async {
        let mut s = result_of_boxed(chunks, false).await.expect("opens");
        // message_start and a few deltas, then the caller walks away.
        for _ in 0..4 {
            s.next().await.expect("item").expect("chunk");
        }
    });
    let span = h.spans().pop().expect("span");
    assert_eq!(attr_str(&span, "error.type"), Some("cancelled"));
    assert_eq!(attr_i64(&span, "trace_llm.stream.chunks"), Some(4));
    assert!(
        attr_i64(&span, "gen_ai.usage.input_tokens").is_some(),
        "message_start usage is kept"
    );
}

#[test]
fn error_when_opening_and_error_items() {
    let h = Harness::new();
    rt().block_on(async {
        assert!(result_of_boxed(Vec::new(), true).await.is_err());
    });
    #[trace_llm(kind = "chat", model = "gpt-4")]
    fn failing_items() -> impl Stream<Item = Result<u32, ApiError>> {
        futures_util::stream::iter([Ok(1), Err(ApiError("overloaded")), Ok(2)])
    }
    rt().block_on(async {
        let items: Vec<_> = failing_items().collect().await;
        assert_eq!(items.len(), 3);
    });
    let mut spans = h.spans();
    spans.sort_by_key(|s| s.start_time);
    let open_failed = &spans[0];
    assert!(is_error(open_failed));
    assert_eq!(attr_str(open_failed, "error.type"), Some("ApiError"));
    assert!(
        attr(open_failed, "trace_llm.stream.chunks").is_none(),
        "no stream was returned"
    );
    let item_failed = &spans[1];
    assert!(is_error(item_failed));
    assert_eq!(attr_str(item_failed, "error.type"), Some("ApiError"));
    assert_eq!(
        attr_i64(item_failed, "trace_llm.stream.chunks"),
        Some(3),
        "the stream went on to its end"
    );
    let ex = events(item_failed, "exception");
    assert_eq!(
        attr_in(&ex[0].attributes, "exception.message").map(|v| v.to_string()),
        Some("overloaded".into())
    );
}

#[test]
fn iterators_and_boxed_iterators() {
    let h = Harness::new();
    let chunks = openai_chunks("test_chat_completion_streaming_not_complete");
    let n = chunks.len();
    assert_eq!(iterator(chunks.clone()).count(), n);
    let mut it = boxed_iter(chunks);
    it.next();
    drop(it);
    let spans = h.spans();
    assert_eq!(spans.len(), 2);
    let complete = spans.iter().find(|s| is_ok(s)).expect("complete iteration");
    assert_eq!(
        attr_i64(complete, "trace_llm.stream.chunks"),
        Some(n as i64)
    );
    assert_eq!(
        attr_strings(complete, "gen_ai.response.finish_reasons"),
        Some(vec!["stop".into()])
    );
    assert!(
        attr(complete, "gen_ai.usage.input_tokens").is_none(),
        "no include_usage: no usage"
    );
    let dropped = spans
        .iter()
        .find(|s| is_error(s))
        .expect("dropped iteration");
    assert_eq!(attr_i64(dropped, "trace_llm.stream.chunks"), Some(1));
}

#[trace_llm(kind = "execute_tool")]
fn lookup(n: u32) -> u32 {
    n * 10
}

#[trace_llm(kind = "chat", model = "gpt-4")]
fn producing() -> impl Stream<Item = u32> {
    // Each item is produced by a traced call: it must be a child of the stream's span.
    futures_util::stream::iter(1..=3).map(lookup)
}

#[test]
fn span_is_current_while_items_are_produced_and_not_between_polls() {
    let h = Harness::new();
    rt().block_on(async {
        let mut s = std::pin::pin!(producing());
        while let Some(v) = s.next().await {
            // A call by the consumer between polls must not nest under the stream.
            lookup(v);
        }
    });
    let spans = h.spans();
    let stream_span = h.span("chat gpt-4");
    let children = spans
        .iter()
        .filter(|s| s.parent_span_id == stream_span.span_context.span_id())
        .count();
    let roots = spans
        .iter()
        .filter(|s| {
            s.name == "execute_tool lookup"
                && s.parent_span_id == opentelemetry::trace::SpanId::INVALID
        })
        .count();
    assert_eq!(children, 3, "items are produced inside the stream's span");
    assert_eq!(
        roots, 3,
        "the consumer's calls are not children of the stream"
    );
}

#[trace_llm(kind = "chat", model = "gpt-4")]
fn panicking() -> impl Stream<Item = u32> {
    futures_util::stream::iter(0..3).map(|n| if n == 1 { panic!("bad chunk") } else { n })
}

#[test]
fn panic_while_polling_ends_the_span_with_error() {
    let h = Harness::new();
    let result = std::panic::catch_unwind(|| {
        rt().block_on(async {
            let _: Vec<u32> = panicking().collect().await;
        })
    });
    assert!(result.is_err());
    let span = h.span("chat gpt-4");
    assert_eq!(attr_str(&span, "error.type"), Some("panic"));
    assert_eq!(attr_i64(&span, "trace_llm.stream.chunks"), Some(1));
}

#[test]
fn traced_stream_is_send_and_fused_after_its_end() {
    fn assert_send<T: Send>(_: &T) {}
    let h = Harness::new();
    let s = impl_stream(openai_chunks("test_chat_completion_streaming"));
    assert_send(&s);
    rt().block_on(async {
        let mut s = std::pin::pin!(s);
        while s.next().await.is_some() {}
        assert!(
            s.next().await.is_none(),
            "polling after the end stays at the end"
        );
    });
    assert_eq!(h.spans().len(), 1);
}
