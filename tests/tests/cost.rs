//! Cost and roll-up: `trace_llm.usage.cost` from the user's price table (exact, in
//! pico-dollars) and from the bundled `genai-prices` table (a sane range), and every
//! ancestor's totals equal to the sum over the model calls below it, across spawned tasks,
//! streams and nesting. Model calls replay recorded provider responses.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::SpanData;
use serde_json::Value;
use trace_llm::{Price, RequestContext, Totals, trace_llm};
use trace_llm_tests::fixtures::Fixture;
use trace_llm_tests::*;

const COST: &str = "trace_llm.usage.cost";
const TOTAL_COST: &str = "trace_llm.usage.total_cost";

#[trace_llm(kind = "chat", provider = "openai", request = req)]
fn openai_chat(req: &Value, response: Value) -> Value {
    response
}

#[trace_llm(kind = "chat", provider = "anthropic", request = req)]
fn anthropic_chat(req: &Value, response: Value) -> Value {
    response
}

#[trace_llm(kind = "chat", provider = "anthropic", request = req, stream)]
fn anthropic_stream(req: &Value, chunks: Vec<Value>) -> impl futures_core::Stream<Item = Value> {
    futures_util::stream::iter(chunks).then(|c| async move {
        tokio::task::yield_now().await;
        c
    })
}

/// A self-hosted model nobody has a price for.
#[trace_llm(kind = "chat", provider = "vllm", model = "in-house-llm")]
fn in_house_chat() {
    trace_llm::current_span().record_usage(100, 20);
}

#[trace_llm(kind = "execute_tool", tool = "search")]
async fn search_tool(call: Recorded) -> usize {
    tokio::time::sleep(Duration::from_millis(1)).await;
    // A tool that asks a model: its call rolls up through the tool.
    openai_chat(&call.request, call.response);
    3
}

#[trace_llm(kind = "invoke_agent", agent = "researcher")]
async fn researcher(search: Recorded, stream: Recorded) -> usize {
    let found = search_tool(search).await;
    let chunks = anthropic_stream(&stream.request, stream.chunks)
        .count()
        .await;
    found + chunks
}

#[trace_llm(kind = "invoke_agent", agent = "planner")]
async fn planner(calls: Calls) -> Totals {
    openai_chat(&calls.first.request, calls.first.response);
    // Work on other tasks (possibly other threads), ending before the planner does.
    let a = trace_llm::spawn(researcher(calls.search.clone(), calls.stream.clone()));
    let b = trace_llm::spawn(async move {
        anthropic_chat(&calls.cached.request, calls.cached.response);
    });
    a.await.expect("researcher");
    b.await.expect("cached call");
    in_house_chat();
    // The running totals of the request so far.
    RequestContext::totals()
}

#[derive(Clone, Debug)]
struct Recorded {
    request: Value,
    response: Value,
    chunks: Vec<Value>,
}

impl Recorded {
    fn load(folder: &str, name: &str, index: usize) -> Recorded {
        let fixture = Fixture::named(folder, name);
        let interaction = &fixture.interactions[index];
        let stream = interaction.is_stream();
        Recorded {
            request: interaction.request.clone(),
            response: if stream {
                Value::Null
            } else {
                interaction.response_json()
            },
            chunks: if stream {
                interaction.chunks()
            } else {
                Vec::new()
            },
        }
    }
}

#[derive(Clone, Debug)]
struct Calls {
    first: Recorded,
    search: Recorded,
    stream: Recorded,
    cached: Recorded,
}

fn calls() -> Calls {
    Calls {
        first: Recorded::load(
            "openai-recorded",
            "test_chat_completion_tool_calls_no_content",
            0,
        ),
        search: Recorded::load("openai-recorded", "test_chat_completion_no_content", 0),
        stream: Recorded::load(
            "anthropic-recorded",
            "test_messages__test_anthropic_message_streaming_legacy",
            0,
        ),
        cached: Recorded::load(
            "anthropic-recorded",
            "test_prompt_caching__test_anthropic_prompt_caching_legacy",
            1,
        ),
    }
}

/// Our own price table, in pico-dollars per token (so that expected costs are integers).
const PRICES: [(&str, [u64; 4]); 3] = [
    // input, output, cache read, cache write
    ("gpt-4o-mini", [150_000, 600_000, 75_000, 150_000]),
    (
        "claude-3-haiku-20240307",
        [250_000, 1_250_000, 25_000, 300_000],
    ),
    (
        "claude-3-5-sonnet-20240620",
        [3_000_000, 15_000_000, 300_000, 3_750_000],
    ),
];

fn price_of(pico: [u64; 4]) -> Price {
    let per_million = |p: u64| p as f64 / 1e6;
    Price::per_million_tokens(per_million(pico[0]), per_million(pico[1]))
        .cache_read(per_million(pico[2]))
        .cache_write(per_million(pico[3]))
}

fn with_prices(config: trace_llm::TracingConfig) -> trace_llm::TracingConfig {
    PRICES.iter().fold(config, |c, (model, pico)| {
        c.model_price(*model, price_of(*pico))
    })
}

fn tokens(span: &SpanData, key: &str) -> u64 {
    attr_i64(span, key).map_or(0, |v| u64::try_from(v).expect("non-negative"))
}

/// The expected cost of a model span in pico-dollars, from the usage it reports and our
/// price table: cache reads and writes at their rates, the rest of the input at the input
/// rate, output at the output rate.
fn expected_pico(span: &SpanData) -> u64 {
    let model = attr_str(span, "gen_ai.request.model").expect("request model");
    let (_, [input, output, read, write]) = PRICES
        .iter()
        .find(|(m, _)| *m == model)
        .unwrap_or_else(|| panic!("no test price for {model}"));
    let all_input = tokens(span, "gen_ai.usage.input_tokens");
    let cached = tokens(span, "gen_ai.usage.cache_read.input_tokens");
    let written = tokens(span, "gen_ai.usage.cache_creation.input_tokens");
    (all_input - cached - written) * input
        + cached * read
        + written * write
        + tokens(span, "gen_ai.usage.output_tokens") * output
}

fn is_model_call(span: &SpanData) -> bool {
    attr_str(span, "gen_ai.operation.name").is_some_and(|op| {
        matches!(
            op,
            "chat" | "text_completion" | "generate_content" | "embeddings"
        )
    }) && attr(span, "gen_ai.usage.input_tokens").is_some()
}

fn pico(usd: f64) -> u64 {
    (usd * 1e12).round() as u64
}

#[test]
fn user_prices_give_exact_costs_including_cache_reads_and_writes() {
    let h = Harness::with(with_prices);
    let write = Recorded::load(
        "anthropic-recorded",
        "test_prompt_caching__test_anthropic_prompt_caching_legacy",
        0,
    );
    let read = Recorded::load(
        "anthropic-recorded",
        "test_prompt_caching__test_anthropic_prompt_caching_legacy",
        1,
    );
    anthropic_chat(&write.request, write.response);
    anthropic_chat(&read.request, read.response);
    let first = calls().first;
    openai_chat(&first.request, first.response);

    let spans = h.spans();
    assert_eq!(spans.len(), 3);
    let mut saw_read = false;
    let mut saw_write = false;
    for span in &spans {
        saw_read |= tokens(span, "gen_ai.usage.cache_read.input_tokens") > 0;
        saw_write |= tokens(span, "gen_ai.usage.cache_creation.input_tokens") > 0;
        let cost = attr_f64(span, COST).unwrap_or_else(|| panic!("no cost on {}", span.name));
        assert_eq!(cost, expected_pico(span) as f64 / 1e12, "{}", span.name);
    }
    assert!(
        saw_read && saw_write,
        "the fixtures exercise both cache rates"
    );
}

#[test]
fn user_prices_win_over_the_bundled_table() {
    let h = Harness::with(|c| c.model_price("gpt-4o-mini", Price::per_million_tokens(1000.0, 0.0)));
    let first = calls().first;
    openai_chat(&first.request, first.response.clone());
    let span = h.span("chat gpt-4o-mini");
    let input = first.response["usage"]["prompt_tokens"]
        .as_f64()
        .expect("usage");
    assert_eq!(
        pico(attr_f64(&span, COST).expect("cost")),
        pico(input * 1000.0 / 1e6)
    );
}

#[test]
fn the_bundled_table_prices_well_known_models_in_a_sane_range() {
    let h = Harness::new();
    let first = calls().first;
    openai_chat(&first.request, first.response);
    let cached = calls().cached;
    anthropic_chat(&cached.request, cached.response);
    let spans = h.spans();

    // gpt-4o-mini lists at $0.15 / $0.60 per million tokens: allow 3x either way, so a
    // price change passes and a unit error (per token vs per million) does not.
    let mini = spans
        .iter()
        .find(|s| s.name == "chat gpt-4o-mini")
        .expect("openai");
    let (input, output) = (
        tokens(mini, "gen_ai.usage.input_tokens") as f64,
        tokens(mini, "gen_ai.usage.output_tokens") as f64,
    );
    let list = (input * 0.15 + output * 0.60) / 1e6;
    let cost = attr_f64(mini, COST).expect("bundled price for gpt-4o-mini");
    assert!(
        cost > list / 3.0 && cost < list * 3.0,
        "{cost} vs list {list}"
    );

    // Claude 3.5 Sonnet with a cache hit: cheaper than the same input uncached, dearer than
    // the output alone.
    let sonnet = spans
        .iter()
        .find(|s| s.name == "chat claude-3-5-sonnet-20240620")
        .expect("anthropic");
    let input = tokens(sonnet, "gen_ai.usage.input_tokens") as f64;
    let read = tokens(sonnet, "gen_ai.usage.cache_read.input_tokens") as f64;
    let output = tokens(sonnet, "gen_ai.usage.output_tokens") as f64;
    assert!(read > 0.0, "the fixture reads from the cache");
    let uncached = (input * 3.0 + output * 15.0) / 1e6;
    let cost = attr_f64(sonnet, COST).expect("bundled price for claude-3-5-sonnet");
    assert!(
        cost < uncached && cost > output * 15.0 / 1e6 / 3.0,
        "{cost} vs {uncached}"
    );
}

#[test]
fn an_unknown_model_has_no_cost_and_never_fails_the_call() {
    let h = Harness::new();
    in_house_chat();
    let span = h.span("chat in-house-llm");
    assert_eq!(attr_i64(&span, "gen_ai.usage.input_tokens"), Some(100));
    assert_eq!(attr(&span, COST), None);
}

/// Checks, for every span, that its totals are the sum over the model calls below it (and
/// that spans with none below carry no totals). Returns the root's span.
fn check_roll_up(spans: &[SpanData]) -> &SpanData {
    let by_id: HashMap<SpanId, &SpanData> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s))
        .collect();
    let ancestors = |span: &SpanData| {
        let mut chain = Vec::new();
        let mut parent = span.parent_span_id;
        while let Some(p) = by_id.get(&parent) {
            chain.push(p.span_context.span_id());
            parent = p.parent_span_id;
        }
        chain
    };
    #[derive(Default, Debug)]
    struct Sum {
        input: u64,
        output: u64,
        calls: u64,
        unpriced: u64,
        pico: u64,
    }
    let mut sums: HashMap<SpanId, Sum> = HashMap::new();
    for leaf in spans.iter().filter(|s| is_model_call(s)) {
        for id in ancestors(leaf) {
            let sum = sums.entry(id).or_default();
            sum.input += tokens(leaf, "gen_ai.usage.input_tokens");
            sum.output += tokens(leaf, "gen_ai.usage.output_tokens");
            sum.calls += 1;
            match attr_f64(leaf, COST) {
                Some(cost) => sum.pico += pico(cost),
                None => sum.unpriced += 1,
            }
        }
    }
    for span in spans {
        let got = |key| tokens(span, key);
        match sums.get(&span.span_context.span_id()) {
            None => {
                assert_eq!(attr(span, TOTAL_COST), None, "{}", span.name);
                assert_eq!(
                    attr(span, "trace_llm.usage.inference_calls"),
                    None,
                    "{}",
                    span.name
                );
            }
            Some(sum) => {
                assert_eq!(
                    got("trace_llm.usage.total_input_tokens"),
                    sum.input,
                    "{}",
                    span.name
                );
                assert_eq!(
                    got("trace_llm.usage.total_output_tokens"),
                    sum.output,
                    "{}",
                    span.name
                );
                assert_eq!(
                    got("trace_llm.usage.inference_calls"),
                    sum.calls,
                    "{}",
                    span.name
                );
                assert_eq!(
                    got("trace_llm.usage.unpriced_calls"),
                    sum.unpriced,
                    "{}",
                    span.name
                );
                let total = attr_f64(span, TOTAL_COST).expect("total cost");
                assert_eq!(pico(total), sum.pico, "{}", span.name);
            }
        }
    }
    let roots: Vec<&SpanData> = spans
        .iter()
        .filter(|s| !by_id.contains_key(&s.parent_span_id))
        .collect();
    assert_eq!(roots.len(), 1, "one trace");
    roots[0]
}

#[test]
fn ancestors_total_their_descendants_across_spawned_tasks_streams_and_nesting() {
    let h = Harness::with(with_prices);
    let runtime = multi_thread_runtime(2);
    let (totals, outside) = runtime.block_on(async {
        let totals = RequestContext::new()
            .tenant_id("acme")
            .scope(planner(calls()))
            .await;
        (totals, RequestContext::totals())
    });
    let spans = h.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(spans.len(), 8, "{names:?}");
    assert_eq!(
        spans.iter().filter(|s| is_model_call(s)).count(),
        5,
        "{names:?}"
    );

    let root = check_roll_up(&spans);
    assert_eq!(root.name, "invoke_agent planner");
    // Every priced call has its exact cost; the unknown model is counted, not priced.
    for span in spans.iter().filter(|s| is_model_call(s)) {
        match attr_f64(span, COST) {
            Some(cost) => assert_eq!(pico(cost), expected_pico(span), "{}", span.name),
            None => assert_eq!(span.name, "chat in-house-llm"),
        }
    }
    assert_eq!(tokens(root, "trace_llm.usage.unpriced_calls"), 1);
    let researcher = spans
        .iter()
        .find(|s| s.name == "invoke_agent researcher")
        .expect("researcher");
    assert_eq!(tokens(researcher, "trace_llm.usage.inference_calls"), 2);

    // The request's running totals, read inside it once all calls ended, are the root's.
    assert_eq!(totals.inference_calls, 5);
    assert_eq!(
        totals.input_tokens as u64,
        tokens(root, "trace_llm.usage.total_input_tokens")
    );
    assert_eq!(
        totals.output_tokens as u64,
        tokens(root, "trace_llm.usage.total_output_tokens")
    );
    assert_eq!(
        pico(totals.cost_usd),
        pico(attr_f64(root, TOTAL_COST).expect("total"))
    );
    // Outside any request there is nothing to total.
    assert_eq!(outside, Totals::default());
}

#[test]
fn each_request_keeps_its_own_totals() {
    let _h = Harness::with(with_prices);
    let first = calls().first;
    let usage = &first.response["usage"];
    let one = |n: usize| {
        RequestContext::new().sync_scope(|| {
            for _ in 0..n {
                openai_chat(&first.request, first.response.clone());
            }
            RequestContext::totals()
        })
    };
    let (a, b) = (one(1), one(3));
    assert_eq!(a.inference_calls, 1);
    assert_eq!(b.inference_calls, 3);
    assert_eq!(
        b.input_tokens,
        3 * usage["prompt_tokens"].as_i64().expect("usage")
    );
    assert_eq!(pico(b.cost_usd), 3 * pico(a.cost_usd));
    // Nested scopes add to the same request.
    let nested = RequestContext::new().sync_scope(|| {
        openai_chat(&first.request, first.response.clone());
        RequestContext::new().tenant_id("inner").sync_scope(|| {
            openai_chat(&first.request, first.response.clone());
        });
        RequestContext::totals()
    });
    assert_eq!(nested.inference_calls, 2);
}

#[trace_llm(kind = "invoke_workflow", workflow = "answer")]
fn answer_twice(req: &Value, response: &Value) {
    openai_chat(req, response.clone());
    openai_chat(req, response.clone());
}

#[trace_llm(kind = "invoke_agent", agent = "repeat")]
fn repeat_agent(req: &Value, response: &Value) {
    answer_twice(req, response);
}

#[test]
fn repeated_calls_on_one_thread_each_total_only_their_own_calls() {
    // Span states and tallies are reused per thread: nothing of one call may leak into
    // the next one's totals or attributes.
    let h = Harness::with(with_prices);
    let first = calls().first;
    for _ in 0..5 {
        repeat_agent(&first.request, &first.response);
    }
    let spans = h.spans();
    let input = first.response["usage"]["prompt_tokens"]
        .as_u64()
        .expect("usage");
    let parents: Vec<&SpanData> = spans.iter().filter(|s| !is_model_call(s)).collect();
    assert_eq!(parents.len(), 10, "five agents and five workflows");
    let chat_cost = spans
        .iter()
        .find(|s| is_model_call(s))
        .and_then(|s| attr_f64(s, COST))
        .map(pico)
        .expect("priced call");
    for span in parents {
        assert_eq!(
            tokens(span, "trace_llm.usage.inference_calls"),
            2,
            "{}",
            span.name
        );
        assert_eq!(
            tokens(span, "trace_llm.usage.total_input_tokens"),
            2 * input,
            "{}",
            span.name
        );
        assert_eq!(
            pico(attr_f64(span, TOTAL_COST).expect("total")),
            2 * chat_cost,
            "{}",
            span.name
        );
        assert_eq!(attr(span, COST), None, "{}", span.name);
    }
}
