//! Every recorded Anthropic exchange in `tests/fixtures/anthropic-recorded`, replayed by a
//! loopback HTTP server to a plain `reqwest` call returning `serde_json::Value` (streams
//! parsed by `eventsource-stream`), through decorated functions. Expected attributes are
//! derived from the recorded bodies by the code below, following the Anthropic conventions
//! (`input_tokens` = input + cache read + cache creation).

use std::borrow::Cow;
use std::collections::BTreeMap;

use eventsource_stream::Eventsource;
use futures_core::Stream;
use futures_util::StreamExt;
use serde_json::Value;
use trace_llm::{ErrorType, trace_llm};
use trace_llm_tests::fixtures::{Fixture, Interaction};
use trace_llm_tests::*;

#[derive(Debug)]
enum HttpError {
    Transport(String),
    Status { status: u16, kind: Option<String> },
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Transport(message) => write!(f, "transport: {message}"),
            HttpError::Status { status, kind } => write!(f, "HTTP {status} ({kind:?})"),
        }
    }
}

impl ErrorType for HttpError {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            HttpError::Transport(_) => "transport".into(),
            HttpError::Status { status, kind } => {
                trace_llm::provider_error_type(Some(*status), kind.as_deref(), None)
            }
        }
    }
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
) -> Result<reqwest::Response, HttpError> {
    let response = http
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| HttpError::Transport(e.to_string()))?;
    let status = response.status().as_u16();
    if status >= 400 {
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let kind = body["error"]["type"].as_str().map(str::to_owned);
        return Err(HttpError::Status { status, kind });
    }
    Ok(response)
}

#[trace_llm(kind = "chat", provider = "anthropic", request = body)]
async fn messages(http: &reqwest::Client, url: &str, body: &Value) -> Result<Value, HttpError> {
    post(http, url, body)
        .await?
        .json()
        .await
        .map_err(|e| HttpError::Transport(e.to_string()))
}

#[trace_llm(kind = "chat", provider = "anthropic", request = body, stream)]
async fn messages_stream(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
) -> Result<impl Stream<Item = Result<Value, HttpError>>, HttpError> {
    let response = post(http, url, body).await?;
    Ok(response.bytes_stream().eventsource().map(|event| {
        let event = event.map_err(|e| HttpError::Transport(e.to_string()))?;
        serde_json::from_str(&event.data).map_err(|e| HttpError::Transport(e.to_string()))
    }))
}

#[trace_llm(kind = "text_completion", provider = "anthropic", request = body)]
async fn complete(http: &reqwest::Client, url: &str, body: &Value) -> Result<Value, HttpError> {
    post(http, url, body)
        .await?
        .json()
        .await
        .map_err(|e| HttpError::Transport(e.to_string()))
}

async fn call(http: &reqwest::Client, base: &str, interaction: &Interaction) {
    let url = format!("{base}{}", interaction.path);
    let body = &interaction.request;
    if interaction.path.starts_with("/v1/complete") {
        complete(http, &url, body).await.expect("completion");
    } else if interaction.is_stream() {
        let mut events = Box::pin(
            messages_stream(http, &url, body)
                .await
                .expect("stream opens"),
        );
        while let Some(event) = events.next().await {
            event.expect("event");
        }
    } else {
        messages(http, &url, body).await.expect("message");
    }
}

#[derive(Debug, Clone, PartialEq)]
enum V {
    S(String),
    I(i64),
    F(f64),
    B(bool),
    Strings(Vec<String>),
}

fn expected(interaction: &Interaction) -> BTreeMap<&'static str, V> {
    let req = &interaction.request;
    let mut e = BTreeMap::new();
    let legacy = interaction.path.starts_with("/v1/complete");
    e.insert(
        "gen_ai.operation.name",
        V::S(if legacy { "text_completion" } else { "chat" }.into()),
    );
    e.insert("gen_ai.provider.name", V::S("anthropic".into()));
    e.insert(
        "gen_ai.request.model",
        V::S(req["model"].as_str().expect("model").into()),
    );
    if let Some(n) = req["max_tokens"]
        .as_i64()
        .or(req["max_tokens_to_sample"].as_i64())
    {
        e.insert("gen_ai.request.max_tokens", V::I(n));
    }
    for (field, key) in [
        ("temperature", "gen_ai.request.temperature"),
        ("top_p", "gen_ai.request.top_p"),
        ("top_k", "gen_ai.request.top_k"),
    ] {
        if let Some(x) = req[field].as_f64() {
            e.insert(key, V::F(x));
        }
    }
    if let Some(stops) = req["stop_sequences"].as_array() {
        e.insert(
            "gen_ai.request.stop_sequences",
            V::Strings(
                stops
                    .iter()
                    .map(|s| s.as_str().expect("stop").into())
                    .collect(),
            ),
        );
    }
    if req["stream"] == true {
        e.insert("gen_ai.request.stream", V::B(true));
    }

    // Raw Anthropic counts, folded over the body or the stream's events.
    let (mut input, mut cache_read, mut cache_creation, mut output) = (None, None, None, None);
    let mut fold_usage = |usage: &Value| {
        if let Some(n) = usage["input_tokens"].as_i64() {
            input = Some(n);
        }
        if let Some(n) = usage["cache_read_input_tokens"].as_i64() {
            cache_read = Some(n);
        }
        if let Some(n) = usage["cache_creation_input_tokens"].as_i64() {
            cache_creation = Some(n);
        }
        if let Some(n) = usage["output_tokens"].as_i64() {
            output = Some(n);
        }
    };
    if interaction.is_stream() {
        let events = interaction.chunks();
        e.insert("trace_llm.stream.chunks", V::I(events.len() as i64));
        for event in &events {
            match event["type"].as_str() {
                Some("message_start") => {
                    let m = &event["message"];
                    e.insert(
                        "gen_ai.response.id",
                        V::S(m["id"].as_str().expect("id").into()),
                    );
                    e.insert(
                        "gen_ai.response.model",
                        V::S(m["model"].as_str().expect("model").into()),
                    );
                    fold_usage(&m["usage"]);
                }
                Some("message_delta") => {
                    if let Some(reason) = event["delta"]["stop_reason"].as_str() {
                        e.insert(
                            "gen_ai.response.finish_reasons",
                            V::Strings(vec![reason.into()]),
                        );
                    }
                    fold_usage(&event["usage"]);
                }
                _ => {}
            }
        }
    } else {
        let body = interaction.response_json();
        e.insert(
            "gen_ai.response.id",
            V::S(body["id"].as_str().expect("id").into()),
        );
        e.insert(
            "gen_ai.response.model",
            V::S(body["model"].as_str().expect("model").into()),
        );
        if let Some(reason) = body["stop_reason"].as_str() {
            e.insert(
                "gen_ai.response.finish_reasons",
                V::Strings(vec![reason.into()]),
            );
        }
        fold_usage(&body["usage"]);
    }
    if let Some(input) = input {
        let total = input + cache_read.unwrap_or(0) + cache_creation.unwrap_or(0);
        e.insert("gen_ai.usage.input_tokens", V::I(total));
    }
    if let Some(n) = output {
        e.insert("gen_ai.usage.output_tokens", V::I(n));
    }
    if let Some(n) = cache_read {
        e.insert("gen_ai.usage.cache_read.input_tokens", V::I(n));
    }
    if let Some(n) = cache_creation {
        e.insert("gen_ai.usage.cache_creation.input_tokens", V::I(n));
    }
    e
}

#[test]
fn every_anthropic_fixture_through_reqwest_json() {
    let h = Harness::new();
    let rt = multi_thread_runtime(2);
    let http = reqwest::Client::new();
    let fixtures = Fixture::all("anthropic-recorded");
    assert!(fixtures.len() >= 50, "fixtures missing: {}", fixtures.len());
    let mut checked = 0;
    for fixture in &fixtures {
        h.exporter.reset();
        rt.block_on(async {
            let server = fixture.serve().await;
            for interaction in &fixture.interactions {
                call(&http, &server.uri(), interaction).await;
            }
        });
        let mut spans = h.spans();
        spans.sort_by_key(|s| s.start_time);
        assert_eq!(spans.len(), fixture.interactions.len(), "{}", fixture.name);
        for (n, (interaction, span)) in fixture.interactions.iter().zip(&spans).enumerate() {
            let ctx = format!("{} #{n} ({})", fixture.name, span.name);
            let want = expected(interaction);
            for (key, value) in &want {
                let got = match value {
                    V::S(_) => attr_str(span, key).map(|v| V::S(v.into())),
                    V::I(_) => attr_i64(span, key).map(V::I),
                    V::F(_) => attr_f64(span, key).map(V::F),
                    V::B(_) => attr_bool(span, key).map(V::B),
                    V::Strings(_) => attr_strings(span, key).map(V::Strings),
                };
                assert_eq!(got.as_ref(), Some(value), "{ctx}: {key}");
            }
            for key in [
                "gen_ai.input.messages",
                "gen_ai.output.messages",
                "gen_ai.system_instructions",
            ] {
                assert!(
                    attr(span, key).is_none(),
                    "{ctx}: {key} recorded while capture is off"
                );
            }
            let model = req_model(interaction);
            let op = if interaction.path.starts_with("/v1/complete") {
                "text_completion"
            } else {
                "chat"
            };
            assert_eq!(span.name, format!("{op} {model}"), "{ctx}");
            assert!(is_ok(span), "{ctx}: {:?}", span.status);
            checked += 1;
        }
    }
    assert!(checked >= 60, "checked {checked}");
}

fn req_model(interaction: &Interaction) -> String {
    interaction.request["model"]
        .as_str()
        .expect("model")
        .to_owned()
}

/// Prompt caching, read off the recordings by hand: the first call writes 1,163 tokens to
/// the cache, the second reads them; input is 4 + 1,163 both times.
#[test]
fn hand_checked_anthropic_caching() {
    let h = Harness::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let http = reqwest::Client::new();
    let fixture = Fixture::named(
        "anthropic-recorded",
        "test_prompt_caching__test_anthropic_prompt_caching_legacy",
    );
    rt.block_on(async {
        let server = fixture.serve().await;
        for interaction in &fixture.interactions {
            call(&http, &server.uri(), interaction).await;
        }
    });
    let mut spans = h.spans();
    spans.sort_by_key(|s| s.start_time);
    assert_eq!(attr_i64(&spans[0], "gen_ai.usage.input_tokens"), Some(1167));
    assert_eq!(
        attr_i64(&spans[0], "gen_ai.usage.cache_creation.input_tokens"),
        Some(1163)
    );
    assert_eq!(
        attr_i64(&spans[0], "gen_ai.usage.cache_read.input_tokens"),
        Some(0)
    );
    assert_eq!(attr_i64(&spans[0], "gen_ai.usage.output_tokens"), Some(187));
    assert_eq!(attr_i64(&spans[1], "gen_ai.usage.input_tokens"), Some(1167));
    assert_eq!(
        attr_i64(&spans[1], "gen_ai.usage.cache_read.input_tokens"),
        Some(1163)
    );
    assert_eq!(
        attr_strings(&spans[1], "gen_ai.response.finish_reasons"),
        Some(vec!["end_turn".into()])
    );
}
