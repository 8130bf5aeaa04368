//! RED metrics of every HTTP route and gRPC method.

use opentelemetry::metrics::{Counter, Histogram};
use std::sync::OnceLock;

pub(crate) struct RequestMetrics {
    pub http_requests: Counter<u64>,
    pub http_seconds: Histogram<f64>,
    pub grpc_requests: Counter<u64>,
    pub grpc_seconds: Histogram<f64>,
}

const LATENCY_BOUNDS: [f64; 14] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

pub(crate) fn get() -> &'static RequestMetrics {
    static METRICS: OnceLock<RequestMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = brain_telemetry::metrics::meter();
        RequestMetrics {
            http_requests: meter
                .u64_counter("brain_http_requests_total")
                .with_description("HTTP requests by route, method and status")
                .build(),
            http_seconds: meter
                .f64_histogram("brain_http_request_duration_seconds")
                .with_description("HTTP request latency by route and method")
                .with_boundaries(LATENCY_BOUNDS.to_vec())
                .build(),
            grpc_requests: meter
                .u64_counter("brain_grpc_requests_total")
                .with_description("gRPC requests by service, method and status code")
                .build(),
            grpc_seconds: meter
                .f64_histogram("brain_grpc_request_duration_seconds")
                .with_description("gRPC latency until response headers, by service and method")
                .with_boundaries(LATENCY_BOUNDS.to_vec())
                .build(),
        }
    })
}
