//! Metrics of the bus, named `brain_bus_<name>_<unit>`.

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};
use std::sync::OnceLock;

pub(crate) struct BusMetrics {
    pub published: Counter<u64>,
    pub publish_seconds: Histogram<f64>,
    pub consumed: Counter<u64>,
    pub committed: Counter<u64>,
}

pub(crate) fn get() -> &'static BusMetrics {
    static METRICS: OnceLock<BusMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = brain_telemetry::metrics::meter();
        BusMetrics {
            published: meter
                .u64_counter("brain_bus_published_events_total")
                .with_description("Events acknowledged by the bus")
                .build(),
            publish_seconds: meter
                .f64_histogram("brain_bus_publish_duration_seconds")
                .with_description("Time from publish to durable acknowledgement of a batch")
                .with_boundaries(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0])
                .build(),
            consumed: meter
                .u64_counter("brain_bus_consumed_events_total")
                .with_description("Events handed to consumers")
                .build(),
            committed: meter
                .u64_counter("brain_bus_commits_total")
                .with_description("Consumer offset commits")
                .build(),
        }
    })
}

pub(crate) fn labels(backend: &'static str, topic: &str) -> [KeyValue; 2] {
    [KeyValue::new("backend", backend), KeyValue::new("topic", topic.to_owned())]
}
