//! The settings `TracingConfig::init` reads from the environment when code left them unset:
//! exporter and sampler choice, metrics, resource, content capture, conventions, outcome
//! rules. A bad value is a warning naming the variable, then the default.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::Temporality;

use super::config::ExporterChoice;
use super::env;
use crate::diag;
use crate::semconv as sc;
use crate::span::sampler::{Root, Sampler};

pub(super) fn exporter_from_env() -> ExporterChoice {
    let Some(value) = env::var("OTEL_TRACES_EXPORTER") else {
        return ExporterChoice::Otlp;
    };
    let first = value
        .split(',')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if value.contains(',') {
        diag::warn(format_args!(
            "OTEL_TRACES_EXPORTER={value}: only one exporter is supported; using {first}",
            first = crate::diag::Quoted(&first),
            value = crate::diag::Quoted(&value)
        ));
    }
    match first.as_str() {
        "otlp" => ExporterChoice::Otlp,
        "console" | "stdout" | "logging" => ExporterChoice::Console,
        "none" => ExporterChoice::None,
        _ => {
            diag::warn(format_args!(
                "OTEL_TRACES_EXPORTER={value} is not supported (otlp, console, none); using otlp",
                value = crate::diag::Quoted(&value)
            ));
            ExporterChoice::Otlp
        }
    }
}

/// `OTEL_METRICS_EXPORTER`: `otlp` or `none`; unset means on when spans go over OTLP.
pub(super) fn metrics_from_env(spans_over_otlp: bool) -> bool {
    let Some(value) = env::var("OTEL_METRICS_EXPORTER") else {
        return spans_over_otlp;
    };
    match value.to_ascii_lowercase().as_str() {
        "otlp" => true,
        "none" => false,
        _ => {
            diag::warn(format_args!(
                "OTEL_METRICS_EXPORTER={value} is not supported (otlp, none); metrics are off",
                value = crate::diag::Quoted(&value)
            ));
            false
        }
    }
}

/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`: cumulative (default) or delta.
pub(super) fn temporality_from_env() -> Temporality {
    let Some(value) = env::var("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") else {
        return Temporality::Cumulative;
    };
    match value.to_ascii_lowercase().as_str() {
        "cumulative" => Temporality::Cumulative,
        "delta" => Temporality::Delta,
        "lowmemory" => Temporality::LowMemory,
        _ => {
            diag::warn(format_args!(
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE={value:?} is not one of \
                 cumulative, delta, lowmemory; using cumulative"
            ));
            Temporality::Cumulative
        }
    }
}

pub(super) fn sampler_from_env() -> Sampler {
    let Some(name) = env::var("OTEL_TRACES_SAMPLER") else {
        return Sampler::default();
    };
    let arg = || env::ratio_var("OTEL_TRACES_SAMPLER_ARG").unwrap_or(1.0);
    let (root, parent_based) = match name.to_ascii_lowercase().as_str() {
        "always_on" => (Root::AlwaysOn, false),
        "always_off" => (Root::AlwaysOff, false),
        "traceidratio" => (Root::Ratio(arg()), false),
        "parentbased_always_on" => (Root::AlwaysOn, true),
        "parentbased_always_off" => (Root::AlwaysOff, true),
        "parentbased_traceidratio" => (Root::Ratio(arg()), true),
        _ => {
            diag::warn(format_args!(
                "OTEL_TRACES_SAMPLER={name} is not supported; using parentbased_always_on",
                name = crate::diag::Quoted(&name)
            ));
            (Root::AlwaysOn, true)
        }
    };
    Sampler { root, parent_based }
}

/// The SDK's detectors (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `telemetry.sdk.*`),
/// then what was set in code, which wins.
pub(super) fn build_resource(
    service_name: Option<String>,
    service_version: Option<String>,
    environment: Option<String>,
) -> Resource {
    check_resource_attributes();
    let mut builder = Resource::builder();
    // OTEL_SERVICE_NAME beats a service.name inside OTEL_RESOURCE_ATTRIBUTES (spec).
    if let Some(name) = service_name.or_else(|| env::var("OTEL_SERVICE_NAME")) {
        builder = builder.with_service_name(name);
    }
    let mut attributes = vec![
        KeyValue::new(sc::TELEMETRY_DISTRO_NAME, sc::SCOPE_NAME),
        KeyValue::new(sc::TELEMETRY_DISTRO_VERSION, env!("CARGO_PKG_VERSION")),
    ];
    if let Some(version) = service_version {
        attributes.push(KeyValue::new(sc::SERVICE_VERSION, version));
    }
    if let Some(environment) = environment {
        attributes.push(KeyValue::new(sc::DEPLOYMENT_ENVIRONMENT_NAME, environment));
    }
    builder.with_attributes(attributes).build()
}

/// The SDK reads `OTEL_RESOURCE_ATTRIBUTES` and leaves out malformed members silently: say
/// so, once, naming the variable (keys only are quoted; values may be sensitive).
pub(super) fn check_resource_attributes() {
    const NAME: &str = "OTEL_RESOURCE_ATTRIBUTES";
    let Some(value) = env::var(NAME) else {
        return;
    };
    let bad = value
        .split(',')
        .filter(|m| !m.trim().is_empty())
        .filter(|m| match m.split_once('=') {
            Some((k, v)) => k.trim().is_empty() || v.trim().is_empty(),
            None => true,
        })
        .count();
    if bad > 0 {
        diag::warn(format_args!(
            "{NAME}: {bad} malformed entr{} left out; expected key=value pairs separated by \
             commas",
            if bad == 1 { "y" } else { "ies" }
        ));
    }
}

/// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`, with the values the official GenAI
/// instrumentations accept: `true` / `false`, `NO_CONTENT`, `SPAN_ONLY`, and the event modes
/// (`EVENT_ONLY`, `SPAN_AND_EVENT`), which record content on spans (this library emits no
/// content events) with a warning.
pub(super) fn capture_content_from_env() -> Option<bool> {
    const NAME: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";
    let value = env::var(NAME)?;
    match value.to_ascii_uppercase().as_str() {
        "TRUE" | "1" | "YES" | "ON" | "SPAN_ONLY" => Some(true),
        "FALSE" | "0" | "NO" | "OFF" | "NO_CONTENT" => Some(false),
        "EVENT_ONLY" | "SPAN_AND_EVENT" => {
            diag::warn(format_args!(
                "{NAME}={}: content events are not supported; content is recorded on spans",
                diag::Quoted(&value)
            ));
            Some(true)
        }
        _ => {
            diag::warn(format_args!(
                "{NAME}={} is not one of true, false, SPAN_ONLY, NO_CONTENT, EVENT_ONLY, \
                 SPAN_AND_EVENT; content capture stays off",
                diag::Quoted(&value)
            ));
            None
        }
    }
}

/// `OTEL_SEMCONV_STABILITY_OPT_IN`: a comma-separated list; `gen_ai_latest_experimental` in it
/// selects the newest GenAI conventions. Other entries concern other conventions.
pub(super) fn latest_from_env() -> bool {
    env::var("OTEL_SEMCONV_STABILITY_OPT_IN").is_some_and(|value| {
        value.split(',').any(|entry| {
            entry
                .trim()
                .eq_ignore_ascii_case("gen_ai_latest_experimental")
        })
    })
}

/// The outcome rules from code, else from `TRACE_LLM_KEEP_*`; `None` when no rule is on.
pub(super) fn tail_rules(
    keep_errors: Option<bool>,
    slower_than: Option<Duration>,
    costlier_than: Option<f64>,
    max_spans: Option<usize>,
) -> Option<crate::span::TailRules> {
    let keep_errors = keep_errors
        .or_else(|| env::bool_var("TRACE_LLM_KEEP_ERRORS"))
        .unwrap_or(false);
    let slower_than = slower_than.or_else(|| env::millis_var("TRACE_LLM_KEEP_SLOWER_THAN_MS"));
    let costlier_than = costlier_than
        .filter(|usd| usd.is_finite() && *usd >= 0.0)
        .or_else(|| env::usd_var("TRACE_LLM_KEEP_COSTLIER_THAN_USD"));
    if !keep_errors && slower_than.is_none() && costlier_than.is_none() {
        return None;
    }
    Some(crate::span::TailRules {
        keep_errors,
        slower_than,
        costlier_than,
        max_spans: max_spans.unwrap_or(super::tail::DEFAULT_TAIL_MAX_SPANS),
    })
}
