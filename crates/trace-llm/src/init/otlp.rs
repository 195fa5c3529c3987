//! OTLP exporter settings: resolved here from code and `OTEL_EXPORTER_OTLP_*` (code first,
//! then the traces-specific variable, then the generic one), then handed to
//! `opentelemetry-otlp`, which does the encoding and the transport.

use std::time::Duration;

use super::env;
use super::headers::{self, EnvHeaders};
use crate::diag;
use crate::error::Error;

/// The OTLP transport.
///
/// ```
/// let config = trace_llm::TracingConfig::default().protocol(trace_llm::Protocol::Grpc);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP over gRPC (default port 4317).
    Grpc,
    /// OTLP over HTTP with protobuf bodies (default port 4318); the spec's default.
    HttpProtobuf,
}

/// Which OTLP signal an endpoint is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    Traces,
    Metrics,
}

impl Signal {
    fn path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
        }
    }

    fn env(self) -> &'static str {
        match self {
            Signal::Traces => "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            Signal::Metrics => "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        }
    }
}

impl Protocol {
    fn default_base(self) -> &'static str {
        match self {
            Protocol::Grpc => "http://localhost:4317",
            Protocol::HttpProtobuf => "http://localhost:4318",
        }
    }

    /// The full URL of `signal` for a base endpoint like `OTEL_EXPORTER_OTLP_ENDPOINT`.
    fn signal_url(self, base: &str, signal: Signal) -> String {
        match self {
            Protocol::Grpc => base.to_owned(),
            Protocol::HttpProtobuf => format!("{}{}", base.trim_end_matches('/'), signal.path()),
        }
    }
}

/// Everything the OTLP exporter needs, after precedence was applied.
#[derive(Clone, Debug)]
#[cfg_attr(not(any(feature = "grpc", feature = "http")), allow(dead_code))]
pub(crate) struct OtlpSettings {
    pub(crate) protocol: Protocol,
    pub(crate) endpoint: String,
    pub(crate) metrics_endpoint: String,
    /// Headers set in code.
    pub(crate) headers: Vec<(String, String)>,
    /// What `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS` said.
    pub(crate) traces_env: EnvHeaders,
    /// What `OTEL_EXPORTER_OTLP_[METRICS_]HEADERS` said.
    pub(crate) metrics_env: EnvHeaders,
    pub(crate) timeout: Duration,
}

fn valid_url(url: &str) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|e| {
        format!(
            "invalid endpoint {url}: {e}",
            url = crate::diag::Quoted(url)
        )
    })?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(()),
        _ => Err(format!(
            "invalid endpoint {url}: expected an http:// or https:// URL with a host",
            url = crate::diag::Quoted(url)
        )),
    }
}

fn protocol_from_env() -> Option<Protocol> {
    let (name, value) = [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]
    .into_iter()
    .find_map(|name| env::var(name).map(|v| (name, v)))?;
    match value.as_str() {
        "grpc" => Some(Protocol::Grpc),
        "http/protobuf" => Some(Protocol::HttpProtobuf),
        other => {
            diag::warn(format_args!(
                "{name}={other} is not supported (use grpc or http/protobuf); using http/protobuf",
                other = crate::diag::Quoted(other)
            ));
            Some(Protocol::HttpProtobuf)
        }
    }
}

/// A protocol this build can speak: a code setting for a protocol whose feature is off is an
/// error, an env setting is a warning and the other protocol.
fn available(protocol: Protocol, from_code: bool) -> Result<Protocol, Error> {
    let compiled = match protocol {
        Protocol::Grpc => cfg!(feature = "grpc"),
        Protocol::HttpProtobuf => cfg!(feature = "http"),
    };
    if compiled {
        return Ok(protocol);
    }
    let feature = match protocol {
        Protocol::Grpc => "grpc",
        Protocol::HttpProtobuf => "http",
    };
    let other = match protocol {
        Protocol::Grpc => Protocol::HttpProtobuf,
        Protocol::HttpProtobuf => Protocol::Grpc,
    };
    let other_compiled = match other {
        Protocol::Grpc => cfg!(feature = "grpc"),
        Protocol::HttpProtobuf => cfg!(feature = "http"),
    };
    if from_code || !other_compiled {
        return Err(Error::InvalidConfig(format!(
            "OTLP protocol {protocol:?} needs the `{feature}` feature of trace-llm"
        )));
    }
    diag::warn(format_args!(
        "OTLP protocol {protocol:?} needs the `{feature}` feature; using {other:?}"
    ));
    Ok(other)
}

impl OtlpSettings {
    pub(crate) fn resolve(
        code_protocol: Option<Protocol>,
        code_endpoint: Option<&str>,
        headers: Vec<(String, String)>,
        code_timeout: Option<Duration>,
    ) -> Result<Self, Error> {
        let protocol = match code_protocol {
            Some(p) => available(p, true)?,
            None => available(protocol_from_env().unwrap_or(Protocol::HttpProtobuf), false)?,
        };
        let resolve = |signal: Signal| -> Result<String, Error> {
            match code_endpoint {
                Some(base) => {
                    let url = protocol.signal_url(base, signal);
                    valid_url(&url).map_err(Error::InvalidConfig)?;
                    Ok(url)
                }
                None => Ok(endpoint_from_env(protocol, signal)),
            }
        };
        let endpoint = resolve(Signal::Traces)?;
        let metrics_endpoint = resolve(Signal::Metrics)?;
        let timeout = code_timeout
            .or_else(|| env::millis_var("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"))
            .or_else(|| env::millis_var("OTEL_EXPORTER_OTLP_TIMEOUT"))
            .unwrap_or(Duration::from_secs(10));
        for (key, value) in &headers {
            http::HeaderName::try_from(key.as_str()).map_err(|e| {
                Error::InvalidConfig(format!(
                    "header name {key}: {e}",
                    key = crate::diag::Quoted(key)
                ))
            })?;
            http::HeaderValue::try_from(value.as_str()).map_err(|e| {
                Error::InvalidConfig(format!(
                    "header {key} value: {e}",
                    key = crate::diag::Quoted(key)
                ))
            })?;
        }
        for name in [
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
        ] {
            check_compression(name);
        }
        let mut generic = None;
        let traces_env = headers::from_env("OTEL_EXPORTER_OTLP_TRACES_HEADERS", &mut generic);
        let metrics_env = headers::from_env("OTEL_EXPORTER_OTLP_METRICS_HEADERS", &mut generic);
        Ok(OtlpSettings {
            protocol,
            endpoint,
            metrics_endpoint,
            headers,
            traces_env,
            metrics_env,
            timeout,
        })
    }
}

/// `opentelemetry-otlp` reads the compression variables itself and skips a value it cannot
/// use without a word (its internal log is off): say so here, naming the variable.
fn check_compression(name: &str) {
    let Some(value) = env::var(name) else {
        return;
    };
    let lower = value.to_ascii_lowercase();
    let supported = lower == "none" || (lower == "gzip" && cfg!(feature = "gzip"));
    if !supported {
        let hint = if cfg!(feature = "gzip") {
            "gzip or none"
        } else {
            "none; gzip needs the `gzip` feature of trace-llm"
        };
        diag::warn(format_args!(
            "{name}={} is not supported (use {hint}); exporting uncompressed",
            diag::Quoted(&value)
        ));
    }
}

fn endpoint_from_env(protocol: Protocol, signal: Signal) -> String {
    let candidates = [(signal.env(), false), ("OTEL_EXPORTER_OTLP_ENDPOINT", true)];
    for (name, is_base) in candidates {
        if let Some(value) = env::var(name) {
            let url = if is_base {
                protocol.signal_url(&value, signal)
            } else {
                value.clone()
            };
            match valid_url(&url) {
                Ok(()) => return url,
                Err(e) => diag::warn(format_args!("{name}: {e}; ignoring it")),
            }
        }
    }
    protocol.signal_url(protocol.default_base(), signal)
}

/// Retries with backoff inside one export call; the pipeline's export budget bounds the
/// whole call.
#[cfg(any(feature = "grpc", feature = "http"))]
fn retry_policy() -> opentelemetry_otlp::RetryPolicy {
    opentelemetry_otlp::RetryPolicy::recommended()
        .with_max_retries(2)
        .with_max_delay(Duration::from_secs(1))
}

/// Builds the exporter; called on the export thread, inside its Tokio runtime.
#[cfg(not(any(feature = "grpc", feature = "http")))]
pub(crate) fn build(
    settings: OtlpSettings,
) -> Result<Box<dyn super::exporter::DynExporter>, Error> {
    let _ = settings;
    Err(Error::InvalidConfig(
        "OTLP export needs the `grpc` or `http` feature of trace-llm".into(),
    ))
}

/// Builds the exporter; called on the export thread, inside its Tokio runtime.
#[cfg(any(feature = "grpc", feature = "http"))]
pub(crate) fn build(
    settings: OtlpSettings,
) -> Result<Box<dyn super::exporter::DynExporter>, Error> {
    let invalid = |e: opentelemetry_otlp::ExporterBuildError| Error::InvalidConfig(e.to_string());
    let headers = headers::merged(&settings.headers, &settings.traces_env);
    let fixes = headers::HeaderFixes::new(&headers, &settings.traces_env);
    match settings.protocol {
        #[cfg(feature = "grpc")]
        Protocol::Grpc => {
            use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(settings.endpoint)
                .with_timeout(settings.timeout)
                .with_metadata(
                    opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(
                        header_map(&headers),
                    ),
                )
                .with_retry_policy(retry_policy());
            if !fixes.is_empty() {
                builder = builder.with_interceptor(headers::interceptor(fixes));
            }
            Ok(Box::new(builder.build().map_err(invalid)?))
        }
        #[cfg(feature = "http")]
        Protocol::HttpProtobuf => {
            use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(settings.endpoint)
                .with_timeout(settings.timeout)
                .with_headers(headers.into_iter().collect())
                .with_retry_policy(retry_policy());
            if !fixes.is_empty() {
                builder = builder.with_http_client(fixed_client(settings.timeout, fixes)?);
            }
            Ok(Box::new(builder.build().map_err(invalid)?))
        }
        #[allow(unreachable_patterns)]
        other => Err(Error::InvalidConfig(format!(
            "OTLP protocol {other:?} is not compiled in"
        ))),
    }
}

/// Builds the OTLP metric exporter; called on the export thread, inside its Tokio runtime.
#[cfg(not(any(feature = "grpc", feature = "http")))]
pub(crate) fn build_metrics(
    settings: OtlpSettings,
    temporality: opentelemetry_sdk::metrics::Temporality,
) -> Result<Box<dyn super::exporter::DynMetricExporter>, Error> {
    let _ = (settings, temporality);
    Err(Error::InvalidConfig(
        "OTLP export needs the `grpc` or `http` feature of trace-llm".into(),
    ))
}

/// Builds the OTLP metric exporter; called on the export thread, inside its Tokio runtime.
#[cfg(any(feature = "grpc", feature = "http"))]
pub(crate) fn build_metrics(
    settings: OtlpSettings,
    temporality: opentelemetry_sdk::metrics::Temporality,
) -> Result<Box<dyn super::exporter::DynMetricExporter>, Error> {
    let invalid = |e: opentelemetry_otlp::ExporterBuildError| Error::InvalidConfig(e.to_string());
    let headers = headers::merged(&settings.headers, &settings.metrics_env);
    let fixes = headers::HeaderFixes::new(&headers, &settings.metrics_env);
    match settings.protocol {
        #[cfg(feature = "grpc")]
        Protocol::Grpc => {
            use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
            let mut builder = opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(settings.metrics_endpoint)
                .with_timeout(settings.timeout)
                .with_metadata(
                    opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(
                        header_map(&headers),
                    ),
                );
            if !fixes.is_empty() {
                builder = builder.with_interceptor(headers::interceptor(fixes));
            }
            let exporter = builder
                .with_temporality(temporality)
                .build()
                .map_err(invalid)?;
            Ok(Box::new(exporter))
        }
        #[cfg(feature = "http")]
        Protocol::HttpProtobuf => {
            use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
            let mut builder = opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(settings.metrics_endpoint)
                .with_timeout(settings.timeout)
                .with_headers(headers.into_iter().collect());
            if !fixes.is_empty() {
                builder = builder.with_http_client(fixed_client(settings.timeout, fixes)?);
            }
            let exporter = builder
                .with_temporality(temporality)
                .build()
                .map_err(invalid)?;
            Ok(Box::new(exporter))
        }
        #[allow(unreachable_patterns)]
        other => Err(Error::InvalidConfig(format!(
            "OTLP protocol {other:?} is not compiled in"
        ))),
    }
}

/// The HTTP client the exporter would build (reqwest with the export timeout), correcting
/// the headers of every request.
#[cfg(feature = "http")]
fn fixed_client(
    timeout: Duration,
    fixes: headers::HeaderFixes,
) -> Result<headers::FixedHeadersClient, Error> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| Error::Exporter(format!("cannot build the HTTP client: {e}")))?;
    Ok(headers::FixedHeadersClient { client, fixes })
}

#[cfg(feature = "grpc")]
fn header_map(headers: &[(String, String)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (key, value) in headers {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::try_from(key.as_str()),
            http::HeaderValue::try_from(value.as_str()),
        ) {
            map.append(k, v);
        }
    }
    map
}
