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
    pub trust: TrustConfig,
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
    /// gRPC URLs of services this process does not run, by service name with `_` for `-`
    /// (`governance: http://brain-governance:50051`). Services in this process are reached
    /// on its own listener.
    pub peers: std::collections::BTreeMap<String, String>,
    /// mTLS between services: the gRPC listener and calls to `https://` peers.
    pub tls: ServiceTls,
}

/// Who may open a TLS connection to the gRPC listener.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// Only clients with a certificate from `ca_file` (the brain's own services).
    #[default]
    Required,
    /// Clients without a certificate too (they still need a token or API key); a
    /// certificate that is presented must still chain to `ca_file`.
    Optional,
}

/// PEM files of this process's certificate, its key and the CA that signs every service's
/// certificate (a mounted Kubernetes TLS Secret: `tls.crt`, `tls.key`, `ca.crt`). All empty =
/// plaintext gRPC. The files are re-read every `reload_seconds`, so a renewed certificate is
/// used without a restart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceTls {
    pub cert_file: String,
    pub key_file: String,
    pub ca_file: String,
    pub client_auth: ClientAuth,
    pub reload_seconds: u64,
}

impl Default for ServiceTls {
    fn default() -> Self {
        Self { cert_file: String::new(), key_file: String::new(), ca_file: String::new(), client_auth: ClientAuth::Required, reload_seconds: 60 }
    }
}

impl ServiceTls {
    /// True when the gRPC listener serves TLS and peers are dialled over it.
    pub fn enabled(&self) -> bool {
        !(self.cert_file.is_empty() && self.key_file.is_empty() && self.ca_file.is_empty())
    }

    fn validate(&self, peers: &std::collections::BTreeMap<String, String>) -> Result<(), ConfigError> {
        if self.enabled() {
            for (key, value) in [("common.tls.cert_file", &self.cert_file), ("common.tls.key_file", &self.key_file), ("common.tls.ca_file", &self.ca_file)] {
                if value.is_empty() {
                    return Err(invalid(key, "mTLS needs cert_file, key_file and ca_file together"));
                }
            }
        }
        if !(1..=3600).contains(&self.reload_seconds) {
            return Err(invalid("common.tls.reload_seconds", "must be between 1 and 3600"));
        }
        // A peer's scheme must match: plaintext to a TLS listener fails every call, and
        // https:// without certificates has nothing to present.
        let (wanted, why) = if self.enabled() { ("https://", "common.tls is set, so peers are dialled over mTLS") } else { ("http://", "https:// needs common.tls (cert_file, key_file, ca_file)") };
        for (service, url) in peers {
            if !url.starts_with(wanted) {
                return Err(invalid(&format!("common.peers.{service}"), format!("`{url}` must start with {wanted}: {why}")));
            }
        }
        Ok(())
    }
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
            peers: std::collections::BTreeMap::new(),
            tls: ServiceTls::default(),
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
    /// How the brain authenticates to Kafka and encrypts the connection.
    pub kafka_security: KafkaSecurity,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaProtocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl KafkaProtocol {
    /// librdkafka's `security.protocol` value.
    pub fn as_librdkafka(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext",
            Self::Ssl => "ssl",
            Self::SaslPlaintext => "sasl_plaintext",
            Self::SaslSsl => "sasl_ssl",
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// TLS files are PEM paths (mounted secrets); the SASL password is best given as
/// `BRAIN_BUS__KAFKA_SECURITY__SASL_PASSWORD` and is never printed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSecurity {
    pub protocol: KafkaProtocol,
    /// CA bundle that signs the brokers' certificates; empty = the system's.
    pub ssl_ca_location: String,
    /// Client certificate and key, for brokers that require mutual TLS.
    pub ssl_certificate_location: String,
    pub ssl_key_location: String,
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub sasl_mechanism: String,
    pub sasl_username: String,
    pub sasl_password: String,
}

impl KafkaSecurity {
    fn validate(&self) -> Result<(), ConfigError> {
        let p = self.protocol;
        let tls_files = [("ssl_ca_location", &self.ssl_ca_location), ("ssl_certificate_location", &self.ssl_certificate_location), ("ssl_key_location", &self.ssl_key_location)];
        for (key, value) in tls_files {
            if !value.is_empty() && !p.uses_tls() {
                return Err(invalid(&format!("bus.kafka_security.{key}"), "is only used with protocol ssl or sasl_ssl"));
            }
        }
        if self.ssl_certificate_location.is_empty() != self.ssl_key_location.is_empty() {
            return Err(invalid("bus.kafka_security.ssl_key_location", "a client certificate needs its key, and a key its certificate"));
        }
        if p.uses_sasl() {
            if !["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"].contains(&self.sasl_mechanism.as_str()) {
                return Err(invalid("bus.kafka_security.sasl_mechanism", "must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"));
            }
            if self.sasl_username.is_empty() || self.sasl_password.is_empty() {
                return Err(invalid("bus.kafka_security.sasl_username", "SASL needs a user name and a password"));
            }
        } else if !(self.sasl_mechanism.is_empty() && self.sasl_username.is_empty() && self.sasl_password.is_empty()) {
            return Err(invalid("bus.kafka_security.sasl_mechanism", "SASL settings need protocol sasl_plaintext or sasl_ssl"));
        }
        Ok(())
    }
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
            kafka_security: KafkaSecurity::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestionConfig {
    pub max_body_bytes: u64,
    pub max_record_bytes: u64,
    pub max_batch_records: u32,
    /// MQTT subscriptions of edge devices and gateways.
    pub mqtt: Vec<MqttSubscriptionConfig>,
    /// Scheduled pulls of JSON feeds over HTTP.
    pub pulls: Vec<PullFeedConfig>,
}

impl Default for IngestionConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024 * 1024,
            max_record_bytes: 256 * 1024,
            max_batch_records: 10_000,
            mqtt: Vec::new(),
            pulls: Vec::new(),
        }
    }
}

/// One MQTT subscription: a topic template whose `{placeholders}` are subscribed to as `+`
/// wildcards; the values they capture become source attributes and may fill the tenant and
/// the dataset. Each message is one JSON object or a JSON array of objects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSubscriptionConfig {
    /// Unique among the subscriptions; used in logs, metrics and the default client id.
    pub name: String,
    /// `mqtt://[user[:password]@]host[:port]` (port 1883 by default).
    pub broker: String,
    /// e.g. `factory/{uscc}/line/{line}/telemetry`: `/`-separated levels, each a literal or
    /// a whole-level `{name}` placeholder.
    pub topic: String,
    /// A dataset name, possibly with placeholders of the topic, e.g. `line-telemetry`.
    pub dataset: String,
    /// A tenant id or placeholders of the topic, e.g. `{uscc}`.
    pub tenant: String,
    /// 0 (at most once) or 1 (at least once: acknowledged only once durable on the bus).
    #[serde(default = "default_qos")]
    pub qos: u8,
    /// MQTT client id of the persistent session; default `<topic_prefix>-<industry>-<name>`.
    /// Keep it stable: the broker queues QoS 1 messages for it while the brain is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default = "default_keep_alive_seconds")]
    pub keep_alive_seconds: u64,
}

fn default_qos() -> u8 {
    1
}

fn default_keep_alive_seconds() -> u64 {
    30
}

/// One scheduled pull of a JSON feed over HTTP(S).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullFeedConfig {
    /// Unique among the feeds; the key of its stored cursor.
    pub name: String,
    /// `http://` or `https://` URL, fetched with GET.
    pub url: String,
    /// Cron expression in China Standard Time: 5 fields (minute first) or 6 (second first),
    /// e.g. `*/5 * * * *`.
    pub schedule: String,
    pub tenant: String,
    pub dataset: String,
    /// JSON pointer (RFC 6901) to the array of records in the response, e.g. `/data/items`;
    /// empty = the body is the array.
    #[serde(default)]
    pub records_pointer: String,
    /// Incremental pulls: the request carries the last cursor, which advances only once the
    /// records are durable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<PullCursorConfig>,
    /// Request headers, e.g. an API key. Values are never logged and are hidden by
    /// `config print`.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    #[serde(default = "default_pull_timeout_seconds")]
    pub timeout_seconds: u64,
    /// With a cursor, a run fetches again with the advanced cursor up to this many times
    /// (for feeds that answer in pages); stops early on an empty page.
    #[serde(default = "default_max_pages_per_run")]
    pub max_pages_per_run: u32,
}

fn default_pull_timeout_seconds() -> u64 {
    30
}

fn default_max_pages_per_run() -> u32 {
    1
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullCursorConfig {
    /// Query parameter that carries the cursor, e.g. `since` → `?since=<cursor>`.
    pub param: String,
    /// Field of the records whose maximum becomes the next cursor, e.g. `updated_at`
    /// (a top-level key, or a JSON pointer starting with `/`). Strings compare as text (use
    /// fixed-width times such as RFC 3339 UTC), numbers numerically.
    pub from_field: String,
}

impl MqttSubscriptionConfig {
    /// The client id of the subscription's persistent session.
    pub fn client_id(&self, common: &Common) -> String {
        self.client_id.clone().unwrap_or_else(|| format!("{}-{}-{}", common.topic_prefix, common.industry.code, self.name))
    }
}

/// The `{placeholder}` names of an MQTT topic template, in order, or why it is invalid.
///
/// Levels are separated by `/`; a level is either a literal without `+`, `#`, `{` or `}`,
/// or a whole-level placeholder `{name}` (`name`: ASCII letters, digits and `_`, not starting
/// with a digit). Placeholders are unique.
pub fn topic_template_placeholders(template: &str) -> Result<Vec<&str>, String> {
    if template.is_empty() {
        return Err("must not be empty".into());
    }
    if template.starts_with('$') {
        return Err("topics starting with `$` are broker-internal".into());
    }
    let mut names: Vec<&str> = Vec::new();
    for level in template.split('/') {
        if let Some(name) = level.strip_prefix('{').and_then(|l| l.strip_suffix('}')) {
            if !is_placeholder_name(name) {
                return Err(format!("placeholder `{level}` must be `{{name}}` with ASCII letters, digits or '_'"));
            }
            if names.contains(&name) {
                return Err(format!("placeholder `{level}` appears twice"));
            }
            names.push(name);
        } else if level.contains(['+', '#']) {
            return Err(format!("level `{level}` has an MQTT wildcard; name the level with a `{{placeholder}}` instead"));
        } else if level.contains(['{', '}']) {
            return Err(format!("level `{level}`: a placeholder must be a whole level, like `{{line}}`"));
        } else if level.contains('\u{0}') {
            return Err("must not contain NUL".into());
        }
    }
    Ok(names)
}

fn is_placeholder_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The `{placeholder}` names a tenant or dataset template refers to, or why it is invalid.
/// Outside placeholders only name characters (ASCII letters, digits, '.', '_', '-') may appear.
pub fn name_template_placeholders(template: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = template;
    let mut literal_len = 0;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('{') {
            let Some(end) = after.find('}') else {
                return Err("has an unclosed `{`".into());
            };
            let name = &after[..end];
            if !is_placeholder_name(name) {
                return Err(format!("placeholder `{{{name}}}` must be `{{name}}` with ASCII letters, digits or '_'"));
            }
            names.push(name);
            rest = &after[end + 1..];
        } else {
            let end = rest.find('{').unwrap_or(rest.len());
            let literal = &rest[..end];
            if let Some(c) = literal.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
                return Err(format!("character {c:?} is not allowed; use ASCII letters, digits, '.', '_', '-' or a {{placeholder}}"));
            }
            literal_len += literal.len();
            rest = &rest[end..];
        }
    }
    if names.is_empty() && literal_len == 0 {
        return Err("must not be empty".into());
    }
    if names.is_empty() && literal_len > 64 {
        return Err("must be at most 64 characters".into());
    }
    Ok(names)
}

/// Host, port and optional credentials of an `mqtt://` broker URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MqttBroker {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Parses `mqtt://[user[:password]@]host[:port]` (IPv6 hosts in brackets).
pub fn parse_mqtt_broker(url: &str) -> Result<MqttBroker, String> {
    let Some(rest) = url.strip_prefix("mqtt://").or_else(|| url.strip_prefix("tcp://")) else {
        if url.starts_with("mqtts://") || url.starts_with("ssl://") {
            return Err("TLS brokers (mqtts://) are not supported by this build; use mqtt://host:port".into());
        }
        return Err("must be mqtt://[user[:password]@]host[:port]".into());
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#']) {
        return Err("must be mqtt://[user[:password]@]host[:port] without a path or query".into());
    }
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, rest),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(info) => match info.split_once(':') {
            Some((user, password)) => (Some(user.to_owned()), Some(password.to_owned())),
            None => (Some(info.to_owned()), None),
        },
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let Some((host, tail)) = v6.split_once(']') else {
            return Err("has an unclosed `[` in the host".into());
        };
        match tail.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if tail.is_empty() => (host, None),
            None => return Err("must be mqtt://host:port".into()),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err("has no host".into());
    }
    let port = match port {
        None => 1883,
        Some(port) => port.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("port `{port}` is not a number from 1 to 65535"))?,
    };
    Ok(MqttBroker { host: host.to_owned(), port, username, password })
}

fn check_source_name(key: &str, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok { Ok(()) } else { Err(invalid(key, "must be 1-64 ASCII letters, digits, '.', '_' or '-'")) }
}

/// Checks a cron expression as the ingestion scheduler reads it (croner, 5 or 6 fields).
pub fn check_cron(expression: &str) -> Result<(), String> {
    let fields = expression.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return Err(format!("`{expression}` has {fields} fields; use 5 (minute hour day month weekday) or 6 (second first)"));
    }
    croner::Cron::new(expression).with_seconds_optional().parse().map(|_| ()).map_err(|e| format!("`{expression}` is not a cron expression: {e}"))
}

impl IngestionConfig {
    fn validate(&self, common: &Common) -> Result<(), ConfigError> {
        if self.max_record_bytes == 0 || self.max_record_bytes > self.max_body_bytes {
            return Err(invalid("ingestion.max_record_bytes", "must be above 0 and at most ingestion.max_body_bytes"));
        }
        if self.max_batch_records == 0 {
            return Err(invalid("ingestion.max_batch_records", "must be at least 1"));
        }
        self.validate_mqtt(common)?;
        self.validate_pulls()
    }

    fn validate_mqtt(&self, common: &Common) -> Result<(), ConfigError> {
        let mut seen = std::collections::BTreeSet::new();
        // Two connections with one client id take the session from each other.
        let mut client_ids = std::collections::BTreeSet::new();
        for (i, m) in self.mqtt.iter().enumerate() {
            let key = |field: &str| format!("ingestion.mqtt[{i}].{field}");
            check_source_name(&key("name"), &m.name)?;
            if !seen.insert(m.name.as_str()) {
                return Err(invalid(&key("name"), format!("`{}` is already the name of another subscription", m.name)));
            }
            parse_mqtt_broker(&m.broker).map_err(|reason| invalid(&key("broker"), reason))?;
            let placeholders = topic_template_placeholders(&m.topic).map_err(|reason| invalid(&key("topic"), reason))?;
            for (field, template) in [("tenant", &m.tenant), ("dataset", &m.dataset)] {
                let used = name_template_placeholders(template).map_err(|reason| invalid(&key(field), reason))?;
                if let Some(unknown) = used.iter().find(|name| !placeholders.contains(name)) {
                    return Err(invalid(&key(field), format!("`{{{unknown}}}` is not a placeholder of the topic `{}`", m.topic)));
                }
            }
            if m.qos > 1 {
                return Err(invalid(&key("qos"), "must be 0 (at most once) or 1 (at least once)"));
            }
            if let Some(id) = &m.client_id
                && (id.is_empty() || id.len() > 128 || id.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '+' | '#' | '/')))
            {
                return Err(invalid(&key("client_id"), "must be 1-128 characters without spaces, control characters, '+', '#' or '/'"));
            }
            if m.keep_alive_seconds < 5 || m.keep_alive_seconds > 3600 {
                return Err(invalid(&key("keep_alive_seconds"), "must be between 5 and 3600"));
            }
            let id = m.client_id(common);
            if !client_ids.insert(id.clone()) {
                return Err(invalid(&key("client_id"), format!("`{id}` is already the client id of another subscription")));
            }
        }
        Ok(())
    }

    fn validate_pulls(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::BTreeSet::new();
        for (i, p) in self.pulls.iter().enumerate() {
            let key = |field: &str| format!("ingestion.pulls[{i}].{field}");
            check_source_name(&key("name"), &p.name)?;
            if !seen.insert(p.name.as_str()) {
                return Err(invalid(&key("name"), format!("`{}` is already the name of another feed", p.name)));
            }
            let url_ok = ["http://", "https://"].iter().any(|scheme| p.url.strip_prefix(scheme).is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/')));
            if !url_ok || p.url.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(&key("url"), "must be an http:// or https:// URL with a host"));
            }
            check_cron(&p.schedule).map_err(|reason| invalid(&key("schedule"), reason))?;
            for (field, name) in [("tenant", &p.tenant), ("dataset", &p.dataset)] {
                let ok = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
                if !ok {
                    return Err(invalid(&key(field), "must be 1-64 ASCII letters, digits, '.', '_' or '-'"));
                }
            }
            if !(p.records_pointer.is_empty() || p.records_pointer.starts_with('/')) {
                return Err(invalid(&key("records_pointer"), "must be empty (the body is the array) or a JSON pointer such as /data/items"));
            }
            if let Some(cursor) = &p.cursor {
                if cursor.param.is_empty() || cursor.param.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '&' | '=' | '#')) {
                    return Err(invalid(&key("cursor.param"), "must be a query parameter name without spaces, '&', '=' or '#'"));
                }
                if cursor.from_field.is_empty() || cursor.from_field == "/" {
                    return Err(invalid(&key("cursor.from_field"), "must name a field of the records, e.g. updated_at or /meta/updated_at"));
                }
            }
            for (name, value) in &p.headers {
                let token = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !token {
                    return Err(invalid(&key("headers"), format!("`{name}` is not an HTTP header name")));
                }
                if value.chars().any(|c| c.is_control()) {
                    // The value is a secret: name the header only.
                    return Err(invalid(&key("headers"), format!("the value of `{name}` has control characters")));
                }
            }
            if p.timeout_seconds == 0 || p.timeout_seconds > 3600 {
                return Err(invalid(&key("timeout_seconds"), "must be between 1 and 3600"));
            }
            if p.max_pages_per_run == 0 || p.max_pages_per_run > 10_000 {
                return Err(invalid(&key("max_pages_per_run"), "must be between 1 and 10000"));
            }
            if p.max_pages_per_run > 1 && p.cursor.is_none() {
                return Err(invalid(&key("max_pages_per_run"), "needs a cursor: without one every page would be the same"));
            }
        }
        Ok(())
    }

    /// A copy whose secrets (pull header values, broker passwords) are replaced by `***`.
    pub fn redacted(&self) -> Self {
        let mut shown = self.clone();
        for m in &mut shown.mqtt {
            m.broker = crate::redact_url(&m.broker);
        }
        for p in &mut shown.pulls {
            for value in p.headers.values_mut() {
                *value = "***".into();
            }
        }
        shown
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GovernanceConfig {
    /// A classification rules file (YAML or JSON) replacing the built-in rules; datasets
    /// classified under other rules are re-classified at start. Empty = built-in rules.
    pub classification_rules: String,
}

/// The trust layer: identity, sessions, the ledger and signed reports. Key files hold
/// Ed25519 private keys (PKCS#8 PEM); empty paths mean files under `common.data_dir`,
/// generated on first start (embedded mode). Key contents are never logged or printed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustConfig {
    /// Signs access tokens. Empty = `<data_dir>/jwt-signing.pem`.
    pub jwt_signing_key_file: String,
    /// Signs ledger checkpoints and trusted-status reports. Empty = `<data_dir>/ledger-signing.pem`.
    pub ledger_signing_key_file: String,
    /// `iss` and `aud` of the access tokens this brain issues.
    pub token_issuer: String,
    pub access_token_ttl_seconds: u64,
    /// A session ends after this long without a refresh.
    pub session_idle_timeout_seconds: u64,
    /// …and after this long in any case.
    pub session_max_seconds: u64,
    /// Failed sign-ins in a row that lock an account, and for how long.
    pub lockout_threshold: u32,
    pub lockout_seconds: u64,
    /// How often the ledger's head is signed into a checkpoint.
    pub ledger_checkpoint_seconds: u64,
    /// Password of the first system administrator (`admin` of tenant `platform`), used once
    /// when the brain has no users. Empty = a random one, written to
    /// `<data_dir>/initial-admin-password` (mode 0600). A secret: set it from a Secret.
    pub bootstrap_admin_password: String,
    /// `false` switches authentication, authorization and auditing off: only for measuring
    /// their cost (`brain-load`); the process warns loudly and every caller acts as the
    /// platform's system administrator.
    pub enforce: bool,
    /// An external OpenID Connect identity provider whose tokens are accepted too (off while
    /// `issuer` is empty).
    pub oidc: OidcSettings,
}

/// An external identity provider: its tokens are verified against its JWKS and mapped to a
/// tenant and roles by claims.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcSettings {
    /// Exact `iss` of the provider's tokens; empty = no external provider.
    pub issuer: String,
    /// `aud` values accepted (the brain's client id at the provider).
    pub audiences: Vec<String>,
    /// The provider's `jwks_uri`.
    pub jwks_url: String,
    /// Claim naming the tenant (dotted path); empty = `tenant`.
    pub tenant_claim: String,
    /// Tenant of tokens without the tenant claim; empty = such tokens are refused.
    pub default_tenant: String,
    /// Claim listing roles (dotted path, e.g. `realm_access.roles`); empty = `roles`.
    pub roles_claim: String,
    /// Provider role → platform role (`enterprise-admin`, `gov-analyst`, …).
    pub role_mapping: std::collections::BTreeMap<String, String>,
}

impl Default for TrustConfig {
    fn default() -> Self {
        Self {
            jwt_signing_key_file: String::new(),
            ledger_signing_key_file: String::new(),
            token_issuer: "industry-brain".into(),
            access_token_ttl_seconds: 900,
            session_idle_timeout_seconds: 1800,
            session_max_seconds: 12 * 3600,
            lockout_threshold: 5,
            lockout_seconds: 900,
            ledger_checkpoint_seconds: 60,
            bootstrap_admin_password: String::new(),
            enforce: true,
            oidc: OidcSettings::default(),
        }
    }
}

impl TrustConfig {
    pub fn jwt_key_path(&self, common: &Common) -> String {
        key_path(&self.jwt_signing_key_file, common, "jwt-signing.pem")
    }

    pub fn ledger_key_path(&self, common: &Common) -> String {
        key_path(&self.ledger_signing_key_file, common, "ledger-signing.pem")
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let ranges: [(&str, u64, u64, u64); 6] = [
            ("trust.access_token_ttl_seconds", self.access_token_ttl_seconds, 60, 3600),
            ("trust.session_idle_timeout_seconds", self.session_idle_timeout_seconds, 60, 86_400),
            ("trust.session_max_seconds", self.session_max_seconds, 300, 30 * 86_400),
            ("trust.lockout_threshold", u64::from(self.lockout_threshold), 3, 20),
            ("trust.lockout_seconds", self.lockout_seconds, 60, 86_400),
            ("trust.ledger_checkpoint_seconds", self.ledger_checkpoint_seconds, 1, 86_400),
        ];
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(invalid(key, format!("{value} is outside {min}..={max}")));
            }
        }
        if self.token_issuer.trim().is_empty() {
            return Err(invalid("trust.token_issuer", "must not be empty"));
        }
        let oidc = &self.oidc;
        if !oidc.issuer.is_empty() {
            if oidc.issuer == self.token_issuer {
                return Err(invalid("trust.oidc.issuer", "must differ from trust.token_issuer"));
            }
            if oidc.audiences.is_empty() {
                return Err(invalid("trust.oidc.audiences", "list the brain's client id at the provider"));
            }
            if !(oidc.jwks_url.starts_with("https://") || oidc.jwks_url.starts_with("http://")) {
                return Err(invalid("trust.oidc.jwks_url", "must be the provider's https:// jwks_uri"));
            }
        }
        Ok(())
    }
}

fn key_path(configured: &str, common: &Common, file: &str) -> String {
    if configured.is_empty() { format!("{}/{file}", common.data_dir.trim_end_matches('/')) } else { configured.to_owned() }
}

/// Sections of services whose settings arrive with their domain logic; present now so that
/// a config written for a later version is checked key by key.

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComputeSchedulerConfig {}

/// The model gateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelGatewayConfig {
    /// Request rates and token budgets per tenant and per API key (all unlimited by default).
    pub limits: GatewayLimits,
}

/// `model_gateway.limits`: defaults for every tenant and every API key, and per-tenant
/// overrides. Counted in the brain's cache (`common.cache`): shared by every process on
/// Redis, per process on `memory://`.
///
/// ```yaml
/// model_gateway:
///   limits:
///     tenant:  { requests_per_minute: 600, tokens_per_day: 2000000, tokens_per_month: 40000000 }
///     api_key: { requests_per_minute: 60 }
///     tenants:
///       91330100MA2XXXXX0X:                      # overrides for one tenant
///         tenant:  { tokens_per_day: 10000000 }   # absent keys keep the defaults above
///         api_key: { requests_per_minute: 0 }     # 0 = unlimited
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayLimits {
    /// What each tenant may use in total, over all its credentials.
    pub tenant: LimitSettings,
    /// What each API key may use (requests made with a session token count for the tenant only).
    pub api_key: LimitSettings,
    /// Tenant id → limits replacing the defaults key by key. Tenant ids are case-sensitive:
    /// set overrides in the file, since environment variable names are read in lower case.
    pub tenants: std::collections::BTreeMap<String, TenantLimits>,
}

/// Limits of one scope (a tenant, or an API key). 0 or absent = unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Requests admitted per calendar minute.
    pub requests_per_minute: u32,
    /// Tokens (prompt plus completion) per calendar day in China Standard Time.
    pub tokens_per_day: u64,
    /// Tokens per calendar month in China Standard Time.
    pub tokens_per_month: u64,
}

/// Overrides for one tenant: `tenant` for the tenant's total, `api_key` for each of its keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantLimits {
    pub tenant: LimitOverride,
    pub api_key: LimitOverride,
}

/// A limit override: absent keys keep the default, 0 = unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_per_day: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_per_month: Option<u64>,
}

impl LimitOverride {
    /// `defaults` with the keys this override sets replaced.
    pub fn apply(&self, defaults: LimitSettings) -> LimitSettings {
        LimitSettings {
            requests_per_minute: self.requests_per_minute.unwrap_or(defaults.requests_per_minute),
            tokens_per_day: self.tokens_per_day.unwrap_or(defaults.tokens_per_day),
            tokens_per_month: self.tokens_per_month.unwrap_or(defaults.tokens_per_month),
        }
    }
}

/// Largest token budget: 2^53, the largest count the cache's quota counters compare exactly
/// on every backend (Redis scripts compare in doubles).
pub const MAX_TOKEN_BUDGET: u64 = 1 << 53;

impl GatewayLimits {
    /// The limits of `tenant` and of each of its API keys, overrides applied.
    pub fn resolve(&self, tenant: &str) -> (LimitSettings, LimitSettings) {
        match self.tenants.get(tenant) {
            Some(o) => (o.tenant.apply(self.tenant), o.api_key.apply(self.api_key)),
            None => (self.tenant, self.api_key),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_limits("model_gateway.limits.tenant", &self.tenant)?;
        check_limits("model_gateway.limits.api_key", &self.api_key)?;
        for id in self.tenants.keys() {
            let prefix = format!("model_gateway.limits.tenants.{id}");
            if id.trim().is_empty() || id.trim() != id {
                return Err(invalid(&prefix, format!("`{id}` is not a tenant id: it is empty or has surrounding spaces")));
            }
            let (tenant, api_key) = self.resolve(id);
            check_limits(&format!("{prefix}.tenant"), &tenant)?;
            check_limits(&format!("{prefix}.api_key"), &api_key)?;
        }
        Ok(())
    }
}

/// Budgets must be counted exactly, and a daily budget above the monthly one is a mistake
/// (the day could never use it): names the key and says which value is wrong.
fn check_limits(prefix: &str, limits: &LimitSettings) -> Result<(), ConfigError> {
    for (name, value) in [("tokens_per_day", limits.tokens_per_day), ("tokens_per_month", limits.tokens_per_month)] {
        if value > MAX_TOKEN_BUDGET {
            return Err(invalid(
                &format!("{prefix}.{name}"),
                format!("{value} is above {MAX_TOKEN_BUDGET} (2^53), the largest budget counted exactly; use 0 for unlimited"),
            ));
        }
    }
    let (day, month) = (limits.tokens_per_day, limits.tokens_per_month);
    if day > 0 && month > 0 && day > month {
        return Err(invalid(
            &format!("{prefix}.tokens_per_day"),
            format!("{day} is above tokens_per_month ({month}, defaults and overrides applied): a day could never use it"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod model_gateway_limit_tests {
    use super::*;

    fn parse(yaml: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        crate::parse(yaml, &vars)
    }

    fn invalid_key(result: Result<Config, ConfigError>) -> (String, String) {
        match result {
            Err(ConfigError::Invalid { key, reason }) => (key, reason),
            other => panic!("expected an invalid key, got {other:?}"),
        }
    }

    #[test]
    fn limits_are_unlimited_by_default() {
        let config = parse("", &[]).unwrap();
        assert_eq!(config.model_gateway.limits, GatewayLimits::default());
        assert_eq!(config.model_gateway.limits.resolve("any"), (LimitSettings::default(), LimitSettings::default()));
    }

    #[test]
    fn tenant_overrides_replace_defaults_key_by_key() {
        let yaml = "model_gateway:\n  limits:\n    tenant: { requests_per_minute: 600, tokens_per_day: 5000, tokens_per_month: 90000 }\n    api_key: { requests_per_minute: 60 }\n    tenants:\n      91330100MA2XXXXX0X:\n        tenant: { tokens_per_day: 8000 }\n        api_key: { requests_per_minute: 0, tokens_per_month: 1000 }\n";
        let limits = parse(yaml, &[]).unwrap().model_gateway.limits;
        let defaults = (
            LimitSettings { requests_per_minute: 600, tokens_per_day: 5000, tokens_per_month: 90_000 },
            LimitSettings { requests_per_minute: 60, tokens_per_day: 0, tokens_per_month: 0 },
        );
        assert_eq!(limits.resolve("other"), defaults);
        assert_eq!(
            limits.resolve("91330100MA2XXXXX0X"),
            (
                LimitSettings { requests_per_minute: 600, tokens_per_day: 8000, tokens_per_month: 90_000 },
                LimitSettings { requests_per_minute: 0, tokens_per_day: 0, tokens_per_month: 1000 },
            )
        );
        assert_eq!(limits.resolve("91330100ma2xxxxx0x"), defaults, "tenant ids are case-sensitive");
    }

    #[test]
    fn defaults_come_from_the_environment_too() {
        let config = parse("", &[("BRAIN_MODEL_GATEWAY__LIMITS__API_KEY__TOKENS_PER_DAY", "250000")]).unwrap();
        assert_eq!(config.model_gateway.limits.api_key.tokens_per_day, 250_000);
    }

    #[test]
    fn limit_errors_name_the_key_and_the_reason() {
        let (key, reason) = invalid_key(parse("model_gateway: { limits: { tenant: { tokens_per_day: 9007199254740993 } } }", &[]));
        assert_eq!(key, "model_gateway.limits.tenant.tokens_per_day");
        assert!(reason.contains("2^53"), "{reason}");

        let (key, reason) = invalid_key(parse("model_gateway: { limits: { api_key: { tokens_per_day: 10, tokens_per_month: 5 } } }", &[]));
        assert_eq!(key, "model_gateway.limits.api_key.tokens_per_day");
        assert!(reason.contains("tokens_per_month (5"), "{reason}");

        // The override alone is fine; with the default month it is not.
        let yaml = "model_gateway: { limits: { tenant: { tokens_per_month: 100 }, tenants: { acme: { tenant: { tokens_per_day: 500 } } } } }";
        let (key, _) = invalid_key(parse(yaml, &[]));
        assert_eq!(key, "model_gateway.limits.tenants.acme.tenant.tokens_per_day");

        let (key, reason) = invalid_key(parse("model_gateway: { limits: { tenants: { ' ': {} } } }", &[]));
        assert_eq!(key, "model_gateway.limits.tenants. ");
        assert!(reason.contains("not a tenant id"), "{reason}");

        let (key, _) = invalid_key(parse("model_gateway: { limits: { tenant: { tokens_per_week: 1 } } }", &[]));
        assert_eq!(key, "model_gateway.limits.tenant.tokens_per_week");
        let (key, _) = invalid_key(parse("model_gateway: { limits: { api_key: { requests_per_minute: -1 } } }", &[]));
        assert_eq!(key, "model_gateway.limits.api_key.requests_per_minute");
        let (key, _) = invalid_key(parse("model_gateway: { limits: { tenants: { acme: { api_key: { tokens_per_day: 1.5 } } } } }", &[]));
        assert_eq!(key, "model_gateway.limits.tenants.acme.api_key.tokens_per_day");
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceOpeningConfig {}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortalApiConfig {}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationConfig {}

/// Services another process can be a peer for, as `common.peers` keys.
const KNOWN_PEERS: &[&str] = &["compute_scheduler", "evaluation", "governance", "ingestion", "model_gateway", "portal_api", "service_opening", "trust"];

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
        for (service, url) in &c.peers {
            let key = format!("common.peers.{service}");
            if !KNOWN_PEERS.contains(&service.as_str()) {
                return Err(invalid(&key, format!("not a service; use one of {}", KNOWN_PEERS.join(", "))));
            }
            let ok = ["http://", "https://"].iter().any(|scheme| url.strip_prefix(scheme).is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/')));
            if !ok {
                return Err(invalid(&key, format!("`{url}` must be an http:// or https:// URL like http://brain-governance:50051")));
            }
        }
        c.tls.validate(&c.peers)?;
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
        b.kafka_security.validate()?;
        self.ingestion.validate(c)?;
        self.trust.validate()?;
        self.model_gateway.limits.validate()?;
        Ok(())
    }
}
