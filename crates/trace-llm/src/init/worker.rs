//! The export thread: one OS thread with its own single-threaded Tokio runtime that drains
//! the span queue in batches, collects and exports metrics on their interval, and answers
//! flush and shutdown requests.

use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;

use super::exporter::{DynExporter, DynMetricExporter};
use super::pipeline::{Pipeline, lock};
use crate::diag;
use crate::error::Error;
use crate::metrics::SharedReader;

/// Builds the span exporter inside the export thread's runtime (the gRPC exporter needs a
/// Tokio reactor at build time).
pub(crate) type ExporterFactory =
    Box<dyn FnOnce() -> Result<Box<dyn DynExporter>, Error> + Send + 'static>;

/// Builds the metric exporter inside the export thread's runtime.
pub(crate) type MetricExporterFactory =
    Box<dyn FnOnce() -> Result<Box<dyn DynMetricExporter>, Error> + Send + 'static>;

/// What the export thread needs to collect and export metrics.
pub(crate) struct MetricsWork {
    pub(crate) factory: MetricExporterFactory,
    pub(crate) reader: SharedReader,
    pub(crate) provider: SdkMeterProvider,
    pub(crate) interval: Duration,
}

/// The metric side of the export thread, once its exporter is built.
struct MetricsExport {
    exporter: Box<dyn DynMetricExporter>,
    reader: SharedReader,
    provider: SdkMeterProvider,
    interval: Duration,
    next: Instant,
    failing: bool,
}

impl MetricsExport {
    /// Collects what the instruments recorded and exports it; returns the error, if any.
    fn export(&mut self, runtime: &tokio::runtime::Runtime, budget: Duration) -> Option<String> {
        self.next = super::pipeline::deadline_after(self.interval);
        let mut collected = ResourceMetrics::default();
        if let Err(e) = self.reader.collect(&mut collected) {
            return Some(e.to_string());
        }
        let result = runtime.block_on(async {
            tokio::time::timeout(budget, self.exporter.export(&collected)).await
        });
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("metric export did not finish within {budget:?}")),
        };
        match (&error, self.failing) {
            (Some(e), false) => {
                self.failing = true;
                diag::warn(format_args!(
                    "metric export failed: {e} (if the backend takes traces only, turn metrics \
                     off with TracingConfig::metrics(false) or OTEL_METRICS_EXPORTER=none)"
                ));
            }
            (None, true) => self.failing = false,
            _ => {}
        }
        error
    }

    fn shutdown(self, budget: Duration) {
        let _ = self.exporter.force_flush();
        let _ = self.exporter.shutdown(budget);
        let _ = self.provider.shutdown();
    }
}

/// One span exporter and its failure streak.
struct SpanExport<'a> {
    pipeline: &'a Pipeline,
    exporter: Box<dyn DynExporter>,
    failing: bool,
}

impl SpanExport<'_> {
    /// Exports the round's `count` batches, taking each from the queue when there is room to
    /// send it; returns the spans taken and the last error, if any.
    fn export(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        count: usize,
    ) -> (usize, Option<String>) {
        let pipeline = self.pipeline;
        let limits = pipeline.limits;
        let counters = &pipeline.counters;
        let mut last_error = None;
        let mut taken = 0;
        let batches = std::iter::from_fn(|| pipeline.take_batch())
            .take(count)
            .inspect(|batch| taken += batch.len())
            .filter(|batch| !batch.is_empty());
        let exporter = &*self.exporter;
        // Up to `max_concurrent` exports in flight, so a collector's round trip does not
        // bound throughput; each is bounded by the export budget.
        let results: Vec<(u64, Result<OTelSdkResult, tokio::time::error::Elapsed>)> = runtime
            .block_on(
                futures_util::stream::iter(batches.map(|batch| async move {
                    let count = batch.len() as u64;
                    let result =
                        tokio::time::timeout(limits.export_budget, exporter.export(batch)).await;
                    (count, result)
                }))
                .buffer_unordered(limits.max_concurrent)
                .collect(),
            );
        for (count, result) in results {
            let error = match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some(format!(
                    "export did not finish within {:?}",
                    limits.export_budget
                )),
            };
            match error {
                None => {
                    counters.exported.fetch_add(count, Ordering::Relaxed);
                    if self.failing {
                        self.failing = false;
                        diag::warn(format_args!("span export recovered"));
                    }
                }
                Some(e) => {
                    counters.export_errors.fetch_add(1, Ordering::Relaxed);
                    counters.dropped.fetch_add(count, Ordering::Relaxed);
                    if !self.failing {
                        self.failing = true;
                        diag::warn(format_args!(
                            "span export failed, dropping {count} spans: {e} \
                             (further failures are counted in TracingGuard::stats() \
                             until an export succeeds)"
                        ));
                    }
                    last_error = Some(e);
                }
            }
        }
        (taken, last_error)
    }
}

/// The export thread's loop.
fn run(
    pipeline: &'static Pipeline,
    exporter: Box<dyn DynExporter>,
    mut metrics: Option<MetricsExport>,
    runtime: tokio::runtime::Runtime,
) {
    let budget = pipeline.limits.export_budget;
    let mut spans_out = SpanExport {
        pipeline,
        exporter,
        failing: false,
    };
    let mut handled_flush = 0;
    loop {
        let until = metrics.as_ref().map(|m| m.next);
        let (count, flush_target, shutdown) = pipeline.next_round(handled_flush, until);
        let (round, mut last_error) = spans_out.export(&runtime, count);
        pipeline.provide_empty_batches(count);
        crate::span::buffers::refill(round);
        let flushing = flush_target > handled_flush || shutdown;
        if let Some(m) = metrics.as_mut() {
            if flushing || Instant::now() >= m.next {
                if let Some(e) = m.export(&runtime, budget) {
                    if flushing {
                        last_error.get_or_insert(format!("metric export: {e}"));
                    }
                }
            }
        }
        if flushing {
            if let Err(e) = spans_out.exporter.force_flush() {
                last_error.get_or_insert(e.to_string());
            }
            if shutdown {
                if let Err(e) = spans_out.exporter.shutdown(budget) {
                    // An exporter that has nothing to shut down is not a failure.
                    let text = e.to_string();
                    if !text.contains("already") {
                        last_error.get_or_insert(text);
                    }
                }
                if let Some(m) = metrics.take() {
                    m.shutdown(budget);
                }
            }
            handled_flush = flush_target;
            let mut progress = lock(&pipeline.progress);
            progress.flushed = flush_target;
            progress.flush_error = last_error;
            progress.exited = shutdown;
            drop(progress);
            pipeline.progress_changed.notify_all();
        }
        if shutdown {
            return;
        }
    }
}

/// Starts the export thread: builds the exporters inside its runtime, reports whether that
/// worked, then runs the loop.
pub(crate) fn spawn(
    pipeline: &'static Pipeline,
    factory: ExporterFactory,
    metrics: Option<MetricsWork>,
) -> Result<(), Error> {
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), Error>>(1);
    let spawned = thread::Builder::new()
        .name("trace-llm-export".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(Error::Exporter(format!(
                        "cannot start the export runtime: {e}"
                    ))));
                    return;
                }
            };
            let built = {
                let _entered = runtime.enter();
                factory().and_then(|exporter| {
                    let metrics = match metrics {
                        Some(work) => Some(MetricsExport {
                            exporter: (work.factory)()?,
                            reader: work.reader,
                            provider: work.provider,
                            next: super::pipeline::deadline_after(work.interval),
                            interval: work.interval,
                            failing: false,
                        }),
                        None => None,
                    };
                    Ok((exporter, metrics))
                })
            };
            match built {
                Ok((exporter, metrics)) => {
                    let _ = ready_tx.send(Ok(()));
                    // Decode the price database now, not on the first span's end.
                    crate::cost::PriceTable::warm_up();
                    run(pipeline, exporter, metrics, runtime);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        });
    if let Err(e) = spawned {
        return Err(Error::Exporter(format!(
            "cannot start the export thread: {e}"
        )));
    }
    ready_rx
        .recv()
        .unwrap_or_else(|_| Err(Error::Exporter("the export thread exited early".into())))
}
