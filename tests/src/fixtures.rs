//! The recorded provider traffic in `tests/fixtures` (a copy of the project's shared
//! fixtures, kept in the repository so CI has them): loading, SSE parsing, and a loopback
//! HTTP server that replays the recorded responses.

use std::path::{Path, PathBuf};

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The folders of `tests/fixtures`: OpenAI and Anthropic, then the other providers.
pub const FOLDERS: [&str; 9] = [
    "openai-recorded",
    "anthropic-recorded",
    "gemini-recorded",
    "bedrock-recorded",
    "ollama-recorded",
    "cohere-recorded",
    "mistral-recorded",
    "groq-recorded",
    "azure-recorded",
];

/// `tests/fixtures`.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// One recorded request/response pair.
#[derive(Clone, Debug)]
pub struct Interaction {
    pub method: String,
    pub path: String,
    pub request: Value,
    pub status: u16,
    pub content_type: String,
    pub body: String,
    /// The decoded events of a binary AWS event stream (`response.chunks`), in order.
    pub decoded_chunks: Vec<Value>,
    /// `base64` when `body` holds binary bytes (AWS event streams).
    pub body_encoding: Option<String>,
    /// The few response headers recorded (`x-amzn-errortype`, request ids, ...).
    pub headers: Vec<(String, String)>,
}

impl Interaction {
    /// The exact bytes the service sent.
    pub fn body_bytes(&self) -> Vec<u8> {
        use base64::Engine as _;
        match self.body_encoding.as_deref() {
            Some("base64") => base64::engine::general_purpose::STANDARD
                .decode(&self.body)
                .expect("base64 body"),
            _ => self.body.clone().into_bytes(),
        }
    }

    pub fn is_stream(&self) -> bool {
        self.content_type.starts_with("text/event-stream")
    }

    /// The response body as JSON (non-streaming responses).
    pub fn response_json(&self) -> Value {
        serde_json::from_str(&self.body).expect("response body is JSON")
    }

    /// The SSE events of a streaming response, in order: `(event name, data)`.
    pub fn sse_events(&self) -> Vec<(String, String)> {
        sse_events(&self.body)
    }

    /// The stream's chunks as a client hands them out, whatever the framing: the decoded
    /// AWS events, the SSE `data:` payloads, the NDJSON lines; `None` for a plain response.
    /// Lenient: a line that is not JSON is skipped.
    pub fn client_chunks(&self) -> Option<Vec<Value>> {
        let lenient = |text: &str| serde_json::from_str::<Value>(text).ok();
        if !self.decoded_chunks.is_empty() {
            Some(self.decoded_chunks.clone())
        } else if self.is_stream() {
            Some(
                self.sse_events()
                    .iter()
                    .filter_map(|(_, d)| lenient(d))
                    .collect(),
            )
        } else if self.content_type.contains("ndjson") {
            Some(self.body.lines().filter_map(lenient).collect())
        } else {
            None
        }
    }

    /// The JSON payloads of a streaming response (the `[DONE]` sentinel left out).
    pub fn chunks(&self) -> Vec<Value> {
        self.sse_events()
            .into_iter()
            .filter(|(_, data)| data != "[DONE]")
            .map(|(_, data)| serde_json::from_str(&data).expect("SSE data is JSON"))
            .collect()
    }
}

/// One recorded test.
#[derive(Clone, Debug)]
pub struct Fixture {
    pub name: String,
    pub file: PathBuf,
    pub interactions: Vec<Interaction>,
}

impl Fixture {
    pub fn load(file: &Path) -> Fixture {
        let text = std::fs::read_to_string(file).expect("read fixture");
        let json: Value = serde_json::from_str(&text).expect("fixture is JSON");
        let interactions = json["interactions"]
            .as_array()
            .expect("interactions")
            .iter()
            .map(|i| Interaction {
                method: i["request"]["method"].as_str().unwrap_or("POST").to_owned(),
                path: i["request"]["path"].as_str().expect("path").to_owned(),
                request: i["request"]["body"].clone(),
                status: i["response"]["status"].as_u64().expect("status") as u16,
                content_type: i["response"]["content_type"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                body: i["response"]["body"].as_str().expect("body").to_owned(),
                body_encoding: i["response"]["body_encoding"].as_str().map(str::to_owned),
                headers: i["response"]["headers"]
                    .as_object()
                    .map(|h| {
                        h.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                            .collect()
                    })
                    .unwrap_or_default(),
                decoded_chunks: i["response"]["chunks"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect();
        Fixture {
            name: file
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            file: file.to_owned(),
            interactions,
        }
    }

    /// Every fixture of `folder` (`openai-recorded`, `anthropic-recorded`), sorted by name.
    pub fn all(folder: &str) -> Vec<Fixture> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir().join(folder))
            .expect("fixture folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files.iter().map(|f| Fixture::load(f)).collect()
    }

    /// The fixture `folder/name.json`.
    pub fn named(folder: &str, name: &str) -> Fixture {
        Fixture::load(&dir().join(folder).join(format!("{name}.json")))
    }

    /// A loopback HTTP server that answers each recorded request, in order, with its
    /// recorded response (status, content type, body).
    pub async fn serve(&self) -> MockServer {
        let server = MockServer::start().await;
        for (n, interaction) in self.interactions.iter().enumerate() {
            let route = interaction.path.split('?').next().unwrap_or("/").to_owned();
            let mut response = ResponseTemplate::new(interaction.status)
                .set_body_raw(interaction.body_bytes(), &interaction.content_type);
            for (name, value) in &interaction.headers {
                response = response.insert_header(name.as_str(), value.as_str());
            }
            Mock::given(method(interaction.method.as_str()))
                .and(path(route))
                .respond_with(response)
                .up_to_n_times(1)
                .with_priority(u8::try_from(n + 1).unwrap_or(u8::MAX))
                .mount(&server)
                .await;
        }
        server
    }
}

/// Parses a server-sent-events body with `eventsource-stream`.
pub fn sse_events(body: &str) -> Vec<(String, String)> {
    let bytes = bytes::Bytes::from(body.to_owned());
    let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes)]).eventsource();
    futures_executor::block_on(stream.collect::<Vec<_>>())
        .into_iter()
        .map(|event| {
            let event = event.expect("valid SSE");
            (event.event, event.data)
        })
        .collect()
}
