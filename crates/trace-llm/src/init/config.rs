//! `TracingConfig`: the by-value builder behind `init_tracing()`. Every setting left unset
//! in code is read from its `OTEL_*` variable at `init()`, then defaulted.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::SpanExporter;

use super::config_env::{
    build_resource, capture_content_from_env, exporter_from_env, latest_from_env, metrics_from_env,
    sampler_from_env, tail_rules, temporality_from_env,
};
use super::console::ConsoleExporter;
use super::env;
use super::exporter::{DynExporter, DynMetricExporter, NoopExporter};
use super::guard::TracingGuard;
use super::otlp::{OtlpSettings, Protocol};
use super::pipeline::{Limits, Pipeline, Redactor};
use super::worker::{self, ExporterFactory, MetricExporterFactory, MetricsWork};
use crate::cost::{Price, PriceTable};
use crate::error::Error;
use crate::metrics::MetricsSetup;
use crate::semconv as sc;
use crate::span::sampler::Sampler;
use crate::span::{Core, Settings};

/// Default most spans the queue holds before it drops: enough for a 100,000-span burst to
/// reach a live collector whole. A queued GenAI chat span takes about 1.3–1.5 KiB, so this
/// bounds the queue near 200 MiB in the worst case (dead collector, sustained burst; see
/// BENCHMARKS.md for the measurement).
pub const DEFAULT_QUEUE_SIZE: usize = 131_072;
/// Default most spans per export call.
pub const DEFAULT_BATCH_SIZE: usize = 512;
/// Default most export calls in flight at once (`OTEL_BSP_MAX_CONCURRENT_EXPORTS`): when the
/// queue holds several batches, sending them together hides the collector's round trip.
pub const DEFAULT_CONCURRENT_EXPORTS: usize = 4;
/// Default per-attribute size limit of captured content, in bytes.
pub const DEFAULT_CONTENT_MAX_BYTES: usize = 16 * 1024;

pub(super) enum ExporterChoice {
    Otlp,
    Console,
    None,
    Custom(Box<dyn DynExporter>),
}

/// Configuration of the tracing pipeline; [`init`](TracingConfig::init) starts it.
///
/// Settings made in code win over the `OTEL_*` environment variables, which win over the
/// defaults. [`TracingConfig::default`] and [`TracingConfig::from_env`] are the same
/// starting point: nothing set in code, everything else from the environment.
///
/// ```no_run
/// use std::time::Duration;
/// use trace_llm::{Protocol, TracingConfig};
///
/// let _guard = TracingConfig::default()
///     .service_name("support-bot")
///     .environment("production")
///     .otlp_endpoint("http://collector:4317")
///     .protocol(Protocol::Grpc)
///     .timeout(Duration::from_secs(5))
///     .sample_ratio(0.25)
///     .init()?;
/// # Ok::<(), trace_llm::Error>(())
/// ```
#[derive(Default)]
#[must_use = "nothing happens until `init()` is called"]
pub struct TracingConfig {
    service_name: Option<String>,
    service_version: Option<String>,
    environment: Option<String>,
    otlp_endpoint: Option<String>,
    protocol: Option<Protocol>,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    sample_ratio: Option<f64>,
    batch_queue_size: Option<usize>,
    capture_content: Option<bool>,
    gen_ai_latest: Option<bool>,
    keep_errors: Option<bool>,
    keep_slower_than: Option<Duration>,
    keep_costlier_than: Option<f64>,
    tail_max_spans: Option<usize>,
    content_max_bytes: Option<usize>,
    redact: Option<Redactor>,
    exporter: Option<ExporterChoice>,
    shutdown_timeout: Option<Duration>,
    metrics: Option<bool>,
    metric_exporter: Option<(Box<dyn DynMetricExporter>, Temporality)>,
    prices: HashMap<String, Price>,
}

impl fmt::Debug for TracingConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingConfig")
            .field("service_name", &self.service_name)
            .field("otlp_endpoint", &self.otlp_endpoint)
            .field("protocol", &self.protocol)
            .field("sample_ratio", &self.sample_ratio)
            .field("capture_content", &self.capture_content)
            .finish_non_exhaustive()
    }
}

impl TracingConfig {
    /// Same as [`TracingConfig::default`]: everything not set in code comes from the
    /// environment when [`init`](Self::init) runs.
    pub fn from_env() -> Self {
        Self::default()
    }

    /// `service.name` (else `OTEL_SERVICE_NAME`, else `unknown_service`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// `service.version`.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// `deployment.environment.name` (`production`, `staging`, ...).
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Base URL of the OTLP receiver, like `OTEL_EXPORTER_OTLP_ENDPOINT`: `/v1/traces` is
    /// appended for HTTP. Selects the OTLP exporter.
    pub fn otlp_endpoint(mut self, url: impl Into<String>) -> Self {
        self.otlp_endpoint = Some(url.into());
        self
    }

    /// OTLP over gRPC or HTTP/protobuf (else `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`, else
    /// HTTP/protobuf).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Headers sent with every export (API keys, `Authorization`), added to those of
    /// `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`.
    pub fn headers<I, K, V>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.headers
            .extend(headers.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Timeout of one export attempt (else `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT`, else 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Keep this fraction of traces (parent-based: children follow their parent's
    /// decision). Else `OTEL_TRACES_SAMPLER[_ARG]`, else everything.
    pub fn sample_ratio(mut self, ratio: f64) -> Self {
        self.sample_ratio = Some(ratio);
        self
    }

    /// Most ended spans waiting for export; beyond it spans are dropped and counted (else
    /// `OTEL_BSP_MAX_QUEUE_SIZE`, else [`DEFAULT_QUEUE_SIZE`]).
    pub fn batch_queue_size(mut self, spans: usize) -> Self {
        self.batch_queue_size = Some(spans);
        self
    }

    /// Record prompts, completions, tool arguments and results (else
    /// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`, else off).
    pub fn capture_content(mut self, capture: bool) -> Self {
        self.capture_content = Some(capture);
        self
    }

    /// Outcome-based sampling: keep every trace the head sampler dropped in which a span
    /// ended in error (an `Err`, a panic, a cancelled future or stream). Spans of such
    /// traces are held in memory until their local root ends (see
    /// [`tail_max_spans`](Self::tail_max_spans)). Env: `TRACE_LLM_KEEP_ERRORS`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = trace_llm::TracingConfig::default()
    ///     .sample_ratio(0.01)
    ///     .keep_errors(true)
    ///     .keep_slower_than(Duration::from_secs(20))
    ///     .keep_costlier_than(1.0);
    /// ```
    pub fn keep_errors(mut self, keep: bool) -> Self {
        self.keep_errors = Some(keep);
        self
    }

    /// Outcome-based sampling: keep every dropped trace whose local root took longer than
    /// `threshold`. Env: `TRACE_LLM_KEEP_SLOWER_THAN_MS`.
    pub fn keep_slower_than(mut self, threshold: Duration) -> Self {
        self.keep_slower_than = Some(threshold);
        self
    }

    /// Outcome-based sampling: keep every dropped trace whose local root's total cost
    /// (`trace_llm.usage.total_cost`, its own included) is above `usd`. Env:
    /// `TRACE_LLM_KEEP_COSTLIER_THAN_USD`.
    pub fn keep_costlier_than(mut self, usd: f64) -> Self {
        self.keep_costlier_than = Some(usd);
        self
    }

    /// Most spans held for the outcome rules at once, over all undecided traces (default
    /// 10,000); past it the oldest undecided traces are dropped and counted in
    /// [`Stats::tail_dropped`](crate::Stats::tail_dropped).
    pub fn tail_max_spans(mut self, spans: usize) -> Self {
        self.tail_max_spans = Some(spans);
        self
    }

    /// Use the names of the newest GenAI conventions (open-telemetry/semantic-conventions-genai)
    /// instead of v1.41.0's: `gen_ai.usage.cache_write.input_tokens`, `gen_ai.prompt.name` /
    /// `gen_ai.prompt.version` from the request context, the `gen_ai.client.inference.*` and
    /// `gen_ai.client.embeddings.*` metrics, `gen_ai.execute_tool.duration`,
    /// `gen_ai.invoke_agent.duration`, `gen_ai.workflow.duration` (the README lists every
    /// name). Also `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`; code beats env.
    ///
    /// ```
    /// let config = trace_llm::TracingConfig::default().gen_ai_latest_experimental(true);
    /// ```
    pub fn gen_ai_latest_experimental(mut self, latest: bool) -> Self {
        self.gen_ai_latest = Some(latest);
        self
    }

    /// Size limit of each captured content attribute, in bytes (default
    /// [`DEFAULT_CONTENT_MAX_BYTES`]).
    pub fn content_max_bytes(mut self, bytes: usize) -> Self {
        self.content_max_bytes = Some(bytes);
        self
    }

    /// A hook that sees every captured content value, with its attribute key, before it is
    /// set on a span; what it returns is recorded.
    ///
    /// ```
    /// let config = trace_llm::TracingConfig::default()
    ///     .capture_content(true)
    ///     .redact(|_key, value| value.replace("4111-1111-1111-1111", "[card]"));
    /// ```
    pub fn redact(mut self, hook: impl Fn(&str, String) -> String + Send + Sync + 'static) -> Self {
        self.redact = Some(Arc::new(hook));
        self
    }

    /// Print each trace as a tree on stdout instead of exporting over OTLP.
    pub fn console(mut self) -> Self {
        self.exporter = Some(ExporterChoice::Console);
        self
    }

    /// Export to any OpenTelemetry SDK span exporter (an in-memory exporter in tests, a
    /// custom backend).
    ///
    /// ```
    /// use opentelemetry_sdk::trace::InMemorySpanExporter;
    ///
    /// let exporter = InMemorySpanExporter::default();
    /// let guard = trace_llm::TracingConfig::default()
    ///     .with_span_exporter(exporter.clone())
    ///     .init()?;
    /// guard.force_flush()?;
    /// assert!(exporter.get_finished_spans().unwrap().is_empty());
    /// # Ok::<(), trace_llm::Error>(())
    /// ```
    pub fn with_span_exporter<E: SpanExporter + 'static>(mut self, exporter: E) -> Self {
        self.exporter = Some(ExporterChoice::Custom(Box::new(exporter)));
        self
    }

    /// Turns the GenAI metrics on or off (else `OTEL_METRICS_EXPORTER`; by default on when
    /// spans go over OTLP, to the same endpoint).
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = Some(on);
        self
    }

    /// Export metrics to any OpenTelemetry SDK metric exporter (an in-memory exporter in
    /// tests, a custom backend). Turns metrics on.
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::InMemoryMetricExporter;
    /// use opentelemetry_sdk::trace::InMemorySpanExporter;
    ///
    /// let metrics = InMemoryMetricExporter::default();
    /// let guard = trace_llm::TracingConfig::default()
    ///     .with_span_exporter(InMemorySpanExporter::default())
    ///     .with_metric_exporter(metrics.clone())
    ///     .init()?;
    /// guard.force_flush()?; // exports metrics too
    /// # Ok::<(), trace_llm::Error>(())
    /// ```
    pub fn with_metric_exporter<E: PushMetricExporter>(mut self, exporter: E) -> Self {
        let temporality = exporter.temporality();
        self.metric_exporter = Some((Box::new(exporter), temporality));
        self
    }

    /// Adds or overrides the price of `model` (matched exactly against the response model,
    /// then the request model). These prices win over the bundled `genai-prices` table.
    ///
    /// ```
    /// use trace_llm::{Price, TracingConfig};
    ///
    /// let config = TracingConfig::default()
    ///     .model_price("llama-3.1-70b-internal", Price::per_million_tokens(0.20, 0.20))
    ///     .model_price("gpt-4o", Price::per_million_tokens(2.0, 8.0).cache_read(1.0));
    /// ```
    pub fn model_price(mut self, model: impl Into<String>, price: Price) -> Self {
        self.prices.insert(model.into(), price);
        self
    }

    /// Longest that [`TracingGuard::shutdown`] and dropping the guard wait for the last
    /// export (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// Starts the pipeline. Fails if another one is running, or on a setting made in code
    /// that cannot work; a bad environment variable is a warning and the default.
    pub fn init(self) -> Result<TracingGuard, Error> {
        if env::bool_var("OTEL_SDK_DISABLED") == Some(true) {
            return Ok(TracingGuard::disabled());
        }
        let exporter = match self.exporter {
            Some(choice) => choice,
            None if self.otlp_endpoint.is_some() => ExporterChoice::Otlp,
            None => exporter_from_env(),
        };
        let export_on_root_end = matches!(exporter, ExporterChoice::Console);
        let spans_over_otlp = matches!(exporter, ExporterChoice::Otlp);
        // Resolved at most once (for spans and metrics alike), so a bad environment value warns
        // once.
        let (protocol, endpoint, timeout, headers) = (
            self.protocol,
            self.otlp_endpoint,
            self.timeout,
            self.headers,
        );
        let mut resolved: Option<OtlpSettings> = None;
        let mut otlp = || -> Result<OtlpSettings, Error> {
            if let Some(settings) = &resolved {
                return Ok(settings.clone());
            }
            let settings =
                OtlpSettings::resolve(protocol, endpoint.as_deref(), headers.clone(), timeout)?;
            resolved = Some(settings.clone());
            Ok(settings)
        };
        let factory: ExporterFactory = match exporter {
            ExporterChoice::Otlp => {
                let settings = otlp()?;
                Box::new(move || super::otlp::build(settings))
            }
            ExporterChoice::Console => Box::new(|| Ok(Box::new(ConsoleExporter::stdout()) as _)),
            ExporterChoice::None => Box::new(|| Ok(Box::new(NoopExporter) as _)),
            ExporterChoice::Custom(exporter) => Box::new(move || Ok(exporter)),
        };
        let metrics_choice = match (self.metrics, self.metric_exporter) {
            (Some(false), _) => None,
            (_, Some((exporter, temporality))) => {
                let factory: MetricExporterFactory = Box::new(move || Ok(exporter));
                Some((factory, temporality))
            }
            (explicit, None) => {
                let wanted = explicit.unwrap_or_else(|| metrics_from_env(spans_over_otlp));
                if wanted {
                    let settings = otlp()?;
                    let temporality = temporality_from_env();
                    let factory: MetricExporterFactory =
                        Box::new(move || super::otlp::build_metrics(settings, temporality));
                    Some((factory, temporality))
                } else {
                    None
                }
            }
        };
        let resource = build_resource(self.service_name, self.service_version, self.environment);
        let sampler = match self.sample_ratio {
            Some(r) if (0.0..=1.0).contains(&r) => Sampler::ratio(r),
            Some(r) => {
                return Err(Error::InvalidConfig(format!(
                    "sample_ratio must be between 0 and 1, got {r}"
                )));
            }
            None => sampler_from_env(),
        };
        let max_queue = self
            .batch_queue_size
            .or_else(|| env::usize_var("OTEL_BSP_MAX_QUEUE_SIZE"))
            .unwrap_or(DEFAULT_QUEUE_SIZE)
            .max(1);
        let limits = Limits {
            max_queue,
            max_batch: env::usize_var("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
                .unwrap_or(DEFAULT_BATCH_SIZE)
                .min(max_queue),
            schedule_delay: env::millis_var("OTEL_BSP_SCHEDULE_DELAY")
                .unwrap_or(Duration::from_secs(5)),
            export_budget: env::millis_var("OTEL_BSP_EXPORT_TIMEOUT")
                .unwrap_or(Duration::from_secs(30)),
            max_concurrent: env::usize_var("OTEL_BSP_MAX_CONCURRENT_EXPORTS")
                .unwrap_or(DEFAULT_CONCURRENT_EXPORTS)
                .clamp(1, 64),
        };
        let capture_content = self
            .capture_content
            .or_else(capture_content_from_env)
            .unwrap_or(false);
        let latest = self.gen_ai_latest.unwrap_or_else(latest_from_env);
        // The newest conventions have no published schema version: no schema URL then.
        let scope =
            InstrumentationScope::builder(sc::SCOPE_NAME).with_version(env!("CARGO_PKG_VERSION"));
        let scope = if latest {
            scope.build()
        } else {
            scope.with_schema_url(sc::SCHEMA_URL).build()
        };
        let (instruments, metrics_work) = match metrics_choice {
            Some((factory, temporality)) => {
                let setup = MetricsSetup::new(resource.clone(), scope.clone(), temporality, latest);
                let work = MetricsWork {
                    factory,
                    reader: setup.reader,
                    provider: setup.provider,
                    interval: env::millis_var("OTEL_METRIC_EXPORT_INTERVAL")
                        .filter(|d| !d.is_zero())
                        .unwrap_or(Duration::from_secs(60)),
                };
                (Some(setup.instruments), Some(work))
            }
            None => (None, None),
        };
        let tail = tail_rules(
            self.keep_errors,
            self.keep_slower_than,
            self.keep_costlier_than,
            self.tail_max_spans,
        );
        let settings = Settings {
            tail,
            scope,
            sampler,
            capture_content,
            latest_conventions: latest,
            content_max_bytes: self.content_max_bytes.unwrap_or(DEFAULT_CONTENT_MAX_BYTES),
            redact: self.redact,
            keep_unsampled: instruments.is_some(),
            metrics: instruments,
            prices: PriceTable::new(self.prices),
        };
        let pipeline: &'static Pipeline =
            Box::leak(Box::new(Pipeline::new(limits, export_on_root_end, tail)));
        let core: &'static Core = Box::leak(Box::new(Core {
            settings,
            sink: pipeline,
        }));
        let with_resource: ExporterFactory = Box::new(move || {
            let mut exporter = factory()?;
            exporter.set_resource(&resource);
            Ok(exporter)
        });
        worker::spawn(pipeline, with_resource, metrics_work)?;
        let shutdown_timeout = self.shutdown_timeout.unwrap_or(Duration::from_secs(5));
        if let Err(e) = crate::span::core::install(core) {
            // Stop the worker we just started; its pipeline never received a span.
            let _ = pipeline.shutdown(shutdown_timeout);
            return Err(e);
        }
        Ok(TracingGuard::new(pipeline, shutdown_timeout))
    }
}
