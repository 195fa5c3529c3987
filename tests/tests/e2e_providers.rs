//! Gemini streaming and Bedrock `ConverseStream` end to end: a loopback server replays the
//! recorded bytes, a real HTTP client (`reqwest`) reads them, `eventsource-stream` parses
//! the SSE and `aws-smithy-eventstream` the binary AWS event stream, and decorated streaming
//! functions hand the chunks on. What the exporter received is compared with the recording.

use std::pin::Pin;

use futures_core::Stream;
use futures_util::StreamExt;
use serde_json::Value;
use trace_llm::{model_from_url, trace_llm};
use trace_llm_tests::fixtures::Fixture;
use trace_llm_tests::*;

type ChunkStream = Pin<Box<dyn Stream<Item = Value> + Send>>;

/// POSTs `body` to `url` and streams the SSE `data:` payloads as JSON.
#[trace_llm(kind = "chat", request = body, model = model, stream)]
async fn gemini_stream(
    http: &reqwest::Client,
    url: String,
    model: &str,
    body: &Value,
) -> Result<ChunkStream, reqwest::Error> {
    use eventsource_stream::Eventsource;
    let response = http.post(url).json(body).send().await?.error_for_status()?;
    let events = response.bytes_stream().eventsource();
    Ok(Box::pin(events.filter_map(|event| async move {
        serde_json::from_str(&event.ok()?.data).ok()
    })))
}

/// POSTs `body` to a `converse-stream` URL and streams the decoded AWS events as the SDKs
/// hand them out: `{"<event type>": payload}`.
#[trace_llm(kind = "chat", request = body, model = model, stream)]
async fn bedrock_converse_stream(
    http: &reqwest::Client,
    url: String,
    model: &str,
    body: &Value,
) -> Result<ChunkStream, reqwest::Error> {
    let response = http.post(url).json(body).send().await?.error_for_status()?;
    let bytes = response.bytes().await?;
    let mut buffer = &bytes[..];
    let mut events = Vec::new();
    while !buffer.is_empty() {
        let message = aws_smithy_eventstream::frame::read_message_from(&mut buffer)
            .expect("a valid event-stream frame");
        let kind = message
            .headers()
            .iter()
            .find(|h| h.name().as_str() == ":event-type")
            .and_then(|h| h.value().as_string().ok())
            .map(|s| s.as_str().to_owned())
            .expect(":event-type header");
        let mut payload: Value = serde_json::from_slice(message.payload()).expect("JSON payload");
        if let Value::Object(map) = &mut payload {
            map.remove("p"); // random-length padding
        }
        events.push(serde_json::json!({ kind: payload }));
    }
    Ok(Box::pin(futures_util::stream::iter(events)))
}

#[test]
fn gemini_stream_over_http() {
    let h = Harness::with(|c| c.capture_content(true));
    let rt = multi_thread_runtime(2);
    let http = reqwest::Client::new();
    let fixture = Fixture::named(
        "gemini-recorded",
        "gemini-genai__test_instrumentation__test_streaming_reasoning",
    );
    let interaction = &fixture.interactions[0];
    let model = model_from_url(&interaction.path).expect("model in the URL");
    let received = rt.block_on(async {
        let server = fixture.serve().await;
        let url = format!("{}{}", server.uri(), interaction.path);
        let stream = gemini_stream(&http, url, &model, &interaction.request)
            .await
            .expect("stream");
        stream.collect::<Vec<Value>>().await
    });
    assert_eq!(
        received,
        interaction.chunks(),
        "the chunks pass through unchanged"
    );
    let span = h.span("chat gemini-3.5-flash");
    assert_eq!(attr_str(&span, "gen_ai.provider.name"), Some("gcp.gen_ai"));
    assert_eq!(
        attr_str(&span, "gen_ai.response.model"),
        Some("gemini-3.5-flash")
    );
    assert_eq!(
        attr_str(&span, "gen_ai.response.id"),
        Some("iCUhao2zJ-LHjuMP1vvH2Qk")
    );
    assert_eq!(attr_i64(&span, "gen_ai.usage.input_tokens"), Some(11));
    assert_eq!(
        attr_i64(&span, "gen_ai.usage.output_tokens"),
        Some(703 + 713)
    );
    assert_eq!(
        attr_i64(&span, "gen_ai.usage.reasoning.output_tokens"),
        Some(713)
    );
    assert_eq!(
        attr_strings(&span, "gen_ai.response.finish_reasons"),
        Some(vec!["STOP".into()])
    );
    assert_eq!(
        attr_i64(&span, "trace_llm.stream.chunks"),
        Some(received.len() as i64)
    );
    assert!(attr_f64(&span, "gen_ai.response.time_to_first_chunk").is_some_and(|t| t >= 0.0));
    assert!(!is_error(&span));
}

#[test]
fn bedrock_converse_stream_over_http() {
    let h = Harness::with(|c| c.capture_content(true));
    let rt = multi_thread_runtime(2);
    let http = reqwest::Client::new();
    let fixture = Fixture::named(
        "bedrock-recorded",
        "botocore__test_converse_stream_no_content_different_events",
    );
    let interaction = &fixture.interactions[0];
    assert_eq!(interaction.body_encoding.as_deref(), Some("base64"));
    let model = model_from_url(&interaction.path).expect("model in the URL");
    let received = rt.block_on(async {
        let server = fixture.serve().await;
        let url = format!("{}{}", server.uri(), interaction.path);
        let stream = bedrock_converse_stream(&http, url, &model, &interaction.request)
            .await
            .expect("stream");
        stream.collect::<Vec<Value>>().await
    });
    assert_eq!(
        received, interaction.decoded_chunks,
        "the decoded events match the recording's"
    );
    let span = h.span("chat anthropic.claude-v2");
    assert_eq!(attr_str(&span, "gen_ai.provider.name"), Some("aws.bedrock"));
    assert_eq!(attr_i64(&span, "gen_ai.usage.input_tokens"), Some(37));
    assert_eq!(attr_i64(&span, "gen_ai.usage.output_tokens"), Some(8));
    assert_eq!(
        attr_strings(&span, "gen_ai.response.finish_reasons"),
        Some(vec!["end_turn".into()])
    );
    let output: Value =
        serde_json::from_str(attr_str(&span, "gen_ai.output.messages").expect("output"))
            .expect("JSON");
    assert_eq!(output[0]["finish_reason"], "stop");
    assert!(
        output[0]["parts"][0]["content"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    let system: Value =
        serde_json::from_str(attr_str(&span, "gen_ai.system_instructions").expect("system"))
            .expect("JSON");
    assert_eq!(system[0]["content"], "You are a friendly app");
    assert!(!is_error(&span));
}

mod aws_sdk {
    use aws_sdk_bedrockruntime::config::{Credentials, Region};
    use aws_sdk_bedrockruntime::error::SdkError;
    use aws_sdk_bedrockruntime::operation::converse::builders::ConverseFluentBuilder;
    use aws_sdk_bedrockruntime::operation::converse::{ConverseError, ConverseOutput};
    use aws_sdk_bedrockruntime::operation::converse_stream::builders::ConverseStreamFluentBuilder;
    use aws_sdk_bedrockruntime::types::{
        ContentBlock, ConversationRole, ConverseStreamOutput, InferenceConfiguration, Message,
        SystemContentBlock,
    };
    use trace_llm::trace_llm;
    use trace_llm_tests::fixtures::Fixture;
    use trace_llm_tests::*;

    fn client(endpoint: String) -> aws_sdk_bedrockruntime::Client {
        let config = aws_sdk_bedrockruntime::Config::builder()
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .endpoint_url(endpoint)
            .build();
        aws_sdk_bedrockruntime::Client::from_conf(config)
    }

    fn user(text: &str) -> Message {
        Message::builder()
            .role(ConversationRole::User)
            .content(ContentBlock::Text(text.into()))
            .build()
            .expect("message")
    }

    #[trace_llm(kind = "chat", request = req)]
    async fn converse(
        req: ConverseFluentBuilder,
    ) -> Result<ConverseOutput, SdkError<ConverseError>> {
        req.send().await
    }

    #[trace_llm(kind = "chat", request = req, stream)]
    async fn converse_stream(
        req: ConverseStreamFluentBuilder,
    ) -> Result<
        std::pin::Pin<Box<dyn futures_core::Stream<Item = ConverseStreamOutput> + Send>>,
        String,
    > {
        let output = req.send().await.map_err(|e| e.to_string())?;
        let events = futures_util::stream::unfold(output.stream, |mut receiver| async move {
            match receiver.recv().await {
                Ok(Some(event)) => Some((event, receiver)),
                _ => None,
            }
        });
        Ok(Box::pin(events))
    }

    /// The real `aws-sdk-bedrockruntime` client against the replayed recording.
    #[test]
    fn the_aws_sdk_converse_output_and_errors() {
        let h = Harness::with(|c| c.capture_content(true));
        let rt = multi_thread_runtime(2);
        let fixture = Fixture::named("bedrock-recorded", "botocore__test_converse_no_content");
        let output = rt.block_on(async {
            let server = fixture.serve().await;
            let request = client(server.uri())
                .converse()
                .model_id("amazon.titan-text-lite-v1")
                .messages(user("Say this is a test"))
                .inference_config(
                    InferenceConfiguration::builder()
                        .max_tokens(10)
                        .temperature(0.8)
                        .top_p(1.0)
                        .stop_sequences("|")
                        .build(),
                );
            converse(request).await
        });
        assert!(output.is_ok(), "{output:?}");
        let span = h.span("chat amazon.titan-text-lite-v1");
        assert_eq!(attr_str(&span, "gen_ai.provider.name"), Some("aws.bedrock"));
        assert_eq!(attr_i64(&span, "gen_ai.usage.input_tokens"), Some(8));
        assert_eq!(attr_i64(&span, "gen_ai.usage.output_tokens"), Some(10));
        assert_eq!(attr_i64(&span, "gen_ai.request.max_tokens"), Some(10));
        assert_eq!(
            attr_strings(&span, "gen_ai.response.finish_reasons"),
            Some(vec!["max_tokens".into()])
        );
        let output: serde_json::Value =
            serde_json::from_str(attr_str(&span, "gen_ai.output.messages").expect("output"))
                .expect("JSON");
        assert_eq!(output[0]["parts"][0]["content"], "Hello, how are you doing");
        assert_eq!(output[0]["finish_reason"], "length");

        // The recorded 400 with its x-amzn-errortype header.
        h.exporter.reset();
        let fixture = Fixture::named(
            "bedrock-recorded",
            "botocore__test_converse_with_invalid_model",
        );
        let failed = rt.block_on(async {
            let server = fixture.serve().await;
            let request = client(server.uri())
                .converse()
                .model_id("does-not-exist")
                .messages(user("Say this is a test"));
            converse(request).await
        });
        assert!(failed.is_err());
        let span = h.span("chat does-not-exist");
        assert!(is_error(&span));
        assert_eq!(attr_str(&span, "error.type"), Some("invalid_request"));
    }

    #[test]
    fn the_aws_sdk_converse_stream() {
        let h = Harness::with(|c| c.capture_content(true));
        let rt = multi_thread_runtime(2);
        let fixture = Fixture::named(
            "bedrock-recorded",
            "botocore__test_converse_stream_no_content_different_events",
        );
        let events = rt.block_on(async {
            use futures_util::StreamExt;
            let server = fixture.serve().await;
            let request = client(server.uri())
                .converse_stream()
                .model_id("anthropic.claude-v2")
                .system(SystemContentBlock::Text("You are a friendly app".into()))
                .messages(user("Say this is a test"));
            let stream = converse_stream(request).await.expect("stream");
            stream.count().await
        });
        assert_eq!(events, fixture.interactions[0].decoded_chunks.len());
        let span = h.span("chat anthropic.claude-v2");
        assert_eq!(attr_i64(&span, "gen_ai.usage.input_tokens"), Some(37));
        assert_eq!(attr_i64(&span, "gen_ai.usage.output_tokens"), Some(8));
        assert_eq!(
            attr_strings(&span, "gen_ai.response.finish_reasons"),
            Some(vec!["end_turn".into()])
        );
        assert_eq!(
            attr_i64(&span, "trace_llm.stream.chunks"),
            Some(events as i64)
        );
        assert!(attr_str(&span, "gen_ai.system_instructions").is_some());
    }
}
