//! The event bus of the data chain: one small trait, two implementations chosen by URL.
//!
//! - `kafka://host:port,…` — Apache Kafka through rdkafka: idempotent producer with
//!   `acks=all`, consumer groups with manual commits.
//! - `embedded` — a durable log on local disk with the same guarantees: an event is
//!   acknowledged only once it is appended (and fsynced by default), consumer-group offsets
//!   are persisted, per-key ordering holds, any offset can be replayed.
//!
//! Delivery is at-least-once: a consumer commits after its effect is durable and
//! deduplicates by event or record id. Both implementations pass [`conformance`].

mod batch;
pub mod conformance;
mod embedded;
mod error;
mod event;
mod kafka;
mod metrics;
pub mod topics;

pub use batch::{commit_batch, next_batch};
pub use embedded::EmbeddedLog;
pub use error::BusError;
pub use event::{CloudEvent, Delivered, Event, Headers, Position};
pub use kafka::KafkaBus;

use async_trait::async_trait;
use std::sync::Arc;

/// Publishes events durably and hands them to consumer groups.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// `kafka` or `embedded`, for logs and readiness.
    fn backend(&self) -> &'static str;

    /// Creates the topic with the configured partitions if it does not exist.
    async fn ensure_topic(&self, topic: &str) -> Result<(), BusError>;

    /// Appends events to a topic; returns once every event is durable (acknowledged by all
    /// in-sync replicas, or appended and synced locally), with the position of each.
    /// Events with the same key keep their order.
    async fn publish(&self, topic: &str, events: Vec<Event>) -> Result<Vec<Position>, BusError>;

    /// Joins consumer group `group` on `topics`. Partitions are shared among the group's
    /// members; each member resumes from the group's committed offsets.
    async fn subscribe(&self, group: &str, topics: &[String]) -> Result<Box<dyn Subscription>, BusError>;

    /// Replays up to `max` events of one partition starting at `offset`, outside any group.
    async fn read(&self, topic: &str, partition: u32, offset: u64, max: usize) -> Result<Vec<Delivered>, BusError>;

    /// Waits until everything published so far is acknowledged (used at shutdown).
    async fn flush(&self) -> Result<(), BusError>;

    /// Whether the backend is reachable, for `/readyz`.
    async fn ping(&self) -> Result<(), BusError>;
}

/// One member of a consumer group.
#[async_trait]
pub trait Subscription: Send {
    /// The next event of the member's partitions; waits until one is available.
    async fn next(&mut self) -> Result<Delivered, BusError>;

    /// Commits the group's offset past `delivered` (call after its effect is durable).
    async fn commit(&mut self, delivered: &Delivered) -> Result<(), BusError>;
}

/// Settings shared by both implementations.
#[derive(Clone, Debug)]
pub struct BusSettings {
    pub partitions: u32,
    pub replication_factor: u16,
    pub session_timeout_ms: u32,
    pub heartbeat_interval_ms: u32,
    pub linger_ms: u32,
    pub segment_bytes: u64,
    pub fsync: brain_config::FsyncPolicy,
}

impl From<&brain_config::BusConfig> for BusSettings {
    fn from(c: &brain_config::BusConfig) -> Self {
        Self {
            partitions: c.partitions,
            replication_factor: c.replication_factor,
            session_timeout_ms: c.kafka_session_timeout_ms,
            heartbeat_interval_ms: c.kafka_heartbeat_interval_ms,
            linger_ms: c.kafka_linger_ms,
            segment_bytes: c.embedded_segment_bytes,
            fsync: c.embedded_fsync,
        }
    }
}

/// Opens the bus named by `url`: `embedded` (a log under `data_dir/bus`) or `kafka://…`.
/// On Kafka, consumer group ids get `group_prefix` (the brain's topic prefix), so that brains
/// sharing a cluster never share a group, and every client uses `security`.
pub async fn connect(
    url: &str,
    data_dir: &std::path::Path,
    settings: BusSettings,
    group_prefix: &str,
    security: &brain_config::KafkaSecurity,
) -> Result<Arc<dyn EventBus>, BusError> {
    if url == "embedded" {
        let log = EmbeddedLog::open(&data_dir.join("bus"), settings)?;
        Ok(Arc::new(log))
    } else if let Some(servers) = url.strip_prefix("kafka://") {
        Ok(Arc::new(KafkaBus::secured(servers, settings, security)?.with_group_prefix(group_prefix)))
    } else {
        Err(BusError::UnsupportedUrl { url: url.to_owned() })
    }
}
