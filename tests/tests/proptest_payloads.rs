//! Property tests: recorded provider payloads, mutated, through the sync, async and stream
//! paths. Whatever the payload, the call returns what the function returned, every span is
//! exported, token counts are never negative, and content attributes are valid JSON within
//! `content_max_bytes`. Case counts keep the suite within seconds (`PROPTEST_CASES` raises
//! them for a longer run).

use std::sync::OnceLock;

use opentelemetry_sdk::trace::SpanData;
use proptest::prelude::*;
use serde_json::{Value, json};
use trace_llm::trace_llm;
use trace_llm_tests::fixtures::Fixture;
use trace_llm_tests::*;

const CONTENT_MAX: usize = 1_500;

#[trace_llm(kind = "chat", request = req)]
fn sync_call(req: &Value, response: Value) -> Result<Value, std::io::Error> {
    Ok(response)
}

#[trace_llm(kind = "chat", request = req)]
async fn async_call(req: &Value, response: Value) -> Value {
    response
}

#[trace_llm(kind = "chat", request = req, stream)]
fn stream_call(req: &Value, chunks: Vec<Value>) -> impl Iterator<Item = Value> {
    chunks.into_iter()
}

/// (request, response, stream chunks) of every recorded interaction with a JSON body.
fn payloads() -> &'static [(Value, Value, Vec<Value>)] {
    static PAYLOADS: OnceLock<Vec<(Value, Value, Vec<Value>)>> = OnceLock::new();
    PAYLOADS.get_or_init(|| {
        let mut all = Vec::new();
        for folder in trace_llm_tests::fixtures::FOLDERS {
            for fixture in Fixture::all(folder) {
                for i in fixture.interactions {
                    let response: Value = serde_json::from_str(&i.body).unwrap_or(Value::Null);
                    let chunks = match (i.client_chunks(), &response) {
                        (Some(chunks), _) => chunks,
                        // Gemini's `streamGenerateContent` without `alt=sse`: one array.
                        (None, Value::Array(items)) => items.clone(),
                        (None, _) => Vec::new(),
                    };
                    all.push((i.request.clone(), response, chunks));
                }
            }
        }
        assert!(all.len() > 100, "fixtures missing: {} payloads", all.len());
        all
    })
}

/// A hostile replacement for one node of a payload.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(-1)),
        Just(json!(i64::MIN)),
        Just(json!(i64::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(1e308)),
        Just(json!(-0.5)),
        Just(Value::Null),
        Just(json!(true)),
        Just(json!("")),
        Just(json!([])),
        Just(json!({})),
        Just(json!("\u{1b}[31m\n\u{0}")),
        (1usize..20_000).prop_map(|n| json!("é".repeat(n))),
        (1usize..3_000).prop_map(|n| Value::Array(vec![json!({"role": "user"}); n])),
        (100usize..300).prop_map(|n| (0..n).fold(json!("x"), |v, _| json!([v]))),
        ".{0,20}".prop_map(Value::String),
    ]
}

/// Replaces the `pick`-th node (in pre-order, modulo the count) of `v` with `with`.
fn mutate(v: &mut Value, pick: usize, with: Value) {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(items) => items.iter().map(count).sum(),
            Value::Object(map) => map.values().map(count).sum(),
            _ => 0,
        }
    }
    fn walk(v: &mut Value, target: &mut usize, with: &mut Option<Value>) {
        if *target == 0 {
            if let Some(w) = with.take() {
                *v = w;
            }
            return;
        }
        *target -= 1;
        match v {
            Value::Array(items) => items.iter_mut().for_each(|c| walk(c, target, with)),
            Value::Object(map) => map.values_mut().for_each(|c| walk(c, target, with)),
            _ => {}
        }
    }
    let mut target = pick % count(v);
    walk(v, &mut target, &mut Some(with));
}

fn check_span(span: &SpanData) -> Result<(), TestCaseError> {
    for kv in &span.attributes {
        let key = kv.key.as_str();
        let counted = key.starts_with("gen_ai.usage.") || key.starts_with("trace_llm.usage.total_");
        if let (true, opentelemetry::Value::I64(n)) = (counted, &kv.value) {
            prop_assert!(*n >= 0, "{key} = {n}");
        }
        if matches!(
            key,
            "gen_ai.input.messages"
                | "gen_ai.output.messages"
                | "gen_ai.system_instructions"
                | "gen_ai.tool.definitions"
        ) {
            let opentelemetry::Value::String(text) = &kv.value else {
                return Err(TestCaseError::fail(format!("{key} is not a string")));
            };
            prop_assert!(
                text.as_str().len() <= CONTENT_MAX,
                "{key}: {} bytes",
                text.as_str().len()
            );
            prop_assert!(
                serde_json::from_str::<Value>(text.as_str()).is_ok(),
                "{key} is not JSON: {:.200}",
                text.as_str()
            );
        }
    }
    if let Some(reasons) = attr_strings(span, "gen_ai.response.finish_reasons") {
        prop_assert!(reasons.len() <= 128);
    }
    Ok(())
}

/// One mutated payload through the three paths.
fn run_case(
    h: &Harness,
    (which, part, picks): (prop::sample::Index, usize, Vec<(usize, Value)>),
) -> Result<(), TestCaseError> {
    h.exporter.reset();
    let all = payloads();
    let (mut request, mut response, mut chunks) = all[which.index(all.len())].clone();
    for (pick, with) in picks {
        match part {
            0 => mutate(&mut request, pick, with),
            1 => mutate(&mut response, pick, with),
            _ if !chunks.is_empty() => {
                let n = chunks.len();
                mutate(&mut chunks[pick % n], pick / n, with);
            }
            _ => mutate(&mut response, pick, with),
        }
    }
    let returned = sync_call(&request, response.clone()).expect("ok");
    prop_assert_eq!(&returned, &response);
    let returned = futures_executor::block_on(async_call(&request, response.clone()));
    prop_assert_eq!(&returned, &response);
    let streamed: Vec<Value> = stream_call(&request, chunks.clone()).collect();
    prop_assert_eq!(streamed.len(), chunks.len());
    let spans = h.spans();
    prop_assert_eq!(spans.len(), 3);
    for span in &spans {
        check_span(span)?;
    }
    prop_assert_eq!(h.guard().stats().hook_panics, 0);
    Ok(())
}

#[test]
fn mutated_payloads_never_break_a_call() {
    let h = Harness::with(|c| c.capture_content(true).content_max_bytes(CONTENT_MAX));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(cases));
    let strategy = (
        any::<prop::sample::Index>(),
        0usize..3,
        prop::collection::vec((any::<usize>(), hostile_value()), 1..4),
    );
    if let Err(e) = runner.run(&strategy, |case| run_case(&h, case)) {
        panic!("{e}");
    }
}
