//! An object-safe face for `opentelemetry_sdk::trace::SpanExporter` (whose `export` returns
//! `impl Future`), so the pipeline can hold any exporter behind one pointer.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

pub(crate) type ExportFuture<'a> = Pin<Box<dyn Future<Output = OTelSdkResult> + Send + 'a>>;

pub(crate) trait DynExporter: Send + Sync {
    fn export(&self, batch: Vec<SpanData>) -> ExportFuture<'_>;
    fn force_flush(&self) -> OTelSdkResult;
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult;
    fn set_resource(&mut self, resource: &Resource);
}

impl<E: SpanExporter + 'static> DynExporter for E {
    fn export(&self, batch: Vec<SpanData>) -> ExportFuture<'_> {
        Box::pin(SpanExporter::export(self, batch))
    }

    fn force_flush(&self) -> OTelSdkResult {
        SpanExporter::force_flush(self)
    }

    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        SpanExporter::shutdown_with_timeout(self, timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        SpanExporter::set_resource(self, resource);
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
        Box::pin(PushMetricExporter::export(self, metrics))
    }

    fn force_flush(&self) -> OTelSdkResult {
        PushMetricExporter::force_flush(self)
    }

    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        PushMetricExporter::shutdown_with_timeout(self, timeout)
    }
}
