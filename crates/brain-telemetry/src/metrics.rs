//! Prometheus exposition of the OpenTelemetry metrics of this process.
//!
//! Instruments are created once through the OpenTelemetry API ([`meter`]); the same data
//! is exported by OTLP when configured and rendered here for `/metrics` on every scrape.
//! Names follow `brain_<service>_<name>_<unit>` and are used as they are.

use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};
use std::fmt::Write as _;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The meter every crate creates its instruments from.
pub fn meter() -> opentelemetry::metrics::Meter {
    opentelemetry::global::meter("industry-brain")
}

/// A pull reader shared between the meter provider and the `/metrics` handler.
#[derive(Clone, Debug)]
pub struct PrometheusReader(Arc<ManualReader>);

impl PrometheusReader {
    pub fn new() -> Self {
        Self(Arc::new(ManualReader::builder().with_temporality(Temporality::Cumulative).build()))
    }

    /// Collects every instrument and renders the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut collected = ResourceMetrics::default();
        if let Err(error) = self.0.collect(&mut collected) {
            return format!("# collection failed: {error}\n");
        }
        let mut out = String::new();
        for scope in collected.scope_metrics() {
            for metric in scope.metrics() {
                render_metric(&mut out, metric);
            }
        }
        out
    }
}

impl Default for PrometheusReader {
    fn default() -> Self {
        Self::new()
    }
}

impl MetricReader for PrometheusReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

fn render_metric(out: &mut String, metric: &Metric) {
    let name = sanitize(metric.name());
    match metric.data() {
        AggregatedMetrics::F64(data) => render_data(out, &name, metric.description(), data, |v| *v),
        AggregatedMetrics::U64(data) => render_data(out, &name, metric.description(), data, |v| *v as f64),
        AggregatedMetrics::I64(data) => render_data(out, &name, metric.description(), data, |v| *v as f64),
    }
}

fn render_data<T: Copy>(out: &mut String, name: &str, help: &str, data: &MetricData<T>, as_f64: impl Fn(&T) -> f64) {
    match data {
        MetricData::Sum(sum) => {
            let kind = if sum.is_monotonic() { "counter" } else { "gauge" };
            header(out, name, help, kind);
            for point in sum.data_points() {
                sample(out, name, "", point.attributes(), None, as_f64(&point.value()));
            }
        }
        MetricData::Gauge(gauge) => {
            header(out, name, help, "gauge");
            for point in gauge.data_points() {
                sample(out, name, "", point.attributes(), None, as_f64(&point.value()));
            }
        }
        MetricData::Histogram(histogram) => {
            header(out, name, help, "histogram");
            for point in histogram.data_points() {
                let mut cumulative = 0u64;
                let counts: Vec<u64> = point.bucket_counts().collect();
                for (i, bound) in point.bounds().enumerate() {
                    cumulative += counts.get(i).copied().unwrap_or(0);
                    sample(out, name, "_bucket", point.attributes(), Some(&format_float(bound)), cumulative as f64);
                }
                sample(out, name, "_bucket", point.attributes(), Some("+Inf"), point.count() as f64);
                sample(out, name, "_sum", point.attributes(), None, as_f64(&point.sum()));
                sample(out, name, "_count", point.attributes(), None, point.count() as f64);
            }
        }
        // Not used by the platform; exponential histograms have no Prometheus text form.
        MetricData::ExponentialHistogram(_) => {}
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    if !help.is_empty() {
        let _ = writeln!(out, "# HELP {name} {}", help.replace('\\', "\\\\").replace('\n', "\\n"));
    }
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample<'a>(
    out: &mut String,
    name: &str,
    suffix: &str,
    attributes: impl Iterator<Item = &'a KeyValue>,
    le: Option<&str>,
    value: f64,
) {
    let mut labels: Vec<String> = attributes
        .map(|kv| format!("{}=\"{}\"", sanitize(kv.key.as_str()), escape(&kv.value.to_string())))
        .collect();
    if let Some(le) = le {
        labels.push(format!("le=\"{le}\""));
    }
    let labels = if labels.is_empty() { String::new() } else { format!("{{{}}}", labels.join(",")) };
    let _ = writeln!(out, "{name}{suffix}{labels} {}", format_float(value));
}

fn format_float(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{value}")
    }
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' }).collect()
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::SdkMeterProvider;

    #[test]
    fn renders_counters_gauges_and_histograms() {
        let reader = PrometheusReader::new();
        let provider = SdkMeterProvider::builder().with_reader(reader.clone()).build();
        let meter = provider.meter("test");
        let counter = meter.u64_counter("brain_test_events_total").with_description("Events seen").build();
        counter.add(3, &[KeyValue::new("topic", "brain.ingest.records.v1")]);
        let gauge = meter.i64_up_down_counter("brain_test_queue_depth").build();
        gauge.add(5, &[]);
        gauge.add(-2, &[]);
        let histogram = meter
            .f64_histogram("brain_test_latency_seconds")
            .with_boundaries(vec![0.1, 1.0])
            .build();
        histogram.record(0.05, &[]);
        histogram.record(0.5, &[]);
        histogram.record(5.0, &[]);

        let text = reader.render();
        assert!(text.contains("# HELP brain_test_events_total Events seen"), "{text}");
        assert!(text.contains("# TYPE brain_test_events_total counter"), "{text}");
        assert!(text.contains("brain_test_events_total{topic=\"brain.ingest.records.v1\"} 3"), "{text}");
        assert!(text.contains("# TYPE brain_test_queue_depth gauge"), "{text}");
        assert!(text.contains("brain_test_queue_depth 3"), "{text}");
        assert!(text.contains("brain_test_latency_seconds_bucket{le=\"0.1\"} 1"), "{text}");
        assert!(text.contains("brain_test_latency_seconds_bucket{le=\"1\"} 2"), "{text}");
        assert!(text.contains("brain_test_latency_seconds_bucket{le=\"+Inf\"} 3"), "{text}");
        assert!(text.contains("brain_test_latency_seconds_count 3"), "{text}");
        assert!(text.contains("brain_test_latency_seconds_sum 5.55"), "{text}");
    }
}
