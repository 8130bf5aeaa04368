//! Apache Kafka through rdkafka: an idempotent producer with `acks=all`, topics created with
//! the configured partitions, consumer groups that commit only when told to.

use crate::{BusError, BusSettings, Delivered, Event, EventBus, Position, Subscription, metrics};
use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers as _, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// A replay stops when the partition has been quiet this long.
const REPLAY_IDLE: Duration = Duration::from_millis(1500);

pub struct KafkaBus {
    /// Brokers and security settings every client of this bus starts from.
    base: ClientConfig,
    settings: BusSettings,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    known_topics: Mutex<HashSet<String>>,
    group_prefix: String,
}

/// Client settings shared by the producer, the admin client and every consumer.
fn client_base(servers: &str, security: &brain_config::KafkaSecurity) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", servers).set("security.protocol", security.protocol.as_librdkafka());
    let optional = [
        ("ssl.ca.location", &security.ssl_ca_location),
        ("ssl.certificate.location", &security.ssl_certificate_location),
        ("ssl.key.location", &security.ssl_key_location),
        ("sasl.mechanism", &security.sasl_mechanism),
        ("sasl.username", &security.sasl_username),
        ("sasl.password", &security.sasl_password),
    ];
    for (key, value) in optional.into_iter().filter(|(_, v)| !v.is_empty()) {
        config.set(key, value);
    }
    config
}

impl KafkaBus {
    pub fn new(servers: &str, settings: BusSettings) -> Result<Self, BusError> {
        Self::secured(servers, settings, &brain_config::KafkaSecurity::default())
    }

    /// A bus whose producer, admin and consumers all connect with `security` (TLS, SASL).
    pub fn secured(servers: &str, settings: BusSettings, security: &brain_config::KafkaSecurity) -> Result<Self, BusError> {
        let base = client_base(servers, security);
        let producer: FutureProducer = base
            .clone()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", settings.linger_ms.to_string())
            .set("message.timeout.ms", "30000")
            .set("partitioner", "consistent")
            .create()?;
        let admin: AdminClient<DefaultClientContext> = base.create()?;
        Ok(Self { base, settings, producer, admin, known_topics: Mutex::new(HashSet::new()), group_prefix: String::new() })
    }

    /// Consumer groups become `<prefix>.<group>` on the broker.
    pub fn with_group_prefix(mut self, prefix: &str) -> Self {
        self.group_prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}.") };
        self
    }

    fn consumer_config(&self, group: &str) -> ClientConfig {
        let mut config = self.base.clone();
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", self.settings.session_timeout_ms.to_string())
            .set("heartbeat.interval.ms", self.settings.heartbeat_interval_ms.to_string());
        config
    }

    fn is_known(&self, topic: &str) -> bool {
        self.known_topics.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(topic)
    }
}

fn owned_headers(headers: &[(String, String)]) -> OwnedHeaders {
    headers.iter().fold(OwnedHeaders::new_with_capacity(headers.len()), |acc, (name, value)| {
        acc.insert(Header { key: name, value: Some(value.as_bytes()) })
    })
}

fn delivered_from<M: Message>(message: &M) -> Delivered {
    let headers = message
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| (h.key.to_owned(), h.value.map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    Delivered {
        topic: message.topic().to_owned(),
        position: Position { partition: message.partition().max(0) as u32, offset: message.offset().max(0) as u64 },
        key: message.key().map(<[u8]>::to_vec).unwrap_or_default(),
        payload: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        headers,
        timestamp_ms: message.timestamp().to_millis().unwrap_or(0),
    }
}

#[async_trait]
impl EventBus for KafkaBus {
    fn backend(&self) -> &'static str {
        "kafka"
    }

    async fn ensure_topic(&self, topic: &str) -> Result<(), BusError> {
        crate::topics::validate(topic)?;
        if self.is_known(topic) {
            return Ok(());
        }
        let partitions = i32::try_from(self.settings.partitions).unwrap_or(i32::MAX);
        let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(i32::from(self.settings.replication_factor)));
        let results = self.admin.create_topics([&new_topic], &AdminOptions::new().operation_timeout(Some(METADATA_TIMEOUT))).await?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(BusError::Kafka(KafkaError::AdminOp(code))).inspect_err(|_| tracing::error!(topic = %name, ?code, "cannot create topic"));
                }
            }
        }
        self.known_topics.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(topic.to_owned());
        Ok(())
    }

    async fn publish(&self, topic: &str, events: Vec<Event>) -> Result<Vec<Position>, BusError> {
        self.ensure_topic(topic).await?;
        let started = std::time::Instant::now();
        let mut pending = Vec::with_capacity(events.len());
        for event in &events {
            let mut record = FutureRecord::to(topic).key(&event.key).payload(&event.payload).headers(owned_headers(&event.headers));
            // Queue everything first, then wait: one round trip for the whole batch.
            let delivery = loop {
                match self.producer.send_result(record) {
                    Ok(delivery) => break delivery,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                        record = returned;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((error, _)) => return Err(error.into()),
                }
            };
            pending.push(delivery);
        }
        let mut positions = Vec::with_capacity(pending.len());
        for delivery in pending {
            match delivery.await {
                Ok(Ok(d)) => positions.push(Position { partition: d.partition.max(0) as u32, offset: d.offset.max(0) as u64 }),
                Ok(Err((error, _))) => return Err(error.into()),
                Err(_) => return Err(BusError::Closed),
            }
        }
        let m = metrics::get();
        let labels = metrics::labels("kafka", topic);
        m.published.add(positions.len() as u64, &labels);
        m.publish_seconds.record(started.elapsed().as_secs_f64(), &labels);
        Ok(positions)
    }

    async fn subscribe(&self, group: &str, topics: &[String]) -> Result<Box<dyn Subscription>, BusError> {
        for topic in topics {
            self.ensure_topic(topic).await?;
        }
        let consumer: StreamConsumer = self.consumer_config(&format!("{}{group}", self.group_prefix)).create()?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names)?;
        Ok(Box::new(KafkaSubscription { consumer: Arc::new(consumer) }))
    }

    async fn read(&self, topic: &str, partition: u32, offset: u64, max: usize) -> Result<Vec<Delivered>, BusError> {
        let group = format!("brain-replay-{}", uuid::Uuid::now_v7());
        let consumer: StreamConsumer = self.consumer_config(&group).create()?;
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(topic, partition as i32, Offset::Offset(offset as i64))?;
        consumer.assign(&assignment)?;
        drop(assignment);
        let mut out = Vec::new();
        while out.len() < max {
            match tokio::time::timeout(REPLAY_IDLE, consumer.recv()).await {
                Ok(Ok(message)) => out.push(delivered_from(&message)),
                Ok(Err(error)) => return Err(error.into()),
                Err(_) => break,
            }
        }
        Ok(out)
    }

    async fn flush(&self) -> Result<(), BusError> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.flush(FLUSH_TIMEOUT)).await.map_err(|_| BusError::Closed)??;
        Ok(())
    }

    async fn ping(&self) -> Result<(), BusError> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.client().fetch_metadata(None, METADATA_TIMEOUT).map(|_| ()))
            .await
            .map_err(|_| BusError::Closed)??;
        Ok(())
    }
}

struct KafkaSubscription {
    consumer: Arc<StreamConsumer>,
}

#[async_trait]
impl Subscription for KafkaSubscription {
    async fn next(&mut self) -> Result<Delivered, BusError> {
        let message = self.consumer.recv().await?;
        let delivered = delivered_from(&message);
        metrics::get().consumed.add(1, &metrics::labels("kafka", &delivered.topic));
        Ok(delivered)
    }

    async fn commit(&mut self, delivered: &Delivered) -> Result<(), BusError> {
        let consumer = self.consumer.clone();
        let (topic, partition, next) = (delivered.topic.clone(), delivered.position.partition as i32, delivered.position.offset as i64 + 1);
        tokio::task::spawn_blocking(move || {
            let mut offsets = TopicPartitionList::new();
            offsets.add_partition_offset(&topic, partition, Offset::Offset(next))?;
            consumer.commit(&offsets, CommitMode::Sync)
        })
        .await
        .map_err(|_| BusError::Closed)??;
        metrics::get().committed.add(1, &metrics::labels("kafka", &delivered.topic));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_config::{KafkaProtocol, KafkaSecurity};

    fn settings() -> BusSettings {
        BusSettings::from(&brain_config::BusConfig::default())
    }

    /// Clients are created without contacting a broker, so this checks the build's TLS support
    /// and how the settings reach librdkafka.
    #[test]
    fn tls_and_sasl_settings_reach_every_client() {
        let ca = "/etc/ssl/certs/ca-certificates.crt";
        let security = KafkaSecurity {
            protocol: KafkaProtocol::SaslSsl,
            ssl_ca_location: ca.into(),
            sasl_mechanism: "SCRAM-SHA-256".into(),
            sasl_username: "brain".into(),
            sasl_password: "secret".into(),
            ..KafkaSecurity::default()
        };
        let bus = KafkaBus::secured("127.0.0.1:1", settings(), &security).unwrap();
        let consumer = bus.consumer_config("g");
        assert_eq!(consumer.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(consumer.get("ssl.ca.location"), Some(ca));
        assert_eq!(consumer.get("sasl.mechanism"), Some("SCRAM-SHA-256"));

        let missing = KafkaSecurity { protocol: KafkaProtocol::Ssl, ssl_ca_location: "/nonexistent/ca.pem".into(), ..KafkaSecurity::default() };
        let Err(error) = KafkaBus::secured("127.0.0.1:1", settings(), &missing) else { panic!("a missing CA file must refuse the client") };
        assert!(error.to_string().contains("ssl.ca.location"), "{error}");
    }
}
