//! Metrics of ingestion, named `brain_ingestion_<name>_<unit>`.

use opentelemetry::metrics::Counter;
use std::sync::OnceLock;

pub(crate) struct IngestionMetrics {
    pub records: Counter<u64>,
}

pub(crate) fn get() -> &'static IngestionMetrics {
    static METRICS: OnceLock<IngestionMetrics> = OnceLock::new();
    METRICS.get_or_init(|| IngestionMetrics {
        records: brain_telemetry::metrics::meter()
            .u64_counter("brain_ingestion_records_total")
            .with_description("Records received, by channel and outcome (accepted or rejected)")
            .build(),
    })
}
