//! The conformance suite every [`EventBus`] implementation must pass, run against the
//! embedded log and a real Kafka broker (see `crates/brain-testkit/tests/bus_conformance.rs`).
//!
//! Each case takes an `open` function that opens the bus on the same backend state, so a
//! case can "restart" by dropping everything and opening again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::{CloudEvent, Delivered, Event, EventBus, Subscription};
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Generous: a Kafka consumer-group join alone can take seconds.
const WAIT: Duration = Duration::from_secs(45);

fn unique(name: &str) -> String {
    format!("conformance.{name}.{}", uuid::Uuid::now_v7().simple())
}

fn numbered(key: &str, n: usize) -> Event {
    Event::new(key.as_bytes().to_vec(), format!("{key}:{n}").into_bytes())
}

fn number_of(d: &Delivered) -> usize {
    let payload = String::from_utf8(d.payload.clone()).unwrap();
    payload.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// Receives exactly `n` events or fails after [`WAIT`].
pub async fn receive(sub: &mut dyn Subscription, n: usize) -> Vec<Delivered> {
    let mut out = Vec::with_capacity(n);
    let deadline = tokio::time::Instant::now() + WAIT;
    while out.len() < n {
        match tokio::time::timeout_at(deadline, sub.next()).await {
            Ok(Ok(d)) => out.push(d),
            Ok(Err(e)) => panic!("next() failed after {} of {n} events: {e}", out.len()),
            Err(_) => panic!("timed out after {} of {n} events", out.len()),
        }
    }
    out
}

/// Asserts that nothing more arrives within `quiet`.
async fn expect_silence(sub: &mut dyn Subscription, quiet: Duration) {
    if let Ok(Ok(extra)) = tokio::time::timeout(quiet, sub.next()).await {
        panic!("unexpected extra event {:?} at {:?}", String::from_utf8_lossy(&extra.payload), extra.position);
    }
}

/// Events of one key arrive in the order they were published, across batches.
pub async fn ordering_per_key<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn EventBus>>,
{
    let bus = open().await;
    let topic = unique("ordering");
    bus.ensure_topic(&topic).await.unwrap();
    let keys = ["factory-a", "factory-b", "factory-c", "factory-d"];
    for batch in 0..10 {
        let events = (0..20).map(|i| numbered(keys[i % keys.len()], batch * 20 + i)).collect();
        bus.publish(&topic, events).await.unwrap();
    }
    let mut sub = bus.subscribe(&unique("group"), std::slice::from_ref(&topic)).await.unwrap();
    let got = receive(sub.as_mut(), 200).await;
    let mut last: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for d in &got {
        let n = number_of(d);
        if let Some(prev) = last.insert(d.key.clone(), n) {
            assert!(n > prev, "key {:?}: {n} arrived after {prev}", String::from_utf8_lossy(&d.key));
        }
    }
    assert_eq!(got.iter().map(number_of).collect::<HashSet<_>>().len(), 200);
}

/// A member that dies before committing leaves its events to the next member: at-least-once.
pub async fn redelivery_after_consumer_dies<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn EventBus>>,
{
    let bus = open().await;
    let topic = unique("redelivery");
    let group = unique("group");
    bus.ensure_topic(&topic).await.unwrap();
    bus.publish(&topic, (0..10).map(|i| numbered("line-1", i)).collect()).await.unwrap();
    {
        let mut first = bus.subscribe(&group, std::slice::from_ref(&topic)).await.unwrap();
        let got = receive(first.as_mut(), 10).await;
        // Its effect for events 0..=3 became durable; it dies while handling the rest.
        first.commit(&got[3]).await.unwrap();
    }
    let mut second = bus.subscribe(&group, std::slice::from_ref(&topic)).await.unwrap();
    let got = receive(second.as_mut(), 6).await;
    assert_eq!(got.iter().map(number_of).collect::<Vec<_>>(), vec![4, 5, 6, 7, 8, 9]);
}

/// After a restart of the whole bus client, a group resumes exactly at its committed offset.
pub async fn resume_from_committed_offset_after_restart<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn EventBus>>,
{
    let topic = unique("resume");
    let group = unique("group");
    {
        let bus = open().await;
        bus.ensure_topic(&topic).await.unwrap();
        bus.publish(&topic, (0..10).map(|i| numbered("meter-7", i)).collect()).await.unwrap();
        let mut sub = bus.subscribe(&group, std::slice::from_ref(&topic)).await.unwrap();
        for d in receive(sub.as_mut(), 5).await {
            sub.commit(&d).await.unwrap();
        }
    }
    let bus = open().await;
    bus.publish(&topic, (10..15).map(|i| numbered("meter-7", i)).collect()).await.unwrap();
    let mut sub = bus.subscribe(&group, std::slice::from_ref(&topic)).await.unwrap();
    let got = receive(sub.as_mut(), 10).await;
    assert_eq!(got.iter().map(number_of).collect::<Vec<_>>(), (5..15).collect::<Vec<_>>());
    expect_silence(sub.as_mut(), Duration::from_millis(500)).await;
}

/// CloudEvents attributes, tenant and trace context arrive as they were sent.
pub async fn headers_round_trip<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn EventBus>>,
{
    let bus = open().await;
    let topic = unique("headers");
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let attributes = CloudEvent {
        id: "evt-1",
        kind: "brain.ingest.record.v1",
        source: "/brain/ingestion",
        subject: "tenant-a/production-output",
        tenant: "91330100MA27XKQ717",
    };
    let event = Event::cloud(&attributes, b"tenant-a".to_vec(), vec![0u8, 159, 146, 150, 255])
        .with_header("traceparent", traceparent)
        .with_header("note", "产能 共享");
    bus.publish(&topic, vec![event.clone()]).await.unwrap();
    let mut sub = bus.subscribe(&unique("group"), std::slice::from_ref(&topic)).await.unwrap();
    let got = receive(sub.as_mut(), 1).await.remove(0);
    assert_eq!(got.payload, event.payload, "binary payload must survive");
    assert_eq!(got.key, event.key);
    for (name, value) in &event.headers {
        assert_eq!(got.header(name), Some(value.as_str()), "header {name}");
    }
    assert_eq!(got.header("ce_type"), Some("brain.ingest.record.v1"));
    assert_eq!(got.header("traceparent"), Some(traceparent));
}

/// Many producers at once: every acknowledged event is delivered, each key in order.
pub async fn concurrent_producers<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn EventBus>>,
{
    let bus = open().await;
    let topic = unique("concurrent");
    bus.ensure_topic(&topic).await.unwrap();
    let producers = 8;
    let per_producer = 100;
    let mut tasks = Vec::new();
    for p in 0..producers {
        let bus = bus.clone();
        let topic = topic.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("producer-{p}");
            let mut acked = 0;
            for chunk in 0..(per_producer / 10) {
                let events = (0..10).map(|i| numbered(&key, chunk * 10 + i)).collect();
                acked += bus.publish(&topic, events).await.unwrap().len();
            }
            acked
        }));
    }
    let mut acked = 0;
    for task in tasks {
        acked += task.await.unwrap();
    }
    assert_eq!(acked, producers * per_producer);
    let mut sub = bus.subscribe(&unique("group"), std::slice::from_ref(&topic)).await.unwrap();
    let got = receive(sub.as_mut(), acked).await;
    let mut last: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut seen = HashSet::new();
    for d in &got {
        let n = number_of(d);
        assert!(seen.insert((d.key.clone(), n)), "duplicate {n}");
        if let Some(prev) = last.insert(d.key.clone(), n) {
            assert!(n > prev, "key order broken: {n} after {prev}");
        }
    }
    expect_silence(sub.as_mut(), Duration::from_millis(500)).await;
}

/// Any offset of a partition can be read again, outside any consumer group.
pub async fn replay_from_offset<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn EventBus>>,
{
    let bus = open().await;
    let topic = unique("replay");
    bus.ensure_topic(&topic).await.unwrap();
    let positions = bus.publish(&topic, (0..20).map(|i| numbered("dataset-x", i)).collect()).await.unwrap();
    let partition = positions[0].partition;
    assert!(positions.iter().all(|p| p.partition == partition), "one key, one partition");
    let start = positions[10].offset;
    let got = bus.read(&topic, partition, start, 5).await.unwrap();
    assert_eq!(got.iter().map(number_of).collect::<Vec<_>>(), vec![10, 11, 12, 13, 14]);
    assert_eq!(got[0].position.offset, start);
}

/// Two members of one group split the partitions: together they see every event once.
pub async fn group_members_share_partitions<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn EventBus>>,
{
    let bus = open().await;
    let topic = unique("sharing");
    let group = unique("group");
    bus.ensure_topic(&topic).await.unwrap();
    let mut a = bus.subscribe(&group, std::slice::from_ref(&topic)).await.unwrap();
    let mut b = bus.subscribe(&group, std::slice::from_ref(&topic)).await.unwrap();
    bus.publish(&topic, (0..60).map(|i| numbered(&format!("k{}", i % 12), i)).collect()).await.unwrap();
    let mut seen = HashSet::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < 60 {
        assert!(tokio::time::Instant::now() < deadline, "only {} of 60 events arrived", seen.len());
        tokio::select! {
            Ok(d) = a.next() => { seen.insert(number_of(&d)); a.commit(&d).await.ok(); }
            Ok(d) = b.next() => { seen.insert(number_of(&d)); b.commit(&d).await.ok(); }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    assert_eq!(seen.len(), 60);
}
