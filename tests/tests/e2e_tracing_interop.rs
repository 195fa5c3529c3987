//! End to end: a service instrumented with `tracing` (a request span, `reqwest-tracing` on
//! its HTTP client, a database span) and `#[trace_llm]` (agent, tool, chat) exports one tree
//! through `trace_llm::tracing::layer()`, and the tree arrives whole at the rotel collector;
//! the model server receives the HTTP span's id in `traceparent`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Next};
use serde_json::Value;
use trace_llm::{Protocol, TracingConfig, trace_llm};
use trace_llm_tests::collector::Rotel;
use trace_llm_tests::fixtures::Fixture;
use trace_llm_tests::serial;
use tracing::Instrument;
use tracing::instrument::WithSubscriber;
use tracing_subscriber::layer::SubscriberExt;

type Seen = Arc<Mutex<Vec<String>>>;

fn fixture_response() -> String {
    let fixture = Fixture::named("openai-recorded", "test_chat_completion_extra_params");
    fixture.interactions[0].response_json().to_string()
}

async fn model_server(State((seen, body)): State<(Seen, String)>, headers: HeaderMap) -> String {
    if let Some(tp) = headers.get("traceparent").and_then(|v| v.to_str().ok()) {
        seen.lock().expect("lock").push(tp.to_owned());
    }
    body
}

fn inject_traceparent<'a>(
    mut req: reqwest::Request,
    extensions: &'a mut http::Extensions,
    next: Next<'a>,
) -> Pin<Box<dyn Future<Output = reqwest_middleware::Result<reqwest::Response>> + Send + 'a>> {
    TraceContextPropagator::new().inject_context(
        &opentelemetry::Context::current(),
        &mut trace_llm::propagation::HeaderInjector(req.headers_mut()),
    );
    Box::pin(next.run(req, extensions))
}

#[trace_llm(kind = "tool")]
async fn lookup_order() -> &'static str {
    let span = tracing::info_span!(
        "db.query",
        db.system.name = "sqlite",
        db.response.returned_rows = tracing::field::Empty,
    );
    async {
        tokio::task::yield_now().await;
        tracing::Span::current().record("db.response.returned_rows", 1_i64);
        tracing::info!(order_id = "A-1042", "order found");
        "shipping"
    }
    .instrument(span)
    .await
}

#[trace_llm(kind = "chat", provider = "openai", request = body)]
async fn chat(
    http: &ClientWithMiddleware,
    url: &str,
    body: &Value,
) -> Result<Value, std::io::Error> {
    let text = async {
        http.post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await?
            .text()
            .await
            .map_err(reqwest_middleware::Error::from)
    }
    .await
    .map_err(std::io::Error::other)?;
    serde_json::from_str(&text).map_err(std::io::Error::other)
}

#[trace_llm(kind = "agent", agent = "support")]
async fn agent(http: &ClientWithMiddleware, url: &str) -> Value {
    lookup_order().await;
    let fixture = Fixture::named("openai-recorded", "test_chat_completion_extra_params");
    chat(http, url, &fixture.interactions[0].request)
        .await
        .expect("chat")
}

#[test]
fn the_tracing_and_trace_llm_tree_arrives_whole_at_the_collector() {
    let _serial = serial();
    let rotel = Rotel::start();
    let guard = TracingConfig::default()
        .service_name("interop-e2e")
        .otlp_endpoint(rotel.grpc_endpoint())
        .protocol(Protocol::Grpc)
        .timeout(Duration::from_secs(5))
        .init()
        .expect("init");
    let subscriber = tracing_subscriber::registry().with(trace_llm::tracing::layer());
    let dispatch = tracing::Dispatch::new(subscriber);
    let seen = Seen::default();
    let rt = trace_llm_tests::multi_thread_runtime(2);
    rt.block_on(
        async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let url = format!(
                "http://{}/v1/chat/completions",
                listener.local_addr().expect("addr")
            );
            let app = Router::new()
                .route("/v1/chat/completions", post(model_server))
                .with_state((seen.clone(), fixture_response()));
            let server = tokio::spawn(async move { axum::serve(listener, app).await });
            let http = ClientBuilder::new(reqwest::Client::new())
                .with(reqwest_tracing::TracingMiddleware::default())
                .with(inject_traceparent)
                .build();
            let request =
                tracing::info_span!("POST /ask", otel.kind = "server", http.route = "/ask");
            tokio::spawn(
                async move { agent(&http, &url).await }
                    .instrument(request)
                    .with_current_subscriber(),
            )
            .await
            .expect("join");
            server.abort();
        }
        .with_subscriber(dispatch),
    );
    guard.shutdown().expect("shutdown delivers everything");

    let spans = rotel.wait_for_spans(6, Duration::from_secs(20));
    assert_eq!(spans.len(), 6, "{spans:#?}");
    let s: HashMap<String, Value> = spans
        .iter()
        .map(|s| (s["name"].as_str().expect("name").to_owned(), s.clone()))
        .collect();
    let request = &s["POST /ask"];
    let agent = &s["invoke_agent support"];
    let tool = &s["execute_tool lookup_order"];
    let db = &s["db.query"];
    let chat = &s["chat gpt-4o-mini"];
    let http = &s["POST"];
    for (child, parent) in [
        (agent, request),
        (tool, agent),
        (db, tool),
        (chat, agent),
        (http, chat),
    ] {
        assert_eq!(child["trace_id"], request["trace_id"]);
        assert_eq!(child["parent_span_id"], parent["span_id"], "{child:#}");
    }
    assert_eq!(request["parent_span_id"], "");
    // Kinds: INTERNAL = 1, SERVER = 2, CLIENT = 3.
    assert_eq!(request["kind"], 2);
    assert_eq!(db["kind"], 1);
    assert_eq!(http["kind"], 3);
    assert_eq!(chat["kind"], 3);
    // Typed fields, a later record, an event with its fields.
    assert_eq!(db["attributes"]["db.response.returned_rows"], 1);
    assert_eq!(db["attributes"]["db.system.name"], "sqlite");
    assert_eq!(http["attributes"]["http.response.status_code"], 200);
    assert_eq!(http["attributes"]["http.request.method"], "POST");
    assert_eq!(db["events"][0]["name"], "order found");
    assert_eq!(db["events"][0]["attributes"]["order_id"], "A-1042");
    // The model server got the HTTP span's context.
    let seen = seen.lock().expect("lock");
    let http_span = http["span_id"].as_str().expect("span id");
    let trace = request["trace_id"].as_str().expect("trace id");
    assert_eq!(*seen, [format!("00-{trace}-{http_span}-01")]);
}
