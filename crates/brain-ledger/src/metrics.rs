//! Metrics of the ledger, named `brain_ledger_<name>_<unit>`.

use opentelemetry::metrics::{Counter, Histogram};
use std::sync::OnceLock;

pub(crate) struct LedgerMetrics {
    pub appended: Counter<u64>,
    pub append_seconds: Histogram<f64>,
    pub checkpoints: Counter<u64>,
    pub verification_failures: Counter<u64>,
}

pub(crate) fn get() -> &'static LedgerMetrics {
    static METRICS: OnceLock<LedgerMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = brain_telemetry::metrics::meter();
        LedgerMetrics {
            appended: meter
                .u64_counter("brain_ledger_appended_entries_total")
                .with_description("Entries committed to the audit ledger")
                .build(),
            append_seconds: meter
                .f64_histogram("brain_ledger_append_duration_seconds")
                .with_description("Time to commit one group of ledger appends")
                .with_boundaries(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
                ])
                .build(),
            checkpoints: meter
                .u64_counter("brain_ledger_checkpoints_total")
                .with_description("Signed ledger checkpoints stored")
                .build(),
            verification_failures: meter
                .u64_counter("brain_ledger_verification_failures_total")
                .with_description(
                    "Ledger verifications or checkpoints that found a broken chain or checkpoint",
                )
                .build(),
        }
    })
}

impl LedgerMetrics {
    /// Makes every counter visible at 0 before anything happens, so alert rules on them
    /// evaluate from the start.
    pub fn touch(&self) {
        self.appended.add(0, &[]);
        self.checkpoints.add(0, &[]);
        self.verification_failures.add(0, &[]);
    }
}
