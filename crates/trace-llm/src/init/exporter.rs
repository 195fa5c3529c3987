//! An object-safe face for `opentelemetry_sdk::trace::SpanExporter` (whose `export` returns
//! `impl Future`), so the pipeline can hold any exporter behind one pointer. Every call into
//! an exporter is fenced: a panic (in the call or while its future is polled) becomes an
//! error result, is counted, and the export thread keeps running.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::FutureExt as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::diag::{Hook, isolate};

pub(crate) type ExportFuture<'a> = Pin<Box<dyn Future<Output = OTelSdkResult> + Send + 'a>>;

fn panicked() -> OTelSdkError {
    OTelSdkError::InternalFailure("the exporter panicked".into())
}

/// Runs a synchronous exporter call; a panic is an error.
fn fenced(f: impl FnOnce() -> OTelSdkResult) -> OTelSdkResult {
    isolate(Hook::Exporter, f).unwrap_or_else(|| Err(panicked()))
}

/// Builds and polls an exporter's future; a panic in either is an error.
fn fenced_future<'a, F>(make: impl FnOnce() -> F) -> ExportFuture<'a>
where
    F: Future<Output = OTelSdkResult> + Send + 'a,
{
    match isolate(Hook::Exporter, make) {
        Some(future) => Box::pin(std::panic::AssertUnwindSafe(future).catch_unwind().map(
            |result| {
                result.unwrap_or_else(|payload| {
                    crate::diag::hook_panicked(Hook::Exporter, &*payload);
                    Err(panicked())
                })
            },
        )),
        None => Box::pin(std::future::ready(Err(panicked()))),
    }
}

pub(crate) trait DynExporter: Send + Sync {
    fn export(&self, batch: Vec<SpanData>) -> ExportFuture<'_>;
    fn force_flush(&self) -> OTelSdkResult;
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult;
    fn set_resource(&mut self, resource: &Resource);
}

impl<E: SpanExporter + 'static> DynExporter for E {
    fn export(&self, batch: Vec<SpanData>) -> ExportFuture<'_> {
        fenced_future(|| SpanExporter::export(self, batch))
    }

    fn force_flush(&self) -> OTelSdkResult {
        fenced(|| SpanExporter::force_flush(self))
    }

    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        fenced(|| SpanExporter::shutdown_with_timeout(self, timeout))
    }

    fn set_resource(&mut self, resource: &Resource) {
        isolate(Hook::Exporter, || {
            SpanExporter::set_resource(self, resource)
        });
    }
}

/// Discards everything (`OTEL_TRACES_EXPORTER=none`): spans are still started, sampled and
/// counted, so the rest of the pipeline behaves the same.
#[derive(Debug, Default)]
pub(crate) struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Ok(())
    }
}

/// An object-safe face for `opentelemetry_sdk::metrics::exporter::PushMetricExporter`.
pub(crate) trait DynMetricExporter: Send + Sync {
    fn export<'a>(&'a self, metrics: &'a ResourceMetrics) -> ExportFuture<'a>;
    fn force_flush(&self) -> OTelSdkResult;
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult;
}

impl<E: PushMetricExporter> DynMetricExporter for E {
    fn export<'a>(&'a self, metrics: &'a ResourceMetrics) -> ExportFuture<'a> {
        fenced_future(|| PushMetricExporter::export(self, metrics))
    }

    fn force_flush(&self) -> OTelSdkResult {
        fenced(|| PushMetricExporter::force_flush(self))
    }

    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        fenced(|| PushMetricExporter::shutdown_with_timeout(self, timeout))
    }
}
