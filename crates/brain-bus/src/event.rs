//! What travels on the bus: events with a key, a payload and headers.

use brain_telemetry::propagation::{HeaderPairs, HeaderPairsRef, TRACEPARENT, inject_current, sampled_flag, set_remote_parent};

/// Ordered header name/value pairs (CloudEvents attributes, tenant, traceparent).
pub type Headers = Vec<(String, String)>;

/// An event to publish. Events with the same key go to the same partition, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    pub key: Vec<u8>,
    pub payload: Vec<u8>,
    pub headers: Headers,
}

/// The CloudEvents attributes every platform event carries (as `ce_*` headers).
#[derive(Clone, Debug)]
pub struct CloudEvent<'a> {
    pub id: &'a str,
    /// e.g. `brain.ingest.record.v1`
    pub kind: &'a str,
    /// Producing service, e.g. `/brain/ingestion`.
    pub source: &'a str,
    pub subject: &'a str,
    pub tenant: &'a str,
}

impl Event {
    pub fn new(key: impl Into<Vec<u8>>, payload: impl Into<Vec<u8>>) -> Self {
        Self { key: key.into(), payload: payload.into(), headers: Vec::new() }
    }

    /// An event with CloudEvents headers and the trace context of the current span.
    pub fn cloud(attributes: &CloudEvent<'_>, key: impl Into<Vec<u8>>, payload: impl Into<Vec<u8>>) -> Self {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        Self::new(key, payload)
            .with_header("ce_specversion", "1.0")
            .with_header("ce_id", attributes.id)
            .with_header("ce_type", attributes.kind)
            .with_header("ce_source", attributes.source)
            .with_header("ce_subject", attributes.subject)
            .with_header("ce_time", time)
            .with_header("content-type", "application/protobuf")
            .with_header("tenant", attributes.tenant)
            .with_current_trace()
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds `traceparent` (and `tracestate`) of the current span.
    pub fn with_current_trace(mut self) -> Self {
        inject_current(&mut HeaderPairs(&mut self.headers));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Bytes the event occupies, for size limits.
    pub fn size(&self) -> usize {
        self.key.len() + self.payload.len() + self.headers.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
    }
}

/// Where an event landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    pub partition: u32,
    pub offset: u64,
}

/// An event handed to a consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub topic: String,
    pub position: Position,
    pub key: Vec<u8>,
    pub payload: Vec<u8>,
    pub headers: Headers,
    /// Append time, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

impl Delivered {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Whether the producer's trace is one the producer chose not to sample: a consumer span
    /// under it would be recorded nowhere (the samplers follow the parent's decision).
    pub fn trace_unsampled(&self) -> bool {
        self.header(TRACEPARENT).and_then(sampled_flag) == Some(false)
    }

    /// Makes `span` a child of the producer's trace (from the `traceparent` header).
    pub fn continue_trace(&self, span: &tracing::Span) {
        set_remote_parent(span, &HeaderPairsRef(&self.headers));
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The partition of a key: CRC-32 of the key modulo the partition count, as librdkafka's
/// `consistent` partitioner does, so both backends place a key alike.
pub(crate) fn partition_for(key: &[u8], partitions: u32) -> u32 {
    if partitions <= 1 { 0 } else { crc32fast::hash(key) % partitions }
}
