//! The benchmarks compare like with like: for each workload, the hand-written SDK code
//! exports spans with the same names, kinds and attribute keys as `#[trace_llm]` does.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use trace_llm::TracingConfig;
use trace_llm_benches::*;

#[derive(Clone, Debug, Default)]
struct Collect(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Collect {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

impl Collect {
    /// Name, kind and attribute keys of each span, sorted.
    fn take(&self) -> Vec<(String, String, BTreeSet<String>)> {
        let mut spans: Vec<_> = std::mem::take(&mut *self.0.lock().unwrap())
            .into_iter()
            .map(|s| {
                let keys = s.attributes.iter().map(|kv| kv.key.to_string()).collect();
                (s.name.to_string(), kind(&s.span_kind), keys)
            })
            .collect();
        spans.sort();
        spans
    }
}

fn kind(kind: &SpanKind) -> String {
    format!("{kind:?}")
}

#[test]
fn sdk_baselines_export_the_spans_trace_llm_exports() {
    let ours = Collect::default();
    let guard = TracingConfig::default()
        .with_span_exporter(ours.clone())
        .init()
        .expect("init");
    let sdk = Collect::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(sdk.clone())
        .build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "bench");

    type Workload<'a> = (&'a str, Box<dyn Fn() + 'a>, Box<dyn Fn() + 'a>);
    let workloads: Vec<Workload<'_>> = vec![
        (
            "sync",
            Box::new(|| {
                traced_chat(&REQUEST);
            }),
            Box::new(|| {
                sdk_chat(&tracer, &REQUEST);
            }),
        ),
        (
            "async",
            Box::new(|| {
                ready(traced_chat_async(&REQUEST));
            }),
            Box::new(|| {
                ready(sdk_chat_async(&tracer, &REQUEST));
            }),
        ),
        (
            "stream",
            Box::new(|| {
                drain(traced_stream(&REQUEST));
            }),
            Box::new(|| {
                sdk_stream(&tracer, &REQUEST);
            }),
        ),
        (
            "json",
            Box::new(|| {
                json::traced_json_chat(&json::PAYLOADS.request);
            }),
            Box::new(|| {
                json::sdk_json_chat(&tracer, &json::PAYLOADS.request);
            }),
        ),
        (
            "nested4",
            Box::new(|| {
                traced_agent(&REQUEST);
            }),
            Box::new(|| {
                sdk_agent(&tracer, &REQUEST);
            }),
        ),
    ];
    for (name, traced, by_hand) in workloads {
        traced();
        guard.force_flush().expect("flush");
        by_hand();
        let (ours, sdk) = (ours.take(), sdk.take());
        assert!(!ours.is_empty(), "{name}: trace-llm exported nothing");
        assert_eq!(
            ours, sdk,
            "{name}: the SDK baseline differs from trace-llm's spans"
        );
    }
    let _ = guard.shutdown();
    let _ = provider.shutdown();
}
