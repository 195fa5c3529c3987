//! One span tree for a service instrumented with `tracing` and `#[trace_llm]` together.
//!
//! The service's HTTP handler opens a `tracing` request span; inside it an agent, a tool and
//! a chat call are `#[trace_llm]` functions; the tool runs a database-like step in a
//! `tracing` span; the chat call goes over HTTP through `reqwest-middleware` with
//! `reqwest-tracing` (a `tracing` span per request) to a loopback model server, and a
//! middleware injects W3C `traceparent` from OpenTelemetry's current context, as
//! OpenTelemetry-instrumented clients do. `trace_llm::tracing::layer()` exports the `tracing`
//! spans through trace-llm's pipeline, so the console prints one tree:
//!
//! ```text
//! POST /ask  SERVER
//! └── invoke_agent support
//!     ├── execute_tool lookup_order
//!     │   └── db.query
//!     └── chat gpt-4o-mini  CLIENT
//!         └── POST  CLIENT
//! ```
//!
//! ```text
//! cargo run --example tracing_interop
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::post;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Next};
use reqwest_tracing::TracingMiddleware;
use serde_json::{Value, json};
use trace_llm::{TracingConfig, trace_llm};
use tracing::Instrument;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// What the loopback model server answers (an OpenAI chat completion).
fn completion() -> Value {
    json!({
        "id": "chatcmpl-interop-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "Your order ships tomorrow."},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 31, "completion_tokens": 7, "total_tokens": 38}
    })
}

/// The `traceparent` headers the model server received.
type Seen = Arc<Mutex<Vec<String>>>;

async fn model_server(State(seen): State<Seen>, headers: HeaderMap) -> String {
    let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok());
    if let (Some(traceparent), Ok(mut seen)) = (traceparent, seen.lock()) {
        seen.push(traceparent.to_owned());
    }
    completion().to_string()
}

/// Writes OpenTelemetry's current context into the outgoing request as `traceparent`: the
/// current span is the `reqwest-tracing` span, itself under the chat span.
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

struct App {
    http: ClientWithMiddleware,
    model_url: String,
}

#[trace_llm(kind = "tool")]
async fn lookup_order(order_id: &str) -> String {
    // A database call, instrumented with `tracing` as sqlx or diesel-tracing would.
    let span = tracing::info_span!(
        "db.query",
        db.system.name = "sqlite",
        db.query.text = "SELECT status FROM orders WHERE id = ?",
        db.response.returned_rows = tracing::field::Empty,
    );
    async {
        tokio::task::yield_now().await;
        tracing::Span::current().record("db.response.returned_rows", 1_i64);
        tracing::info!(order_id, "order found");
        "shipping tomorrow".to_owned()
    }
    .instrument(span)
    .await
}

#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o-mini", request = body)]
async fn chat(app: &App, body: &Value) -> Result<Value, reqwest_middleware::Error> {
    let response = app
        .http
        .post(&app.model_url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let text = response.text().await?;
    serde_json::from_str(&text).map_err(reqwest_middleware::Error::middleware)
}

#[trace_llm(kind = "agent", agent = "support")]
async fn support_agent(app: &App, question: &str) -> Result<String, reqwest_middleware::Error> {
    let status = lookup_order("A-1042").await;
    let body = json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": format!("Order status: {status}")},
            {"role": "user", "content": question}
        ]
    });
    let reply = chat(app, &body).await?;
    Ok(reply["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// The service's handler, with the request span its HTTP framework (or `tower-http`'s
/// `TraceLayer`) would open.
async fn ask(State(app): State<Arc<App>>, Query(params): Query<HashMap<String, String>>) -> String {
    let question = params.get("q").cloned().unwrap_or_default();
    let request = tracing::info_span!(
        "POST /ask",
        otel.kind = "server",
        http.request.method = "POST",
        http.route = "/ask",
        http.response.status_code = tracing::field::Empty,
    );
    async {
        let answer = support_agent(&app, &question).await;
        tracing::Span::current().record("http.response.status_code", 200_i64);
        answer.unwrap_or_else(|e| format!("error: {e}"))
    }
    .instrument(request)
    .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = TracingConfig::default()
        .service_name("support-api")
        .console()
        .init()?;
    // The subscriber's filters decide what is exported: here INFO and above, which leaves out
    // the HTTP client's connection-pool debug events.
    tracing_subscriber::registry()
        .with(trace_llm::tracing::layer().with_filter(LevelFilter::INFO))
        .try_init()?;

    let seen = Seen::default();
    let model = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let model_url = format!("http://{}/v1/chat/completions", model.local_addr()?);
    let model_app = Router::new()
        .route("/v1/chat/completions", post(model_server))
        .with_state(seen.clone());
    let model_server = tokio::spawn(async move { axum::serve(model, model_app).await });

    let http = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::default())
        .with(inject_traceparent)
        .build();
    let app = Arc::new(App { http, model_url });
    let service = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = service.local_addr()?;
    let routes = Router::new().route("/ask", post(ask)).with_state(app);
    let server = tokio::spawn(async move { axum::serve(service, routes).await });

    let answer = reqwest::Client::new()
        .post(format!("http://{addr}/ask?q=where+is+my+order"))
        .send()
        .await?
        .text()
        .await?;
    println!("answer: {answer}");
    for traceparent in seen.lock().map(|s| s.clone()).unwrap_or_default() {
        println!("model server got traceparent {traceparent}");
    }
    println!();

    server.abort();
    model_server.abort();
    guard.shutdown()?;
    Ok(())
}
