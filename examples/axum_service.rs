//! An axum service whose handlers' `#[trace_llm]` spans continue the caller's trace:
//! `RequestContextLayer` reads the incoming `traceparent` and `baggage` headers.
//!
//! The example starts the service on a free loopback port, calls it once the way an upstream
//! service would (with a `traceparent` and a tenant in `baggage`), and prints the span tree:
//! the handler's spans sit under the caller's span id and carry the tenant.
//!
//! ```text
//! cargo run --example axum_service
//! ```

use std::collections::HashMap;

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use trace_llm::tower::RequestContextLayer;
use trace_llm::{TracingConfig, trace_llm};

#[trace_llm(kind = "retrieval", data_source = "faq")]
async fn lookup(question: &str) -> Vec<&'static str> {
    if question.contains("refund") {
        vec!["refund-policy"]
    } else {
        vec![]
    }
}

#[trace_llm(kind = "chat", provider = "openai", model = "gpt-4o-mini")]
async fn draft(question: &str, docs: &[&str]) -> String {
    format!("Answer to {question:?} using {} document(s).", docs.len())
}

#[trace_llm(kind = "invoke_agent", agent = "support")]
async fn answer(Query(params): Query<HashMap<String, String>>) -> String {
    let question = params.get("q").cloned().unwrap_or_default();
    let docs = lookup(&question).await;
    draft(&question, &docs).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = TracingConfig::default()
        .service_name("support-api")
        .console()
        .init()?;

    let app = Router::new()
        .route("/answer", get(answer))
        .layer(RequestContextLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // What an upstream service (an API gateway, another traced service) would send.
    let upstream_trace = "0af7651916cd43dd8448eb211c80319c";
    let upstream_span = "b7ad6b7169203331";
    let body = reqwest::Client::new()
        .get(format!("http://{addr}/answer?q=how+do+refunds+work"))
        .header(
            "traceparent",
            format!("00-{upstream_trace}-{upstream_span}-01"),
        )
        .header(
            "baggage",
            "trace_llm.tenant.id=acme,trace_llm.prompt.version=support_v4",
        )
        .send()
        .await?
        .text()
        .await?;
    println!("response: {body}");
    println!("upstream trace {upstream_trace}, parent span {upstream_span}:\n");

    server.abort();
    guard.shutdown()?;
    Ok(())
}
