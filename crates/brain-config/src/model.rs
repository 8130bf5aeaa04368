//! The configuration tree. Every struct rejects unknown keys and has defaults, so an empty
//! file is a valid embedded brain.

use crate::ConfigError;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub common: Common,
    pub bus: BusConfig,
    pub ingestion: IngestionConfig,
    pub governance: GovernanceConfig,
    pub compute_scheduler: ComputeSchedulerConfig,
    pub model_gateway: ModelGatewayConfig,
    pub service_opening: ServiceOpeningConfig,
    pub portal_api: PortalApiConfig,
    pub evaluation: EvaluationConfig,
}

/// What a brain is: an industry brain, or the provincial capability center.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Industry,
    Center,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Pretty in a terminal, JSON otherwise.
    #[default]
    Auto,
    Pretty,
    Json,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Industry {
    /// Short code used in topic prefixes and labels, e.g. `textile`.
    pub code: String,
    pub name: String,
    pub region: String,
}

impl Default for Industry {
    fn default() -> Self {
        Self { code: "textile".into(), name: "纺织服装产业大脑".into(), region: "".into() }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Common {
    pub role: Role,
    pub industry: Industry,
    /// Where embedded backends keep their files.
    pub data_dir: String,
    pub http_addr: String,
    pub grpc_addr: String,
    /// `sqlite://<path>` or `postgres://…`; empty = SQLite under `data_dir`.
    pub database: String,
    /// `embedded` or `kafka://host:port[,host:port…]`.
    pub bus: String,
    /// `memory://` or `redis://host:port[/db]`.
    pub cache: String,
    /// Topic names are `<topic_prefix>.<domain>.<event>.v1`.
    pub topic_prefix: String,
    pub log_format: LogFormat,
    /// `tracing` filter directives, e.g. `info,brain_bus=debug`.
    pub log_level: String,
    /// How long a graceful shutdown may take to drain in-flight work.
    pub shutdown_grace_seconds: u64,
}

impl Default for Common {
    fn default() -> Self {
        Self {
            role: Role::Industry,
            industry: Industry::default(),
            data_dir: "./.brain".into(),
            http_addr: "127.0.0.1:8080".into(),
            grpc_addr: "127.0.0.1:50051".into(),
            database: String::new(),
            bus: "embedded".into(),
            cache: "memory://".into(),
            topic_prefix: "brain".into(),
            log_format: LogFormat::Auto,
            log_level: "info".into(),
            shutdown_grace_seconds: 30,
        }
    }
}

impl Common {
    /// The database URL, defaulting to SQLite in the data directory.
    pub fn database_url(&self) -> String {
        if self.database.is_empty() {
            format!("sqlite://{}/brain.db", self.data_dir.trim_end_matches('/'))
        } else {
            self.database.clone()
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// fsync before every acknowledgement: an acknowledged event survives power loss.
    #[default]
    Always,
    /// Leave flushing to the OS: survives a process crash, not a power loss.
    Never,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// Partitions of every topic the brain creates.
    pub partitions: u32,
    pub replication_factor: u16,
    pub embedded_segment_bytes: u64,
    pub embedded_fsync: FsyncPolicy,
    pub kafka_session_timeout_ms: u32,
    pub kafka_heartbeat_interval_ms: u32,
    pub kafka_linger_ms: u32,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            partitions: 6,
            replication_factor: 1,
            embedded_segment_bytes: 64 * 1024 * 1024,
            embedded_fsync: FsyncPolicy::Always,
            kafka_session_timeout_ms: 10_000,
            kafka_heartbeat_interval_ms: 1_000,
            kafka_linger_ms: 5,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestionConfig {
    pub max_body_bytes: u64,
    pub max_record_bytes: u64,
    pub max_batch_records: u32,
}

impl Default for IngestionConfig {
    fn default() -> Self {
        Self { max_body_bytes: 16 * 1024 * 1024, max_record_bytes: 256 * 1024, max_batch_records: 10_000 }
    }
}

/// Sections of services whose settings arrive with their domain logic; present now so that
/// a config written for a later version is checked key by key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GovernanceConfig {}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComputeSchedulerConfig {}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelGatewayConfig {}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceOpeningConfig {}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortalApiConfig {}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationConfig {}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.into(), reason: reason.into() }
}

impl Config {
    /// Checks what types alone cannot: addresses, URL schemes, ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let c = &self.common;
        for (key, addr) in [("common.http_addr", &c.http_addr), ("common.grpc_addr", &c.grpc_addr)] {
            addr.parse::<SocketAddr>()
                .map_err(|e| invalid(key, format!("`{addr}` is not a socket address like 127.0.0.1:8080: {e}")))?;
        }
        if c.data_dir.trim().is_empty() {
            return Err(invalid("common.data_dir", "must not be empty"));
        }
        let db = c.database_url();
        if !(db.starts_with("sqlite:") || db.starts_with("postgres://") || db.starts_with("postgresql://")) {
            return Err(invalid("common.database", "must start with sqlite:// or postgres://"));
        }
        if c.bus != "embedded" {
            let Some(servers) = c.bus.strip_prefix("kafka://") else {
                return Err(invalid("common.bus", "must be `embedded` or `kafka://host:port[,host:port…]`"));
            };
            if servers.split(',').any(|s| s.rsplit_once(':').is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())) {
                return Err(invalid("common.bus", format!("`{servers}` must be a comma-separated list of host:port")));
            }
        }
        if !(c.cache.starts_with("memory://") || c.cache.starts_with("redis://") || c.cache.starts_with("rediss://")) {
            return Err(invalid("common.cache", "must start with memory://, redis:// or rediss://"));
        }
        let valid_name = |s: &str| !s.is_empty() && s.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
        if !valid_name(&c.topic_prefix) {
            return Err(invalid("common.topic_prefix", "must be non-empty ASCII letters, digits, '-' or '_'"));
        }
        if !valid_name(&c.industry.code) {
            return Err(invalid("common.industry.code", "must be non-empty ASCII letters, digits, '-' or '_'"));
        }
        if c.shutdown_grace_seconds == 0 || c.shutdown_grace_seconds > 600 {
            return Err(invalid("common.shutdown_grace_seconds", "must be between 1 and 600"));
        }
        let b = &self.bus;
        if b.partitions == 0 || b.partitions > 1024 {
            return Err(invalid("bus.partitions", "must be between 1 and 1024"));
        }
        if b.replication_factor == 0 {
            return Err(invalid("bus.replication_factor", "must be at least 1"));
        }
        if b.embedded_segment_bytes < 1024 * 1024 {
            return Err(invalid("bus.embedded_segment_bytes", "must be at least 1 MiB"));
        }
        if b.kafka_heartbeat_interval_ms == 0 || b.kafka_heartbeat_interval_ms >= b.kafka_session_timeout_ms {
            return Err(invalid("bus.kafka_heartbeat_interval_ms", "must be above 0 and below bus.kafka_session_timeout_ms"));
        }
        let i = &self.ingestion;
        if i.max_record_bytes == 0 || i.max_record_bytes > i.max_body_bytes {
            return Err(invalid("ingestion.max_record_bytes", "must be above 0 and at most ingestion.max_body_bytes"));
        }
        if i.max_batch_records == 0 {
            return Err(invalid("ingestion.max_batch_records", "must be at least 1"));
        }
        Ok(())
    }
}
