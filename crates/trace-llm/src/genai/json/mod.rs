//! `GenAiRequest` / `GenAiResponse` / `GenAiChunk` for `serde_json::Value`, so any HTTP
//! client works: OpenAI chat completions, legacy completions, embeddings and the Responses
//! API; Anthropic messages and legacy completions; OpenAI-compatible servers. The shape is
//! detected from the payload (`object` / `type` fields), and from the span's operation where
//! the payload alone is ambiguous.

pub(crate) mod messages;

use serde_json::Value;

use super::{GenAiChunk, GenAiRequest, GenAiResponse, RequestRecorder, ResponseRecorder};
use crate::semconv as sc;
use crate::span::Operation;
use crate::span::local::intern;

/// `Value::pointer` without its two string copies per segment (our paths have no `~`
/// escapes); a numeric segment indexes an array.
pub(crate) fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, key| match v {
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => entry(v, key),
    })
}

/// Objects larger than this (no payload shape has that many entries) are searched per key
/// instead, so that a huge object costs a few searches, not a pass over all of it.
pub(crate) const ONE_PASS_MOST: usize = 64;

/// [`entry`] for several keys of one object: binds each `name` to the value of `key` in
/// object `v` (`Option<&Value>`), found in one pass over its entries. Each entry's key is
/// matched once against all the keys (a `match`, which compares lengths before bytes), so
/// the cost is one pass whatever the number of keys asked about; a lookup per key would
/// search the map once per key, present or not.
///
/// `fields!(v => target { field = "key", ... })` sets `target.field` instead.
macro_rules! fields {
    ($v:expr; $($name:ident = $key:literal),+ $(,)?) => {
        $(let mut $name: Option<&Value> = None;)+
        fields!(@fill $v; $($name => $key),+);
    };
    ($v:expr => $target:ident { $($field:ident = $key:literal),+ $(,)? }) => {
        fields!(@fill $v; $($target.$field => $key),+);
    };
    (@fill $v:expr; $($place:expr => $key:literal),+) => {
        match $v {
            Value::Object(map) if map.len() <= $crate::genai::json::ONE_PASS_MOST => {
                for (key, value) in map {
                    match key.as_str() {
                        $($key => $place = Some(value),)+
                        _ => {}
                    }
                }
            }
            Value::Object(map) => {
                $($place = map.get($key);)+
            }
            _ => {}
        }
    };
}

// After `fields!`, which they use.
mod anthropic;
mod bedrock;
mod chunks;
#[cfg(feature = "aws-bedrock")]
pub(crate) use bedrock::{
    cached_usage as bedrock_cached_usage, exception_type as aws_exception_type,
    message as bedrock_message,
};
mod cohere;
mod google;
mod ollama;
mod openai;

use anthropic::{
    anthropic_or_bedrock, anthropic_usage, record_anthropic_completion, record_anthropic_message,
};
#[cfg(feature = "async-openai")]
pub(crate) use openai::base64_decoded_len;
use openai::{
    openai_usage, record_chat_completion, record_embeddings, record_openai_extras,
    record_responses_response,
};

/// A count from the payload: a non-negative integer, or nothing (a negative or fractional
/// value is not a count; `u64` values past `i64::MAX` are not representable as attributes).
fn as_int(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_i64).filter(|n| *n >= 0)
}

fn as_num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

fn as_text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

/// The value of `key` in object `v`: every lookup in a payload goes through it, or through
/// [`at`] for a path and [`fields!`] for several keys of one object. For the small objects
/// of a payload a scan comparing lengths before bytes is cheaper than the map's ordered
/// search, which compares bytes at every step; larger objects use the search.
pub(crate) fn entry<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) if map.len() <= 16 => map
            .iter()
            .find_map(|(k, value)| (k == key).then_some(value)),
        _ => v.get(key),
    }
}

fn int(v: &Value, key: &str) -> Option<i64> {
    as_int(entry(v, key))
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    entry(v, key).and_then(Value::as_str)
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// `openai.*` attributes apply when the span's provider is OpenAI (or not said).
fn openai_flavoured(provider: Option<&str>) -> bool {
    matches!(provider, None | Some("openai" | "azure.ai.openai"))
}

impl GenAiRequest for Value {
    fn model(&self) -> Option<&str> {
        text(self, "model")
    }

    fn record_request(&self, rec: &mut RequestRecorder<'_>) {
        fields!(self;
            temperature = "temperature",
            max_tokens = "max_tokens",
            max_completion_tokens = "max_completion_tokens",
            max_output_tokens = "max_output_tokens",
            max_tokens_to_sample = "max_tokens_to_sample",
            top_p = "top_p",
            top_k = "top_k",
            frequency_penalty = "frequency_penalty",
            presence_penalty = "presence_penalty",
            stop = "stop",
            stop_sequences = "stop_sequences",
            seed = "seed",
            stream = "stream",
            n = "n",
            candidate_count = "candidate_count",
            response_format = "response_format",
            text_options = "text",
            encoding_format = "encoding_format",
            service_tier = "service_tier",
            chat_messages = "messages",
            input = "input",
            prompt = "prompt",
            system = "system",
            instructions = "instructions",
            tools = "tools",
            contents = "contents",
            inference_config = "inferenceConfig",
            tool_config = "toolConfig",
            additional_fields = "additionalModelRequestFields",
            schema_version = "schemaVersion",
            titan_config = "textGenerationConfig",
            max_gen_len = "max_gen_len",
            options = "options",
            keep_alive = "keep_alive",
            think = "think",
            cohere_p = "p",
            cohere_k = "k",
            random_seed = "random_seed",
            anthropic_version = "anthropic_version",
            output_format = "output_format",
            output_config = "output_config",
        );
        // Providers whose request shape differs from OpenAI's and Anthropic's.
        if contents.is_some() {
            return google::record_request(self, rec);
        }
        let bedrock_keys = [
            inference_config,
            tool_config,
            additional_fields,
            schema_version,
            titan_config,
            max_gen_len,
        ];
        if bedrock_keys.iter().any(Option::is_some)
            || (anthropic_version.is_none() && bedrock::converse_blocks(chat_messages))
        {
            return bedrock::record_request(self, rec);
        }
        if options.is_some_and(Value::is_object) || keep_alive.is_some() || think.is_some() {
            return ollama::record_request(self, rec);
        }
        if let Some(t) = as_num(temperature) {
            rec.temperature(t);
        }
        let max_tokens = [
            max_tokens,
            max_completion_tokens,
            max_output_tokens,
            max_tokens_to_sample,
        ]
        .into_iter()
        .find_map(as_int);
        if let Some(n) = max_tokens {
            rec.max_tokens(n);
        }
        // Cohere names them `p` and `k`.
        if let Some(p) = as_num(top_p.or(cohere_p)) {
            rec.top_p(p);
        }
        if let Some(k) = as_num(top_k.or(cohere_k)) {
            rec.top_k(k);
        }
        if let Some(p) = as_num(frequency_penalty) {
            rec.frequency_penalty(p);
        }
        if let Some(p) = as_num(presence_penalty) {
            rec.presence_penalty(p);
        }
        if let Some(stop) = stop.or(stop_sequences).filter(|s| !s.is_null()) {
            let stop = strings(stop);
            if !stop.is_empty() {
                rec.stop_sequences(stop);
            }
        }
        // Mistral names it `random_seed`.
        if let Some(seed) = as_int(seed.or(random_seed)) {
            rec.seed(seed);
        }
        if stream.and_then(Value::as_bool) == Some(true) {
            rec.stream(true);
        }
        if let Some(n) = as_int(n).or_else(|| as_int(candidate_count)) {
            rec.choice_count(n);
        }
        let format = response_format
            .and_then(|f| entry(f, "type"))
            .or_else(|| at(text_options?, &["format", "type"]))
            .or_else(|| entry(output_format?, "type"))
            .or_else(|| at(output_config?, &["format", "type"]))
            .and_then(Value::as_str);
        if let Some(format) = format {
            rec.output_type(if format == "text" { "text" } else { "json" });
        }
        if rec.operation() == Operation::Embeddings {
            if let Some(format) = encoding_format.filter(|f| !f.is_null()) {
                rec.encoding_formats(strings(format));
            }
        }
        if anthropic_version.is_none() && system.is_none() && openai_flavoured(rec.provider()) {
            if let Some(tier) = as_text(service_tier).filter(|t| *t != "auto") {
                rec.attr(sc::OPENAI_REQUEST_SERVICE_TIER, intern(tier));
            }
            if rec.operation() == Operation::Chat {
                let api = if chat_messages.is_some() {
                    Some("chat_completions")
                } else if input.is_some() {
                    Some("responses")
                } else {
                    None
                };
                if let Some(api) = api {
                    rec.attr(sc::OPENAI_API_TYPE, api);
                }
            }
        }
        if !rec.capture_content() {
            return;
        }
        if let Some(Value::Array(msgs)) = chat_messages {
            rec.input_messages(|| messages::input_messages(msgs));
        } else if let Some(prompt) = prompt.filter(|p| p.is_string() || p.is_array()) {
            rec.input_messages(|| messages::prompt_input(prompt));
        } else if let Some(input) = input.filter(|_| rec.operation() != Operation::Embeddings) {
            rec.input_messages(|| messages::responses_input(input));
        }
        if let Some(system) = system.or(instructions).filter(|s| !s.is_null()) {
            rec.system_instructions(|| messages::system_instructions(system));
        }
        if let Some(Value::Array(tools)) = tools {
            if !tools.is_empty() {
                rec.tool_definitions(|| messages::tool_definitions(tools));
            }
        }
    }
}

/// The entries of a response (or stream chunk) object that extraction reads, found in one
/// pass over it.
#[derive(Default)]
struct Entries<'a> {
    id: Option<&'a Value>,
    model: Option<&'a Value>,
    object: Option<&'a Value>,
    kind: Option<&'a Value>,
    choices: Option<&'a Value>,
    usage: Option<&'a Value>,
    system_fingerprint: Option<&'a Value>,
    service_tier: Option<&'a Value>,
    output: Option<&'a Value>,
    incomplete_details: Option<&'a Value>,
    status: Option<&'a Value>,
    error: Option<&'a Value>,
    data: Option<&'a Value>,
    stop_reason: Option<&'a Value>,
    role: Option<&'a Value>,
    content: Option<&'a Value>,
    completion: Option<&'a Value>,
    // Shapes of other providers, told apart by these.
    candidates: Option<&'a Value>,
    usage_metadata: Option<&'a Value>,
    stop_reason_camel: Option<&'a Value>,
    done: Option<&'a Value>,
    finish_reason: Option<&'a Value>,
    message: Option<&'a Value>,
    results: Option<&'a Value>,
    generation: Option<&'a Value>,
    x_groq: Option<&'a Value>,
    prompt_filter_results: Option<&'a Value>,
}

impl<'a> Entries<'a> {
    fn of(v: &'a Value) -> Self {
        let mut e = Entries::default();
        fields!(v => e {
            id = "id",
            model = "model",
            object = "object",
            kind = "type",
            choices = "choices",
            usage = "usage",
            system_fingerprint = "system_fingerprint",
            service_tier = "service_tier",
            output = "output",
            incomplete_details = "incomplete_details",
            status = "status",
            error = "error",
            data = "data",
            stop_reason = "stop_reason",
            role = "role",
            content = "content",
            completion = "completion",
            candidates = "candidates",
            usage_metadata = "usageMetadata",
            stop_reason_camel = "stopReason",
            done = "done",
            finish_reason = "finish_reason",
            message = "message",
            results = "results",
            generation = "generation",
            x_groq = "x_groq",
            prompt_filter_results = "prompt_filter_results",
        });
        e
    }

    /// Providers that speak OpenAI's chat format but say who they are.
    fn record_compatible_provider(&self, rec: &mut ResponseRecorder<'_>) {
        if self.x_groq.is_some() {
            rec.infer_provider("groq");
        } else if self.prompt_filter_results.is_some() || self.has_content_filter_results() {
            rec.infer_provider("azure.ai.openai");
        } else if self
            .usage
            .is_some_and(|u| entry(u, "prompt_cache_hit_tokens").is_some())
        {
            rec.infer_provider("deepseek");
        }
    }

    fn has_content_filter_results(&self) -> bool {
        self.choices()
            .first()
            .is_some_and(|c| entry(c, "content_filter_results").is_some())
    }

    /// The response id and model, which every shape carries the same way.
    fn record_id_and_model(&self, rec: &mut ResponseRecorder<'_>) {
        // Azure's first stream chunk (its prompt filter results) has empty ones.
        if let Some(id) = as_text(self.id).filter(|s| !s.is_empty()) {
            rec.id(id);
        }
        if let Some(model) = as_text(self.model).filter(|s| !s.is_empty()) {
            rec.model(model);
        }
    }

    fn choices(&self) -> &'a [Value] {
        self.choices
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }
}

/// An error body (`{"error": {...}}`) returned as a value: recorded as the call's error.
/// Google's carries the HTTP status as a number in `code` and its status name in `status`.
fn record_error_body(error: &Value, rec: &mut ResponseRecorder<'_>) {
    let kind = text(error, "type").or_else(|| text(error, "status"));
    let code = text(error, "code");
    let status = entry(error, "code")
        .and_then(Value::as_u64)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| (100..600).contains(n));
    let error_type = super::errors::classify(status, kind, code);
    rec.error(&error_type, text(error, "message").unwrap_or(""));
}

/// An error body that is only a message (`{"message": "..."}` from Bedrock or Cohere,
/// `{"error": "..."}` from Ollama), with an AWS `__type` when there is one.
fn record_message_error(v: &Value, message: &str, rec: &mut ResponseRecorder<'_>) {
    let error_type = match text(v, "__type").or_else(|| text(v, "code")) {
        Some(name) => bedrock::exception_type(name),
        None => sc::error_type::OTHER,
    };
    rec.error(error_type, message);
}

impl GenAiResponse for Value {
    fn record_response(&self, rec: &mut ResponseRecorder<'_>) {
        // A whole stream collected into one array (Gemini's `streamGenerateContent`
        // without `alt=sse`, a client that buffers): each item is a chunk.
        if let Value::Array(items) = self {
            for item in items {
                item.record_chunk(rec);
            }
            return;
        }
        let e = Entries::of(self);
        match (as_text(e.object), as_text(e.kind)) {
            (Some("chat.completion" | "text_completion"), _) => {
                e.record_id_and_model(rec);
                record_chat_completion(&e, rec);
            }
            (Some("response"), _) => {
                e.record_id_and_model(rec);
                record_responses_response(&e, rec);
            }
            (Some("list"), _) => {
                e.record_id_and_model(rec);
                record_embeddings(&e, rec);
            }
            (_, Some("message")) => {
                e.record_id_and_model(rec);
                rec.infer_provider(anthropic_or_bedrock(as_text(e.id)));
                record_anthropic_message(&e, rec);
            }
            (_, Some("completion")) => {
                e.record_id_and_model(rec);
                rec.infer_provider(anthropic_or_bedrock(as_text(e.id)));
                record_anthropic_completion(&e, rec);
            }
            (_, Some("error")) | (None, None) if e.error.is_some_and(Value::is_object) => {
                if let Some(error) = e.error {
                    record_error_body(error, rec);
                }
            }
            _ if e.candidates.is_some() || e.usage_metadata.is_some() => {
                google::record_response(self, rec, false);
            }
            _ if e.stop_reason_camel.is_some()
                || e.output.is_some_and(Value::is_object)
                || (e.results.is_some() && e.usage.is_none())
                || e.generation.is_some() =>
            {
                bedrock::record_response(self, rec);
            }
            _ if e.done.is_some_and(Value::is_boolean) => {
                ollama::record_response(self, rec, false);
            }
            _ if e.finish_reason.is_some_and(Value::is_string)
                && e.message.is_some_and(Value::is_object) =>
            {
                cohere::record_response(self, rec);
            }
            // OpenAI-compatible servers do not always send `object`.
            _ if e.choices.is_some() => {
                e.record_id_and_model(rec);
                record_chat_completion(&e, rec);
            }
            _ if e.data.is_some() => {
                e.record_id_and_model(rec);
                record_embeddings(&e, rec);
            }
            // Only a model call's value is read as a bare error message: a tool may well
            // return `{"message": "done"}`.
            _ if rec.operation().is_inference() => {
                let small = self.as_object().is_some_and(|m| m.len() <= 3);
                if let Some(message) = as_text(e.error).or_else(|| as_text(e.message)) {
                    if small {
                        record_message_error(self, message, rec);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_finds_the_same_entries_in_small_and_large_objects() {
        let small = json!({"temperature": 0.5, "seed": 7, "model": "m"});
        let mut large = small.clone();
        for i in 0..2 * ONE_PASS_MOST {
            large[format!("extra_{i}")] = json!(i);
        }
        for v in [&small, &large, &json!([1, 2])] {
            fields!(v; temperature = "temperature", seed = "seed", missing = "missing");
            let object = v.is_object();
            assert_eq!(temperature, object.then_some(&json!(0.5)));
            assert_eq!(seed.and_then(Value::as_i64), object.then_some(7));
            assert!(missing.is_none());
            assert_eq!(
                entry(v, "model").and_then(Value::as_str),
                object.then_some("m")
            );
        }
    }
}
