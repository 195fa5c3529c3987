//! The console exporter: prints each trace as an indented tree with durations, status and
//! the GenAI attributes, when its root span ends (or, for spans whose root never comes, on
//! flush and shutdown).

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::io::Write;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::semconv as sc;

/// Width the attribute lines wrap at.
const WRAP: usize = 100;

pub(crate) struct ConsoleExporter {
    state: Mutex<State>,
}

struct State {
    /// Spans of traces whose root has not ended yet.
    pending: HashMap<TraceId, Vec<SpanData>>,
    out: Box<dyn Write + Send>,
}

impl fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConsoleExporter")
    }
}

impl ConsoleExporter {
    pub(crate) fn stdout() -> Self {
        Self::new(Box::new(std::io::stdout()))
    }

    pub(crate) fn new(out: Box<dyn Write + Send>) -> Self {
        ConsoleExporter {
            state: Mutex::new(State {
                pending: HashMap::new(),
                out,
            }),
        }
    }

    fn print_pending(&self) -> OTelSdkResult {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let pending: Vec<Vec<SpanData>> = state.pending.drain().map(|(_, spans)| spans).collect();
        let mut text = String::new();
        for spans in pending {
            render_trace(spans, &mut text);
        }
        write_out(&mut state.out, &text)
    }
}

fn write_out(out: &mut Box<dyn Write + Send>, text: &str) -> OTelSdkResult {
    if text.is_empty() {
        return Ok(());
    }
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| opentelemetry_sdk::error::OTelSdkError::InternalFailure(e.to_string()))
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut finished = Vec::new();
        for span in batch {
            let trace_id = span.span_context.trace_id();
            let is_root = span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote;
            state.pending.entry(trace_id).or_default().push(span);
            if is_root {
                finished.push(trace_id);
            }
        }
        let mut text = String::new();
        for trace_id in finished {
            if let Some(spans) = state.pending.remove(&trace_id) {
                render_trace(spans, &mut text);
            }
        }
        write_out(&mut state.out, &text)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.print_pending()
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.print_pending()
    }
}

/// Renders the spans of one trace: spans whose parent is not among them are roots.
pub(crate) fn render_trace(mut spans: Vec<SpanData>, out: &mut String) {
    spans.sort_by_key(|s| s.start_time);
    let index: HashMap<SpanId, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_context.span_id(), i))
        .collect();
    let mut children: HashMap<SpanId, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        if index.contains_key(&span.parent_span_id) && span.parent_span_id != SpanId::INVALID {
            children.entry(span.parent_span_id).or_default().push(i);
        } else {
            roots.push(i);
        }
    }
    for root in roots {
        render_span(&spans, &children, root, "", "", out);
    }
}

fn render_span(
    spans: &[SpanData],
    children: &HashMap<SpanId, Vec<usize>>,
    i: usize,
    first_prefix: &str,
    rest_prefix: &str,
    out: &mut String,
) {
    let span = &spans[i];
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    let kind = match span.span_kind {
        SpanKind::Client => " CLIENT",
        SpanKind::Server => " SERVER",
        SpanKind::Producer => " PRODUCER",
        SpanKind::Consumer => " CONSUMER",
        SpanKind::Internal => "",
    };
    let status = match &span.status {
        Status::Error { .. } => {
            let ty = attr(&span.attributes, sc::ERROR_TYPE)
                .map_or_else(|| "error".to_owned(), |v| v.to_string());
            format!("ERROR {ty}")
        }
        _ => "ok".to_owned(),
    };
    // A root continuing another service's trace says which.
    let remote = if span.parent_span_is_remote {
        format!(
            "  (trace {}, remote parent {})",
            span.span_context.trace_id(),
            span.parent_span_id
        )
    } else {
        String::new()
    };
    let money = cost_summary(&span.attributes);
    // A trace the head sampler dropped and an outcome rule kept says which rule.
    let kept = attr(&span.attributes, sc::TRACE_LLM_SAMPLING_KEPT_BY)
        .map_or_else(String::new, |rule| format!("  [kept: {rule}]"));
    let _ = writeln!(
        out,
        "{first_prefix}{}  {}{kind}  {status}{money}{kept}{remote}",
        span.name,
        format_duration(duration)
    );
    let kids = children.get(&span.span_context.span_id());
    let detail_prefix = if kids.is_some_and(|k| !k.is_empty()) {
        format!("{rest_prefix}│   ")
    } else {
        format!("{rest_prefix}    ")
    };
    let parent = spans
        .iter()
        .find(|p| p.span_context.span_id() == span.parent_span_id);
    render_details(span, parent, &detail_prefix, out);
    if let Some(kids) = kids {
        for (n, &child) in kids.iter().enumerate() {
            let last = n + 1 == kids.len();
            let (first, rest) = if last {
                ("└── ", "    ")
            } else {
                ("├── ", "│   ")
            };
            render_span(
                spans,
                children,
                child,
                &format!("{rest_prefix}{first}"),
                &format!("{rest_prefix}{rest}"),
                out,
            );
        }
    }
}

/// Keys the header line summarises (see [`cost_summary`]).
const SUMMARISED_KEYS: [&str; 6] = [
    sc::TRACE_LLM_SAMPLING_KEPT_BY,
    sc::TRACE_LLM_USAGE_COST,
    sc::TRACE_LLM_USAGE_TOTAL_COST,
    sc::TRACE_LLM_USAGE_TOTAL_INPUT_TOKENS,
    sc::TRACE_LLM_USAGE_TOTAL_OUTPUT_TOKENS,
    sc::TRACE_LLM_USAGE_INFERENCE_CALLS,
];

/// `  $0.000123` for a priced call; `  total $0.0042 (3 calls, 1200 in / 310 out tokens)`
/// for a span with descendants that used models.
fn cost_summary(attributes: &[KeyValue]) -> String {
    let float = |key| match attr(attributes, key) {
        Some(Value::F64(v)) => Some(*v),
        _ => None,
    };
    let int = |key| match attr(attributes, key) {
        Some(Value::I64(v)) => Some(*v),
        _ => None,
    };
    let mut summary = String::new();
    if let Some(cost) = float(sc::TRACE_LLM_USAGE_COST) {
        let _ = write!(summary, "  {}", format_usd(cost));
    }
    if let Some(calls) = int(sc::TRACE_LLM_USAGE_INFERENCE_CALLS) {
        let total =
            float(sc::TRACE_LLM_USAGE_TOTAL_COST).map_or_else(|| "unpriced".to_owned(), format_usd);
        let plural = if calls == 1 { "" } else { "s" };
        let _ = write!(
            summary,
            "  total {total} ({calls} call{plural}, {} in / {} out tokens)",
            int(sc::TRACE_LLM_USAGE_TOTAL_INPUT_TOKENS).unwrap_or(0),
            int(sc::TRACE_LLM_USAGE_TOTAL_OUTPUT_TOKENS).unwrap_or(0),
        );
    }
    summary
}

/// Dollars with four significant digits below $1 (a single call can cost $0.0000001).
fn format_usd(usd: f64) -> String {
    if usd >= 1.0 {
        return format!("${usd:.2}");
    }
    if usd <= 0.0 || !usd.is_finite() {
        return "$0".to_owned();
    }
    // Digits after the point for four significant ones, at most 12 (a pico-dollar).
    let decimals = (3.0 - usd.log10().floor()).clamp(2.0, 12.0) as usize;
    let text = format!("{usd:.decimals$}");
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    format!("${trimmed}")
}

/// Request-context keys: shown on a span only where they differ from its parent's.
const INHERITED_KEYS: [&str; 9] = [
    sc::TRACE_LLM_PROMPT_NAME,
    sc::TRACE_LLM_PROMPT_VERSION,
    sc::latest::GEN_AI_PROMPT_NAME,
    sc::latest::GEN_AI_PROMPT_VERSION,
    sc::SESSION_ID,
    sc::USER_ID,
    sc::TRACE_LLM_USER_COHORT,
    sc::TRACE_LLM_TENANT_ID,
    sc::GEN_AI_CONVERSATION_ID,
];

/// Attributes worth reading in a terminal (all but the code location, and context values
/// the parent already shows), wrapped, then events.
fn render_details(span: &SpanData, parent: Option<&SpanData>, prefix: &str, out: &mut String) {
    let mut line = String::new();
    for KeyValue { key, value, .. } in &span.attributes {
        if key.as_str() == sc::CODE_FUNCTION_NAME
            || key.as_str() == sc::ERROR_TYPE
            || SUMMARISED_KEYS.contains(&key.as_str())
        {
            continue;
        }
        let inherited = INHERITED_KEYS.contains(&key.as_str())
            && parent.is_some_and(|p| attr(&p.attributes, key.as_str()) == Some(value));
        if inherited {
            continue;
        }
        let item = format!("{}={}", key.as_str(), format_value(value));
        if !line.is_empty() && prefix.chars().count() + line.len() + item.len() + 1 > WRAP {
            let _ = writeln!(out, "{prefix}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&item);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{prefix}{line}");
    }
    for event in span.events.iter() {
        if event.name == sc::EXCEPTION_EVENT {
            let ty = attr(&event.attributes, sc::EXCEPTION_TYPE).map(|v| v.to_string());
            let msg = attr(&event.attributes, sc::EXCEPTION_MESSAGE).map(|v| v.to_string());
            let _ = writeln!(
                out,
                "{prefix}! {}: {}",
                ty.unwrap_or_default(),
                msg.unwrap_or_default()
            );
        } else {
            let _ = writeln!(out, "{prefix}· {}", event.name);
        }
    }
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn format_value(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let s = s.as_str();
            let short: String = s.chars().take(60).collect();
            let ellipsis = if short.len() < s.len() { "…" } else { "" };
            if short.contains(' ') || short.is_empty() {
                format!("{short:?}{ellipsis}")
            } else {
                format!("{short}{ellipsis}")
            }
        }
        Value::F64(f) => format!("{f:.6}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned(),
        other => other.to_string(),
    }
}

fn format_duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0}µs")
    } else if micros < 1e6 {
        format!("{:.2}ms", micros / 1e3)
    } else {
        format!("{:.2}s", micros / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{SpanContext, TraceFlags, TraceState};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;

    fn span(
        id: u64,
        parent: u64,
        name: &'static str,
        start_ms: u64,
        attrs: Vec<KeyValue>,
    ) -> SpanData {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(7u128),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::NONE,
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.into(),
            start_time: t0 + Duration::from_millis(start_ms),
            end_time: t0 + Duration::from_millis(start_ms + 2),
            attributes: attrs,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Ok,
            instrumentation_scope: InstrumentationScope::builder("t").build(),
        }
    }

    #[test]
    fn formats_dollars_with_four_significant_digits() {
        assert_eq!(format_usd(0.0), "$0");
        assert_eq!(format_usd(0.003465), "$0.003465");
        assert_eq!(format_usd(0.0055), "$0.0055");
        assert_eq!(format_usd(1e-7), "$0.0000001");
        assert_eq!(format_usd(0.020_324_68), "$0.02032");
        assert_eq!(format_usd(12.5), "$12.50");
    }

    #[test]
    fn renders_an_indented_tree_in_start_order() {
        let tenant = || KeyValue::new(sc::TRACE_LLM_TENANT_ID, "acme");
        let spans = vec![
            span(
                3,
                1,
                "chat gpt-4o",
                5,
                vec![tenant(), KeyValue::new(sc::GEN_AI_USAGE_INPUT_TOKENS, 12)],
            ),
            span(2, 1, "retrieval docs", 1, vec![tenant()]),
            span(4, 2, "rerank", 2, vec![]),
            span(
                1,
                0,
                "agent",
                0,
                vec![
                    tenant(),
                    KeyValue::new(sc::TRACE_LLM_SAMPLING_KEPT_BY, "error"),
                ],
            ),
        ];
        let mut out = String::new();
        render_trace(spans, &mut out);
        let expected = "\
agent  2.00ms  ok  [kept: error]
│   trace_llm.tenant.id=acme
├── retrieval docs  2.00ms  ok
│   └── rerank  2.00ms  ok
└── chat gpt-4o  2.00ms  ok
        gen_ai.usage.input_tokens=12
";
        assert_eq!(out, expected);
    }
}
