//! Span attributes known only after a span starts (status codes, token counts).

use opentelemetry::KeyValue;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Sets attributes on the span's OpenTelemetry side only. Use it instead of `Span::record` on
/// hot paths: the JSON log layer re-parses and re-writes a span's formatted fields on every
/// `record`, a cost paid per request for attributes no log line needs. Declare these keys
/// nowhere in the span's `tracing` fields (those would take precedence).
pub fn set_attributes(span: &tracing::Span, attributes: impl IntoIterator<Item = KeyValue>) {
    for attribute in attributes {
        span.set_attribute(attribute.key, attribute.value);
    }
}
