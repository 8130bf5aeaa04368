//! Metrics of the gateway, named `brain_gateway_<name>_<unit>`: requests by model, status and
//! guardrail decision (429s are refused by a rate limit or budget), tokens as upstreams
//! reported them, and usage events the queue to the bus had to drop.

use super::metering::Metered;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use std::sync::OnceLock;

struct GatewayMetrics {
    requests: Counter<u64>,
    tokens: Counter<u64>,
    usage_events_dropped: Counter<u64>,
}

fn get() -> &'static GatewayMetrics {
    static METRICS: OnceLock<GatewayMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = brain_telemetry::metrics::meter();
        GatewayMetrics {
            requests: meter
                .u64_counter("brain_gateway_requests_total")
                .with_description("Model requests by model, HTTP status and guardrail decision")
                .build(),
            tokens: meter
                .u64_counter("brain_gateway_tokens_total")
                .with_description("Tokens by model and type (input, output) as the upstream reported them")
                .build(),
            usage_events_dropped: meter
                .u64_counter("brain_gateway_usage_events_dropped_total")
                .with_description("Usage events dropped because the queue to the bus was full")
                .build(),
        }
    })
}

/// Makes every counter visible at 0 from the start, so alert rules on them evaluate at once.
pub(crate) fn touch() {
    let metrics = get();
    metrics.requests.add(0, &[]);
    metrics.tokens.add(0, &[]);
    metrics.usage_events_dropped.add(0, &[]);
}

pub(crate) fn record(metered: &Metered) {
    let metrics = get();
    let model = KeyValue::new("model", metered.model.clone());
    metrics.requests.add(
        1,
        &[model.clone(), KeyValue::new("status", i64::from(metered.status)), KeyValue::new("guardrail", metered.guardrail)],
    );
    if metered.usage_reported {
        metrics.tokens.add(metered.prompt_tokens, &[model.clone(), KeyValue::new("type", "input")]);
        metrics.tokens.add(metered.completion_tokens, &[model, KeyValue::new("type", "output")]);
    }
}

pub(crate) fn usage_event_dropped() {
    get().usage_events_dropped.add(1, &[]);
}
