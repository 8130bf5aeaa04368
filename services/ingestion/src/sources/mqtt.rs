//! MQTT subscriptions of edge devices and gateways.
//!
//! One task per subscription drives the rumqttc event loop and, beside it, at most one batch
//! of messages being ingested. Messages that arrive while a batch is in flight wait in a
//! bounded buffer and form the next batch (group commit, as the embedded log does), so a
//! busy broker gets large batches without any added latency.
//!
//! Delivery: the session is persistent (clean_session=false, a stable client id), so the
//! broker queues QoS 1 messages while the brain is down; acknowledgements are manual and sent
//! only after `ingest` returned, i.e. after the records (and the dead letters of invalid
//! ones) are durable on the bus. A message whose ingest fails is retried in place and never
//! acknowledged before it succeeds; after a crash or a shutdown the broker redelivers it.
//! Record ids are content hashes (or the client's `_id`), so a redelivered message is
//! deduplicated downstream.

use super::topic_pattern::{NameTemplate, TopicPattern};
use super::{Backoff, SourceError, SourceStatus, metrics, retryable};
use crate::domain::{self, RecordInput};
use crate::{Ingestion, IngestionError};
use brain_config::MqttSubscriptionConfig;
use brain_proto::events::v1::{Source, SourceKind};
use futures::future::BoxFuture;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, Publish, QoS, SubscribeReasonCode};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Messages per batch, and the most a subscription holds before it stops reading.
const MAX_BATCH_MESSAGES: usize = 1000;
/// Capacity of the request channel to the event loop (acknowledgements, subscribe).
const REQUEST_CAPACITY: usize = 2 * MAX_BATCH_MESSAGES;
/// How long a shutdown may spend handing the last acknowledgements to the broker.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);
/// MQTT's own ceiling on a packet.
const MQTT_MAX_PACKET: u64 = 268_435_455;

/// How a message's topic maps to a tenant, a dataset and source attributes.
struct Route {
    name: String,
    pattern: TopicPattern,
    tenant: NameTemplate,
    dataset: NameTemplate,
}

pub(crate) struct MqttSource {
    route: Arc<Route>,
    broker: brain_config::MqttBroker,
    /// The broker URL without its password, for logs.
    broker_shown: String,
    client_id: String,
    qos: QoS,
    keep_alive: Duration,
}

/// A received message and the connection it came on: an acknowledgement is valid only on
/// the connection (session generation) that delivered the message.
struct Held {
    publish: Publish,
    generation: u64,
}

impl MqttSource {
    pub fn new(config: &MqttSubscriptionConfig, common: &brain_config::Common) -> Result<Self, SourceError> {
        let key = |field: &str| format!("ingestion.mqtt.{}.{field}", config.name);
        let invalid = |field: &str| {
            let key = key(field);
            move |reason: String| SourceError::Config { key, reason }
        };
        let broker = brain_config::parse_mqtt_broker(&config.broker).map_err(invalid("broker"))?;
        let pattern = TopicPattern::parse(&config.topic).map_err(invalid("topic"))?;
        let known = brain_config::topic_template_placeholders(&config.topic).map_err(invalid("topic"))?;
        let tenant = NameTemplate::parse(&config.tenant, &known).map_err(invalid("tenant"))?;
        let dataset = NameTemplate::parse(&config.dataset, &known).map_err(invalid("dataset"))?;
        let qos = match config.qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            other => return Err(invalid("qos")(format!("{other} is not 0 or 1"))),
        };
        Ok(Self {
            route: Arc::new(Route { name: config.name.clone(), pattern, tenant, dataset }),
            broker,
            broker_shown: brain_config::redact_url(&config.broker),
            client_id: config.client_id(common),
            qos,
            keep_alive: Duration::from_secs(config.keep_alive_seconds),
        })
    }

    pub fn name(&self) -> &str {
        &self.route.name
    }

    /// Runs until `shutdown`: finishes the batch in flight, ingests what is buffered, hands
    /// the acknowledgements to the broker and disconnects (keeping the session).
    pub async fn run(self, ingestion: Ingestion, status: SourceStatus, shutdown: CancellationToken) {
        let name = self.route.name.clone();
        let max_packet = ingestion.limits.max_body_bytes.min(MQTT_MAX_PACKET) as usize;
        let mut options = MqttOptions::new(self.client_id.clone(), self.broker.host.clone(), self.broker.port);
        options
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_keep_alive(self.keep_alive)
            .set_max_packet_size(max_packet, 64 * 1024)
            .set_request_channel_capacity(REQUEST_CAPACITY);
        if let Some(user) = &self.broker.username {
            options.set_credentials(user.clone(), self.broker.password.clone().unwrap_or_default());
        }
        let (client, mut eventloop) = AsyncClient::new(options, REQUEST_CAPACITY);
        tracing::info!(source = %name, broker = %self.broker_shown, filter = self.route.pattern.filter(), client_id = %self.client_id, "MQTT subscription starting");

        let mut generation = 0u64;
        let mut connected = false;
        let mut subscribed_once = false;
        let mut want_subscribe = false;
        let mut buffer: VecDeque<Held> = VecDeque::new();
        let mut buffered_bytes = 0usize;
        let mut in_flight: Option<BoxFuture<'static, Vec<Held>>> = None;
        let mut acks: VecDeque<Held> = VecDeque::new();
        let mut retry_at: Option<Instant> = None;
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
        let mut stopping = false;

        loop {
            if want_subscribe && client.try_subscribe(self.route.pattern.filter(), self.qos).is_ok() {
                want_subscribe = false;
            }
            push_acks(&client, &mut acks, generation);
            if in_flight.is_none() && !buffer.is_empty() {
                let batch = take_batch(&mut buffer, &mut buffered_bytes, max_packet);
                in_flight = Some(Box::pin(ingest_batch(ingestion.clone(), self.route.clone(), batch, shutdown.clone())));
            }
            if stopping && in_flight.is_none() && buffer.is_empty() {
                break;
            }
            let room = buffer.len() < MAX_BATCH_MESSAGES && buffered_bytes < max_packet;
            tokio::select! {
                () = shutdown.cancelled(), if !stopping => {
                    stopping = true;
                }
                done = in_flight_output(&mut in_flight) => {
                    in_flight = None;
                    if !done.is_empty() {
                        status.update("mqtt", &name, |s| s.last_success = Some(chrono::Utc::now()));
                    }
                    acks.extend(done);
                }
                () = sleep_until(retry_at), if retry_at.is_some() => {
                    retry_at = None;
                }
                event = eventloop.poll(), if retry_at.is_none() && !stopping && room => match event {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        generation += 1;
                        connected = true;
                        backoff.reset();
                        tracing::info!(source = %name, broker = %self.broker_shown, session_present = ack.session_present, "MQTT connected");
                        status.update("mqtt", &name, |s| s.connected = true);
                        // A new session has no subscription; a resumed one keeps it, and
                        // subscribing again would make the broker resend retained messages.
                        if !ack.session_present || !subscribed_once {
                            want_subscribe = true;
                        } else {
                            status.update("mqtt", &name, |s| s.subscribed = true);
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(ack))) => {
                        if ack.return_codes.iter().any(|c| matches!(c, SubscribeReasonCode::Failure)) {
                            let reason = format!("the broker refused the subscription to `{}`", self.route.pattern.filter());
                            tracing::error!(source = %name, broker = %self.broker_shown, "{reason}; retrying");
                            status.update("mqtt", &name, |s| s.last_error = Some(reason.clone()));
                            eventloop.clean();
                            connected = false;
                            subscribed_once = false;
                            retry_at = Some(Instant::now() + backoff.next_delay());
                        } else {
                            subscribed_once = true;
                            status.update("mqtt", &name, |s| s.subscribed = true);
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        buffered_bytes += publish.payload.len();
                        buffer.push_back(Held { publish, generation });
                    }
                    Ok(_) => {}
                    Err(error) => {
                        connected = false;
                        let delay = backoff.next_delay();
                        tracing::warn!(source = %name, broker = %self.broker_shown, %error, retry_in_ms = delay.as_millis() as u64, "MQTT connection failed; reconnecting");
                        metrics::get().mqtt_connection_errors.add(1, &[opentelemetry::KeyValue::new("source", name.clone())]);
                        status.update("mqtt", &name, |s| {
                            s.connected = false;
                            s.subscribed = false;
                            s.last_error = Some(format!("connection: {error}"));
                        });
                        retry_at = Some(Instant::now() + delay);
                    }
                },
            }
        }
        flush_and_disconnect(&name, &client, &mut eventloop, acks, generation, connected).await;
        status.update("mqtt", &name, |s| {
            s.connected = false;
            s.subscribed = false;
        });
        tracing::info!(source = %name, "MQTT subscription stopped");
    }
}

/// The output of the batch in flight; pending forever when there is none.
async fn in_flight_output(in_flight: &mut Option<BoxFuture<'static, Vec<Held>>>) -> Vec<Held> {
    match in_flight {
        Some(batch) => batch.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Hands acknowledgements to the event loop without waiting. Those of an earlier connection
/// are dropped: the broker redelivers such messages on the new connection (with their own
/// acknowledgement to come), and an old packet id must not acknowledge a new message.
fn push_acks(client: &AsyncClient, acks: &mut VecDeque<Held>, generation: u64) {
    while let Some(held) = acks.front() {
        if held.generation == generation && client.try_ack(&held.publish).is_err() {
            break; // the request channel is full; the event loop drains it as it is polled
        }
        acks.pop_front();
    }
}

fn take_batch(buffer: &mut VecDeque<Held>, buffered_bytes: &mut usize, max_bytes: usize) -> Vec<Held> {
    let mut batch = Vec::new();
    let mut bytes = 0usize;
    while let Some(held) = buffer.front() {
        let size = held.publish.payload.len();
        if !batch.is_empty() && (batch.len() >= MAX_BATCH_MESSAGES || bytes + size > max_bytes) {
            break;
        }
        bytes += size;
        *buffered_bytes = buffered_bytes.saturating_sub(size);
        if let Some(held) = buffer.pop_front() {
            batch.push(held);
        }
    }
    batch
}

/// Sends the remaining acknowledgements and a DISCONNECT (the session stays on the broker).
async fn flush_and_disconnect(name: &str, client: &AsyncClient, eventloop: &mut EventLoop, mut acks: VecDeque<Held>, mut generation: u64, connected: bool) {
    if !connected {
        if !acks.is_empty() {
            tracing::info!(source = %name, unacknowledged = acks.len(), "MQTT broker unreachable at shutdown; it will redeliver the unacknowledged messages");
        }
        return;
    }
    let deadline = Instant::now() + FLUSH_TIMEOUT;
    let mut disconnect_sent = false;
    loop {
        push_acks(client, &mut acks, generation);
        if acks.is_empty() && !disconnect_sent {
            disconnect_sent = client.try_disconnect().is_ok();
        }
        match tokio::time::timeout_at(deadline, eventloop.poll()).await {
            Err(_) => {
                tracing::warn!(source = %name, "MQTT disconnect timed out; the broker redelivers what was not acknowledged");
                return;
            }
            Ok(Ok(Event::Outgoing(Outgoing::Disconnect))) => return,
            // Reconnected meanwhile: the acknowledgements left belong to the old connection.
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => generation += 1,
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::debug!(source = %name, %error, "MQTT connection closed during shutdown");
                return;
            }
        }
    }
}

/// One ingest call: records of one tenant, dataset and topic.
struct Job {
    tenant: String,
    dataset: String,
    source: Source,
    inputs: Vec<RecordInput>,
    /// Indices (in the batch) of the messages whose records this job carries.
    messages: Vec<usize>,
}

/// Ingests a batch of messages; returns those that may be acknowledged: every record they
/// carry is durable on the bus, or the message can never be ingested (logged and counted).
/// Transient failures are retried until they succeed or shutdown begins; the messages of a
/// job still failing then are not returned, hence not acknowledged.
async fn ingest_batch(ingestion: Ingestion, route: Arc<Route>, batch: Vec<Held>, shutdown: CancellationToken) -> Vec<Held> {
    let m = metrics::get();
    let label = |outcome: &'static str| [opentelemetry::KeyValue::new("source", route.name.clone()), opentelemetry::KeyValue::new("outcome", outcome)];
    let max_records = ingestion.limits.max_batch_records.max(1) as usize;
    let mut jobs: Vec<Job> = Vec::new();
    let mut by_key: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    let mut unroutable = 0u64;
    for (index, held) in batch.iter().enumerate() {
        let topic = &held.publish.topic;
        let Some(captures) = route.pattern.captures(topic) else {
            // Delivered through the subscription (or an older one of the session) but not of
            // the template's shape: nothing says which tenant it belongs to.
            tracing::warn!(source = %route.name, topic = %topic, "MQTT topic does not match the subscription's template; message acknowledged without ingestion");
            unroutable += 1;
            continue;
        };
        let tenant = route.tenant.render(&captures);
        let dataset = route.dataset.render(&captures);
        if let Err(error) = domain::validate_name("tenant", &tenant).and_then(|()| domain::validate_name("dataset", &dataset)) {
            tracing::warn!(source = %route.name, topic = %topic, %error, "MQTT topic gives no valid tenant or dataset; message acknowledged without ingestion");
            unroutable += 1;
            continue;
        }
        let mut inputs = payload_records(&held.publish.payload);
        let mut attributes: std::collections::HashMap<String, String> = captures.into_iter().collect();
        attributes.insert("subscription".into(), route.name.clone());
        let source = Source { kind: SourceKind::Mqtt as i32, name: topic.clone(), attributes };
        let key = (tenant, dataset, topic.clone());
        // Fill the open job of this key; a message with more records than one ingest call
        // may carry is split over several jobs (and acknowledged once all of them succeed).
        while !inputs.is_empty() {
            let j = match by_key.get(&key) {
                Some(&j) if jobs[j].inputs.len() < max_records => j,
                _ => {
                    let (tenant, dataset, _) = key.clone();
                    jobs.push(Job { tenant, dataset, source: source.clone(), inputs: Vec::new(), messages: Vec::new() });
                    by_key.insert(key.clone(), jobs.len() - 1);
                    jobs.len() - 1
                }
            };
            let take = inputs.len().min(max_records - jobs[j].inputs.len());
            jobs[j].inputs.extend(inputs.drain(..take));
            jobs[j].messages.push(index);
        }
    }

    let results = futures::future::join_all(jobs.into_iter().map(|job| {
        let ingestion = ingestion.clone();
        let route = route.clone();
        let shutdown = shutdown.clone();
        async move {
            let ok = ingest_with_retry(&ingestion, &route.name, &job, &shutdown).await;
            (job.messages, ok)
        }
    }))
    .await;
    let mut failed = vec![false; batch.len()];
    for (messages, ok) in &results {
        if !ok {
            for &i in messages {
                failed[i] = true;
            }
        }
    }
    let unacked = failed.iter().filter(|f| **f).count() as u64;
    for (outcome, count) in [("ingested", batch.len() as u64 - unacked - unroutable), ("unroutable", unroutable), ("unacknowledged", unacked)] {
        if count > 0 {
            m.mqtt_messages.add(count, &label(outcome));
        }
    }
    batch.into_iter().zip(failed).filter(|(_, failed)| !failed).map(|(held, _)| held).collect()
}

/// True once the job's records are durable, or when they can never be (a permanent error,
/// logged); false if it still failed when shutdown began.
async fn ingest_with_retry(ingestion: &Ingestion, name: &str, job: &Job, shutdown: &CancellationToken) -> bool {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    loop {
        match ingestion.ingest(&job.tenant, &job.dataset, job.source.clone(), job.inputs.clone()).await {
            Ok(_) => return true,
            Err(error) if retryable(&error) => {
                if shutdown.is_cancelled() {
                    tracing::warn!(source = %name, topic = %job.source.name, %error, "ingest failed during shutdown; messages left unacknowledged for redelivery");
                    return false;
                }
                let delay = backoff.next_delay();
                tracing::warn!(source = %name, topic = %job.source.name, %error, retry_in_ms = delay.as_millis() as u64, "ingest failed; retrying (messages stay unacknowledged)");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.cancelled() => {}
                }
            }
            Err(error) => {
                log_permanent(name, &job.source.name, &error);
                return true;
            }
        }
    }
}

fn log_permanent(name: &str, topic: &str, error: &IngestionError) {
    tracing::error!(source = %name, topic = %topic, %error, "MQTT messages cannot be ingested; acknowledged to keep the subscription flowing");
}

/// The records of one message: a JSON object, or a JSON array of objects. Anything else is
/// one record refused with the reason (published as a dead letter, never dropped).
pub(crate) fn payload_records(payload: &[u8]) -> Vec<RecordInput> {
    let refuse = |reason: String| RecordInput { id: None, event_time: None, fields: Err(reason), size: payload.len() };
    let text = match std::str::from_utf8(payload) {
        Ok(text) => text,
        Err(e) => return vec![refuse(format!("payload is not UTF-8 JSON: {e}"))],
    };
    if text.trim_start().starts_with('[') {
        match serde_json::from_str::<Vec<&serde_json::value::RawValue>>(text) {
            Ok(items) => items.into_iter().map(|raw| domain::json_record(raw.get())).collect(),
            Err(e) => vec![refuse(format!("invalid JSON: {e}"))],
        }
    } else {
        vec![domain::json_record(text)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_objects_or_arrays_of_objects() {
        let one = payload_records(br#"{"_id":"m-1","temp":21.5}"#);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].id.as_deref(), Some("m-1"));
        assert!(one[0].fields.is_ok());

        let many = payload_records(br#" [{"temp":1},{"temp":2}, 3]"#);
        assert_eq!(many.len(), 3);
        assert!(many[0].fields.is_ok() && many[1].fields.is_ok());
        assert_eq!(many[2].fields.as_ref().unwrap_err(), "expected a JSON object, got a number");

        assert!(payload_records(b"[]").is_empty());
    }

    #[test]
    fn invalid_payloads_become_refused_records_with_the_reason() {
        let bad = payload_records(b"{\"temp\": ");
        assert_eq!(bad.len(), 1);
        assert!(bad[0].fields.as_ref().unwrap_err().starts_with("invalid JSON"), "{:?}", bad[0].fields);

        let bad = payload_records(b"[{\"temp\":1},");
        assert_eq!(bad.len(), 1);
        assert!(bad[0].fields.as_ref().unwrap_err().starts_with("invalid JSON"));

        let bad = payload_records(&[0xff, 0xfe, b'{']);
        assert!(bad[0].fields.as_ref().unwrap_err().starts_with("payload is not UTF-8"));

        let bad = payload_records(b"");
        assert_eq!(bad.len(), 1);
        assert!(bad[0].fields.is_err());
    }

    fn held(payload_len: usize) -> Held {
        Held { publish: Publish::new("a/b", QoS::AtLeastOnce, vec![b'x'; payload_len]), generation: 1 }
    }

    #[test]
    fn batches_are_bounded_by_count_and_bytes() {
        let mut buffer: VecDeque<Held> = (0..5).map(|_| held(10)).collect();
        let mut bytes = 50;
        let batch = take_batch(&mut buffer, &mut bytes, 25);
        assert_eq!((batch.len(), buffer.len(), bytes), (2, 3, 30));
        // One message larger than the limit still goes, alone.
        let mut buffer: VecDeque<Held> = [held(100), held(1)].into_iter().collect();
        let mut bytes = 101;
        assert_eq!(take_batch(&mut buffer, &mut bytes, 25).len(), 1);
        let mut buffer: VecDeque<Held> = (0..MAX_BATCH_MESSAGES + 3).map(|_| held(0)).collect();
        let mut bytes = 0;
        assert_eq!(take_batch(&mut buffer, &mut bytes, 25).len(), MAX_BATCH_MESSAGES);
        assert_eq!(buffer.len(), 3);
    }
}
