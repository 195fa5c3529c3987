//! Reading what an in-memory metric exporter received.

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::InMemoryMetricExporter;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};

/// One histogram data point, its sum as `f64` whatever the instrument's number type.
#[derive(Clone, Debug)]
pub struct Point {
    pub unit: String,
    pub attributes: Vec<KeyValue>,
    pub count: u64,
    pub sum: f64,
    pub bounds: Vec<f64>,
    pub buckets: Vec<u64>,
}

impl Point {
    /// The value of attribute `key` as a string, if present.
    pub fn attr(&self, key: &str) -> Option<String> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    }

    /// Whether the point's attributes are exactly these keys with these values.
    pub fn has(&self, key: &str, value: &str) -> bool {
        self.attr(key).as_deref() == Some(value)
    }

    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .attributes
            .iter()
            .map(|kv| kv.key.as_str().to_owned())
            .collect();
        keys.sort();
        keys
    }

    /// The index of the bucket a single recorded `value` falls into (upper bounds
    /// inclusive, as the data model defines).
    pub fn bucket_of(&self, value: f64) -> usize {
        self.bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len())
    }
}

/// The histogram points of instrument `name` in the latest export (cumulative temporality:
/// the latest export holds everything recorded so far).
pub fn histogram(exporter: &InMemoryMetricExporter, name: &str) -> Vec<Point> {
    let exported = exporter.get_finished_metrics().expect("finished metrics");
    let Some(latest) = exported.last() else {
        return Vec::new();
    };
    histogram_in(latest, name)
}

/// The histogram points of instrument `name` in one export.
pub fn histogram_in(rm: &ResourceMetrics, name: &str) -> Vec<Point> {
    let mut points = Vec::new();
    for scope in rm.scope_metrics() {
        for metric in scope.metrics().filter(|m| m.name() == name) {
            let unit = metric.unit().to_owned();
            match metric.data() {
                AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                    points.extend(h.data_points().map(|p| Point {
                        unit: unit.clone(),
                        attributes: p.attributes().cloned().collect(),
                        count: p.count(),
                        sum: p.sum(),
                        bounds: p.bounds().collect(),
                        buckets: p.bucket_counts().collect(),
                    }));
                }
                AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                    points.extend(h.data_points().map(|p| Point {
                        unit: unit.clone(),
                        attributes: p.attributes().cloned().collect(),
                        count: p.count(),
                        sum: p.sum() as f64,
                        bounds: p.bounds().collect(),
                        buckets: p.bucket_counts().collect(),
                    }));
                }
                other => panic!("{name} is not a histogram: {other:?}"),
            }
        }
    }
    points
}

/// Every instrument name in the latest export.
pub fn names(exporter: &InMemoryMetricExporter) -> Vec<String> {
    let exported = exporter.get_finished_metrics().expect("finished metrics");
    let mut names: Vec<String> = exported
        .last()
        .map(|rm| {
            rm.scope_metrics()
                .flat_map(|s| s.metrics().map(|m| m.name().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
